import { CompactedError, RaftConfigError, UnavailableError } from './errors';
import { RaftStorage } from './storage';
import { Entry, Snapshot } from './types';

/**
 * The node's log: the durable part in RaftStorage plus an unstable tail (and possibly an unstable
 * snapshot) that the application has not yet persisted. `committed` and `applied` are volatile
 * (the commit index is persisted through HardState, but only as a hint).
 */
export class RaftLog {
  committed: number;
  applied: number;
  /** Index of unstableEntries[0]. */
  private unstableOffset: number;
  private unstableEntries: Entry[] = [];
  private unstableSnapshot: Snapshot | undefined;

  constructor(readonly storage: RaftStorage, committed: number, applied: number) {
    const first = storage.firstIndex();
    this.unstableOffset = storage.lastIndex() + 1;
    this.committed = Math.max(committed, first - 1);
    this.applied = Math.min(Math.max(applied, first - 1), this.committed);
  }

  firstIndex(): number {
    return this.unstableSnapshot ? this.unstableSnapshot.metadata.index + 1 : this.storage.firstIndex();
  }

  lastIndex(): number {
    if (this.unstableEntries.length > 0) return this.unstableOffset + this.unstableEntries.length - 1;
    if (this.unstableSnapshot) return this.unstableSnapshot.metadata.index;
    return this.storage.lastIndex();
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    if (t === undefined) throw new RaftConfigError(`RaftLog: no term for last index ${this.lastIndex()}`);
    return t;
  }

  /** Term at `index`, or undefined if it is compacted away or beyond the log. */
  term(index: number): number | undefined {
    if (index >= this.unstableOffset && index - this.unstableOffset < this.unstableEntries.length) {
      return this.unstableEntries[index - this.unstableOffset].term;
    }
    if (this.unstableSnapshot && index === this.unstableSnapshot.metadata.index) return this.unstableSnapshot.metadata.term;
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return undefined;
    if (this.unstableSnapshot) return undefined; // below the snapshot and not in it
    try {
      return this.storage.term(index);
    } catch (e) {
      if (e instanceof CompactedError || e instanceof UnavailableError) return undefined;
      throw e;
    }
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft paper 5.4.1: a candidate's log is at least as up-to-date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Entries in [lo, hi), capped at `maxEntries`; undefined if lo is compacted. */
  slice(lo: number, hi: number, maxEntries = Infinity): Entry[] | undefined {
    hi = Math.min(hi, this.lastIndex() + 1, lo + maxEntries);
    if (lo >= hi) return [];
    if (lo < this.firstIndex()) return undefined;
    const out: Entry[] = [];
    if (lo < this.unstableOffset) {
      try {
        out.push(...this.storage.entries(lo, Math.min(hi, this.unstableOffset)));
      } catch (e) {
        if (e instanceof CompactedError) return undefined;
        throw e;
      }
    }
    if (hi > this.unstableOffset) {
      const from = Math.max(lo, this.unstableOffset) - this.unstableOffset;
      out.push(...this.unstableEntries.slice(from, hi - this.unstableOffset));
    }
    return out;
  }

  /** The snapshot a lagging follower needs: the unstable one if any, else the stored one. */
  snapshot(): Snapshot {
    return this.unstableSnapshot ?? this.storage.snapshot();
  }

  /** Appends after the leader-side check; returns the new last index. Overwrites a conflicting unstable/stored suffix. */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0].index;
    if (after - 1 < this.committed) {
      throw new RaftConfigError(`RaftLog.append: entry ${after} would overwrite committed index ${this.committed}`);
    }
    if (after === this.unstableOffset + this.unstableEntries.length) {
      this.unstableEntries.push(...ents);
    } else if (after <= this.unstableOffset) {
      // Replaces part of the stored log: the application's append() truncates it when persisting.
      this.unstableOffset = after;
      this.unstableEntries = [...ents];
    } else {
      this.unstableEntries = this.unstableEntries.slice(0, after - this.unstableOffset).concat(ents);
    }
    return this.lastIndex();
  }

  /** The first entry of `ents` that conflicts with (or extends) the log, or 0 if all match. */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast backtracking (etcd-io/raft findConflictByTerm): the largest index <= `index` whose term is
   * <= `term`. Every entry between it and `index` has a larger term, so it cannot match the leader.
   */
  findConflictByTerm(index: number, term: number): number {
    for (let i = index; i > 0; i--) {
      const t = this.term(i);
      if (t === undefined) return i; // compacted: the snapshot matches (it is committed)
      if (t <= term) return i;
    }
    return 0;
  }

  /**
   * The follower side of AppendEntries (paper 5.3): if our entry at `index` has `logTerm`, append the
   * new entries (truncating from the first conflict) and advance commit; returns the last new index,
   * or undefined on a mismatch.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) {
        throw new RaftConfigError(`RaftLog: entry ${ci} conflicts with committed entry (commit ${this.committed}): log corrupted`);
      }
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  commitTo(index: number): void {
    if (index <= this.committed) return; // commit never goes back
    if (index > this.lastIndex()) {
      throw new RaftConfigError(`RaftLog.commitTo(${index}) is beyond last index ${this.lastIndex()}: log lost or corrupted`);
    }
    this.committed = index;
  }

  /** The leader's commit rule (paper 5.4.2): only an entry of the current term is committed by counting. */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    if (index > this.committed || index < this.applied) {
      throw new RaftConfigError(`RaftLog.appliedTo(${index}) is outside [applied ${this.applied}, committed ${this.committed}]`);
    }
    this.applied = index;
  }

  /** Installs a snapshot received from the leader (paper 7): the whole log is replaced. */
  restore(snap: Snapshot): void {
    this.committed = snap.metadata.index;
    this.unstableSnapshot = snap;
    this.unstableOffset = snap.metadata.index + 1;
    this.unstableEntries = [];
  }

  pendingSnapshot(): Snapshot | undefined {
    return this.unstableSnapshot;
  }

  unstable(): Entry[] {
    return [...this.unstableEntries];
  }

  /** Committed entries not yet applied (none while a snapshot is pending: it must be applied first). */
  nextCommittedEntries(maxEntries = Infinity): Entry[] {
    if (this.unstableSnapshot) return [];
    const lo = this.applied + 1;
    const hi = this.committed + 1;
    if (lo >= hi) return [];
    const ents = this.slice(lo, hi, maxEntries);
    if (ents === undefined) throw new RaftConfigError(`RaftLog: committed entries from ${lo} are compacted but not applied`);
    return ents;
  }

  /** The application persisted entries up to (index, term): drop them from the unstable tail. */
  stableTo(index: number, term: number): void {
    const t = this.term(index);
    if (t !== term || index < this.unstableOffset) return; // overwritten meanwhile, or already stable
    const n = index + 1 - this.unstableOffset;
    this.unstableEntries = this.unstableEntries.slice(n);
    this.unstableOffset = index + 1;
  }

  /** The application persisted the snapshot at `index`. */
  stableSnapTo(index: number): void {
    if (this.unstableSnapshot && this.unstableSnapshot.metadata.index === index) this.unstableSnapshot = undefined;
  }
}
