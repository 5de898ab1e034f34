/**
 * The search for a linearization of one key's operations: Wing and Gong's search with Lowe's
 * memoization, as in porcupine (`checker.go`). See `checker.ts` for the algorithm as a whole.
 *
 * The call and return events of the operations with a known outcome form a doubly linked list
 * in real-time order; the search linearizes one of the operations invoked before the earliest
 * return left in the list (removing its call and return), and undoes its latest choice when it
 * reaches that return first. Operations with unknown outcome never return: they sit in a second
 * list, in invocation order, and may be placed whenever the search is at a return they were
 * invoked before. Everything lives in typed arrays allocated once: a long search allocates
 * nothing per step.
 */
import { ConfigMemo } from './config-memo';
import { Operation } from './history';
import { Kind, KeyProblem } from './key-problem';

/** The furthest the search got (most known operations placed), for the explanation of a violation. */
export interface Deepest {
  /** Known operations placed. */
  depth: number;
  /** The value there. */
  state: number;
  /** The known operation whose return was reached before it could be placed. */
  blocking: number;
  /** The operations that could have gone next: invoked before that return (the blocking one included). */
  candidates: number[];
  /** The latest writes placed (at most 4), oldest first. */
  recent: number[];
}

/** How a search ended. */
export type SearchOutcome =
  | { readonly kind: 'linearizable' }
  | { readonly kind: 'not-linearizable'; readonly deepest: Deepest }
  | { readonly kind: 'timed-out'; readonly placed: number };

/** The counters a search adds to (a `CheckStats`). */
export interface SearchCounters {
  /** Operations linearized, including those later undone. */
  steps: number;
  /** Configurations memoized. */
  cacheEntries: number;
}

const LINEARIZABLE: SearchOutcome = { kind: 'linearizable' };

export class KeySearch {
  private readonly ops: Operation[];
  private readonly kind: Int8Array;
  private readonly arg: Int32Array;
  private readonly arg2: Int32Array;
  /** Operations 0..n-1 have a known outcome; n..total-1 are info ops. */
  private readonly n: number;
  // Call/return list: call of op i = 2i, its return = 2i+1, head sentinel = 2n; -1 ends it.
  private readonly head: number;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly time: Float64Array;
  // Pending list: the unplaced info ops in invocation order, head sentinel = total.
  private readonly pHead: number;
  private readonly pNext: Int32Array;
  private readonly pPrev: Int32Array;
  // The placed operations: bitsets of known and info ops, the highest placed known one, the hash.
  private readonly known: Uint32Array;
  private readonly info: Uint32Array;
  private maxPlaced = -1;
  private hLo = 0;
  private hHi = 0;
  private readonly memo: ConfigMemo;
  /** Per value: the known operations that need it (get, cas), in index order, and the info cas ops. */
  private readonly knownObservers: number[][];
  private readonly infoObservers: number[][];
  /** Per info op: the latest info op before it with the same effect, or -1. */
  private readonly previousTwin: Int32Array;
  // The choices made, one entry per placed operation, with what to restore on undo.
  private readonly stackOp: Int32Array;
  private readonly stackState: Int32Array;
  private readonly stackBound: Float64Array;
  private readonly stackMax: Int32Array;
  private depth = 0;
  /** Known operations placed. */
  private done = 0;
  /** The value after the placed operations. */
  private state = 0;
  /** Whether the search is trying info ops (at a return) rather than walking the call/return list. */
  private inPending = false;
  /** The next call/return event to consider. */
  private entry: number;
  /** At a return: the next info op to try, and the return's time (only info ops invoked before it may go). */
  private pCursor = -1;
  private bound = 0;
  private iterations = 0;
  private deepest: Deepest | undefined;

