/**
 * The member's side of the MVCC state machine (issue 11): applies MVCC log entries to the store and routes
 * their events to watchers, and on the leader drives lease expiry and checkpoints with a real clock
 * (the store and the lease table stay pure). Log entries carrying an MVCC command start with
 * {@link MVCC_ENTRY_TAG}; the others are /v1 KV commands and the fold (v1-store.ts).
 */
import { JwtOptions, JwtTokens, SimpleTokens } from './auth-tokens';
import {
  ApplyResult, AuthResponse, AutoCompactionMode, AutoCompactor, encodeCommand, LeaseClock, MvccCommand, MvccError, MvccStateMachine, MvccStore,
  snapshotBytes, WatchHub,
} from '../mvcc';
import { Logger } from '../observability/logger';

/** Bytes of a received snapshot restored per event-loop turn while checking it. */
const RESTORE_STEP_BYTES = 1024 * 1024;

/** First byte of an MVCC log entry; /v1 KV commands start with their op (1..4). */
export const MVCC_ENTRY_TAG = 0xe7;

/** A command without its requestId (the server assigns one). */
export type MvccWrite = MvccCommand extends infer C ? C extends { requestId: number } ? Omit<C, 'requestId'> : never : never;

/** The applied outcome of one MVCC command: the response message, or the error every member rejected it with. */
export type MvccOutcome = { ok: true; response: unknown } | { ok: false; error: MvccError };

/** How the host proposes the leader's lease revokes and checkpoints. */
export interface LeaseProposer {
  isLeader(): boolean;
  proposeMvcc(cmd: MvccWrite): Promise<unknown>;
}

/** Timing of the leader's periodic work (lease expiry and checkpoints, auto-compaction). */
export interface LeaderTiming {
  /** How often the leader looks for expired leases. @default 500 */
  readonly expiryCheckMs?: number;
  /** How often the leader replicates remaining TTLs (etcd: 5 min; shorter here so a leader change loses little). @default 5000 */
  readonly checkpointMs?: number;
  /** History retention: the leader proposes compactions (etcd's --auto-compaction-*). */
  readonly autoCompaction?: { readonly mode: AutoCompactionMode; readonly retention: number };
}

/** See the file comment. */
export class MvccHost {
  /** Encodes a command as a log entry. Throws MvccError for fields the codec cannot carry. */
  static encodeEntry(cmd: MvccCommand): Buffer {
    const body = encodeCommand(cmd);
    const out = Buffer.allocUnsafe(body.length + 1);
    out[0] = MVCC_ENTRY_TAG;
    body.copy(out, 1);
    return out;
  }

  static isMvccEntry(data: Uint8Array): boolean {
    return data.length > 0 && data[0] === MVCC_ENTRY_TAG;
  }

  readonly machine = new MvccStateMachine();
  readonly watchHub = new WatchHub(() => this.machine.store);
  /** The leader's lease deadlines; reset whenever leadership changes. */
  readonly leaseClock = new LeaseClock(() => this.machine.store.leases);
  /** This member's auth tokens (etcd's simple tokens), learned from applied Authenticate entries. */
  readonly tokens: SimpleTokens;
  private timers: NodeJS.Timeout[] = [];
  /** The last snapshot {@link checkSnapshot} restored, kept until it is installed: restoring a large store takes long. */
  private checked?: { data: Uint8Array; machine: MvccStateMachine };

  /** With `--auth-token jwt`: signed tokens any member verifies; simple tokens are then not kept. */
  readonly jwt: JwtTokens | undefined;

  constructor(private readonly log: Logger, authTokenTtlMs?: number, jwt?: JwtOptions) {
    this.tokens = new SimpleTokens(authTokenTtlMs);
    this.jwt = jwt && new JwtTokens(jwt);
  }

  get store(): MvccStore { return this.machine.store; }

  /** Applies the MVCC entry at `index`, notifies watchers; returns the proposer's requestId and the outcome. */
  apply(index: number, data: Uint8Array): { requestId: number; outcome: MvccOutcome } {
    const r = this.machine.apply(index, data.subarray(1));
    this.watchHub.notify(r.events);
    if (r.op === 'auth' && r.response) this.applyAuthEffect(r.response as AuthResponse);
    const outcome: MvccOutcome = r.error ? { ok: false, error: r.error } : { ok: true, response: r.response };
    return { requestId: r.requestId, outcome };
  }

