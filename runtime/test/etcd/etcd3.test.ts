/**
 * The `etcd3` npm client (grpc-js) against a three-member runtime cluster (ports 23720-23725): KV, txn,
 * watch, leases with keep-alive and expiry, election, lock; one client talks only to a follower, so its
 * writes, lease calls and keep-alives are forwarded to the leader.
 */
import * as assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Etcd3, IKeyValue } from 'etcd3';
import { startRuntime, Target } from './etcd-clients';

let target: Target;
let client: Etcd3;
let viaFollower: Etcd3;

before(async () => {
  target = await startRuntime(23720);
  client = new Etcd3({ hosts: target.endpoints.map((e) => `http://${e}`) });
  viaFollower = new Etcd3({ hosts: `http://${target.endpoints[(target.leaderIndex + 1) % 3]}` });
}, { timeout: 30_000 });

after(async () => {
  client?.close();
  viaFollower?.close();
  await target?.close();
});

const until = async (what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

test('KV: put, get, prefix listing, count, delete, binary values', { timeout: 20_000 }, async () => {
  await client.put('app/a').value('1');
  await viaFollower.put('app/b').value('2');
  await client.put('app/bin').value(Buffer.from([0, 255, 10]));
  assert.equal(await client.get('app/a').string(), '1');
  assert.equal(await viaFollower.get('app/b').string(), '2');
  assert.deepEqual(await client.get('app/bin').buffer(), Buffer.from([0, 255, 10]));
  assert.deepEqual(await client.getAll().prefix('app/').keys(), ['app/a', 'app/b', 'app/bin']);
  assert.equal(await client.getAll().prefix('app/').count(), 3);
  assert.deepEqual(await client.getAll().prefix('app/').sort('Key', 'Descend').limit(1).keys(), ['app/bin']);
  const del = await viaFollower.delete().prefix('app/').exec();
  assert.equal(del.deleted, '3');
  assert.equal(await client.get('app/a').string(), null);
});

test('txn: if/then/else on value and version, applied atomically', { timeout: 20_000 }, async () => {
  await client.put('tx/k').value('v1');
  const ok = await client.if('tx/k', 'Value', '==', 'v1')
    .then(client.put('tx/k').value('v2'), client.put('tx/other').value('x'))
    .else(client.put('tx/k').value('never'))
    .commit();
  assert.equal(ok.succeeded, true);
  assert.equal(ok.responses.length, 2);
  const no = await viaFollower.if('tx/k', 'Version', '==', 1)
    .then(client.put('tx/k').value('never'))
    .else(client.get('tx/k'))
    .commit();
  assert.equal(no.succeeded, false);
  const kv = no.responses[0].response_range!.kvs[0] as IKeyValue;
  assert.equal(kv.value.toString(), 'v2');
  assert.equal(kv.version, '2');
  assert.equal(await client.get('tx/other').string(), 'x');
});

test('watch: put and delete events with prev_kv on a prefix, served by a follower', { timeout: 20_000 }, async () => {
  const events: string[] = [];
  const watcher = await viaFollower.watch().prefix('w/').withPreviousKV().create();
  try {
    watcher.on('put', (kv, prev) => events.push(`put ${kv.key.toString()}=${kv.value.toString()} prev=${prev?.value.toString() ?? ''}`));
    watcher.on('delete', (kv, prev) => events.push(`delete ${kv.key.toString()} prev=${prev?.value.toString() ?? ''}`));
    await client.put('w/a').value('1');
    await client.put('w/a').value('2');
    await client.put('x/ignored').value('0');
    await client.delete().key('w/a');
    await until('three watch events', () => events.length >= 3);
    assert.deepEqual(events, ['put w/a=1 prev=', 'put w/a=2 prev=1', 'delete w/a prev=2']);
  } finally {
    await watcher.cancel();
  }
});

test('watch: replay from a past revision delivers history in order', { timeout: 20_000 }, async () => {
  const first = await client.put('h/k').value('1').exec();
  await client.put('h/k').value('2');
  await client.put('h/k').value('3');
  const seen: string[] = [];
  const watcher = await client.watch().key('h/k').startRevision(first.header.revision).create();
  try {
    watcher.on('put', (kv) => seen.push(kv.value.toString()));
    await until('three replayed events', () => seen.length >= 3);
    assert.deepEqual(seen, ['1', '2', '3']);
  } finally {
    await watcher.cancel();
  }
});

test('lease: keep-alive holds the key past its TTL; after release it expires', { timeout: 30_000 }, async () => {
  const lease = viaFollower.lease(2, { autoKeepAlive: true });
  let beats = 0;
  lease.on('keepaliveSucceeded', () => { beats++; });
  await lease.put('ls/held').value('v');
  await new Promise((r) => setTimeout(r, 3500));
  assert.ok(beats >= 1, 'keep-alives were answered');
  assert.equal(await client.get('ls/held').string(), 'v', 'kept alive beyond its 2 s TTL');
  const id = await lease.grant();
  lease.release(); // stop keep-alives without revoking: the leader must expire it
  await until('the released lease to expire', async () => (await client.get('ls/held').string()) === null, 10_000);
  const leases = await client.leaseClient.leaseLeases({});
  assert.ok(!leases.leases.some((l) => l.ID === id), 'the expired lease is gone from LeaseLeases');
});

test('lease: revoke deletes attached keys; lost is emitted for a revoked lease', { timeout: 20_000 }, async () => {
  const lease = client.lease(30);
  await lease.put('lr/a').value('1');
  await lease.put('lr/b').value('2');
  const id = await lease.grant();
  const ttl = await client.leaseClient.leaseTimeToLive({ ID: id, keys: true });
  assert.equal(ttl.grantedTTL, '30');
  assert.deepEqual(ttl.keys.map((k) => k.toString()).sort(), ['lr/a', 'lr/b']);
  await lease.revoke();
  assert.equal(await client.getAll().prefix('lr/').count(), 0);
});

test('election: one leader at a time; the next campaigner wins after resign', { timeout: 30_000 }, async () => {
  const election = client.election('el');
  const c1 = election.campaign('cand1');
  await new Promise<void>((resolve, reject) => { c1.on('elected', () => resolve()); c1.on('error', reject); });
  const c2 = viaFollower.election('el').campaign('cand2');
  let c2Elected = false;
  c2.on('elected', () => { c2Elected = true; });
  c2.on('error', () => undefined);
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(c2Elected, false, 'the second campaigner waits');
  assert.equal(await election.leader(), 'cand1');
  const observer = await election.observe();
  const changes: string[] = [];
  observer.on('change', (v) => changes.push(v ?? ''));
  await c1.resign();
  await until('the second campaigner to be elected', () => c2Elected);
  assert.equal(await election.leader(), 'cand2');
  await until('the observer to see the change', () => changes.includes('cand2'));
  await c2.resign();
  await observer.cancel();
});

test('lock: a held lock is refused to another client until released (etcd3 locks do not wait)', { timeout: 20_000 }, async () => {
  const a = await client.lock('lk').ttl(5).acquire();
  await assert.rejects(viaFollower.lock('lk').ttl(5).acquire(), /Failed to acquire a lock on lk/);
  await a.release();
  const b = await viaFollower.lock('lk').ttl(5).acquire();
  await b.release();
});
