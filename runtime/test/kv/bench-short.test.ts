/** Runs `bench:raft --short` (ours and etcd when installed, ports 22800-22905) and checks it completes with sane figures. */
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { runRaftBench } from '../../bench/raft';

test('bench:raft --short completes and measures every scenario', { timeout: 240_000 }, async () => {
  const summary = await runRaftBench(['--short', '--base-port', '22800']) as any;
  const scenarios = summary.scenarios as Record<string, { ours: { opsPerSec: number; p99Ms: number }; etcd: unknown }>;
  for (const name of ['put c=1', 'put c=8', 'put c=64', 'get linearizable c=64', 'get serializable c=64']) {
    assert.ok(scenarios[name], `missing scenario ${name}`);
    assert.ok(scenarios[name].ours.opsPerSec > 10, `${name}: ${scenarios[name].ours.opsPerSec} ops/s`);
    assert.ok(Number.isFinite(scenarios[name].ours.p99Ms));
    if (summary.machine.etcd) assert.ok(scenarios[name].etcd, `${name}: etcd installed but not measured`);
  }
  const kills = summary.leaderKillMs['ha-runtime'] as number[];
  assert.ok(kills.length === 1 && Number.isFinite(kills[0]), `leader kill not measured: ${kills}`);
});