  /** Applies a decoded command at `index` (a /v1 write through mvcc/v1.ts), notifies watchers. */
  applyCommand(index: number, cmd: MvccCommand): ApplyResult {
    const r = this.machine.applyCommand(index, cmd);
    this.watchHub.notify(r.events);
    return r;
  }

  /** Puts `entries` in order at `index`, one revision each (server/v1-store.ts), notifies watchers. */
  applyImport(index: number, entries: Iterable<readonly [Uint8Array, Uint8Array]>): void {
    this.watchHub.notify(this.machine.applyImport(index, entries));
  }

  /** Tokens follow the applied auth writes on every member; the effect never leaves the member. */
  private applyAuthEffect(resp: AuthResponse): void {
    const e = resp.effect;
    delete resp.effect;
    if (!e) return;
    // JWT tokens are verified from their signature: there is nothing to remember for them.
    if ('assign' in e) {
      if (!this.jwt) this.tokens.assign(e.assign.token, e.assign.user);
    } else if ('invalidateUser' in e) {
      this.tokens.invalidateUser(e.invalidateUser);
    } else {
      this.tokens.clear();
    }
  }

  /**
   * Throws unless `data` restores: a snapshot from a peer is checked before the Raft core adopts it. The
   * restored state is kept, so installing the same snapshot afterwards does not restore it a second time.
   */
  async checkSnapshot(data: Uint8Array): Promise<void> {
    this.checked = undefined;
    const machine = new MvccStateMachine();
    const restorer = machine.restorer();
    // About 1 MiB of frames per event-loop turn: heartbeats and client requests run in between.
    for (let from = 0; from < data.byteLength; from += RESTORE_STEP_BYTES) {
      restorer.write(data.subarray(from, Math.min(data.byteLength, from + RESTORE_STEP_BYTES)));
      if (from + RESTORE_STEP_BYTES < data.byteLength) await new Promise((resolve) => setImmediate(resolve));
    }
    machine.finishRestore(restorer);
    this.checked = { data, machine };
  }

  /** An entry that is not an MVCC command (a /v1 write, an empty or membership entry). */
  skip(index: number): void {
    if (index > this.machine.appliedIndex) this.machine.skip(index);
  }

  /** A snapshot from before the MVCC store existed: an empty store applied up to `index`. */
  restoreEmpty(index: number): void {
    this.restore(snapshotBytes(new MvccStore().view(), index));
  }

  /** Installs the MVCC part of a member snapshot; watchers resync from the new store's history. */
  restore(data: Uint8Array): void {
    const checked = this.checked;
    this.checked = undefined;
    if (checked && sameBytes(checked.data, data)) this.machine.adopt(checked.machine);
    else this.machine.restore(data);
    // The users behind the tokens may have changed: clients authenticate again, as after a restart.
    this.tokens.clear();
    this.leaseClock.reset();
    this.watchHub.resync();
  }

  /** Leadership changed: lease deadlines restart from the replicated checkpoints. */
  onLeadershipChange(): void {
    this.leaseClock.reset();
  }

  /** Starts the leader's timers: lease expiry, lease checkpoints, auto-compaction (they do nothing on followers). */
  startLeaderTimers(proposer: LeaseProposer, timing: LeaderTiming = {}): void {
    const propose = (cmd: MvccWrite, what: string): void => {
      proposer.proposeMvcc(cmd).catch((e) => this.log.debug(`${what} not applied; retried later`, { err: (e as Error).message }));
    };
    this.timers.push(setInterval(() => {
      if (!proposer.isLeader()) return;
      for (const id of this.leaseClock.expired(Date.now())) propose({ op: 'lease_revoke', request: { ID: id } }, 'lease revoke');
    }, timing.expiryCheckMs ?? 500));
    const compactor = timing.autoCompaction && new AutoCompactor(timing.autoCompaction.mode, timing.autoCompaction.retention);
    if (compactor) {
      this.timers.push(setInterval(() => {
        if (!proposer.isLeader()) return;
        const rev = compactor.observe(Date.now(), this.store.revision, this.store.compactRevision);
        if (rev !== undefined) propose({ op: 'compaction', request: { revision: rev } }, 'auto-compaction');
      }, 1000));
    }
    this.timers.push(setInterval(() => {
      if (!proposer.isLeader()) return;
      const checkpoints = this.leaseClock.checkpoints(Date.now());
      if (checkpoints.length > 0) propose({ op: 'lease_checkpoint', request: { checkpoints } }, 'lease checkpoint');
    }, timing.checkpointMs ?? 5000));
    for (const t of this.timers) t.unref();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
}

/** The same bytes by identity (the same view of the same buffer), not by content. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength;
}
