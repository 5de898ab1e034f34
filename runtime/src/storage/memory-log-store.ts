/**
 * MemoryLogStore: a LogStore in memory for tests and the simulator. It keeps the same contract as
 * FileLogStore (ordering, truncation, snapshot install, compaction floor, failure is sticky), so
 * code tested against it behaves the same on disk.
 */
import { EMPTY_HARD_STATE, StorageFailedError, type LogStore, type OpenedLogStore, type RecoveredState, type SnapshotParts, type StorageUpdate } from './log-store';
import type { Entry, HardState, Snapshot, SnapshotMetadata } from '../raft/types';

/** The state a MemoryLogStore has made "durable"; shared by the stores a `reopen` chain creates. */
interface DurableState {
  hardState: HardState;
  snapshot?: Snapshot;
  /** Entries after the snapshot (or from index 1), contiguous. */
  entries: Entry[];
}

/** An in-memory LogStore; "durable" state survives `reopen()` the way a file survives a restart. */
export class MemoryLogStore implements LogStore {
  /** Creates an empty store. */
  static open(): OpenedLogStore<MemoryLogStore> {
    const store = new MemoryLogStore({ hardState: EMPTY_HARD_STATE, entries: [] });
    return { store, recovered: store.durableState() };
  }

  private failed: StorageFailedError | undefined;
  private injected: Error | undefined;
  private closed = false;
  /** Saves are applied in order, each a microtask after the previous, like an asynchronous disk. */
  private tail: Promise<void> = Promise.resolve();
  /** Number of save calls applied (tests use it to check batching at the server). */
  saves = 0;

  private constructor(private readonly durable: DurableState) { }

  /**
   * Simulates a crash and restart: closes this store (saves not yet applied are lost, as writes
   * not yet synced would be) and returns a fresh store over the same durable state.
   */
  reopen(): OpenedLogStore<MemoryLogStore> {
    this.closed = true;
    const store = new MemoryLogStore(this.durable);
    return { store, recovered: store.durableState() };
  }

  /** Makes the next save (and, as on disk, every later one) fail with `error`: for failure tests. */
  injectFailure(error: Error): void {
    this.injected = error;
  }

  /** The durable state right now (what a restart would recover); copies, safe to keep. */
  durableState(): RecoveredState {
    const { hardState, snapshot, entries } = this.durable;
    return { hardState, ...(snapshot ? { snapshot } : {}), entries: entries.slice() };
  }

  get failure(): Error | undefined {
    return this.failed;
  }

  save(update: StorageUpdate): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new Error('MemoryLogStore: save after close'));
    const run = this.tail.then(() => {
      if (this.closed) throw new Error('MemoryLogStore: closed before the save became durable');
      if (this.failed) throw this.failed;
      if (this.injected) {
        this.failed = new StorageFailedError(`MemoryLogStore failed: ${this.injected.message}`, this.injected);
        throw this.failed;
      }
      this.apply(update);
      this.saves++;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    if (this.failed) throw this.failed;
    const current = this.durable.snapshot?.metadata.index ?? 0;
    if (snapshot.metadata.index <= current) return;
    this.durable.snapshot = snapshot;
    // Entries the snapshot covers are unreachable through recovery, as on disk after compaction.
    this.durable.entries = this.durable.entries.filter((e) => e.index > snapshot.metadata.index);
  }

  async saveSnapshotParts(metadata: SnapshotMetadata, parts: SnapshotParts): Promise<number> {
    const chunks: Uint8Array[] = [];
    for await (const part of parts) chunks.push(part);
    const data = Buffer.concat(chunks);
    await this.saveSnapshot({ metadata, data });
    return data.length;
  }

  async readSnapshot(index: number): Promise<Snapshot> {
    if (this.failure) throw this.failure;
    const snapshot = this.durable.snapshot;
    if (snapshot?.metadata.index !== index) throw new Error(`readSnapshot: no durable snapshot at index ${index} (newest: ${snapshot?.metadata.index ?? 'none'})`);
    return snapshot;
  }

  async compact(snapshotIndex: number): Promise<void> {
    const covered = this.durable.snapshot?.metadata.index ?? 0;
    if (snapshotIndex > covered) {
      throw new RangeError(`compact: snapshotIndex ${snapshotIndex} is past the newest durable snapshot (${covered})`);
    }
  }

  async close(): Promise<void> {
    await this.tail;
    this.closed = true;
  }

  private apply(update: StorageUpdate): void {
    const d = this.durable;
    const entries = update.entries ?? [];
    // Validate everything before mutating, so a rejected save leaves the state untouched.
    const floor = update.snapshot ? update.snapshot.metadata.index : d.snapshot?.metadata.index ?? 0;
    const last = update.snapshot || d.entries.length === 0 ? floor : d.entries[d.entries.length - 1].index;
    if (entries.length > 0) {
      const first = entries[0].index;
      if (first <= floor) throw new RangeError(`save: entry index ${first} is at or below the snapshot index ${floor}`);
      if (first > last + 1) throw new RangeError(`save: first entry index ${first} leaves a gap after the last index ${last}`);
      for (let i = 1; i < entries.length; i++) {
        if (entries[i].index !== first + i) throw new RangeError(`save: entries must be contiguous; index ${entries[i].index} follows ${entries[i - 1].index}`);
      }
    }
    if (update.snapshot) {
      d.snapshot = update.snapshot;
      d.entries = [];
    }
    if (entries.length > 0) {
      d.entries.length = d.entries.length > 0 ? Math.max(0, entries[0].index - d.entries[0].index) : 0;
      for (const entry of entries) d.entries.push(entry);
    }
    if (update.hardState) d.hardState = update.hardState;
  }
}
