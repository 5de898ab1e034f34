/**
 * etcd auth on the runtime beyond what etcd's reference suite (auth.test.ts) can compare: the `etcd3` npm
 * client with username/password, token expiry (--auth-token-ttl), and users, roles and the enabled flag
 * surviving what Raft does to state — a follower catching up through a snapshot after the log was compacted,
 * and a restart of every member. Three members on ports 24220-24225, snapshots every 20 entries.
 */
import * as assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Etcd3, EtcdAuthenticationFailedError, EtcdPermissionDeniedError } from 'etcd3';
import { etcdctl, gateway } from './etcd-clients';
import { KvCluster, KvMember, sleep } from '../support/kv-cluster';

const TOKEN_TTL_S = 2;
let cluster: KvCluster;
let endpoints: string[];
const root = ['--user', 'root:rootpw'];

const ok = async (args: string[], input?: string, on = endpoints): Promise<string> => {
  const r = await etcdctl(on, args, { input });
  assert.equal(r.code, 0, `etcdctl ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
  return r.stdout;
};

before(async () => {
  cluster = await KvCluster.start({
    size: 3,
    basePort: 24220,
    args: ['--snapshot-entries', '20', '--snapshot-catchup-entries', '0', '--auth-token-ttl', String(TOKEN_TTL_S)],
  });
  await cluster.waitForLeader(15_000);
  endpoints = cluster.members.map((m) => `127.0.0.1:${m.clientPort}`);
  await ok(['user', 'add', 'root:rootpw']);
  await ok(['role', 'add', 'app']);
  await ok(['role', 'grant-permission', 'app', 'readwrite', 'svc/', '--prefix']);
  await ok(['user', 'add', 'svc:svcpw']);
  await ok(['user', 'grant-role', 'svc', 'app']);
  await ok(['auth', 'enable']);
}, { timeout: 60_000 });

after(async () => { await cluster?.close(); });

test('the etcd3 npm client with auth {username, password}: KV and watch inside its range, refusals outside', { timeout: 30_000 }, async () => {
  const hosts = endpoints.map((e) => `http://${e}`);
  const svc = new Etcd3({ hosts, auth: { username: 'svc', password: 'svcpw' } });
  const wrong = new Etcd3({ hosts, auth: { username: 'svc', password: 'nope' } });
  try {
    await svc.put('svc/a').value('1');
    assert.equal(await svc.get('svc/a').string(), '1');
    const seen: string[] = [];
    const w = await svc.watch().prefix('svc/').create();
    w.on('put', (kv) => seen.push(kv.value.toString()));
    await svc.put('svc/a').value('2');
    const deadline = Date.now() + 5_000;
    while (!seen.includes('2')) {
      if (Date.now() > deadline) throw new Error(`watch saw ${JSON.stringify(seen)}`);
      await sleep(50);
    }
    await w.cancel();
    await assert.rejects(svc.put('other').value('x').exec(), EtcdPermissionDeniedError);
    await assert.rejects(svc.get('other').string(), EtcdPermissionDeniedError);
    await assert.rejects(wrong.get('svc/a').string(), EtcdAuthenticationFailedError);
  } finally {
    svc.close();
    wrong.close();
  }
});

