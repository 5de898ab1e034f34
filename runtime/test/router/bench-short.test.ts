/** Runs `bench:router --short` (ports 26700-26721) and checks it completes with sane figures; no timing thresholds. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { runRouterBench } from '../../bench/router';

test('bench:router --short measures every scenario on every path', { timeout: 120_000 }, async () => {
  const summary = await runRouterBench(['--short', '--base-port', '26700']);
  const paths = existsSync('/usr/sbin/nginx') ? ['direct', 'router', 'nginx'] : ['direct', 'router'];
  assert.equal(summary.machine.nginx !== null, paths.includes('nginx'), 'nginx measured exactly when installed');
  for (const scenario of ['put c=1', 'put c=64', 'get c=1', 'get c=64']) {
    const entry = summary.scenarios[scenario];
    assert.ok(entry, `missing scenario ${scenario}`);
    assert.deepEqual(Object.keys(entry).sort(), [...paths].sort(), `${scenario}: paths measured`);
    for (const path of paths) {
      const f = entry[path];
      assert.ok(f.rounds.length === 1 && f.rounds[0].ops > 0, `${scenario} ${path}: no successful operation`);
      assert.ok(f.opsPerSec > 0 && Number.isFinite(f.opsPerSec), `${scenario} ${path}: ${f.opsPerSec} ops/s`);
      assert.ok(f.p50Ms > 0 && f.p50Ms <= f.p99Ms, `${scenario} ${path}: p50 ${f.p50Ms} p99 ${f.p99Ms}`);
      // Nothing fails on a healthy cluster: an error here means a path is misrouted or broken.
      assert.equal(f.errors, 0, `${scenario} ${path}: ${f.errors} errors`);
      if (path !== 'direct') {
        assert.equal(f.added.p50Ms, f.p50Ms - entry.direct.p50Ms);
        assert.ok(Number.isFinite(f.added.throughputRatio) && f.added.throughputRatio > 0);
      }
    }
  }
  assert.equal(summary.machine.nproc > 0, true);
  assert.equal(summary.machine.loadavgBefore.length, 3);
});
