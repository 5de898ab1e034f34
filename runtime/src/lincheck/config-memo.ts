/**
 * The memo of configurations the search has visited (Lowe's memoization; porcupine's `cache`).
 *
 * A configuration is the set of placed operations and the value. Known operations (ok outcome)
 * and info ops (unknown outcome) are kept in two bitsets, owned by the search. A configuration is
 * skipped if one with the same known operations and value, and a subset of its info ops, was
 * visited: every continuation of the larger one is open to the smaller one too (the extra info
 * ops can go last), so the smaller one either failed already or is an ancestor of this one whose
 * other branches cover it. The hash covers the known operations and the value only, so such
 * configurations share a bucket.
 *
 * Every known operation invoked before the first unplaced one is placed, so a configuration is
 * stored as that index (`first`), the words from there to the last placed one, and the info bits:
 * a few words instead of one bit per operation of the history.
 *
 * The table is a chained hash table in flat typed arrays: no per-entry objects, as the garbage
 * collector otherwise dominates long searches.
 */
import { mulberry32 } from '../util/mulberry32';

/**
 * Int32 words per entry in `ent`: hash, next entry in the chain, high hash, state, first,
 * number of known words, offset in `arena` (the known words, then the info words).
 */
const ENTRY = 7;

export class ConfigMemo {
  /** Zobrist keys (low and high word) of each known operation; info ops have none, as the hash leaves them out. */
  readonly keyLo: Uint32Array;
  readonly keyHi: Uint32Array;
  private readonly infoWords: number;
  private tableMask = 1023;
  private table = new Int32Array(1024).fill(-1);
  private ent = new Int32Array(ENTRY * 1024);
  private entries = 0;
  private arena = new Uint32Array(4096);
  private arenaUsed = 0;

  /**
   * @param known the search's bitset of placed known operations (0..knownCount-1); read, never written
   * @param info the search's bitset of placed info ops (knownCount..knownCount+infoCount-1)
   */
  constructor(private readonly known: Uint32Array, private readonly info: Uint32Array, private readonly knownCount: number, infoCount: number) {
    this.infoWords = info.length;
    const rand = mulberry32(0x5eed + knownCount + infoCount);
    this.keyLo = new Uint32Array(knownCount + infoCount);
    this.keyHi = new Uint32Array(knownCount + infoCount);
    for (let i = 0; i < knownCount; i++) { this.keyLo[i] = rand(); this.keyHi[i] = rand(); }
  }

  /** Number of configurations recorded. */
  get size(): number {
    return this.entries;
  }

  /**
   * Records the configuration reached by placing `op` (not yet set in the bitsets) on top of the
   * placed ones, with value `state`; false if it, or one that dominates it, was recorded before.
   * `lo`/`hi` is the configuration's hash (the XOR of `keyLo`/`keyHi` of its known operations),
   * `first` its first unplaced known operation (`knownCount` if none) and `lastPlaced` its
   * highest placed known operation (-1 if none).
   */
  remember(lo: number, hi: number, state: number, op: number, first: number, lastPlaced: number): boolean {
    const n = this.knownCount;
    const known = this.known;
    const info = this.info;
    const arena = this.arena;
    const ent = this.ent;
    const from = first >>> 5;
    const knownLength = first > lastPlaced ? 0 : (lastPlaced >>> 5) + 1 - from;
    const opWord = op < n ? (op >>> 5) - from : (op - n) >>> 5;
    const opMask = 1 << (op < n ? op & 31 : (op - n) & 31);
    const k = (lo ^ Math.imul(state + 1, 0x9e3779b1)) | 0;
    hi |= 0;
    for (let e = this.table[k & this.tableMask]; e !== -1; e = ent[e * ENTRY + 1]) {
      const b = e * ENTRY;
      if (ent[b] !== k || ent[b + 2] !== hi || ent[b + 3] !== state || ent[b + 4] !== first || ent[b + 5] !== knownLength) continue;
      const at = ent[b + 6];
      let dominated = true;
      for (let j = 0; j < knownLength; j++) {
        const mine = op < n && j === opWord ? (known[from + j] | opMask) >>> 0 : known[from + j];
        if (arena[at + j] !== mine) { dominated = false; break; }
      }
      for (let j = 0; dominated && j < this.infoWords; j++) {
        const mine = op >= n && j === opWord ? info[j] | opMask : info[j];
        if ((arena[at + knownLength + j] & ~mine) !== 0) dominated = false;
      }
      if (dominated) return false;
    }
    this.insert(k, hi, state, op, first, knownLength, opWord, opMask);
    return true;
  }

  /** Appends the configuration `remember` did not find; its arguments are `remember`'s, derived. */
  private insert(k: number, hi: number, state: number, op: number, first: number, knownLength: number, opWord: number, opMask: number): void {
    const n = this.knownCount;
    const from = first >>> 5;
    this.grow(knownLength + this.infoWords);
    const arena = this.arena;
    const at = this.arenaUsed;
    arena.set(this.known.subarray(from, from + knownLength), at);
    // The placed op's bit is stored whenever its word is among the stored ones, exactly as `remember`
    // compares it (when it was the first unplaced op, it may sit in the same word as the new first).
    if (op < n && opWord >= 0 && opWord < knownLength) arena[at + opWord] |= opMask;
    arena.set(this.info, at + knownLength);
    if (op >= n) arena[at + knownLength + opWord] |= opMask;
    this.arenaUsed += knownLength + this.infoWords;
    const ent = this.ent;
    const b = this.entries * ENTRY;
    const slot = k & this.tableMask;
    ent[b] = k;
    ent[b + 1] = this.table[slot];
    ent[b + 2] = hi;
    ent[b + 3] = state;
    ent[b + 4] = first;
    ent[b + 5] = knownLength;
    ent[b + 6] = at;
    this.table[slot] = this.entries;
    this.entries++;
  }

  /** Makes room for one more entry of `words` arena words, doubling what is full. */
  private grow(words: number): void {
    if (ENTRY * (this.entries + 1) > this.ent.length) {
      const bigger = new Int32Array(this.ent.length * 2);
      bigger.set(this.ent);
      this.ent = bigger;
    }
    if (this.entries + 1 > (this.tableMask + 1) * 0.75) this.rehash((this.tableMask + 1) * 2);
    if (this.arenaUsed + words > this.arena.length) {
      const bigger = new Uint32Array(Math.max(this.arena.length * 2, this.arenaUsed + words));
      bigger.set(this.arena);
      this.arena = bigger;
    }
  }

  private rehash(slots: number): void {
    this.tableMask = slots - 1;
    this.table = new Int32Array(slots).fill(-1);
    for (let e = 0; e < this.entries; e++) {
      const slot = this.ent[e * ENTRY] & this.tableMask;
      this.ent[e * ENTRY + 1] = this.table[slot];
      this.table[slot] = e;
    }
  }
}
