/**
 * The router under faults: two real 3-member Raft shards (six processes) behind one router, a
 * concurrent get/put/cas/delete workload through the router, SIGKILL of each shard's leader and a
 * restart, then the recorded history must be linearizable per key (runtime/src/lincheck) and every
 * key must read back, through the router and straight from its shard, the same value.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseRouterConfig } from '../../src/cli/router-config';
import { checkHistory } from '../../src/lincheck';
import { Router } from '../../src/router';
import { keyUrl, kvRequest } from '../support/kv-client';
import { KvCluster, sleep } from '../support/kv-cluster';
import { runWorkload, toJsonLines } from '../support/kv-workload';

// Ports 26100-26105 (shard a), 26200-26205 (shard b), 26300 (router).
describe('router: leaders killed under a concurrent workload', { timeout: 90_000 }, () => {
  let a: KvCluster | undefined;
  let b: KvCluster | undefined;
  let router: Router | undefined;
  let base = '';
  const dir = mkdtempSync(join(tmpdir(), 'ha-router-faults-'));

  before(async () => {
    // allSettled: if one shard fails to start, the other is still closed by `after`.
    const started = await Promise.allSettled([KvCluster.start({ size: 3, basePort: 26100 }), KvCluster.start({ size: 3, basePort: 26200 })]);
    [a, b] = started.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    router = new Router(parseRouterConfig([
      '--listen', '127.0.0.1:26300',
      '--shard', `a=${a!.members.map((m) => m.url).join(',')}`,
      '--shard', `b=${b!.members.map((m) => m.url).join(',')}`,
      '--health-interval-ms', '200',
      '--retry-budget-ms', '4000',
      '--request-timeout-ms', '1500',
    ], {}));
    base = `http://127.0.0.1:${await router.start()}`;
  });
  after(async () => {
    await router?.close().catch(() => undefined);
    await Promise.all([a?.close(), b?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the history linearizable per key and loses no acknowledged write', async (t) => {
    const keys = Array.from({ length: 40 }, (_, i) => `acct/${i}`);
    const onA = keys.filter((k) => router!.shardFor(k) === 'a').slice(0, 3);
    const onB = keys.filter((k) => router!.shardFor(k) === 'b').slice(0, 3);
    assert.equal(onA.length + onB.length, 6, 'three keys on each shard');
    const workloadKeys = [...onA, ...onB];

    let stop: () => void = () => undefined;
    const until = new Promise<void>((resolve) => { stop = resolve; });
    const failoverWrites: { shard: string; ms: number }[] = [];
    const faults = (async () => {
      try {
        for (const [name, shard] of [['a', a!], ['b', b!]] as const) {
          await sleep(2500);
          const leader = await shard.waitForLeader(10_000);
          await leader.kill(); // SIGKILL
          const killed = Date.now();
          // A probe key outside the workload (so the history stays complete): written through
          // the router while the old leader is down.
          const probe = keys.find((k) => router!.shardFor(k) === name && !workloadKeys.includes(k)) as string;
          while (Date.now() - killed < 15_000) {
            const r = await kvRequest(keyUrl(base, probe), { method: 'PUT', body: 'probe', timeoutMs: 8000, maxRedirects: 0 }).catch(() => undefined);
            if (r?.status === 200) { failoverWrites.push({ shard: name, ms: Date.now() - killed }); break; }
            await sleep(100);
          }
          assert.ok(!leader.running);
          await sleep(1000);
          leader.start();
          await shard.waitForLeader(15_000);
        }
        await sleep(2000);
      } finally {
        stop();
      }
    })();
    // The router's retry budget (4 s) is under the client timeout: a client timeout would only
    // blur outcomes into `info`.
    const result = await runWorkload({ urls: () => [base], keys: workloadKeys, clients: 8, until, timeoutMs: 8000, seed: 7 });
    await faults;
    writeFileSync(join(dir, 'history.jsonl'), toJsonLines(result.events));

    t.diagnostic(`outcomes ${JSON.stringify(result.counts)}, acknowledged writes ${result.acknowledgedWrites}, first write after each leader kill ${JSON.stringify(failoverWrites)}`);
    assert.ok(result.acknowledgedWrites >= 30, `too few acknowledged writes to mean anything: ${JSON.stringify(result.counts)}`);
    // Both shards took writes through the router while their old leader was dead.
    assert.equal(failoverWrites.length, 2, `failover probes: ${JSON.stringify(failoverWrites)}`);

    const verdict = checkHistory(result.events, { timeoutMs: 30_000 });
    assert.equal(verdict.status, 'linearizable',
      `${verdict.status !== 'linearizable' ? `key ${verdict.key}: ${verdict.explanation}` : ''}\n(history kept at ${join(dir, 'history.jsonl')} until cleanup; counts ${JSON.stringify(result.counts)})`);

    // Every key: the router's final read (last `ok` get in the history) equals what the owning
    // shard's leader holds now, and is a value some write actually wrote.
    const written = new Set<string>();
    for (const e of result.events) {
      if (e.type !== 'invoke') continue;
      if (e.f === 'put' && typeof e.value === 'string') written.add(e.value);
      if (e.f === 'cas' && Array.isArray(e.value) && typeof e.value[1] === 'string') written.add(e.value[1]);
    }
    for (const key of workloadKeys) {
      const finalRead = [...result.events].reverse().find((e) => e.key === key && e.f === 'get' && e.type === 'ok');
      assert.ok(finalRead, `no final read of ${key}`);
      const shard = router!.shardFor(key) === 'a' ? a! : b!;
      const leader = await shard.waitForLeader(10_000);
      const direct = await kvRequest(keyUrl(leader.url, key), { timeoutMs: 5000 });
      const directValue = direct.status === 404 ? null : direct.body.toString();
      assert.ok(direct.status === 200 || direct.status === 404, `direct read of ${key}: ${direct.status}`);
      assert.equal(finalRead.value, directValue, `${key}: router read ${String(finalRead.value)}, shard holds ${String(directValue)}`);
      if (directValue !== null) assert.ok(written.has(directValue), `${key} holds ${directValue}, which no client wrote`);
    }
  });
});
