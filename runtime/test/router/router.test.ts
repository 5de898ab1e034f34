import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseRouterConfig } from '../../src/cli/router-config';
import { Router } from '../../src/router';
import { kvRequest, keyUrl } from '../support/kv-client';
import { KvCluster } from '../support/kv-cluster';

// Ports 24100-24105 (shard a), 24200-24201 (shard b), 24300 (router).
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? NaN : Number(line.split(' ').pop());
}

describe('router in front of two real Raft shards', { timeout: 120_000 }, () => {
  let a: KvCluster | undefined;
  let b: KvCluster | undefined;
  let router: Router | undefined;
  let base = '';

  before(async () => {
    a = await KvCluster.start({ size: 3, basePort: 24100 });
    b = await KvCluster.start({ size: 1, basePort: 24200 });
    router = new Router(parseRouterConfig([
      '--listen', '127.0.0.1:24300',
      '--shard', `a=${a.members.map((m) => m.url).join(',')}`,
      '--shard', `b=${b.members[0].url}`,
      '--health-interval-ms', '200',
      '--retry-budget-ms', '20000',
      '--request-timeout-ms', '2000',
    ], {}));
    base = `http://127.0.0.1:${await router.start()}`;
  });
  after(async () => {
    await router?.close();
    await a?.close();
    await b?.close();
  });

  it('sends every key to the shard the ring assigns and reads back what it wrote', async () => {
    const used = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const key = `user/${i}`;
      const put = await kvRequest(keyUrl(base, key), { method: 'PUT', body: `v${i}`, maxRedirects: 0 });
      assert.ok(put.status < 300, `PUT ${key}: ${put.status} ${put.body}`);
      const shard = router!.shardFor(key);
      assert.equal(put.headers['x-ha-shard'], shard);
      used.add(shard);
      // Read it straight from the owning shard: the router must not have written elsewhere.
      const owner = shard === 'a' ? a! : b!;
      const other = shard === 'a' ? b! : a!;
      const direct = await kvRequest(keyUrl(owner.members[0].url, key));
      assert.equal(direct.status, 200);
      assert.equal(direct.body.toString(), `v${i}`);
      // The other shard does not serve the key's slot: it says so (wrong_shard) rather than answer 404.
      const wrong = await kvRequest(keyUrl(other.members[0].url, key));
      assert.equal(wrong.status, 421, wrong.body.toString());
      assert.equal(JSON.parse(wrong.body.toString()).error, 'wrong_shard');
      const got = await kvRequest(keyUrl(base, key), { maxRedirects: 0 });
      assert.equal(got.status, 200);
      assert.equal(got.body.toString(), `v${i}`);
    }
    assert.deepEqual([...used].sort(), ['a', 'b']);
    const del = await kvRequest(keyUrl(base, 'user/0'), { method: 'DELETE', maxRedirects: 0 });
    assert.ok(del.status < 300);
    assert.equal((await kvRequest(keyUrl(base, 'user/0'))).status, 404);
  });

  it('learns the leader from a redirect once, then goes straight to it', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`).filter((k) => router!.shardFor(k) === 'a').slice(0, 20);
    await kvRequest(keyUrl(base, keys[0]), { method: 'PUT', body: 'x' });
    const redirectsBefore = metric(await (await fetch(`${base}/metrics`)).text(), 'ha_router_redirects_total', 'shard="a"');
    for (const k of keys) assert.ok((await kvRequest(keyUrl(base, k), { method: 'PUT', body: 'y', maxRedirects: 0 })).status < 300);
    const afterCount = metric(await (await fetch(`${base}/metrics`)).text(), 'ha_router_redirects_total', 'shard="a"');
    assert.equal(afterCount, redirectsBefore, 'no redirect once the leader is cached');
  });

  it('merges prefix listings from every shard, with a limit and a continuation', async () => {
    const all: string[] = [];
    let cursor = '';
    for (let page = 0; page < 20; page++) {
      const r = await kvRequest(`${base}/v1/kv/?prefix=user/&limit=7${cursor ? `&after=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(r.status, 200, r.body.toString());
      const body = JSON.parse(r.body.toString()) as { items: { key: string; value: string }[]; more: boolean };
      assert.ok(body.items.length <= 7);
      all.push(...body.items.map((i) => i.key));
      if (!body.more) break;
      cursor = body.items[body.items.length - 1].key;
    }
    // user/0 was deleted above; user/1..39 remain, on both shards, listed once each in key order.
    const expected = Array.from({ length: 39 }, (_, i) => `user/${i + 1}`).sort();
    assert.deepEqual(all, expected);
    const reserved = await kvRequest(keyUrl(base, '__ha/shard'));
    assert.equal(reserved.status, 400);
  });

  it('shows the slot map it created for the fresh store on /v1/shardmap and /metrics', async () => {
    const map = await (await fetch(`${base}/v1/shardmap`)).json() as { epoch: number; slots: Record<string, number>; migration: unknown };
    assert.equal(map.epoch, 1);
    assert.equal(map.slots.a + map.slots.b, 1024);
    assert.equal(map.migration, null);
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(text, /^ha_router_shardmap_epoch 1$/m);
    assert.match(text, /^ha_router_slots_to_move 0$/m);
  });

  it('finds the members of a shard given by DNS name (resolved for real: localhost)', async () => {
    const viaDns = new Router(parseRouterConfig([
      '--listen', '127.0.0.1:24301',
      '--shard', `a=${a!.members.map((m) => m.url).join(',')}`,
      '--shard-dns', `b=localhost:${b!.members[0].clientPort}`,
      '--health-interval-ms', '200',
    ], {}));
    try {
      const dnsBase = `http://127.0.0.1:${await viaDns.start()}`;
      const key = Array.from({ length: 100 }, (_, i) => `dns${i}`).find((k) => viaDns.shardFor(k) === 'b') as string;
      const put = await kvRequest(keyUrl(dnsBase, key), { method: 'PUT', body: 'resolved', maxRedirects: 0 });
      assert.ok(put.status < 300, `${put.status} ${put.body}`);
      assert.equal(put.headers['x-ha-shard'], 'b');
      const text = await (await fetch(`${dnsBase}/metrics`)).text();
      assert.equal(metric(text, 'ha_router_member_healthy', `shard="b",member="http://127.0.0.1:${b!.members[0].clientPort}"`), 1);
    } finally {
      await viaDns.close();
    }
  });

  it('answers /livez and /readyz', async () => {
    assert.equal((await fetch(`${base}/livez`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
  });

  it('keeps accepting writes when a shard leader dies, ejects it, and readmits it when it returns', async () => {
    const leader = await a!.waitForLeader(10_000);
    const key = Array.from({ length: 100 }, (_, i) => `failover${i}`).find((k) => router!.shardFor(k) === 'a') as string;
    assert.ok((await kvRequest(keyUrl(base, key), { method: 'PUT', body: 'before' })).status < 300);
    await leader.kill();
    const started = Date.now();
    const put = await kvRequest(keyUrl(base, key), { method: 'PUT', body: 'after', timeoutMs: 25_000, maxRedirects: 0 });
    assert.ok(put.status < 300, `PUT after leader death: ${put.status} ${put.body}`);
    assert.ok(Date.now() - started < 20_000);
    assert.equal((await kvRequest(keyUrl(base, key), { maxRedirects: 0 })).body.toString(), 'after');
    const healthy = async () => metric(await (await fetch(`${base}/metrics`)).text(), 'ha_router_member_healthy', `shard="a",member="${leader.url}"`);
    for (let i = 0; i < 50 && (await healthy()) !== 0; i++) await sleep(100);
    assert.equal(await healthy(), 0, 'the dead member is ejected');
    leader.start();
    for (let i = 0; i < 150 && (await healthy()) !== 1; i++) await sleep(100);
    assert.equal(await healthy(), 1, 'the member is readmitted once it is ready again');
  });
});
