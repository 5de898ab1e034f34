/**
 * A crash at each step of a migration: `ha-runtime reshard` (a real process) is killed with
 * SIGKILL exactly as a step starts (HA_RESHARD_CRASH_AT failpoint), then run again, step after
 * step, until the grow from 2 to 3 shards completes; the leaders of the source and of the target
 * shard are killed while the last run moves slots. Then a shrink is killed mid-slot and rolled
 * back by running reshard with the three shards again. A workload runs through the router the
 * whole time: its history must be linearizable and every acknowledged key must read back.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keysOnMovingSlots, keysOnStableSlots, loadKeys, verifyKeys } from './support';
import { parseRouterConfig } from '../../src/cli/router-config';
import { checkHistory } from '../../src/lincheck';
import { Router } from '../../src/router';
import { KvCluster, sleep } from '../support/kv-cluster';
import { runWorkload } from '../support/kv-workload';

const MAIN_JS = join(__dirname, '..', '..', 'src', 'main.js');

// Ports 27500-27505 (a), 27600-27605 (b), 27700-27705 (c), 27800 (router).
describe('resharding: a crash at every step', { timeout: 400_000 }, () => {
  const clusters = new Map<string, KvCluster>();
  let router: Router | undefined;
  const urls = (name: string): string => clusters.get(name)!.members.map((m) => m.url).join(',');

  /** Runs `ha-runtime reshard` to `shards`; resolves with how it ended and its log. */
  async function reshard(shards: string[], crashAt?: string): Promise<{ code: number | null; signal: string | null; log: string }> {
    const args = [...shards.flatMap((s) => ['--shard', `${s}=${urls(s)}`]), '--slots-per-step', '8', '--request-timeout-ms', '30000'];
    const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(MAIN_JS)}).main(process.argv.slice(1))`, 'reshard', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(crashAt ? { HA_RESHARD_CRASH_AT: crashAt } : {}) },
    });
    let log = '';
    child.stderr!.on('data', (c: Buffer) => { log += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    const [code, signal] = await once(child, 'exit') as [number | null, string | null];
    clearTimeout(timer);
    return { code, signal, log };
  }

  before(async () => {
    for (const [i, name] of ['a', 'b', 'c'].entries()) clusters.set(name, await KvCluster.start({ size: 3, basePort: 27500 + 100 * i }));
    router = new Router(parseRouterConfig([
      '--listen', '127.0.0.1:27800', '--shard', `a=${urls('a')}`, '--shard', `b=${urls('b')}`,
      '--health-interval-ms', '500', '--retry-budget-ms', '8000', '--request-timeout-ms', '3000',
    ], {}));
    await router.start();
  });
  after(async () => {
    await router?.close().catch(() => undefined);
    await Promise.all([...clusters.values()].map((c) => c.close()));
  });

  it('resumes after a kill at each step, survives source and target leader kills, and rolls back', async (t) => {
    const base = 'http://127.0.0.1:27800';
    const acked = await loadKeys(base, 400);
    const workloadKeys = [...keysOnMovingSlots('hot/', 5, ['a', 'b'], ['a', 'b', 'c']), ...keysOnStableSlots('hot/', 3, [['a', 'b'], ['a', 'b', 'c']])];
    let stop: () => void = () => undefined;
    const until = new Promise<void>((resolve) => { stop = resolve; });
    const workload = runWorkload({ urls: () => [base], keys: workloadKeys, clients: 4, until, timeoutMs: 12_000, seed: 1515 });
    const crashes: string[] = [];
    try {
      for (const point of ['begin:1', 'precopy:1', 'freeze:3', 'reconcile:3', 'release:3', 'acquire:3', 'cleanup:3', 'finish:1']) {
        const run = await reshard(['a', 'b', 'c'], point);
        assert.equal(run.signal, 'SIGKILL', `the run meant to crash at ${point} ended with ${run.code}: ${run.log.slice(-2000)}`);
        crashes.push(point);
      }
      // The last run: the source's and the target's leaders die while it moves slots.
      const last = reshard(['a', 'b', 'c']);
      for (const name of ['c', 'a']) {
        await sleep(1500);
        const leader = await clusters.get(name)!.waitForLeader(15_000);
        await leader.kill();
        await sleep(1000);
        leader.start();
      }
      const done = await last;
      assert.equal(done.code, 0, done.log.slice(-3000));
      await router!.refreshMap();
      assert.deepEqual(Object.keys(router!.shardMap!.shards).sort(), ['a', 'b', 'c']);
      assert.equal(router!.shardMap!.target, undefined);
      assert.deepEqual(await verifyKeys(base, acked), { unreadable: [], lost: [], wrong: [] });

      // A shrink killed with a slot frozen and copied, then rolled back to three shards.
      const shrink = await reshard(['a', 'b'], 'release:2');
      assert.equal(shrink.signal, 'SIGKILL');
      const rollback = await reshard(['a', 'b', 'c']);
      assert.equal(rollback.code, 0, rollback.log.slice(-3000));
      assert.deepEqual(await verifyKeys(base, acked), { unreadable: [], lost: [], wrong: [] });
    } finally {
      stop();
    }
    const history = await workload;
    t.diagnostic(`crashed at ${crashes.join(', ')}; workload ${JSON.stringify(history.counts)}, acknowledged writes ${history.acknowledgedWrites}`);
    assert.ok(history.acknowledgedWrites >= 30, JSON.stringify(history.counts));
    const verdict = checkHistory(history.events, { timeoutMs: 30_000 });
    assert.equal(verdict.status, 'linearizable', verdict.status !== 'linearizable' ? `key ${verdict.key}: ${verdict.explanation}` : '');
  });
});