  /** A search of `p` (at least one known operation) that gives up after `deadline` (ms since the epoch). */
  constructor(p: KeyProblem, private readonly deadline: number, private readonly counters: SearchCounters) {
    const n = p.normalCount;
    const total = p.ops.length;
    this.ops = p.ops;
    this.kind = p.kind;
    this.arg = p.arg;
    this.arg2 = p.arg2;
    this.n = n;
    this.head = 2 * n;
    const events = callReturnList(p);
    this.next = events.next;
    this.prev = events.prev;
    this.time = events.time;
    this.pHead = total;
    const pending = pendingList(n, total);
    this.pNext = pending.next;
    this.pPrev = pending.prev;
    this.known = new Uint32Array((n + 31) >>> 5);
    this.info = new Uint32Array((total - n + 31) >>> 5);
    this.memo = new ConfigMemo(this.known, this.info, n, total - n);
    const observed = observers(p);
    this.knownObservers = observed.known;
    this.infoObservers = observed.info;
    this.previousTwin = previousTwins(p);
    this.stackOp = new Int32Array(total);
    this.stackState = new Int32Array(total);
    this.stackBound = new Float64Array(total);
    this.stackMax = new Int32Array(total);
    this.entry = this.next[this.head];
  }

  /** Searches until a linearization is found, none can exist, or the deadline passes. */
  run(): SearchOutcome {
    for (;;) {
      if (this.done === this.n) return LINEARIZABLE;
      if ((++this.iterations & 0xfff) === 0 && Date.now() > this.deadline) return { kind: 'timed-out', placed: this.done };
      if (!this.inPending) {
        const entry = this.entry;
        if ((entry & 1) === 0) {
          if (!this.tryLinearize(entry >>> 1)) this.entry = this.next[entry];
          continue;
        }
        // Reached the earliest pending return: only pending info ops invoked before it remain to try.
        this.recordDeepest(entry);
        this.inPending = true;
        this.bound = this.time[entry];
        this.pCursor = this.pNext[this.pHead];
        continue;
      }
      const op = this.pCursor;
      if (op !== -1 && this.ops[op].invokeIndex < this.bound) {
        if (!this.tryLinearize(op)) this.pCursor = this.pNext[op];
        continue;
      }
      // Nothing can go next: undo the last choice and try the one after it.
      if (this.depth === 0) return { kind: 'not-linearizable', deepest: this.deepest as Deepest };
      this.undo();
    }
  }

  /** Places `op` next if that is legal, useful and leads to a configuration not seen before. */
  private tryLinearize(op: number): boolean {
    const newState = this.effect(op);
    if (newState < 0) return false;
    const n = this.n;
    // An info op placed here must change the value, to one that an operation not yet placed can
    // still see before a known write overwrites it; otherwise deferring the info op to the end of
    // the linearization (always legal: it never returns) changes nothing anyone sees. Same
    // argument as the up-front drop in keyProblem, applied to the rest of the history; it stops
    // info ops from multiplying the search space.
    if (op >= n && (newState === this.state || this.hasTwinBefore(op) || !this.worthWriting(newState))) return false;
    const lo = (this.hLo ^ this.memo.keyLo[op]) >>> 0;
    const hi = (this.hHi ^ this.memo.keyHi[op]) >>> 0;
    const lastPlaced = op < n && op > this.maxPlaced ? op : this.maxPlaced;
    if (!this.memo.remember(lo, hi, newState, op, this.firstUnplacedWith(op), lastPlaced)) return false;
    this.counters.cacheEntries++;
    this.counters.steps++;
    this.place(op, newState, lo, hi);
    return true;
  }

  /** The value once `op` takes effect on the current one, or -1 if it cannot take effect there. */
  private effect(op: number): number {
    const k = this.kind[op];
    const state = this.state;
    if (k === Kind.GET) return state === this.arg[op] ? state : -1;
    if (k === Kind.PUT) return this.arg[op];
    if (k === Kind.CAS) return state === this.arg[op] ? this.arg2[op] : -1;
    return state === this.arg[op] ? this.arg2[op] : state;
  }

