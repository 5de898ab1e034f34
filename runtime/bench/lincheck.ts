/**
 * Benchmark of the linearizability checker: histories of 10 concurrent clients against a real
 * in-memory store (linearizable by construction), with info ops, and the same histories with one
 * read made stale (not linearizable). Prints one row per scenario: median of the rounds.
 * Run: `npm run bench:lincheck` (after `npx tsc -p runtime/tsconfig.test.json`).
 */
import { checkOperations, CheckStats, HistoryEvent, Operation, pairOperations, parseHistory, randomHistory } from '../src/lincheck';

interface Scenario { operations: number; keys: number; infoRate: number; mutate: boolean }

const ROUNDS = 3;
const TIMEOUT_MS = 20_000;

function staleRead(events: HistoryEvent[], ops: Operation[]): HistoryEvent[] {
  const puts = ops.filter((op) => op.f === 'put' && op.outcome === 'ok');
  const gets = ops.filter((op) => op.f === 'get' && op.outcome === 'ok');
  // A read in the last third, so the search has most of the history to exhaust first.
  for (const g of gets.slice(Math.floor((gets.length * 2) / 3))) {
    const p2 = puts.filter((p) => p.key === g.key && p.returnIndex < g.invokeIndex).pop();
    const p1 = p2 && puts.filter((p) => p.key === g.key && p.returnIndex < p2.invokeIndex && p.input !== g.output).pop();
    if (!p1) continue;
    const copy = events.slice();
    copy[g.returnIndex] = { ...copy[g.returnIndex], value: p1.input };
    return copy;
  }
  throw new Error('no read to make stale');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function main(): void {
  const scenarios: Scenario[] = [];
  for (const operations of [2000, 5000]) {
    for (const keys of [1, 3]) {
      for (const infoRate of [0, 0.05]) {
        for (const mutate of [false, true]) scenarios.push({ operations, keys, infoRate, mutate });
      }
    }
  }
  const rows: string[][] = [];
  const header = ['ops', 'keys', 'info rate', 'info ops', 'kept info', 'verdict', 'parse ms', 'check ms', 'ops/s', 'steps', 'memo entries'];
  for (const s of scenarios) {
    const parseMs: number[] = [];
    const checkMs: number[] = [];
    let stats: CheckStats | undefined;
    let verdict = '';
    let info = 0;
    let unknown = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const h = randomHistory({ seed: 100 + round, operations: s.operations, processes: 10, keys: s.keys, infoRate: s.infoRate });
      let events = h.events;
      info += h.info;
      if (s.mutate) events = staleRead(events, pairOperations(events));
      const text = events.map((e) => JSON.stringify(e)).join('\n');
      let t = process.hrtime.bigint();
      const ops = pairOperations(parseHistory(text));
      parseMs.push(Number(process.hrtime.bigint() - t) / 1e6);
      const st = {} as CheckStats;
      t = process.hrtime.bigint();
      const r = checkOperations(ops, { timeoutMs: TIMEOUT_MS }, st);
      checkMs.push(Number(process.hrtime.bigint() - t) / 1e6);
      const expected = s.mutate ? 'not-linearizable' : 'linearizable';
      // A time-out is reported in the table (as a count of rounds); a wrong verdict is a bug.
      if (r.status !== expected && r.status !== 'unknown') throw new Error(`scenario ${JSON.stringify(s)} round ${round}: expected ${expected}, got ${r.status}`);
      if (r.status === 'unknown') unknown++;
      verdict = expected;
      stats = st;
    }
    const ms = median(checkMs);
    const st = stats as CheckStats;
    rows.push([
      String(s.operations), String(s.keys), s.infoRate.toFixed(2), String(Math.round(info / ROUNDS)), String(st.pendingInfo),
      (verdict === 'linearizable' ? 'ok' : 'violation') + (unknown ? ` (${unknown} timed out)` : ''), median(parseMs).toFixed(1), ms.toFixed(1),
      Math.round(s.operations / (ms / 1000)).toLocaleString('en-US'), String(st.steps), String(st.cacheEntries),
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padStart(widths[i])).join(' | ') + ' |';
  console.log(`lincheck: 10 processes, median of ${ROUNDS} seeded histories per row (steps/memo of the last round); violation = one read made stale in the last third; time budget ${TIMEOUT_MS / 1000} s per check`);
  console.log(line(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(line(r));
}

main();