test('/v1/kv serves the same keys under the same permissions: a token in Authorization, 401 without, 403 outside the range', { timeout: 30_000 }, async () => {
  const leader = (await cluster.waitForLeader(15_000)).url;
  const follower = cluster.members.map((m) => m.url).find((u) => u !== leader)!;
  const v1 = async (url: string, method: string, path: string, token?: string, body?: string): Promise<{ status: number; text: string }> => {
    const res = await fetch(`${url}${path}`, {
      method, body, redirect: 'manual', headers: token !== undefined ? { authorization: token } : {}, signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, text: await res.text() };
  };
  const refused = async (status: number, code: string, message: RegExp, r: Promise<{ status: number; text: string }>): Promise<void> => {
    const got = await r;
    assert.equal(got.status, status, got.text);
    assert.equal(JSON.parse(got.text).error, code, got.text);
    assert.match(JSON.parse(got.text).message, message);
  };
  const svc = (await gateway(endpoints[0], '/auth/authenticate', { name: 'svc', password: 'svcpw' })).body.token as string;
  const rootToken = (await gateway(endpoints[0], '/auth/authenticate', { name: 'root', password: 'rootpw' })).body.token as string;

  await refused(401, 'unauthenticated', /user name is empty.*Authorization header/, v1(leader, 'PUT', '/v1/kv/svc/v1', undefined, 'x'));
  await refused(401, 'unauthenticated', /user name is empty/, v1(follower, 'GET', '/v1/kv/svc/a'));
  await refused(401, 'unauthenticated', /invalid auth token/, v1(leader, 'GET', '/v1/kv/svc/a', 'garbage'));
  await refused(401, 'unauthenticated', /user name is empty/, v1(follower, 'GET', '/v1/kv/?prefix=svc/'));

  assert.equal((await v1(leader, 'PUT', '/v1/kv/svc/v1', svc, 'from v1')).status, 200);
  assert.deepEqual(await v1(follower, 'GET', '/v1/kv/svc/v1', svc), { status: 200, text: 'from v1' });
  assert.equal(await ok(['get', 'svc/v1', '--print-value-only', '--user', 'svc:svcpw']), 'from v1\n');
  const listing = await v1(follower, 'GET', '/v1/kv/?prefix=svc/', svc);
  assert.equal(listing.status, 200, listing.text);
  assert.ok(JSON.parse(listing.text).items.some((i: { key: string }) => i.key === 'svc/v1'));
  assert.equal((await v1(leader, 'PUT', '/v1/kv/svc/v1?prev=from%20v1', svc, 'swapped')).status, 200);

  await refused(403, 'permission_denied', /permission denied/, v1(leader, 'PUT', '/v1/kv/other', svc, 'x'));
  await refused(403, 'permission_denied', /permission denied/, v1(follower, 'PUT', '/v1/kv/other', svc, 'x'));
  await refused(403, 'permission_denied', /permission denied/, v1(leader, 'DELETE', '/v1/kv/other', svc));
  await refused(403, 'permission_denied', /permission denied/, v1(leader, 'GET', '/v1/kv/?prefix=', svc));
  await refused(403, 'permission_denied', /permission denied/, v1(leader, 'GET', '/v1/kv/?prefix=sv', svc));
  // The shard map's reserved keys stay readable: every router and member reads them.
  assert.equal((await v1(follower, 'GET', '/v1/kv/__ha/shard')).status, 404);
  // root may do anything.
  assert.equal((await v1(leader, 'PUT', '/v1/kv/other', rootToken, 'by root')).status, 200);
  // Linearizable: a serializable read on a follower may not have applied the write yet.
  assert.deepEqual(await v1(follower, 'GET', '/v1/kv/other', rootToken), { status: 200, text: 'by root' });
});

test('Lock and Election act with the caller\'s permissions', { timeout: 30_000 }, async () => {
  const token = (await gateway(endpoints[0], '/auth/authenticate', { name: 'svc', password: 'svcpw' })).body.token as string;
  const lease = (await gateway(endpoints[1], '/lease/grant', { TTL: 60 }, token)).body.ID as string;
  const b64 = (v: string): string => Buffer.from(v).toString('base64');
  const locked = await gateway(endpoints[1], '/lock/lock', { name: b64('svc/lock'), lease }, token);
  assert.equal(locked.status, 200, JSON.stringify(locked.body));
  assert.equal((await gateway(endpoints[1], '/lock/unlock', { key: locked.body.key }, token)).status, 200);
  const denied = await gateway(endpoints[1], '/lock/lock', { name: b64('other'), lease }, token);
  assert.deepEqual([denied.status, denied.body.error], [403, 'etcdserver: permission denied']);
  const campaign = await gateway(endpoints[2], '/election/campaign', { name: b64('other'), lease, value: b64('me') }, token);
  assert.deepEqual([campaign.status, campaign.body.error], [403, 'etcdserver: permission denied']);
  const anonymous = await gateway(endpoints[2], '/election/leader', { name: b64('svc/e') });
  assert.deepEqual([anonymous.status, anonymous.body.error], [400, 'etcdserver: user name is empty']);
});

test('a token unused for longer than --auth-token-ttl is refused; etcd3 re-authenticates by itself', { timeout: 30_000 }, async () => {
  const auth = await gateway(endpoints[0], '/auth/authenticate', { name: 'svc', password: 'svcpw' });
  const token: string = auth.body.token;
  const read = (): Promise<{ status: number; body: any }> => gateway(endpoints[0], '/kv/range', { key: Buffer.from('svc/a').toString('base64') }, token);
  assert.equal((await read()).status, 200);
  await sleep(TOKEN_TTL_S * 1000 / 2);
  assert.equal((await read()).status, 200, 'use extends the token');
  await sleep(TOKEN_TTL_S * 1000 + 500);
  const expired = await read();
  assert.deepEqual([expired.status, expired.body.error], [401, 'etcdserver: invalid auth token']);
  const svc = new Etcd3({ hosts: `http://${endpoints[1]}`, auth: { username: 'svc', password: 'svcpw' } });
  try {
    await svc.put('svc/ttl').value('1');
    await sleep(TOKEN_TTL_S * 1000 + 500);
    assert.equal(await svc.get('svc/ttl').string(), '1');
  } finally {
    svc.close();
  }
});

test('a follower that missed auth changes catches up through a snapshot; a restart of every member keeps users, roles and the flag',
  { timeout: 90_000 }, async () => {
    const leader = await cluster.waitForLeader(10_000);
    const lagging: KvMember = cluster.members.find((m) => m !== leader)!;
    const others = cluster.members.filter((m) => m !== lagging).map((m) => `127.0.0.1:${m.clientPort}`);
    await lagging.signal('SIGTERM');
    await ok(['role', 'add', 'late', ...root], undefined, others);
    await ok(['role', 'grant-permission', 'late', 'read', 'late/', '--prefix', ...root], undefined, others);
    await ok(['user', 'add', 'amy:amypw', ...root], undefined, others);
    await ok(['user', 'grant-role', 'amy', 'late', ...root], undefined, others);
    // Well past --snapshot-entries with nothing kept behind the snapshot: the lagging member needs the snapshot.
    const token: string = (await gateway(others[0], '/auth/authenticate', { name: 'root', password: 'rootpw' })).body.token;
    for (let i = 0; i < 60; i++) {
      const put = await gateway(others[i % 2], '/kv/put', { key: Buffer.from(`svc/fill${i % 5}`).toString('base64'), value: Buffer.from(String(i)).toString('base64') }, token);
      assert.equal(put.status, 200, JSON.stringify(put.body));
    }
    const logBefore = lagging.log().length;
    lagging.start();
    const at = [`127.0.0.1:${lagging.clientPort}`];
    // Serializable reads come from the member's own state: wait until it holds the last write.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await etcdctl(at, ['get', 'svc/fill4', '--print-value-only', '--consistency=s', ...root]);
      if (r.code === 0 && r.stdout === '59\n') break;
      if (Date.now() > deadline) throw new Error(`the restarted member did not catch up: ${r.stderr}${r.stdout}\n${cluster.logTails()}`);
      await sleep(200);
    }
    assert.match(lagging.log().slice(logBefore), /installed snapshot from leader/, 'the lagging member caught up through a snapshot');
    assert.equal(await ok(['role', 'get', 'late', ...root], undefined, at), 'Role late\nKV Read:\n\t[late/, late0) (prefix late/)\nKV Write:\n');
    assert.equal(await ok(['user', 'get', 'amy', '--user', 'amy:amypw'], undefined, at), 'User: amy\nRoles: late\n');

    await Promise.all(cluster.members.map((m) => m.signal('SIGTERM')));
    for (const m of cluster.members) m.start();
    await cluster.waitForLeader(20_000);
    const noCreds = await etcdctl(endpoints, ['get', 'svc/a']);
    assert.match(noCreds.stderr, /etcdserver: user name is empty/);
    assert.equal(await ok(['user', 'list', ...root]), 'amy\nroot\nsvc\n');
    assert.equal(await ok(['role', 'list', ...root]), 'app\nlate\nroot\n');
    assert.equal(await ok(['get', 'svc/a', '--print-value-only', '--user', 'svc:svcpw']), '2\n');
    const denied = await etcdctl(endpoints, ['put', 'late/x', '1', '--user', 'amy:amypw']);
    assert.match(denied.stderr, /etcdserver: permission denied/);
  });
