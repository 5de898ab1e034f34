/**
 * Patroni 3 with PostgreSQL 15 using a three-member runtime cluster as its `etcd3:` DCS (Patroni speaks etcd's
 * JSON gateway: /version, /v3/kv/*, /v3/lease/*, streaming /v3/watch). Two PostgreSQL instances on loopback:
 * bootstrap elects a primary, a committed row replicates; SIGKILL of the primary's Patroni and postmaster
 * promotes the replica within the leader key's TTL, never two primaries at once; the row survives; the old
 * primary rejoins as a replica. Ports 23730-23735 (DCS), 23740-23741 (PostgreSQL), 23750-23751 (REST).
 * HA_PATRONI_DCS=etcd runs the same scenario on real etcd 3.4 (the harness's reference).
 * Skipped when patroni or PostgreSQL 15 is not installed, or when not root (PostgreSQL runs as `postgres`).
 */
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { tmpdir } from 'os';
import { join } from 'path';
import { startEtcd, startRuntime, Target } from './etcd-clients';
import { missing, PgNode, patroniConfig, pgUser, sleep, TTL_S, waitForRoles } from './patroni-support';
import { skipUnlessCi } from '../support/prerequisite';

let dcs: Target | undefined;
let dir: string;
const nodes: PgNode[] = [];

before(async () => {
  if (missing) return;
  dcs = process.env.HA_PATRONI_DCS === 'etcd' ? await startEtcd(23730) : await startRuntime(23730);
  dir = mkdtempSync(join(tmpdir(), 'ha-patroni-'));
  const { uid, gid } = pgUser();
  chownSync(dir, uid, gid);
  for (let i = 0; i < 2; i++) {
    const n = new PgNode(`pg${i}`, 23740 + i, 23750 + i, join(dir, `pg${i}`));
    mkdirSync(n.dir, { mode: 0o700 });
    chownSync(n.dir, uid, gid);
    writeFileSync(join(n.dir, 'patroni.yml'), patroniConfig(n, dcs!.endpoints, `ha-${process.pid}`));
    chownSync(join(n.dir, 'patroni.yml'), uid, gid);
    nodes.push(n);
  }
}, { timeout: 40_000 });

after(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
  await dcs?.close();
  if (dir && !process.env.HA_KEEP_PATRONI_DIR) rmSync(dir, { recursive: true, force: true });
});

test('Patroni: bootstrap, replicate, fail over on primary crash, old primary rejoins as replica', { timeout: 180_000 }, async (t) => {
  if (missing) { skipUnlessCi(t, missing); return; }
  for (const n of nodes) n.start();
  const primary = await waitForRoles(nodes, 60_000);
  const replica = nodes.find((n) => n !== primary)!;

  assert.equal(primary.sql('create table ha(id int primary key, v text); insert into ha values (1, \'committed\') returning v'), 'committed');
  const replicated = Date.now() + 20_000;
  while (replica.sql('select v from ha where id = 1') !== 'committed' && Date.now() < replicated) await sleep(200);
  assert.equal(replica.sql('select v from ha where id = 1'), 'committed', 'the row reached the replica');

  // From the crash to the end, sample every node: two answering as primary at once is split brain.
  let sampling = true;
  let mostPrimaries = 0;
  const sampler = (async () => {
    while (sampling) {
      const primaries = nodes.filter((n) => n.inRecovery() === false).length;
      mostPrimaries = Math.max(mostPrimaries, primaries);
      await sleep(200);
    }
  })();
  const crashedAt = Date.now();
  await primary.crash();
  // Until the replica is promoted, at most one node may ever answer as primary (the crashed one is gone).
  let promotedAfterMs: number | undefined;
  while (Date.now() - crashedAt < (TTL_S + 30) * 1000) {
    const r = replica.inRecovery();
    if (r === false) { promotedAfterMs = Date.now() - crashedAt; break; }
    await sleep(250);
  }
  assert.ok(promotedAfterMs !== undefined, `the replica was not promoted within ${TTL_S + 30} s\n${replica.log().split('\n').slice(-30).join('\n')}`);
  // Patroni promotes once the leader key's TTL (plus one loop) ran out.
  assert.ok(promotedAfterMs <= (TTL_S + 10) * 1000, `promoted after ${promotedAfterMs} ms (ttl ${TTL_S} s)`);
  assert.equal(replica.sql('select v from ha where id = 1'), 'committed', 'the committed row survived the failover');
  assert.equal(replica.sql('insert into ha values (2, \'after failover\') returning v'), 'after failover');

  primary.start();
  const stillPrimary = await waitForRoles(nodes, 60_000);
  assert.equal(stillPrimary, replica, 'the promoted node stays primary');
  const rejoined = Date.now() + 20_000;
  while (primary.sql('select count(*) from ha') !== '2' && Date.now() < rejoined) await sleep(300);
  assert.equal(primary.inRecovery(), true, 'the old primary rejoined as a replica');
  assert.equal(primary.sql('select string_agg(v, \',\' order by id) from ha'), 'committed,after failover');
  sampling = false;
  await sampler;
  assert.equal(mostPrimaries, 1, 'never two primaries at once');
});
