/**
 * A linearizability checker for a key-value store (get/put/delete/cas).
 *
 * Algorithm: the Wing-Gong search with Lowe's memoization, as in porcupine
 * (anishathalye/porcupine, `checker.go`): call and return events of the operations form a
 * doubly linked list in real-time order; the search repeatedly linearizes one of the operations
 * invoked before the earliest pending return, backtracks when that return is reached first, and
 * never revisits a (set of linearized operations, model state) pair. Keys are independent
 * registers, so the history is checked one key at a time (P-compositionality, Horn and Kroening
 * 2015), which keeps the search space per key small.
 *
 * Operations with unknown outcome (`info`, or still in flight at the end) may take effect at any
 * time after their invocation, or never: they have no return event, and one placed last changes
 * nothing anybody observed. Two reductions keep them cheap and are exact (see `keyProblem`):
 * an `info` get constrains nothing and is dropped; an `info` write whose written value nobody
 * ever observes (no get returns it, no cas expects it) can always be moved to the end of a
 * linearization, so it is dropped too.
 */
import { describeOperation, HistoryEvent, Operation, pairOperations, Value } from './history';
import { mulberry32 } from '../util/mulberry32';

/** Options of `checkHistory`. */
export interface CheckOptions {
  /**
   * Time budget for the whole check, in milliseconds. When it runs out the result is
   * `unknown` rather than a verdict.
   * @default no limit
   */
  readonly timeoutMs?: number;
}

/** The history is linearizable. */
export interface Linearizable {
  readonly ok: true;
  readonly status: 'linearizable';
}

/** The history is not linearizable; one key is a witness. */
export interface NotLinearizable {
  readonly ok: false;
  readonly status: 'not-linearizable';
  /** The key whose operations cannot be ordered. */
  readonly key: string;
  /** A few human-readable lines: the furthest the search got, and the operations that cannot be ordered. */
  readonly explanation: string;
  /** The operations named in the explanation: the one that cannot take effect, the concurrent candidates and the recent writes. */
  readonly operations: Operation[];
}

/**
 * The time budget ran out before a verdict. Deliberately `ok: null` (falsy): code that tests
 * `if (result.ok)` never mistakes an unfinished check for a pass.
 */
export interface Unknown {
  readonly ok: null;
  readonly status: 'unknown';
  /** The key being checked when the budget ran out. */
  readonly key: string;
  readonly explanation: string;
}

/** The result of `checkHistory`. */
export type CheckResult = Linearizable | NotLinearizable | Unknown;

/** Statistics of one check, for benchmarks. */
export interface CheckStats {
  keys: number;
  operations: number;
  /** Operations with unknown outcome that the search had to place. */
  pendingInfo: number;
  /** Operations with unknown outcome dropped by the exact reductions. */
  droppedInfo: number;
  /** Search steps (operations linearized, including those later undone). */
  steps: number;
  /** Memoized configurations. */
  cacheEntries: number;
}

/**
 * Decides whether a history (events in real-time order, as returned by `parseHistory`) is
 * linearizable with respect to a key-value store where every key starts absent.
 * Throws a HistoryError if the history is malformed.
 */
export function checkHistory(events: readonly HistoryEvent[], options: CheckOptions = {}): CheckResult {
  return checkOperations(pairOperations(events), options);
}

/** Like `checkHistory`, for operations already paired by `pairOperations`. `stats` is filled in if given. */
export function checkOperations(operations: readonly Operation[], options: CheckOptions = {}, stats?: CheckStats): CheckResult {
  const timeoutMs = options.timeoutMs;
  if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs <= 0)) {
    throw new Error(`timeoutMs must be a positive number of milliseconds, got ${timeoutMs}`);
  }
  const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
  const byKey = new Map<string, Operation[]>();
  for (const op of operations) {
    let list = byKey.get(op.key);
    if (!list) byKey.set(op.key, (list = []));
    list.push(op);
  }
  const s: CheckStats = Object.assign(stats ?? ({} as CheckStats), {
    keys: 0,
    operations: 0,
    pendingInfo: 0,
    droppedInfo: 0,
    steps: 0,
    cacheEntries: 0,
  });
  s.keys = byKey.size;
  s.operations = operations.length;
  for (const [key, ops] of byKey) {
    const result = checkKey(key, ops, deadline, s);
    if (result.ok !== true) return result;
  }
  return { ok: true, status: 'linearizable' };
}

