/**
 * The simulator in CI: a fixed set of seeds with every fault kind on must keep every safety
 * invariant, produce linearizable client histories and make progress once healed.
 * Bounded to about a minute on the CI machine; explore more with `npm run sim -- --seeds N`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALL_FAULTS, runSeed } from './cluster';
import { CI_SEED_RANGE, REGRESSION_SEEDS } from './seeds';
import { checkHistory } from '../../src/lincheck';
import { ReadOnlyOption } from '../../src/raft';

function runChecked(seed: number, options: { ticks?: number; readOnlyOption?: ReadOnlyOption } = {}) {
  const r = runSeed({ seed, ...options });
  const lin = checkHistory(r.history, { timeoutMs: 10_000 });
  return { r, lin };
}

describe('deterministic simulation', { timeout: 90_000 }, () => {
  it(`seeds ${CI_SEED_RANGE.from}..${CI_SEED_RANGE.from + CI_SEED_RANGE.count - 1} keep every invariant and stay linearizable`, () => {
    const faultsSeen = new Set<string>();
    let ops = 0;
    for (let seed = CI_SEED_RANGE.from; seed < CI_SEED_RANGE.from + CI_SEED_RANGE.count; seed++) {
      const { r, lin } = runChecked(seed);
      assert.equal(lin.status, 'linearizable', `seed ${seed}: replay with npm run sim -- --seed ${seed}`);
      for (const k of Object.keys(r.faults)) faultsSeen.add(k.replace(/-(symmetric|asymmetric|isolate-leader)$/, ''));
      ops += r.okOps;
    }
    // The run is only meaningful if every fault kind actually happened.
    for (const kind of ['lost-msg', 'duplicated-msg', 'partitioned-msg', 'partition', 'crash', 'restart', 'snapshot',
      'add-learner', 'promote-learner', 'remove-node', 'transfer', 'clock-stall', 'slow-write', 'crash-lost-write']) {
      assert.ok(faultsSeen.has(kind), `fault kind ${kind} never happened`);
    }
    assert.ok(ops > CI_SEED_RANGE.count * 20, `only ${ops} client operations completed`);
  });

  for (const { seed, note, ticks } of REGRESSION_SEEDS) {
    it(`regression seed ${seed}: ${note}`, () => {
      const { lin } = runChecked(seed, { ticks });
      assert.equal(lin.status, 'linearizable');
    });
  }

  it('replays a seed exactly', () => {
    const a = runSeed({ seed: 42 });
    const b = runSeed({ seed: 42 });
    assert.equal(a.steps, b.steps);
    assert.deepEqual(a.history, b.history);
  });

  it('catches stale reads: LEASE_BASED reads break when clocks stall, SAFE reads do not (so SAFE is the default)', () => {
    // Frequent clock stalls: a stalled leader neither heartbeats nor runs CheckQuorum, so the others
    // elect a new leader while it still believes its lease holds.
    const faults = { ...ALL_FAULTS, clockStall: 0.05, crash: 0.002 };
    let caughtAt = 0;
    for (let seed = 1; seed <= 300 && caughtAt === 0; seed++) {
      const r = runSeed({ seed, faults, readOnlyOption: ReadOnlyOption.LEASE_BASED });
      if (checkHistory(r.history, { timeoutMs: 10_000 }).status === 'not-linearizable') caughtAt = seed;
    }
    assert.ok(caughtAt > 0, 'the simulator should expose the clock dependence of lease-based reads');
    for (let seed = 1; seed <= caughtAt; seed++) {
      const r = runSeed({ seed, faults, readOnlyOption: ReadOnlyOption.SAFE });
      assert.equal(checkHistory(r.history, { timeoutMs: 10_000 }).status, 'linearizable', `SAFE reads, seed ${seed}`);
    }
  });
});
