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
 * nothing anybody observed. Two reductions keep them cheap and are exact (see `key-problem.ts`):
 * an `info` get constrains nothing and is dropped; an `info` write whose written value nobody
 * ever observes (no get returns it, no cas expects it) can always be moved to the end of a
 * linearization, so it is dropped too.
 *
 * Modules: `key-problem.ts` encodes one key's operations and applies the reductions,
 * `key-search.ts` is the search, `config-memo.ts` its memo of visited configurations; this file
 * is the public API, the per-key loop and the verdicts in words.
 */
import { describeOperation, HistoryEvent, Operation, pairOperations } from './history';
import { keyProblem, KeyProblem } from './key-problem';
import { Deepest, KeySearch } from './key-search';

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
// One key: the reductions (key-problem.ts), the search (key-search.ts) and its verdict in words.

function checkKey(key: string, keyOps: readonly Operation[], deadline: number, stats: CheckStats): CheckResult {
  const p = keyProblem(keyOps);
  stats.droppedInfo += p.dropped;
  stats.pendingInfo += p.ops.length - p.normalCount;
  if (p.impossible) return impossibleValue(key, p.impossible.op);
  if (p.normalCount === 0) return { ok: true, status: 'linearizable' };
  const outcome = new KeySearch(p, deadline, stats).run();
  switch (outcome.kind) {
    case 'linearizable': return { ok: true, status: 'linearizable' };
    case 'not-linearizable': return explain(key, p, outcome.deepest);
    case 'timed-out': return {
      ok: null,
      status: 'unknown',
      key,
      explanation: `key ${JSON.stringify(key)}: time budget ran out after ${stats.steps} search steps (${outcome.placed} of ${p.normalCount} operations placed at the time, ${stats.cacheEntries} configurations memoized)`,
    };
  }
}

function impossibleValue(key: string, op: Operation): NotLinearizable {
  const what = op.f === 'get' ? `reads ${JSON.stringify(op.output)}` : `expects ${JSON.stringify(op.input)}`;
  return {
    ok: false,
    status: 'not-linearizable',
    key,
    explanation: `key ${JSON.stringify(key)}: ${describeOperation(op)} ${what}, a value no operation on this key ever wrote.`,
    operations: [op],
  };
}

/** Says why no linearization exists, from the furthest configuration the search reached. */
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
