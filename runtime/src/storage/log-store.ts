/**
 * The durable-log contract between the Raft server and its storage (hashicorp/raft calls this
 * adapter a LogStore). The store only persists and recovers; it never interprets Raft rules,
 * and the core reads its log from an in-memory copy (RaftStorage / MemoryStorage), as in etcd.
 */
import type { Entry, HardState, Snapshot, SnapshotMetadata } from '../raft/types';

/**
 * One batch to make durable: the persistable part of a Raft Ready.
 *
 * Order of application inside one update: `snapshot`, then `entries`, then `hardState`.
 * - `snapshot` is a snapshot the node *installs* (Ready.snapshot): it replaces the log, so after it
 *   the log holds no entry at or below `snapshot.metadata.index` and no entry above it either,
 *   until `entries` (which then start at `snapshot.metadata.index + 1`) are appended.
 * - `entries` must be contiguous and ascending. An entry whose index is <= the last stored index
 *   truncates the log at that index first (Raft overwrites a conflicting suffix, paper section 5.3).
 * - `hardState` replaces the stored hard state.
 */
export interface StorageUpdate {
  readonly hardState?: HardState;
  readonly entries?: readonly Entry[];
  readonly snapshot?: Snapshot;
}

/** A snapshot's data as parts, consumed in order as they are produced. */
export type SnapshotParts = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** What a store held when it was opened: feed it to MemoryStorage before creating the RawNode. */
export interface RecoveredState {
  /** The last durable hard state; `{ term: 0, vote: 0, commit: 0 }` for a fresh store. */
  readonly hardState: HardState;
  /** The newest durable snapshot, if any. `entries` continue right after it. */
  readonly snapshot?: Snapshot;
  /** The durable log after the snapshot (or from index 1), contiguous, ascending. */
  readonly entries: readonly Entry[];
}

/** The result of opening a store: the store, ready for `save`, and what it recovered. */
export interface OpenedLogStore<S extends LogStore = LogStore> {
  readonly store: S;
  readonly recovered: RecoveredState;
}

/**
 * Observability hooks. Called synchronously from the store's I/O path: keep them cheap
 * (e.g. observe into a histogram) and never throw.
 */
export interface StorageMetrics {
  /**
   * One durability barrier (fdatasync) finished. `records` is how many records it covered and
   * `saves` how many `save` calls it acknowledged: the group-commit factor is `saves` per sync.
   */
  onSync?(durationMs: number, bytes: number, records: number, saves: number): void;
  /** Bytes handed to the file system (WAL records and snapshot files). */
  onBytesWritten?(bytes: number): void;
}

/**
 * A durable Raft log with hard state and snapshots.
 *
 * Contract:
 * - `save` resolves only after everything in the update is durable (fdatasync'd); concurrent calls
 *   are applied in call order and group-committed (one sync covers every update queued while the
 *   previous sync ran). The caller may send the messages of a Ready only after its save resolved.
 * - Once a write or sync fails, the store is *failed*: that save and every later one rejects with a
 *   {@link StorageFailedError}. The page cache can no longer be trusted after a failed fsync, so the
 *   server must stop acknowledging and restart (recovery reads what really reached the disk).
 */
export interface LogStore {
  /** The error that failed the store, or undefined while it is healthy. */
  readonly failure: Error | undefined;
  /** Makes `update` durable; see the interface contract for ordering and failure. */
  save(update: StorageUpdate): Promise<void>;
  /**
   * Makes a locally taken snapshot durable (write to a temporary file, fsync, rename, fsync the
   * directory) without touching the log. Used before {@link compact}. Keeps the newest two.
   */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /**
   * {@link saveSnapshot} from the data's parts, consumed as they are produced, so a large snapshot is never whole in
   * memory. Resolves to the data's length.
   */
  saveSnapshotParts(metadata: SnapshotMetadata, parts: SnapshotParts): Promise<number>;
  /**
   * Reads back the durable snapshot at `index`, checked (a member keeps only its snapshot's metadata in memory and
   * reads the bytes when a lagging follower needs them). Rejects if that snapshot is no longer kept.
   */
  readSnapshot(index: number): Promise<Snapshot>;
  /**
   * Releases log space below `snapshotIndex`: whole segments whose entries all lie at or below it
   * are deleted. Rejects if no durable snapshot covers `snapshotIndex` (compacting past the
   * newest snapshot would lose committed entries).
   */
  compact(snapshotIndex: number): Promise<void>;
  /** Waits for in-flight saves, then releases files. Later saves reject. Idempotent. */
  close(): Promise<void>;
}

/** Thrown by `save` when the store has failed (now or earlier); `cause` is the original I/O error. */
export class StorageFailedError extends Error {
  constructor(message: string, readonly cause: unknown) {
    super(message);
    this.name = 'StorageFailedError';
  }
}

/**
 * Thrown by `open` when the on-disk state is damaged in a way that truncating a torn tail cannot
 * explain (a bad record followed by valid ones, a bad segment header, a missing segment, a bad
 * snapshot). Names the file and offset; the message says what the operator can do.
 */
export class CorruptionError extends Error {
  constructor(message: string, readonly file: string, readonly offset: number) {
    super(message);
    this.name = 'CorruptionError';
  }
}

/** The hard state of a node that never persisted anything (the core's own constant). */
export { EMPTY_HARD_STATE } from '../raft/storage';
