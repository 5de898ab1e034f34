import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkHistory, checkOperations, HistoryEvent, Operation, OpFunction, pairOperations, randomHistory, Value } from '../../src/lincheck';
import { seededRandom } from '../../src/util/mulberry32';

/**
 * A deliberately simple reference: try every subset of the info writes and every order of the
 * operations that respects real time, running a sequential store. Exponential; for tiny histories.
 */
function bruteForceLinearizable(events: HistoryEvent[]): boolean {
  const ops = pairOperations(events).filter((op) => op.outcome === 'ok' || (op.outcome === 'info' && op.f !== 'get'));
  const byKey = new Map<string, Operation[]>();
  for (const op of ops) byKey.set(op.key, [...(byKey.get(op.key) ?? []), op]);
  for (const keyOps of byKey.values()) {
    const infos = keyOps.filter((op) => op.outcome === 'info');
    const known = keyOps.filter((op) => op.outcome === 'ok');
    let found = false;
    for (let mask = 0; mask < 1 << infos.length && !found; mask++) {
      const chosen = [...known, ...infos.filter((_, i) => mask & (1 << i))];
      found = someOrder(chosen, [], null);
    }
    if (!found) return false;
  }
  return true;
}

function someOrder(left: Operation[], placed: Operation[], state: Value): boolean {
  if (left.length === 0) return true;
  for (const op of left) {
    // op may go next only if no other remaining op returned before op was invoked.
    if (left.some((other) => other !== op && other.returnIndex < op.invokeIndex)) continue;
    let next: Value;
    if (op.f === 'get') { if (state !== op.output) continue; next = state; } else if (op.f === 'put') {next = op.input;} else if (op.f === 'delete') {next = null;} else if (op.outcome === 'ok') { if (state !== op.input) continue; next = op.newValue; } else {next = state === op.input ? op.newValue : state;}
    if (someOrder(left.filter((o) => o !== op), [...placed, op], next)) return true;
  }
  return false;
}

/** Tiny random histories with random results: about half are linearizable. */
function tinyRandomHistory(seed: number): HistoryEvent[] {
  const rand = seededRandom(seed);
  const values: Value[] = [null, 'a', 'b'];
  const pickValue = () => values[Math.floor(rand() * values.length)];
  const events: HistoryEvent[] = [];
  const open = new Map<number, OpFunction>();
  let nextPid = 3;
  const pids = [0, 1, 2];
  let invoked = 0;
  while (invoked < 7 || open.size > 0) {
    const slot = Math.floor(rand() * pids.length);
    const pid = pids[slot];
    const f = open.get(pid);
    if (f === undefined) {
      if (invoked >= 7) continue;
      const g: OpFunction = (['get', 'get', 'put', 'delete', 'cas'] as const)[Math.floor(rand() * 5)];
      const key = rand() < 0.8 ? 'r' : 's';
      if (g === 'put') events.push({ process: pid, type: 'invoke', f: g, key, value: rand() < 0.5 ? 'a' : 'b' });
      else if (g === 'cas') events.push({ process: pid, type: 'invoke', f: g, key, value: [pickValue(), rand() < 0.5 ? 'a' : 'b'] });
      else events.push({ process: pid, type: 'invoke', f: g, key });
      open.set(pid, g);
      invoked++;
      continue;
    }
    const inv = [...events].reverse().find((e) => e.process === pid && e.type === 'invoke') as HistoryEvent;
    const r = rand();
    open.delete(pid);
    if (r < 0.15) {
      events.push({ process: pid, type: 'info', f, key: inv.key });
      pids[slot] = nextPid++;
    } else if (r < 0.25 && f !== 'get') {
      events.push({ process: pid, type: 'fail', f, key: inv.key });
    } else if (f === 'get') {
      events.push({ process: pid, type: 'ok', f, key: inv.key, value: pickValue() });
    } else {
      events.push({ process: pid, type: 'ok', f, key: inv.key });
    }
  }
  return events;
}

describe('agreement with a brute-force reference', () => {
  it('gives the same verdict on 3000 tiny random histories', () => {
    let linearizable = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const events = tinyRandomHistory(seed);
      const expected = bruteForceLinearizable(events);
      const got = checkHistory(events);
      assert.equal(got.ok, expected, `seed ${seed}: checker says ${got.status}, reference says ${expected}\n${events.map((e) => JSON.stringify(e)).join('\n')}`);
      if (expected) linearizable++;
    }
    // Both verdicts must be well represented, or the comparison proves little.
    assert.ok(linearizable > 300 && linearizable < 2700, `only ${linearizable} of 3000 linearizable`);
  });
});