// ---------------------------------------------------------------------------------------------
// One key: the search.

const KIND_GET = 0;
const KIND_PUT = 1; // also delete: writes input (null)
const KIND_CAS = 2; // ok cas: must find `expected`
const KIND_CAS_MAYBE = 3; // info cas: swaps if it finds `expected`, else changes nothing

/** The operations of one key, encoded for the search; values are interned to small integers (0 = absent). */
interface KeyProblem {
  /** Operations with a known outcome (ok), then those with unknown outcome (info), in invocation order. */
  ops: Operation[];
  normalCount: number;
  kind: Int8Array;
  /** get: value read; put/delete: value written; cas: expected. */
  arg: Int32Array;
  /** cas: value written on success. */
  arg2: Int32Array;
  dropped: number;
  /** The values behind the interned integers. */
  values: Value[];
  /** Set when a get or cas expects a value that no operation ever writes: an immediate, minimal witness. */
  impossible?: { op: Operation };
}

function keyProblem(ops: readonly Operation[]): KeyProblem {
  const ids = new Map<Value, number>([[null, 0]]);
  const values: Value[] = [null];
  const intern = (v: Value): number => {
    let id = ids.get(v);
    if (id === undefined) {
      ids.set(v, (id = values.length));
      values.push(v);
    }
    return id;
  };
  const written = new Set<Value>([null]);
  for (const op of ops) {
    if (op.outcome === 'fail') continue;
    if (op.f === 'put') written.add(op.input);
    if (op.f === 'delete') written.add(null);
    if (op.f === 'cas') written.add(op.newValue);
  }
  const normal: Operation[] = [];
  let impossible: KeyProblem['impossible'];
  for (const op of ops) {
    if (op.outcome !== 'ok') continue;
    normal.push(op);
    const needs = op.f === 'get' ? op.output : op.f === 'cas' ? op.input : null;
    if (!impossible && !written.has(needs)) impossible = { op };
  }
  // Unknown outcome. A get constrains nothing. A write of a value nobody observes can be moved
  // to the end of any linearization without changing what anyone saw: between it and the next
  // effective write only info cas ops expecting something else can sit (a get would observe the
  // value, an ok cas would need it), and those may move to the end as well. An info cas only
  // counts as an observer while it is kept itself, hence the fixpoint.
  let pending = ops.filter((op) => op.outcome === 'info' && op.f !== 'get');
  for (;;) {
    const observers = new Set<Value>();
    for (const op of normal) {
      if (op.f === 'get') observers.add(op.output);
      if (op.f === 'cas') observers.add(op.input);
    }
    for (const op of pending) if (op.f === 'cas') observers.add(op.input);
    const kept = pending.filter((op) => observers.has(op.f === 'put' ? op.input : op.f === 'cas' ? op.newValue : null));
    if (kept.length === pending.length) break;
    pending = kept;
  }
  const dropped = ops.filter((op) => op.outcome === 'info').length - pending.length;
  const all = [...normal, ...pending];
  const kind = new Int8Array(all.length);
  const arg = new Int32Array(all.length);
  const arg2 = new Int32Array(all.length);
  all.forEach((op, i) => {
    switch (op.f) {
      case 'get': kind[i] = KIND_GET; arg[i] = intern(op.output); break;
      case 'put': kind[i] = KIND_PUT; arg[i] = intern(op.input); break;
      case 'delete': kind[i] = KIND_PUT; arg[i] = 0; break;
      case 'cas':
        kind[i] = op.outcome === 'ok' ? KIND_CAS : KIND_CAS_MAYBE;
        arg[i] = intern(op.input);
        arg2[i] = intern(op.newValue);
        break;
    }
  });
  return { ops: all, normalCount: normal.length, kind, arg, arg2, dropped, values, impossible };
}

