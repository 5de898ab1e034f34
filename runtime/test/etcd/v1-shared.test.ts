/**
 * /v1 and the etcd v3 API share one store (issue 11), through real processes: a three-member runtime cluster
 * (ports 23740-23745), etcdctl 3.4 and the etcd3 npm client. A key put through /v1 is read by `etcdctl get` and
 * etcd3 and seen by a watch; a key put by etcdctl is read by /v1 GET and listing.
 */
import * as assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { CtlProcess, etcdctl, haveEtcdctl, until, waitForV1OnMvcc } from './etcd-clients';
import { keyUrl, kvRequest } from '../support/kv-client';
import { KvCluster, KvMember } from '../support/kv-cluster';
import { skipUnlessCi } from '../support/prerequisite';

let cluster: KvCluster;
let endpoints: string[];
let leader: KvMember;
let client: Etcd3;

before(async () => {
  cluster = await KvCluster.start({ size: 3, basePort: 23740 });
  leader = await cluster.waitForLeader(15_000);
  endpoints = cluster.members.map((m) => `127.0.0.1:${m.clientPort}`);
  await waitForV1OnMvcc(cluster.members);
  client = new Etcd3({ hosts: endpoints.map((e) => `http://${e}`) });
}, { timeout: 40_000 });

after(async () => {
  client?.close();
  await cluster?.close();
});

const ctl = async (args: string[], at = endpoints): Promise<string> => {
  const r = await etcdctl(at, args);
  assert.equal(r.code, 0, `etcdctl ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
  return r.stdout;
};

test('a key put through /v1 is read by etcdctl and etcd3, on the leader and a follower', { timeout: 30_000 }, async (ctx) => {
  if (!haveEtcdctl()) { skipUnlessCi(ctx, 'etcdctl is not installed'); return; }
  const put = await kvRequest(keyUrl(leader.url, 'shared/v1-key'), { method: 'PUT', body: 'from-v1' });
  assert.equal(put.status, 200, put.body.toString());
  assert.deepEqual(JSON.parse(put.body.toString()), { index: Number(put.headers['x-raft-index']), existed: false });
  assert.equal(await ctl(['get', 'shared/v1-key']), 'shared/v1-key\nfrom-v1\n');
  const follower = cluster.members.find((m) => m !== leader)!;
  assert.equal(await ctl(['get', 'shared/v1-key', '--print-value-only'], [`127.0.0.1:${follower.clientPort}`]), 'from-v1\n');
  assert.equal(await client.get('shared/v1-key').string(), 'from-v1');
  // A binary value and a compare-and-swap through /v1, seen by etcd3 with the etcd metadata of two writes.
  const bin = Buffer.from([0, 255, 10, 13]);
  assert.equal((await kvRequest(keyUrl(leader.url, 'shared/bin'), { method: 'PUT', body: bin })).status, 200);
  assert.equal((await kvRequest(keyUrl(leader.url, 'shared/bin', 'prev=%00%FF%0A%0D'), { method: 'PUT', body: 'swapped' })).status, 200);
  const kv = (await client.get('shared/bin').exec()).kvs[0];
  assert.equal(kv.value.toString(), 'swapped');
  assert.equal(kv.version, '2');
  // The largest value /v1 takes (--max-value-bytes, 1 MiB) is an etcd key like any other; one byte more is refused.
  const big = Buffer.alloc(1024 * 1024, 7);
  assert.equal((await kvRequest(keyUrl(leader.url, 'shared/big'), { method: 'PUT', body: big })).status, 200);
  assert.deepEqual(await client.get('shared/big').buffer(), big);
  const tooBig = await kvRequest(keyUrl(leader.url, 'shared/big'), { method: 'PUT', body: Buffer.alloc(big.length + 1) });
  assert.equal(tooBig.status, 413);
  const del = await kvRequest(keyUrl(leader.url, 'shared/bin'), { method: 'DELETE' });
  assert.equal(JSON.parse(del.body.toString()).deleted, true);
  assert.equal(await client.get('shared/bin').string(), null);
});

test('a key put by etcdctl is read by /v1 GET and listing; /v1 CAS compares against it', { timeout: 30_000 }, async (ctx) => {
  if (!haveEtcdctl()) { skipUnlessCi(ctx, 'etcdctl is not installed'); return; }
  await ctl(['put', 'shared/ctl/a', 'A']);
  await ctl(['put', 'shared/ctl/b', 'B']);
  const get = await kvRequest(keyUrl(leader.url, 'shared/ctl/a'));
  assert.equal(get.status, 200);
  assert.equal(get.body.toString(), 'A');
  for (const m of cluster.members) {
    const r = await kvRequest(`${m.url}/v1/kv/?prefix=shared/ctl/`);
    assert.equal(r.status, 200, `${m.name}: ${r.body.toString()}`);
    const body = JSON.parse(r.body.toString());
    assert.deepEqual(body.items.map((i: { key: string; value: string }) => [i.key, Buffer.from(i.value, 'base64').toString()]),
      [['shared/ctl/a', 'A'], ['shared/ctl/b', 'B']], m.name);
    assert.equal(body.more, false);
  }
  const wrong = await kvRequest(keyUrl(leader.url, 'shared/ctl/a', 'prev=nope'), { method: 'PUT', body: 'x' });
  assert.equal(wrong.status, 412);
  assert.equal(Buffer.from(JSON.parse(wrong.body.toString()).current, 'base64').toString(), 'A');
  const absent = await kvRequest(keyUrl(leader.url, 'shared/ctl/a', 'prev_exist=false'), { method: 'PUT', body: 'x' });
  assert.equal(absent.status, 412);
  await ctl(['del', 'shared/ctl/', '--prefix']);
  assert.equal((await kvRequest(keyUrl(leader.url, 'shared/ctl/a'))).status, 404);
});

test('watches (etcdctl and etcd3) see /v1 puts and deletes', { timeout: 30_000 }, async (ctx) => {
  if (!haveEtcdctl()) { skipUnlessCi(ctx, 'etcdctl is not installed'); return; }
  const watch = new CtlProcess(endpoints, ['watch', 'shared/w/', '--prefix']);
  const seen: string[] = [];
  const watcher = await client.watch().prefix('shared/w/').create();
  watcher.on('put', (kv) => seen.push(`put ${kv.key.toString()}=${kv.value.toString()}`));
  watcher.on('delete', (kv) => seen.push(`delete ${kv.key.toString()}`));
  try {
    await new Promise((r) => setTimeout(r, 500)); // etcdctl's watch is created
    assert.equal((await kvRequest(keyUrl(leader.url, 'shared/w/one'), { method: 'PUT', body: '1' })).status, 200);
    assert.equal((await kvRequest(keyUrl(leader.url, 'shared/w/one'), { method: 'DELETE' })).status, 200);
    await watch.waitFor((o) => o.includes('DELETE'));
    assert.equal(watch.output, 'PUT\nshared/w/one\n1\nDELETE\nshared/w/one\n\n');
    await until('the etcd3 watcher to see both events', async () => seen.length >= 2, async () => seen);
    assert.deepEqual(seen, ['put shared/w/one=1', 'delete shared/w/one']);
  } finally {
    await watcher.cancel();
    await watch.stop();
  }
});
