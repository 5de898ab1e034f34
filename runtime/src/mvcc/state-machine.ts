/**
 * The MVCC store as Raft's replicated state machine: committed entries go in, in log order, exactly once;
 * each yields a result for the proposer and the store events for the watchers. Apply never throws for what an
 * entry holds: a command this build cannot decode, or one the store rejects, becomes an error result — the
 * same on every member — so one bad entry can never stop a member from applying the log (issue 14).
 */
import { AuthResponse, AuthStore, checkWritePermission } from './auth-store';
import { DecodeError } from './codec';
import { decodeCommand, MvccCommand, peekRequestId } from './command';
import { Errors, GrpcCode, MvccError } from './errors';
import { authSnapshot, SnapshotRestorer, snapshotChunks } from './snapshot';
import { MvccStore, MvccStoreOptions, StoreEvent } from './store';
import {
  CompactionResponse, DeleteRangeResponse, LeaseCheckpointResponse, LeaseGrantResponse, LeaseRevokeResponse,
  PutResponse, TxnResponse,
} from './types';

/** Any write's response. */
export type MvccResponse = PutResponse | DeleteRangeResponse | TxnResponse | CompactionResponse | LeaseGrantResponse
| LeaseRevokeResponse | LeaseCheckpointResponse | AuthResponse;

/** The outcome of one applied entry. Exactly one of `response` and `error` is set. */
export interface ApplyResult {
  readonly index: number;
  /** The proposer's request id (0 when unreadable). */
  readonly requestId: number;
  readonly op?: MvccCommand['op'];
  readonly response?: MvccResponse;
  /** The request was rejected (nothing changed); carries etcd's gRPC code and message. */
  readonly error?: MvccError;
  /** The store events of this entry, in order (empty for rejections and non-writes). */
  readonly events: readonly StoreEvent[];
  /** The store revision after the entry. */
  readonly revision: number;
}

/** See the file comment. */
export class MvccStateMachine {
  private current: MvccStore;
  private authStore = new AuthStore();
  private applied = 0;

  constructor(private readonly options: MvccStoreOptions = {}) {
    this.current = new MvccStore(options);
  }

  /** The store (replaced by {@link restore}: hold the state machine, not the store). */
  get store(): MvccStore { return this.current; }

  /** Users, roles and the auth flag (replaced by {@link restore}, like the store). */
  get auth(): AuthStore { return this.authStore; }

  /** The index of the last applied entry (or of the restored snapshot). */
  get appliedIndex(): number { return this.applied; }

  /** Marks an entry that carries no command (a leader's empty entry, a membership change) as applied. */
  skip(index: number): void {
    this.advanceTo(index);
  }

  /**
   * Applies the committed command at `index`. Throws only when `index` is not the next one (a bug in the
   * caller, not in the entry); everything about the entry itself ends in the result.
   */
  apply(index: number, data: Uint8Array): ApplyResult {
    this.advanceTo(index);
    let cmd: MvccCommand;
    try {
      cmd = decodeCommand(data);
    } catch (e) {
      const why = e instanceof DecodeError ? e.message : String(e);
      return this.result(index, peekRequestId(data), undefined, undefined, Errors.undecodable(why));
    }
    return this.execute(index, cmd);
  }

  /** {@link apply} for a command already decoded (a /v1 write, mvcc/v1.ts): the same outcome as its encoded form. */
  applyCommand(index: number, cmd: MvccCommand): ApplyResult {
    this.advanceTo(index);
    return this.execute(index, cmd);
  }

  /**
   * Puts `entries` (key, value) one revision each, in the order given, at log `index` (the /v1 store's keys moving
   * into this store, server/v1-store.ts); returns the events of all of them. No entry: nothing changes.
   */
  applyImport(index: number, entries: Iterable<readonly [Uint8Array, Uint8Array]>): StoreEvent[] {
    this.advanceTo(index);
    const events: StoreEvent[] = [];
    for (const [key, value] of entries) {
      this.current.put({ key, value });
      events.push(...this.current.lastEvents);
    }
    return events;
  }