  /** The first unplaced known operation once `op` is placed too (`n` if none is left). */
  private firstUnplacedWith(op: number): number {
    const first = this.next[this.head] >>> 1;
    if (op >= this.n || op !== first) return first;
    let e = this.next[2 * op];
    if (e === 2 * op + 1) e = this.next[e];
    return e === -1 ? this.n : e >>> 1;
  }

  /** Places `op`, giving value `newState` and configuration hash `lo`/`hi`. */
  private place(op: number, newState: number, lo: number, hi: number): void {
    const n = this.n;
    this.hLo = lo;
    this.hHi = hi;
    if (op < n) this.known[op >>> 5] |= 1 << (op & 31);
    else this.info[(op - n) >>> 5] |= 1 << ((op - n) & 31);
    const d = this.depth;
    this.stackMax[d] = this.maxPlaced;
    if (op < n && op > this.maxPlaced) this.maxPlaced = op;
    this.stackOp[d] = op;
    this.stackState[d] = this.state;
    this.stackBound[d] = this.bound;
    this.depth = d + 1;
    this.state = newState;
    if (op < n) {
      this.done++;
      const { next, prev } = this;
      const c = 2 * op;
      const r = c + 1;
      next[prev[c]] = next[c];
      prev[next[c]] = prev[c];
      next[prev[r]] = next[r];
      if (next[r] !== -1) prev[next[r]] = prev[r];
    } else {
      const { pNext, pPrev } = this;
      pNext[pPrev[op]] = pNext[op];
      if (pNext[op] !== -1) pPrev[pNext[op]] = pPrev[op];
    }
    this.inPending = false;
    this.entry = this.next[this.head];
  }

  /** Takes back the latest placed operation and moves on to the choice after it. */
  private undo(): void {
    const n = this.n;
    const d = --this.depth;
    const op = this.stackOp[d];
    this.state = this.stackState[d];
    this.bound = this.stackBound[d];
    if (op < n) this.known[op >>> 5] &= ~(1 << (op & 31));
    else this.info[(op - n) >>> 5] &= ~(1 << ((op - n) & 31));
    this.maxPlaced = this.stackMax[d];
    this.hLo = (this.hLo ^ this.memo.keyLo[op]) >>> 0;
    this.hHi = (this.hHi ^ this.memo.keyHi[op]) >>> 0;
    if (op < n) {
      this.done--;
      const { next, prev } = this;
      const c = 2 * op;
      const r = c + 1;
      next[prev[r]] = r;
      if (next[r] !== -1) prev[next[r]] = r;
      next[prev[c]] = c;
      prev[next[c]] = c;
      this.inPending = false;
      this.entry = next[c];
    } else {
      const { pNext, pPrev } = this;
      pNext[pPrev[op]] = op;
      if (pNext[op] !== -1) pPrev[pNext[op]] = op;
      this.inPending = true;
      this.pCursor = pNext[op];
    }
  }

  private isPlaced(op: number): boolean {
    const n = this.n;
    return (op < n ? this.known[op >>> 5] & (1 << (op & 31)) : this.info[(op - n) >>> 5] & (1 << ((op - n) & 31))) !== 0;
  }