interface Deepest {
  depth: number;
  state: number;
  blocking: number;
  candidates: number[];
  recent: number[];
}

function checkKey(key: string, keyOps: readonly Operation[], deadline: number, stats: CheckStats): CheckResult {
  const p = keyProblem(keyOps);
  stats.droppedInfo += p.dropped;
  stats.pendingInfo += p.ops.length - p.normalCount;
  if (p.impossible) {
    const op = p.impossible.op;
    const what = op.f === 'get' ? `reads ${JSON.stringify(op.output)}` : `expects ${JSON.stringify(op.input)}`;
    return {
      ok: false,
      status: 'not-linearizable',
      key,
      explanation: `key ${JSON.stringify(key)}: ${describeOperation(op)} ${what}, a value no operation on this key ever wrote.`,
      operations: [op],
    };
  }
  const n = p.normalCount;
  const total = p.ops.length;
  if (n === 0) return { ok: true, status: 'linearizable' };

  // Main list: entries 0..2n-1 (call of op i = 2i, return = 2i+1), head sentinel = 2n.
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
  // Pending list: info ops n..total-1 in invocation order, head sentinel = total.
  const pHead = total;
  const pNext = new Int32Array(total + 1).fill(-1);
  const pPrev = new Int32Array(total + 1).fill(-1);
  let pLast = pHead;
  for (let i = n; i < total; i++) {
    pNext[pLast] = i;
    pPrev[i] = pLast;
    pLast = i;
  }

  // Memo of visited configurations (Lowe): the set of placed operations and the value. Known
  // operations occupy the first `nWords` words of the bitset, info ops the rest. A configuration
  // is skipped if one with the same known operations and value, and a subset of its info ops,
  // was visited: every continuation of the larger one is open to the smaller one too (the extra
  // info ops can go last), so the smaller one either failed already or is an ancestor of this
  // one whose other branches cover it. The hash covers the known operations and the value only,
  // so such configurations share a bucket.
  // Every known operation invoked before the first unplaced one (the head of the list) is
  // placed, so a configuration is stored as that index, the words from there to the last placed
  // one, and the info bits: a few words instead of one bit per operation of the history.
  const bits = new Uint32Array((n + 31) >>> 5);
  const infoBits = new Uint32Array((total - n + 31) >>> 5);
  let maxPlaced = -1;
  const rand = mulberry32(0x5eed + total);
  const zLo = new Uint32Array(total);
  const zHi = new Uint32Array(total);
  for (let i = 0; i < n; i++) { zLo[i] = rand(); zHi[i] = rand(); }
  let hLo = 0;
  let hHi = 0;
  // The memo is a chained hash table in flat typed arrays (no per-entry objects: the garbage
  // collector otherwise dominates long searches). Entry e occupies ent[e*7 .. e*7+6]:
  // hash, next in chain, hi hash, state, first, number of known words, offset in `arena`
  // (known words, then the info words).
  const infoWords = infoBits.length;
  let tableMask = 1023;
  let table = new Int32Array(tableMask + 1).fill(-1);
  let ent = new Int32Array(7 * 1024);
  let entries = 0;
  let arena = new Uint32Array(4096);
  let arenaUsed = 0;
  const grow = (): void => {
    if (7 * (entries + 1) > ent.length) {
      const bigger = new Int32Array(ent.length * 2);
      bigger.set(ent);
      ent = bigger;
    }
    if (entries + 1 > (tableMask + 1) * 0.75) {
      tableMask = tableMask * 2 + 1;
      table = new Int32Array(tableMask + 1).fill(-1);
      for (let e = 0; e < entries; e++) {
        const slot = ent[e * 7] & tableMask;
        ent[e * 7 + 1] = table[slot];
        table[slot] = e;
      }
    }
  };
  /** Records the configuration reached by placing `op`; false if it (or one that dominates it) was seen. */
  const remember = (lo: number, hi: number, state: number, op: number): boolean => {
    let first = next[head] >>> 1;
    let lastPlaced = maxPlaced;
    if (op < n) {
      if (op === first) {
        let e = next[2 * op];
        if (e === 2 * op + 1) e = next[e];
        first = e === -1 ? n : e >>> 1;
      }
      if (op > lastPlaced) lastPlaced = op;
    }
    const from = first >>> 5;
    const knownLength = first > lastPlaced ? 0 : (lastPlaced >>> 5) + 1 - from;
    const opWord = op < n ? (op >>> 5) - from : (op - n) >>> 5;
    const opMask = 1 << (op < n ? op & 31 : (op - n) & 31);
    const k = (lo ^ Math.imul(state + 1, 0x9e3779b1)) | 0;
    hi |= 0;
    for (let e = table[k & tableMask]; e !== -1; e = ent[e * 7 + 1]) {
      const b = e * 7;
      if (ent[b] !== k || ent[b + 2] !== hi || ent[b + 3] !== state || ent[b + 4] !== first || ent[b + 5] !== knownLength) continue;
      const at = ent[b + 6];
      let dominated = true;
      for (let j = 0; j < knownLength; j++) {
        const mine = op < n && j === opWord ? (bits[from + j] | opMask) >>> 0 : bits[from + j];
        if (arena[at + j] !== mine) { dominated = false; break; }
      }
      for (let j = 0; dominated && j < infoWords; j++) {
        const mine = op >= n && j === opWord ? infoBits[j] | opMask : infoBits[j];
        if ((arena[at + knownLength + j] & ~mine) !== 0) dominated = false;
      }
      if (dominated) return false;
    }
    grow();
    const size = knownLength + infoWords;
    if (arenaUsed + size > arena.length) {
      const bigger = new Uint32Array(Math.max(arena.length * 2, arenaUsed + size));
      bigger.set(arena);
      arena = bigger;
    }
    const at = arenaUsed;
    arena.set(bits.subarray(from, from + knownLength), at);
    if (op < n && op >= first) arena[at + opWord] |= opMask;
    arena.set(infoBits, at + knownLength);
    if (op >= n) arena[at + knownLength + opWord] |= opMask;
    arenaUsed += size;
    const b = entries * 7;
    const slot = k & tableMask;
    ent[b] = k;
    ent[b + 1] = table[slot];
    ent[b + 2] = hi;
    ent[b + 3] = state;
    ent[b + 4] = first;
    ent[b + 5] = knownLength;
    ent[b + 6] = at;
    table[slot] = entries;
    entries++;
    stats.cacheEntries++;
    return true;
  };

  // Observers of each value, in invocation order, for the info-op rule in tryLinearize.
  // Known observers (in invocation order, which is their index order) and info observers
  // (info cas ops) of each value.
  const knownObservers: number[][] = p.values.map(() => []);
  const infoObservers: number[][] = p.values.map(() => []);
  for (let i = 0; i < total; i++) {
    if (p.kind[i] !== KIND_PUT) (i < n ? knownObservers : infoObservers)[p.arg[i]].push(i);
  }
  const isPlaced = (op: number): boolean => (op < n ? bits[op >>> 5] & (1 << (op & 31)) : infoBits[(op - n) >>> 5] & (1 << ((op - n) & 31))) !== 0;
  /**
   * Whether writing `value` now can matter: some unplaced observer of it must be able to go
   * before every unplaced known put/delete, i.e. be invoked before the earliest of their returns.
   */
  const worthWriting = (value: number): boolean => {
    let firstWriteReturn = Infinity;
    for (let e = next[head]; e !== -1; e = next[e]) {
      if ((e & 1) === 1 && p.kind[e >>> 1] === KIND_PUT) { firstWriteReturn = time[e]; break; }
    }
    // Known operations before the first unplaced one are all placed: binary search past them.
    const list = knownObservers[value];
    const first = next[head] >>> 1;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid] < first) lo = mid + 1;
      else hi = mid;
    }
    for (let j = lo; j < list.length; j++) {
      const o = list[j];
      if (p.ops[o].invokeIndex > firstWriteReturn) break;
      if (!isPlaced(o)) return true;
    }
    for (const o of infoObservers[value]) {
      if (p.ops[o].invokeIndex < firstWriteReturn && !isPlaced(o)) return true;
    }
    return false;
  };

  // Info ops with the same effect (kind and values) are interchangeable once both are invoked
  // (neither ever returns), so only the earliest unplaced one of each effect is tried.
  const effectIds = new Map<string, number>();
  const lastOfEffect = new Map<number, number>();
  const previousTwin = new Int32Array(total).fill(-1);
  for (let i = n; i < total; i++) {
    const id = `${p.kind[i]}:${p.arg[i]}:${p.arg2[i]}`;
    if (!effectIds.has(id)) effectIds.set(id, effectIds.size);
    const effect = effectIds.get(id) as number;
    previousTwin[i] = lastOfEffect.get(effect) ?? -1;
    lastOfEffect.set(effect, i);
  }
  const hasTwinBefore = (op: number): boolean => {
    for (let t = previousTwin[op]; t !== -1; t = previousTwin[t]) if (!isPlaced(t)) return true;
    return false;
  };

  // Search stack.
  const stackOp = new Int32Array(total);
  const stackState = new Int32Array(total);
  const stackBound = new Float64Array(total);
  const stackMax = new Int32Array(total);
  let depth = 0;
  let done = 0; // ops with known outcome linearized
  let state = 0;
  let inPending = false;
  let entry = next[head];
  let pCursor = -1;
  let bound = 0;
  let iterations = 0;
  let deepest: Deepest | undefined;

  const tryLinearize = (op: number): boolean => {
    const k = p.kind[op];
    let newState: number;
    if (k === KIND_GET) {
      if (state !== p.arg[op]) return false;
      newState = state;
    } else if (k === KIND_PUT) {
      newState = p.arg[op];
    } else if (k === KIND_CAS) {
      if (state !== p.arg[op]) return false;
      newState = p.arg2[op];
    } else {
      newState = state === p.arg[op] ? p.arg2[op] : state;
    }
    // An info op placed here must change the value, to one that an operation not yet placed can
    // still see before a known write overwrites it; otherwise deferring the info op to the end of
    // the linearization (always legal: it never returns) changes nothing anyone sees. Same
    // argument as the up-front drop in keyProblem, applied to the rest of the history; it stops
    // info ops from multiplying the search space.
    if (op >= n && (newState === state || hasTwinBefore(op) || !worthWriting(newState))) return false;
    const lo = (hLo ^ zLo[op]) >>> 0;
    const hi = (hHi ^ zHi[op]) >>> 0;
    if (!remember(lo, hi, newState, op)) return false;
    stats.steps++;
    hLo = lo;
    hHi = hi;
    if (op < n) bits[op >>> 5] |= 1 << (op & 31);
    else infoBits[(op - n) >>> 5] |= 1 << ((op - n) & 31);
    stackMax[depth] = maxPlaced;
    if (op < n && op > maxPlaced) maxPlaced = op;
    stackOp[depth] = op;
    stackState[depth] = state;
    stackBound[depth] = bound;
    depth++;
    state = newState;
    if (op < n) {
      done++;
      const c = 2 * op;
      const r = c + 1;
      next[prev[c]] = next[c];
      prev[next[c]] = prev[c];
      next[prev[r]] = next[r];
      if (next[r] !== -1) prev[next[r]] = prev[r];
    } else {
      pNext[pPrev[op]] = pNext[op];
      if (pNext[op] !== -1) pPrev[pNext[op]] = pPrev[op];
    }
    inPending = false;
    entry = next[head];
    return true;
  };

  const recordDeepest = (blockingEntry: number): void => {
    if (deepest && deepest.depth >= done) return;
    const candidates: number[] = [];
    for (let e = next[head]; e !== blockingEntry && e !== -1; e = next[e]) {
      if ((e & 1) === 0) candidates.push(e >>> 1);
    }
    const blockingTime = time[blockingEntry];
    for (let i = pNext[pHead]; i !== -1 && p.ops[i].invokeIndex < blockingTime; i = pNext[i]) candidates.push(i);
    const recent: number[] = [];
    for (let d = depth - 1; d >= 0 && recent.length < 4; d--) {
      const op = stackOp[d];
      if (p.kind[op] !== KIND_GET) recent.unshift(op);
    }
    deepest = { depth: done, state, blocking: blockingEntry >>> 1, candidates, recent };
  };

  for (;;) {
    if (done === n) return { ok: true, status: 'linearizable' };
    if ((++iterations & 0xfff) === 0 && Date.now() > deadline) {
      return {
        ok: null,
        status: 'unknown',
        key,
        explanation: `key ${JSON.stringify(key)}: time budget ran out after ${stats.steps} search steps (${done} of ${n} operations placed at the time, ${stats.cacheEntries} configurations memoized)`,
      };
    }
    if (!inPending) {
      if ((entry & 1) === 0) {
        if (!tryLinearize(entry >>> 1)) entry = next[entry];
        continue;
      }
      // Reached the earliest pending return: only pending info ops invoked before it remain to try.
      recordDeepest(entry);
      inPending = true;
      bound = time[entry];
      pCursor = pNext[pHead];
      continue;
    }
    if (pCursor !== -1 && p.ops[pCursor].invokeIndex < bound) {
      const op = pCursor;
      if (tryLinearize(op)) continue;
      pCursor = pNext[op];
      continue;
    }
    // Nothing can go next: undo the last choice and try the one after it.
    if (depth === 0) return explain(key, p, deepest as Deepest);
    depth--;
    const op = stackOp[depth];
    state = stackState[depth];
    bound = stackBound[depth];
    if (op < n) bits[op >>> 5] &= ~(1 << (op & 31));
    else infoBits[(op - n) >>> 5] &= ~(1 << ((op - n) & 31));
    maxPlaced = stackMax[depth];
    hLo = (hLo ^ zLo[op]) >>> 0;
    hHi = (hHi ^ zHi[op]) >>> 0;
    if (op < n) {
      done--;
      const c = 2 * op;
      const r = c + 1;
      next[prev[r]] = r;
      if (next[r] !== -1) prev[next[r]] = r;
      next[prev[c]] = c;
      prev[next[c]] = c;
      inPending = false;
      entry = next[c];
    } else {
      pNext[pPrev[op]] = op;
      if (pNext[op] !== -1) pPrev[pNext[op]] = op;
      inPending = true;
      pCursor = pNext[op];
    }
  }
}