  private execute(index: number, cmd: MvccCommand): ApplyResult {
    try {
      return this.result(index, cmd.requestId, cmd.op, this.run(index, cmd), undefined);
    } catch (e) {
      const err = e instanceof MvccError ? e : new MvccError(GrpcCode.INTERNAL, `mvcc: ${cmd.op} failed: ${e instanceof Error ? e.message : String(e)}`);
      return this.result(index, cmd.requestId, cmd.op, undefined, err);
    }
  }

  /**
   * A snapshot of the current state, serialized lazily in ~`chunkBytes` frames: take it synchronously right
   * after applying `appliedIndex`, then write one chunk per event-loop turn (the store keeps applying).
   */
  snapshot(chunkBytes?: number): { appliedIndex: number; revision: number; chunks: Generator<Buffer> } {
    const source = this.snapshotSource(chunkBytes);
    return { appliedIndex: source.appliedIndex, revision: source.revision, chunks: source.chunks() };
  }

  /** {@link snapshot} of the state now, serializable any number of times (each `chunks()` yields the same bytes). */
  snapshotSource(chunkBytes?: number): { appliedIndex: number; revision: number; chunks: () => Generator<Buffer> } {
    const view = this.current.view();
    const auth = authSnapshot(this.authStore);
    const applied = this.applied;
    return { appliedIndex: applied, revision: view.revision, chunks: () => snapshotChunks(view, applied, chunkBytes, auth) };
  }

  /** A restorer for a snapshot stream; {@link finishRestore} installs what it built. */
  restorer(): SnapshotRestorer {
    return new SnapshotRestorer(this.options);
  }

  /** Installs a completely read snapshot; throws DecodeError when it was incomplete. */
  finishRestore(restorer: SnapshotRestorer): void {
    const { store, auth, appliedIndex } = restorer.finish();
    this.current = store;
    this.authStore = auth;
    this.applied = appliedIndex;
  }

  /** Takes over the state another machine restored (a snapshot validated once is not restored twice). */
  adopt(other: MvccStateMachine): void {
    this.current = other.current;
    this.authStore = other.authStore;
    this.applied = other.applied;
  }

  /** Restores from one buffer holding the whole snapshot stream. */
  restore(data: Uint8Array): void {
    const r = this.restorer();
    r.write(data);
    this.finishRestore(r);
  }

  private run(index: number, cmd: MvccCommand): MvccResponse {
    const s = this.current;
    switch (cmd.op) {
      case 'put': return s.put(cmd.request);
      case 'delete_range': return s.deleteRange(cmd.request);
      case 'txn': return s.txn(cmd.request);
      case 'compaction': return s.compact(cmd.request);
      case 'lease_grant': return s.leaseGrant(cmd.request);
      case 'lease_revoke': return s.leaseRevoke(cmd.request);
      case 'lease_checkpoint': return s.leaseCheckpoint(cmd.request);
      case 'checked': {
        const { caller, inner } = cmd.request;
        checkWritePermission(this.authStore, caller, inner, (id) => s.leases.get(id)?.keys ?? []);
        return this.run(index, inner);
      }
      case 'auth': {
        const resp = this.authStore.apply(index, cmd.request);
        resp.header.revision = s.revision;
        return resp;
      }
    }
  }

  private result(index: number, requestId: number, op: MvccCommand['op'] | undefined, response: MvccResponse | undefined,
    error: MvccError | undefined): ApplyResult {
    // An auth write touches no key: the store's last events belong to an earlier entry.
    const events = error || op === 'auth' ? [] : this.current.lastEvents;
    return { index, requestId, op, response, error, events, revision: this.current.revision };
  }

  private advanceTo(index: number): void {
    if (index !== this.applied + 1) {
      throw new Error(`mvcc: entry ${index} applied after ${this.applied}: entries must be applied once each, in order`);
    }
    this.applied = index;
  }
}