describe('large histories from a real store under concurrency', () => {
  const seeds = [1, 2, 3, 4, 5];

  it('accepts every generated history (10 processes, 3000 ops, 3 keys, info ops)', () => {
    for (const seed of seeds) {
      const h = randomHistory({ seed, operations: 3000, processes: 10, keys: 3, infoRate: 0.04 });
      assert.ok(h.info > 20, `seed ${seed}: only ${h.info} info ops`);
      const r = checkHistory(h.events, { timeoutMs: 20_000 });
      assert.equal(r.ok, true, `seed ${seed}: ${r.status} ${r.ok === true ? '' : r.explanation}`);
    }
  });

  it('rejects each history after turning one read into a stale read', () => {
    for (const seed of seeds) {
      const h = randomHistory({ seed, operations: 3000, processes: 10, keys: 3, infoRate: 0.04 });
      const ops = pairOperations(h.events);
      const mutated = staleRead(h.events, ops, seed);
      const r = checkHistory(mutated.events, { timeoutMs: 20_000 });
      assert.equal(r.ok, false, `seed ${seed}: stale read at line ${mutated.line} not detected (${r.status})`);
      if (r.ok === false) assert.equal(r.key, mutated.key);
    }
  });

  it('rejects each history after making one read return a value never written', () => {
    for (const seed of seeds) {
      const h = randomHistory({ seed, operations: 3000, infoRate: 0.04 });
      const index = h.events.findIndex((e, i) => i > h.events.length / 2 && e.type === 'ok' && e.f === 'get');
      const events = h.events.slice();
      events[index] = { ...events[index], value: 'never-written' };
      const r = checkHistory(events);
      assert.equal(r.ok, false, `seed ${seed}`);
      if (r.ok === false) assert.match(r.explanation, /no operation on this key ever wrote/);
    }
  });

  it('rejects each history after dropping one acknowledged write that a later read depended on', () => {
    let mutated = 0;
    for (const seed of seeds) {
      const h = randomHistory({ seed, operations: 3000, infoRate: 0 });
      // Replace a put with a failed one: its value was read later, so the read has no writer.
      const ops = pairOperations(h.events);
      const read = ops.find((op) => op.f === 'get' && op.outcome === 'ok' && op.output !== null && op.invokeIndex > h.events.length / 2) as Operation;
      const writer = ops.find((op) => op.f === 'put' && op.key === read.key && op.input === read.output);
      if (!writer || writer.returnIndex === Infinity) continue;
      const events = h.events.slice();
      events[writer.returnIndex] = { ...events[writer.returnIndex], type: 'fail' };
      assert.equal(checkHistory(events).ok, false, `seed ${seed}`);
      mutated++;
    }
    assert.ok(mutated >= 3, `only ${mutated} histories had a write to drop`);
  });

  it('stops with unknown when the time budget runs out', () => {
    const h = randomHistory({ seed: 9, operations: 20_000, infoRate: 0.04 });
    const r = checkOperations(pairOperations(h.events), { timeoutMs: 1 });
    assert.equal(r.ok, null);
    assert.equal(r.status, 'unknown');
    if (r.status === 'unknown') assert.match(r.explanation, /time budget ran out/);
  });
});

/**
 * Makes a read return the value of a put that a later put, completed before the read started,
 * overwrote: p1 < p2 < get in real time, with unique values, is never linearizable.
 */
function staleRead(events: HistoryEvent[], ops: Operation[], seed: number): { events: HistoryEvent[]; line: number; key: string } {
  const puts = ops.filter((op) => op.f === 'put' && op.outcome === 'ok');
  const gets = ops.filter((op) => op.f === 'get' && op.outcome === 'ok');
  for (let i = (seed * 97) % gets.length; i < gets.length; i++) {
    const g = gets[i];
    const p2 = puts.filter((p) => p.key === g.key && p.returnIndex < g.invokeIndex).pop();
    if (!p2) continue;
    const p1 = puts.filter((p) => p.key === g.key && p.returnIndex < p2.invokeIndex && p.input !== g.output).pop();
    if (!p1) continue;
    const copy = events.slice();
    copy[g.returnIndex] = { ...copy[g.returnIndex], value: p1.input };
    return { events: copy, line: g.returnIndex + 1, key: g.key };
  }
  throw new Error(`seed ${seed}: no read to make stale`);
}
