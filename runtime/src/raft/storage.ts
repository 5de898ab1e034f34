import { CompactedError, RaftConfigError, UnavailableError } from './errors';
import { ConfState, Entry, HardState, Snapshot } from './types';

/**
 * The read-only view of durable Raft state that the core reads (like etcd-io/raft's `Storage`).
 * The core never writes to it: the application persists what `Ready` hands out, then appends
 * it here, then calls `advance`. Every method returns only durable data.
 */
export interface RaftStorage {
  /** The persisted hard state and membership, read once when a node starts. */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi). Throws CompactedError if lo < firstIndex(), UnavailableError if hi > lastIndex()+1. */
  entries(lo: number, hi: number): Entry[];
  /** Term of the entry at `index`; valid for firstIndex()-1 (the snapshot's) up to lastIndex(). */
  term(index: number): number;
  /** Index of the first entry still in the log (snapshot index + 1). */
  firstIndex(): number;
  /** Index of the last entry in the log (the snapshot index if the log is empty). */
  lastIndex(): number;
  /** The most recent snapshot. */
  snapshot(): Snapshot;
}

/** The empty membership. */
export const EMPTY_CONF_STATE: ConfState = { voters: [], learners: [], votersOutgoing: [] };
/** The empty hard state of a node that has never run. */
export const EMPTY_HARD_STATE: HardState = { term: 0, vote: 0, commit: 0 };

/** The data of a snapshot whose bytes were released (see MemoryStorage.releaseSnapshotData); compare by identity. */
export const RELEASED_SNAPSHOT_DATA: Uint8Array = new Uint8Array(0);

/**
 * An in-memory RaftStorage: what the simulator uses, and what a WAL-backed store fills on recovery.
 * Mutators are called by the application AFTER the data is durable in its own medium.
 */
export class MemoryStorage implements RaftStorage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot = { metadata: { index: 0, term: 0, confState: EMPTY_CONF_STATE }, data: new Uint8Array() };
  /** ents[0] is a dummy holding the snapshot's index and term, so term(firstIndex-1) works. */
  private ents: Entry[] = [{ index: 0, term: 0, type: 0, data: new Uint8Array() }];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  /** Records the hard state (call once it is durable). */
  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  /** The stored hard state. */
  getHardState(): HardState {
    return this.hardState;
  }

  entries(lo: number, hi: number): Entry[] {
    const offset = this.ents[0].index;
    if (lo <= offset) throw new CompactedError(lo, offset + 1);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    return this.ents.slice(lo - offset, hi - offset);
  }

  term(index: number): number {
    const offset = this.ents[0].index;
    if (index < offset) throw new CompactedError(index, offset + 1);
    if (index - offset >= this.ents.length) throw new UnavailableError(index, this.lastIndex());
    return this.ents[index - offset].term;
  }

  firstIndex(): number {
    return this.ents[0].index + 1;
  }

  lastIndex(): number {
    return this.ents[0].index + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /**
   * Appends entries (call once they are durable). Entries that overlap the stored log replace
   * it from the first overlapping index on (a new leader overwriting an uncommitted suffix);
   * entries already covered by the snapshot are ignored. A gap is a contract violation.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0].index + entries.length - 1;
    if (last < first) return;
    const ents = first > entries[0].index ? entries.slice(first - entries[0].index) : entries;
    const offset = ents[0].index - this.ents[0].index;
    if (offset > this.ents.length) {
      throw new RaftConfigError(`MemoryStorage.append: entry ${ents[0].index} leaves a gap after last index ${this.lastIndex()}`);
    }
    // In place: copying the whole retained log (up to --snapshot-entries long) on every persisted
    // Ready made each write cost O(log length) and slowed the server down as the log grew.
    if (offset < this.ents.length) this.ents.length = offset;
    for (const e of ents) this.ents.push(e);
  }

  /** Replaces the whole log with a snapshot received from the leader (call once it is durable). */
  applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index <= this.snap.metadata.index) return; // older than what we have
    this.snap = snap;
    this.ents = [{ index: snap.metadata.index, term: snap.metadata.term, type: 0, data: new Uint8Array() }];
  }

  /**
   * Records a snapshot of the state machine at `index` (which must be applied, and <= lastIndex).
   * Does not compact: call `compact` afterwards to drop the entries it covers.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) return this.snap;
    if (index > this.lastIndex()) {
      throw new RaftConfigError(`MemoryStorage.createSnapshot: index ${index} is beyond last index ${this.lastIndex()}`);
    }
    this.snap = { metadata: { index, term: this.term(index), confState }, data };
    return this.snap;
  }

  /**
   * Drops the bytes of the snapshot at `index` once they are durable elsewhere (a large store's snapshot is
   * hundreds of MB). snapshot() then returns its metadata with {@link RELEASED_SNAPSHOT_DATA}: whoever sends it
   * must read the bytes back from where they are durable.
   */
  releaseSnapshotData(index: number): void {
    if (this.snap.metadata.index === index) this.snap = { metadata: this.snap.metadata, data: RELEASED_SNAPSHOT_DATA };
  }

  /** Drops entries before `index` (keeping `index` as the new dummy). `index` must be <= the applied index. */
  compact(index: number): void {
    const offset = this.ents[0].index;
    if (index <= offset) return;
    if (index > this.lastIndex()) {
      throw new RaftConfigError(`MemoryStorage.compact: index ${index} is beyond last index ${this.lastIndex()}`);
    }
    const kept = this.ents.slice(index - offset);
    kept[0] = { index: kept[0].index, term: kept[0].term, type: 0, data: new Uint8Array() };
    this.ents = kept;
  }
}