  /**
   * Whether writing `value` now can matter: some unplaced observer of it must be able to go
   * before every unplaced known put/delete, i.e. be invoked before the earliest of their returns.
   */
  private worthWriting(value: number): boolean {
    const next = this.next;
    let firstWriteReturn = Infinity;
    for (let e = next[this.head]; e !== -1; e = next[e]) {
      if ((e & 1) === 1 && this.kind[e >>> 1] === Kind.PUT) { firstWriteReturn = this.time[e]; break; }
    }
    // Known operations before the first unplaced one are all placed: binary search past them.
    const list = this.knownObservers[value];
    const first = next[this.head] >>> 1;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid] < first) lo = mid + 1;
      else hi = mid;
    }
    for (let j = lo; j < list.length; j++) {
      const o = list[j];
      if (this.ops[o].invokeIndex > firstWriteReturn) break;
      if (!this.isPlaced(o)) return true;
    }
    for (const o of this.infoObservers[value]) {
      if (this.ops[o].invokeIndex < firstWriteReturn && !this.isPlaced(o)) return true;
    }
    return false;
  }

  /**
   * Info ops with the same effect (kind and values) are interchangeable once both are invoked
   * (neither ever returns), so only the earliest unplaced one of each effect is tried.
   */
  private hasTwinBefore(op: number): boolean {
    for (let t = this.previousTwin[op]; t !== -1; t = this.previousTwin[t]) if (!this.isPlaced(t)) return true;
    return false;
  }

  /** Remembers the configuration if it is the furthest so far: the search is stuck at `blockingEntry` (a return). */
  private recordDeepest(blockingEntry: number): void {
    if (this.deepest && this.deepest.depth >= this.done) return;
    const candidates: number[] = [];
    for (let e = this.next[this.head]; e !== blockingEntry && e !== -1; e = this.next[e]) {
      if ((e & 1) === 0) candidates.push(e >>> 1);
    }
    const blockingTime = this.time[blockingEntry];
    for (let i = this.pNext[this.pHead]; i !== -1 && this.ops[i].invokeIndex < blockingTime; i = this.pNext[i]) candidates.push(i);
    const recent: number[] = [];
    for (let d = this.depth - 1; d >= 0 && recent.length < 4; d--) {
      const op = this.stackOp[d];
      if (this.kind[op] !== Kind.GET) recent.unshift(op);
    }
    this.deepest = { depth: this.done, state: this.state, blocking: blockingEntry >>> 1, candidates, recent };
  }
}

/** The call/return list of the known operations, in real-time order, and each event's time. */
function callReturnList(p: KeyProblem): { next: Int32Array; prev: Int32Array; time: Float64Array } {
  const n = p.normalCount;
  const head = 2 * n;
  const next = new Int32Array(2 * n + 1).fill(-1);
  const prev = new Int32Array(2 * n + 1).fill(-1);
  const time = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    time[2 * i] = p.ops[i].invokeIndex;
    time[2 * i + 1] = p.ops[i].returnIndex;
  }
  const order = Array.from({ length: 2 * n }, (_, e) => e).sort((a, b) => time[a] - time[b]);
  let last = head;
  for (const e of order) {
    next[last] = e;
    prev[e] = last;
    last = e;
  }
  return { next, prev, time };
}

/** The list of info ops n..total-1 in invocation order, behind a head sentinel at `total`. */
function pendingList(n: number, total: number): { next: Int32Array; prev: Int32Array } {
  const next = new Int32Array(total + 1).fill(-1);
  const prev = new Int32Array(total + 1).fill(-1);
  let last = total;
  for (let i = n; i < total; i++) {
    next[last] = i;
    prev[i] = last;
    last = i;
  }
  return { next, prev };
}

/** The observers of each value (gets and cas ops, which need it), known ones and info ones, in index order. */
function observers(p: KeyProblem): { known: number[][]; info: number[][] } {
  const known: number[][] = p.values.map(() => []);
  const info: number[][] = p.values.map(() => []);
  for (let i = 0; i < p.ops.length; i++) {
    if (p.kind[i] !== Kind.PUT) (i < p.normalCount ? known : info)[p.arg[i]].push(i);
  }
  return { known, info };
}

/** For each info op, the latest info op before it with the same kind and values (-1 if none). */
function previousTwins(p: KeyProblem): Int32Array {
  const total = p.ops.length;
  const effectIds = new Map<string, number>();
  const lastOfEffect = new Map<number, number>();
  const previousTwin = new Int32Array(total).fill(-1);
  for (let i = p.normalCount; i < total; i++) {
    const id = `${p.kind[i]}:${p.arg[i]}:${p.arg2[i]}`;
    if (!effectIds.has(id)) effectIds.set(id, effectIds.size);
    const effect = effectIds.get(id) as number;
    previousTwin[i] = lastOfEffect.get(effect) ?? -1;
    lastOfEffect.set(effect, i);
  }
  return previousTwin;
}
