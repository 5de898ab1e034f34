/**
 * The MVCC store inside member snapshots (ports 23790-23795, snapshots every 50 entries, 10 kept behind): a
 * member restarted from its own snapshot plus log, and a member that was down long enough to need the
 * leader's snapshot, both serve the same keys, revisions, leases and history (a watch replay) as the leader.
 */
import * as assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { KvCluster, sleep } from '../support/kv-cluster';

let cluster: KvCluster;
const clients: Etcd3[] = [];
const clientOf = (url: string): Etcd3 => {
  const c = new Etcd3({ hosts: url });
  clients.push(c);
  return c;
};

before(async () => {
  cluster = await KvCluster.start({ size: 3, basePort: 23790, args: ['--snapshot-entries', '50', '--snapshot-catchup-entries', '10'], keepDir: !!process.env.HA_KEEP_DIR });
}, { timeout: 30_000 });

after(async () => {
  for (const c of clients) c.close();
  await cluster?.close();
});

/** What a member serves from its own applied state (serializable reads). */
async function localState(url: string): Promise<string> {
  const c = clientOf(url);
  const kvs = await c.getAll().prefix('sn/').serializable(true).exec();
  return JSON.stringify(kvs.kvs.map((kv) => [kv.key.toString(), kv.value.toString(), kv.create_revision, kv.mod_revision, kv.version, kv.lease]));
}

test('a restarted member and a member caught up by snapshot serve the same MVCC state', { timeout: 90_000 }, async () => {
  const leader = await cluster.waitForLeader(10_000);
  const [restarted, lagging] = cluster.members.filter((m) => m !== leader);
  const c = clientOf(leader.url);
  const lease = c.lease(600, { autoKeepAlive: false });
  await lease.put('sn/leased').value('L');
  for (let i = 0; i < 120; i++) await c.put(`sn/${i % 40}`).value(`v${i}`);

  await lagging.signal('SIGKILL');
  for (let i = 120; i < 300; i++) await c.put(`sn/${i % 40}`).value(`v${i}`);
  await c.delete().key('sn/0');
  await restarted.signal('SIGKILL');
  restarted.start();
  lagging.start();
  await cluster.waitForLeader(15_000);
  const expected = await localState(leader.url);
  for (const m of [restarted, lagging]) {
    const deadline = Date.now() + 20_000;
    let got = '';
    while (Date.now() < deadline && (got = await localState(m.url).catch(() => '')) !== expected) await sleep(200);
    assert.equal(got, expected, `${m.name} serves the leader's keys, revisions and leases`);
  }
  assert.match(lagging.log(), /installed snapshot from leader/, 'the lagging member was caught up by a snapshot');
  assert.match(restarted.log(), /snapshot taken/);

  // History survives too: a watch on the snapshot-restored member replays the last writes in order.
  const head = Number((await c.put('sn/last').value('x').exec()).header.revision);
  const seen: number[] = [];
  const w = await clientOf(lagging.url).watch().prefix('sn/').startRevision(String(head - 5)).create();
  w.on('data', (res) => { for (const e of res.events) seen.push(Number(e.kv.mod_revision)); });
  const deadline = Date.now() + 10_000;
  while (seen.length < 6 && Date.now() < deadline) await sleep(50);
  await w.cancel();
  assert.deepEqual(seen, [head - 5, head - 4, head - 3, head - 2, head - 1, head]);
  const ttl = await clientOf(restarted.url).leaseClient.leaseLeases({});
  assert.equal(ttl.leases.length, 1, 'the lease survived in the snapshot');
});
