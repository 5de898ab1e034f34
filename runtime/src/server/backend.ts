/** What a member offers the client APIs (api/): proposals, linearizable reads, health and metrics. */
import { KvError } from '../errors';
import { KvCommand, KvResult, KvStateMachine } from '../kv/state-machine';

/** What the client APIs need from a member. */
export interface KvBackend {
  /** The applied state; read it only after the barrier (or for serializable reads). */
  readonly stateMachine: KvStateMachine;
  /** Replicates `cmd` and resolves with its applied result; rejects with a {@link KvError}. Leader only. */
  propose(cmd: Omit<KvCommand, 'requestId'>): Promise<KvResult>;
  /** Resolves once a linearizable read may be served from the local state machine (ReadIndex). */
  linearizableBarrier(): Promise<void>;
  isLeader(): boolean;
  /** The leader's advertised client URL, if a leader is known and has told us its URL. */
  leaderClientUrl(): string | undefined;
  /** `/readyz`: ready when a member of a quorum with a known leader that applied up to its commit index. */
  readiness(): { ready: boolean; reason: string };
  /** `/livez`: false once the member cannot make progress (storage failed). */
  liveness(): { live: boolean; reason: string };
  metricsText(): string;
  status(): Record<string, unknown>;
  /** Counts one answered request by route and status, for /metrics. */
  countRequest(route: string, status: number): void;
}
