import { hashBytes } from './kv';
import { Entry, MemoryStorage, Role } from '../../src/raft';

/** A broken Raft safety property, with the step at which it was seen. */
export class InvariantViolation extends Error {
  constructor(readonly property: string, detail: string) {
    super(`${property}: ${detail}`);
    this.name = 'InvariantViolation';
  }
}

/**
 * Checks the Raft safety properties (paper Figure 3) incrementally as nodes persist, commit and
 * apply, so the check after every step stays cheap:
 *  - election safety: at most one leader per term;
 *  - log matching: two logs with an entry of the same index and term hold the same data and agree on the
 *    previous entry's term (so, by induction, on the whole prefix);
 *  - leader completeness: a new leader's log holds every committed entry;
 *  - state machine safety: every node applies the same entry, and reaches the same state, at each index;
 *  - monotonic commit: a node's durable commit index and its applied index never go back.
 */
export class SafetyChecker {
  /** Role of every live node after a step; at most one leader per term (checked through `leader`). */
  static roleName(r: Role): string {
    return Role[r];
  }

  private leaderOfTerm = new Map<number, number>();
  /** `${index}/${term}` -> fingerprint of (previous term, data) of the first copy seen. */
  private entryPrints = new Map<string, string>();
  /** index -> term of the entry committed there. */
  private committedTerm = new Map<number, number>();
  maxCommitted = 0;
  /** index -> `${term}:${dataHash}` applied there, and the state digest after it. */
  private appliedAt = new Map<number, string>();
  private digestAt = new Map<number, number>();
  private durableCommit = new Map<number, number>();

  leader(term: number, id: number, storage: MemoryStorage): void {
    const prev = this.leaderOfTerm.get(term);
    if (prev !== undefined && prev !== id) throw new InvariantViolation('election safety', `term ${term} has two leaders: ${prev} and ${id}`);
    if (prev === id) return;
    this.leaderOfTerm.set(term, id);
    // Leader completeness: every committed entry is in the new leader's durable log.
    const first = storage.firstIndex();
    if (storage.lastIndex() < this.maxCommitted) {
      throw new InvariantViolation('leader completeness', `leader ${id} of term ${term} has last index ${storage.lastIndex()} < committed ${this.maxCommitted}`);
    }
    for (let i = first; i <= this.maxCommitted; i++) {
      const t = this.committedTerm.get(i);
      if (t !== undefined && storage.term(i) !== t) {
        throw new InvariantViolation('leader completeness', `leader ${id} of term ${term} has term ${storage.term(i)} at committed index ${i} (committed term ${t})`);
      }
    }
  }

  /** Called after `entries` were appended to a node's storage. */
  persisted(id: number, storage: MemoryStorage, entries: readonly Entry[]): void {
    for (const e of entries) {
      let prevTerm: number | string = '?';
      if (e.index - 1 >= storage.firstIndex() - 1) prevTerm = storage.term(e.index - 1);
      const key = `${e.index}/${e.term}`;
      const print = `${e.type}:${hashBytes(e.data)}:${e.data.byteLength}`;
      const seen = this.entryPrints.get(key);
      if (seen === undefined) {
        this.entryPrints.set(key, `${prevTerm}|${print}`);
        continue;
      }
      const [seenPrev, seenPrint] = seen.split('|');
      if (seenPrint !== print || (seenPrev !== '?' && prevTerm !== '?' && seenPrev !== String(prevTerm))) {
        throw new InvariantViolation('log matching', `node ${id} has entry ${key} = prev ${prevTerm} ${print}, another node had prev ${seenPrev} ${seenPrint}`);
      }
    }
  }

  /** Called when a node's durable commit index is `commit`. */
  committed(id: number, storage: MemoryStorage, commit: number): void {
    const before = this.durableCommit.get(id) ?? 0;
    if (commit < before) throw new InvariantViolation('monotonic commit', `node ${id} durable commit went from ${before} to ${commit}`);
    this.durableCommit.set(id, commit);
    const from = Math.max(before + 1, storage.firstIndex());
    for (let i = from; i <= commit && i <= storage.lastIndex(); i++) {
      const t = storage.term(i);
      const seen = this.committedTerm.get(i);
      if (seen !== undefined && seen !== t) {
        throw new InvariantViolation('state machine safety', `node ${id} committed term ${t} at index ${i}, another node committed term ${seen}`);
      }
      this.committedTerm.set(i, t);
    }
    this.maxCommitted = Math.max(this.maxCommitted, commit);
  }

  /** Called when a node applies entry `e`, reaching state `digest`. */
  applied(id: number, e: Entry, digest: number): void {
    const print = `${e.term}:${hashBytes(e.data)}`;
    const seen = this.appliedAt.get(e.index);
    if (seen !== undefined && seen !== print) {
      throw new InvariantViolation('state machine safety', `node ${id} applied ${print} at index ${e.index}, another node applied ${seen}`);
    }
    this.appliedAt.set(e.index, print);
    this.checkDigest(id, e.index, digest);
  }

  /** Called when a node's state machine is at `index` with state `digest` (after a snapshot). */
  checkDigest(id: number, index: number, digest: number): void {
    const seen = this.digestAt.get(index);
    if (seen !== undefined && seen !== digest) {
      throw new InvariantViolation('state machine safety', `node ${id} state at index ${index} differs from another node's (${digest} vs ${seen})`);
    }
    this.digestAt.set(index, digest);
  }
}
