/**
 * MemoryLogStore: a LogStore in memory for tests and the simulator. It keeps the same contract as
 * FileLogStore (ordering, truncation, snapshot install, failure is sticky), so code tested against
 * it behaves the same on disk.
 */
import type { Snapshot } from '../raft/types';
import type { LogStore, OpenedLogStore, RecoveredState, StorageUpdate } from './log-store';

/** An in-memory LogStore; "durable" state survives `reopen()` the way a file survives a restart. */
export class MemoryLogStore implements LogStore {
  /** Creates an empty store. */
  static open(): OpenedLogStore<MemoryLogStore> {
    throw new Error('MemoryLogStore.open: not implemented yet');
  }
  /** Simulates a restart: a fresh store over the same durable state, with what it recovers. */
  reopen(): OpenedLogStore<MemoryLogStore> { throw new Error('not implemented yet'); }
  /** Makes the next save (and, as on disk, every later one) fail with `error`: for failure tests. */
  injectFailure(error: Error): void { void error; }
  /** The durable state right now (what a restart would recover). */
  durableState(): RecoveredState { throw new Error('not implemented yet'); }
  get failure(): Error | undefined { return undefined; }
  async save(update: StorageUpdate): Promise<void> { void update; }
  async saveSnapshot(snapshot: Snapshot): Promise<void> { void snapshot; }
  async compact(snapshotIndex: number): Promise<void> { void snapshotIndex; }
  async close(): Promise<void> { }
}
