/**
 * Patroni 3 with `etcd3: username/password` on a three-member runtime cluster with etcd auth enabled: Patroni's
 * user holds a role with READWRITE on its namespace only, and tokens expire every 2 s (--auth-token-ttl), so
 * Patroni keeps re-authenticating between its loops. Bootstrap elects a primary, a row replicates, a crash of
 * the primary promotes the replica; the DCS refuses the same keys to a client without credentials.
 * Ports 24240-24245 (DCS), 24250-24251 (PostgreSQL), 24260-24261 (REST). HA_PATRONI_DCS=etcd runs it on etcd
 * 3.4 (with its default token TTL). Skipped when patroni or PostgreSQL 15 is missing, or when not root.
 */
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { tmpdir } from 'os';
import { join } from 'path';
import { etcdctl, startEtcd, startRuntime, Target } from './etcd-clients';
import { missing, PgNode, patroniConfig, pgUser, sleep, TTL_S, waitForRoles } from './patroni-support';
import { skipUnlessCi } from '../support/prerequisite';

let dcs: Target | undefined;
let dir: string;
const nodes: PgNode[] = [];
const scope = `ha-auth-${process.pid}`;

const ctl = async (args: string[]): Promise<string> => {
  const r = await etcdctl(dcs!.endpoints, args);
  assert.equal(r.code, 0, `etcdctl ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};

before(async () => {
  if (missing) return;
  dcs = process.env.HA_PATRONI_DCS === 'etcd' ? await startEtcd(24240) : await startRuntime(24240, ['--auth-token-ttl', '2']);
  if (!dcs) throw new Error('etcd is not installed');
  await ctl(['user', 'add', 'root:rootpw']);
  await ctl(['role', 'add', 'patroni']);
  await ctl(['role', 'grant-permission', 'patroni', 'readwrite', '/service/', '--prefix']);
  await ctl(['user', 'add', 'patroni:patronipw']);
  await ctl(['user', 'grant-role', 'patroni', 'patroni']);
  await ctl(['auth', 'enable']);
  dir = mkdtempSync(join(tmpdir(), 'ha-patroni-auth-'));
  const { uid, gid } = pgUser();
  chownSync(dir, uid, gid);
  for (let i = 0; i < 2; i++) {
    const n = new PgNode(`pg${i}`, 24250 + i, 24260 + i, join(dir, `pg${i}`));
    mkdirSync(n.dir, { mode: 0o700 });
    chownSync(n.dir, uid, gid);
    writeFileSync(join(n.dir, 'patroni.yml'), patroniConfig(n, dcs.endpoints, scope, { username: 'patroni', password: 'patronipw' }));
    chownSync(join(n.dir, 'patroni.yml'), uid, gid);
    nodes.push(n);
  }
}, { timeout: 60_000 });

after(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
  await dcs?.close();
  if (dir && !process.env.HA_KEEP_PATRONI_DIR) rmSync(dir, { recursive: true, force: true });
});

test('Patroni with etcd username/password: bootstrap, replicate, fail over, with tokens expiring between loops', { timeout: 180_000 }, async (t) => {
  if (missing) { skipUnlessCi(t, missing); return; }
  for (const n of nodes) n.start();
  const primary = await waitForRoles(nodes, 60_000);
  const replica = nodes.find((n) => n !== primary)!;
  const leaderKey = `/service/${scope}/leader`;
  assert.equal(await ctl(['get', leaderKey, '--print-value-only', '--user', 'patroni:patronipw']), `${primary.name}\n`);
  const anonymous = await etcdctl(dcs!.endpoints, ['get', leaderKey]);
  assert.match(anonymous.stderr, /etcdserver: user name is empty/);

  assert.equal(primary.sql('create table ha(id int primary key, v text); insert into ha values (1, \'committed\') returning v'), 'committed');
  const replicated = Date.now() + 20_000;
  while (replica.sql('select v from ha where id = 1') !== 'committed' && Date.now() < replicated) await sleep(200);
  assert.equal(replica.sql('select v from ha where id = 1'), 'committed', 'the row reached the replica');

  // Several token lifetimes pass with Patroni holding the leader key by itself.
  await sleep(8_000);
  assert.equal(primary.inRecovery(), false, `still primary after tokens expired\n${primary.log().split('\n').slice(-20).join('\n')}`);
  assert.equal(await ctl(['get', leaderKey, '--print-value-only', '--user', 'patroni:patronipw']), `${primary.name}\n`);

  const crashedAt = Date.now();
  await primary.crash();
  let promotedAfterMs: number | undefined;
  while (Date.now() - crashedAt < (TTL_S + 30) * 1000) {
    if (replica.inRecovery() === false) { promotedAfterMs = Date.now() - crashedAt; break; }
    await sleep(250);
  }
  assert.ok(promotedAfterMs !== undefined, `the replica was not promoted within ${TTL_S + 30} s\n${replica.log().split('\n').slice(-30).join('\n')}`);
  assert.equal(replica.sql('select v from ha where id = 1'), 'committed', 'the committed row survived the failover');
  assert.equal(await ctl(['get', leaderKey, '--print-value-only', '--user', 'patroni:patronipw']), `${replica.name}\n`);
});