function explain(key: string, p: KeyProblem, d: Deepest): NotLinearizable {
  const valueOf = (id: number): string => (id === 0 ? 'absent' : JSON.stringify(p.values[id]));
  const blocking = p.ops[d.blocking];
  const lines = [
    `key ${JSON.stringify(key)}: no linearization exists.`,
    `The furthest the search got places ${d.depth} of ${p.normalCount} completed operations; the value is then ${valueOf(d.state)}` +
      (d.recent.length ? ', after the latest writes:' : '.'),
    ...d.recent.map((i) => `  ${describeOperation(p.ops[i])}`),
  ];
  const others = d.candidates.filter((i) => i !== d.blocking);
  if (others.length === 0) {
    lines.push(`From there, ${describeOperation(blocking)} must take effect before it returns, is illegal on that value, and no other operation may go before it.`);
  } else {
    lines.push(`From there, ${describeOperation(blocking)} must take effect before it returns, but no order of these concurrent operations makes it legal:`);
    lines.push(...others.map((i) => `  ${describeOperation(p.ops[i])}`));
  }
  const seen = new Set<number>();
  const operations = [...d.recent, d.blocking, ...d.candidates].filter((i) => !seen.has(i) && seen.add(i)).map((i) => p.ops[i]);
  operations.sort((a, b) => a.invokeIndex - b.invokeIndex);
  return { ok: false, status: 'not-linearizable', key, explanation: lines.join('\n'), operations };
}
