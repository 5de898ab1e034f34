/**
 * The etcd API across leader crashes and member restarts (three runtime members, ports 23780-23785):
 * a lease's remaining TTL survives a leader change (the leader checkpoints it; etcd 3.4 restarts it at the
 * full TTL), and watches deliver every acknowledged write exactly once, in revision order, across a leader
 * kill and across a restart of the member the watcher is connected to (the etcd3 client resumes from its
 * last revision). And --auto-compaction-retention: the leader compacts history older than the retention.
 */
import * as assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { KvCluster, KvMember, sleep } from '../support/kv-cluster';

let cluster: KvCluster;
const clients: Etcd3[] = [];
const clientOf = (...members: KvMember[]): Etcd3 => {
  const c = new Etcd3({ hosts: members.map((m) => m.url), defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 5000 }) });
  clients.push(c);
  return c;
};

before(async () => {
  cluster = await KvCluster.start({ size: 3, basePort: 23780, args: ['--auto-compaction-retention', '6s'] });
}, { timeout: 30_000 });

after(async () => {
  for (const c of clients) c.close();
  await cluster?.close();
});

/** Puts with retries (a write may fail while there is no leader); returns the acknowledged revision. */
async function put(c: Etcd3, key: string, value: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      return Number((await c.put(key).value(value).exec()).header.revision);
    } catch (e) {
      if (attempt > 60) throw e;
      await sleep(250);
    }
  }
}

test('a lease keeps its remaining TTL across a leader crash instead of restarting it', { timeout: 60_000 }, async () => {
  const leader = await cluster.waitForLeader(10_000);
  const c = clientOf(...cluster.members);
  const grantedAt = Date.now();
  const lease = c.lease(20, { autoKeepAlive: false });
  await lease.put('ck/key').value('v');
  const id = await lease.grant();
  await sleep(8000); // past the 5 s checkpoint period: the remaining TTL is in the log
  await leader.signal('SIGKILL');
  try {
    const survivors = cluster.members.filter((m) => m !== leader);
    await cluster.waitForLeader(15_000, survivors);
    const s = clientOf(...survivors);
    const ttl = Number((await s.leaseClient.leaseTimeToLive({ ID: id })).TTL);
    const elapsed = (Date.now() - grantedAt) / 1000;
    // A restart at the full TTL would show 20. The last checkpoint before the kill (8 s) is at most 5 s old, so
    // at most 17 s remained then (18 with rounding up), and the election only spends more of it.
    assert.ok(ttl <= 18, `remaining TTL ${ttl} s after ${elapsed.toFixed(1)} s of a 20 s lease`);
    assert.ok(ttl > 0);
    // And it expires near its original deadline, not 20 s after the new leader took over.
    for (;;) {
      if ((await s.get('ck/key').string()) === null) break;
      assert.ok(Date.now() - grantedAt < 32_000, 'the lease expired within its TTL plus the checkpoint period and a retry');
      await sleep(250);
    }
  } finally {
    // The next test needs all three members, whatever happened here.
    leader.start();
    await cluster.waitForLeader(15_000);
  }
});

test('watches deliver every acknowledged write once, in order, across a leader kill and a member restart', { timeout: 90_000 }, async () => {
  const leader = await cluster.waitForLeader(10_000);
  const [f1, f2] = cluster.members.filter((m) => m !== leader);
  const writer = clientOf(...cluster.members);
  const watchOnFollower = clientOf(f1);
  const watchOnRestarted = clientOf(f2);
  const seen: [number[], number[]] = [[], []];
  const w1 = await watchOnFollower.watch().prefix('wf/').create();
  const w2 = await watchOnRestarted.watch().prefix('wf/').create();
  w1.on('put', (kv) => seen[0].push(Number(kv.mod_revision)));
  w2.on('put', (kv) => seen[1].push(Number(kv.mod_revision)));
  w1.on('error', () => undefined);
  w2.on('error', () => undefined);

  const acked: number[] = [];
  let writing = true;
  const load = (async () => {
    for (let i = 0; writing; i++) acked.push(await put(writer, `wf/${i % 7}`, String(i)));
  })();
  await sleep(1500);
  await leader.signal('SIGKILL'); // the watchers' members survive; the writer fails over
  await sleep(3000);
  await f2.signal('SIGKILL'); // the second watcher's member restarts; its client reconnects and resumes
  await sleep(500);
  f2.start();
  leader.start();
  await sleep(3000);
  writing = false;
  await load;
  const last = acked[acked.length - 1];
  const deadline = Date.now() + 20_000;
  while ((seen[0].at(-1)! < last || (seen[1].at(-1) ?? 0) < last) && Date.now() < deadline) await sleep(100);
  for (const [i, revs] of seen.entries()) {
    const sorted = [...revs].sort((a, b) => a - b);
    assert.deepEqual(revs, sorted, `watcher ${i}: events in revision order`);
    assert.equal(new Set(revs).size, revs.length, `watcher ${i}: no duplicates`);
    const missing = acked.filter((r) => !revs.includes(r));
    assert.deepEqual(missing, [], `watcher ${i}: every acknowledged write delivered (${acked.length} writes)`);
  }
  await w1.cancel();
  await w2.cancel().catch(() => undefined);
});

test('auto-compaction: history older than --auto-compaction-retention (6 s) is compacted by the leader', { timeout: 30_000 }, async () => {
  const c = clientOf(...cluster.members);
  const old = await put(c, 'ac/k', 'v1');
  await put(c, 'ac/k', 'v2');
  assert.equal(await c.get('ac/k').revision(old).string(), 'v1', 'readable while within the retention');
  const deadline = Date.now() + 20_000;
  let err: Error | undefined;
  while (!err && Date.now() < deadline) {
    await c.put('ac/tick').value(String(Date.now())); // revisions move on, as in a live cluster
    err = await c.get('ac/k').revision(old).string().then(() => undefined, (e: Error) => e);
    await sleep(500);
  }
  assert.match(String(err?.message), /required revision has been compacted/);
  assert.equal(await c.get('ac/k').string(), 'v2');
});
