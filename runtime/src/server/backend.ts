/** What a member offers the client APIs (api/): proposals, linearizable reads, health and metrics. */
import { KvError } from '../errors';
import { MvccHost, MvccOutcome, MvccWrite } from './mvcc-host';
import { KvCommand, KvItem, KvResult } from '../kv/state-machine';
import type { MemberInfo, MemberRequest, MemberStatus } from '../membership';

/** The keys /v1 serves (the MVCC store's, server/v1-store.ts), as of `appliedIndex`. */
export interface V1Reads {
  /** The Raft log index of the last applied entry. */
  readonly appliedIndex: number;
  get(key: string): Uint8Array | undefined;
  /** Keys with `prefix` after `after` that `filter` accepts, in key order, at most `limit`. */
  list(prefix: string, limit: number, after?: string, filter?: (key: string) => boolean): { items: KvItem[]; more: boolean };
}

/** What the client APIs need from a member. */
export interface KvBackend {
  /** The applied state; read it only after the barrier (or for serializable reads). */
  readonly v1: V1Reads;
  /**
   * Replicates `cmd` and resolves with its applied result; rejects with a {@link KvError}. Leader only. With
   * `caller` (the etcd auth user the write was checked for), apply checks that user's permissions again.
   */
  propose(cmd: Omit<KvCommand, 'requestId'>, caller?: string): Promise<KvResult>;
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
  /** A reason to refuse every write before it reaches Raft (the NOSPACE alarm: 503 no_space), if any. */
  writeBlocked?(): KvError | undefined;
  /** Counts one answered request by route and status, for /metrics. */
  countRequest(route: string, status: number): void;
}

/** What the etcd v3 API (api/etcd/) needs from a member (its Cluster service uses {@link MembershipBackend} too). */
export interface EtcdBackend {
  /** The applied MVCC state, its watchers and (on the leader) the lease clock. */
  readonly mvcc: MvccHost;
  /** Replicates an MVCC write; resolves with its applied outcome. Leader only (rejects NotLeaderError). */
  proposeMvcc(cmd: MvccWrite): Promise<MvccOutcome>;
  linearizableBarrier(): Promise<void>;
  isLeader(): boolean;
  leaderClientUrl(): string | undefined;
  /** The ResponseHeader identity: a cluster ID derived from the cluster token, this member's ID, the Raft term. */
  header(): { cluster_id: string; member_id: string; raft_term: string };
  /** Raft progress for Maintenance.Status. */
  raftProgress(): { leader: number; term: number; commit: number; applied: number };
  readiness(): { ready: boolean; reason: string };
  /** False once the member cannot make progress (storage failed): the gRPC health service's NOT_SERVING. */
  liveness(): { live: boolean; reason: string };
  /** Why this member refuses writes now (the NOSPACE alarm: code `no_space`), if it does. */
  writeBlocked?(): KvError | undefined;
  /** True while the store is at its space quota (the NOSPACE alarm; writes that add data are refused). */
  quotaAlarm?(): boolean;
  /** Hands leadership to voter `targetId` (leader only); resolves once it leads, or with why not. */
  moveLeader(targetId: number): Promise<'moved' | 'not_leader' | 'not_voter' | 'timeout'>;
}

/** Membership operations (the /v1/members routes and etcd's Cluster service call these). */
export interface MembershipBackend {
  /** Voters and learners with names, addresses (client URLs as far as this member knows them), role and (on the leader) replication progress. */
  listMembers(): { clusterId: string; leader: number; members: MemberStatus[] };
  /** Adds a learner (leader only; 307 elsewhere); `autoPromote`: the leader promotes it once caught up. An empty name: unstarted. */
  addMember(req: MemberRequest, autoPromote?: boolean): Promise<MemberInfo>;
  /** Replaces any member with this name or peer URL by a new auto-promoted learner (a blank member rejoining). */
  joinMember(req: MemberRequest): Promise<MemberInfo>;
  /** Promotes a caught-up learner (412 learner_not_ready before). */
  promoteMember(id: number): Promise<MemberInfo>;
  /** Removes a member; the leader removing itself transfers leadership first and answers 307 to the new leader. */
  removeMember(id: number): Promise<void>;
  updateMember(id: number, peerUrl: string, clientUrl?: string): Promise<MemberInfo>;
  /**
   * A consistent backup: a snapshot file holding every write acknowledged before the call (`ha-runtime restore` reads
   * it), `length` bytes produced part by part as `chunks` is read (never whole in memory).
   */
  backupSnapshot(): Promise<{ index: number; length: number; chunks: AsyncIterable<Uint8Array> }>;
}
