/**
 * Patroni 3 with PostgreSQL 15 using a three-member runtime cluster as its `etcd3:` DCS (Patroni speaks etcd's
 * JSON gateway: /version, /v3/kv/*, /v3/lease/*, streaming /v3/watch). Two PostgreSQL instances on loopback:
 * bootstrap elects a primary, a committed row replicates; SIGKILL of the primary's Patroni and postmaster
 * promotes the replica within the leader key's TTL, never two primaries at once; the row survives; the old
 * primary rejoins as a replica. Ports 23730-23735 (DCS), 23740-23741 (PostgreSQL), 23750-23751 (REST).
 * HA_PATRONI_DCS=etcd runs the same scenario on real etcd 3.4 (the harness's reference).
 * Skipped when patroni or PostgreSQL 15 is not installed, or when not root (PostgreSQL runs as `postgres`).
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'fs';
import * as assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { tmpdir } from 'os';
import { join } from 'path';
import { startEtcd, startRuntime, Target } from './etcd-clients';
import { skipUnlessCi } from '../support/prerequisite';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const TTL_S = 20;
const missing = !existsSync(join(PG_BIN, 'postgres')) ? 'PostgreSQL 15 is not installed'
  : spawnSync('patroni', ['--version']).status !== 0 ? 'patroni is not installed'
    : process.getuid?.() !== 0 ? 'needs root to run PostgreSQL as the postgres user' : undefined;

const pgUser = (): { uid: number; gid: number } => {
  const id = (flag: string): number => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
};

/** One Patroni-managed PostgreSQL instance. */
class PgNode {
  proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(readonly name: string, readonly pgPort: number, readonly restPort: number, readonly dir: string) {}

  get dataDir(): string { return join(this.dir, 'data'); }

  start(): void {
    const fd = openSync(join(this.dir, 'patroni.log'), 'a');
    const { uid, gid } = pgUser();
    const proc = spawn('patroni', [join(this.dir, 'patroni.yml')], { uid, gid, stdio: ['ignore', fd, fd], cwd: this.dir });
    closeSync(fd);
    this.proc = proc;
    this.exited = new Promise((r) => proc.once('exit', () => r()));
  }

  /** SIGKILL Patroni and the postmaster: a crash, not a shutdown. */
  async crash(): Promise<void> {
    const pid = this.postmasterPid();
    this.proc?.kill('SIGKILL');
    await this.exited;
    if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    // Backends notice the postmaster's death and exit; wait so the port is free for the rejoin.
    const deadline = Date.now() + 10_000;
    while (pid && alive(pid) && Date.now() < deadline) await sleep(100);
  }

  /** Graceful stop (cleanup): Patroni stops PostgreSQL on SIGTERM. */
  async stop(): Promise<void> {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc?.kill('SIGKILL'), 15_000);
      await this.exited;
      clearTimeout(t);
    }
    const pid = this.postmasterPid();
    if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }

  /** `pg_is_in_recovery()`: true on a replica, false on a primary, undefined when not answering. */
  inRecovery(): boolean | undefined {
    const r = this.sql('select pg_is_in_recovery()', 2);
    return r === undefined ? undefined : r === 't';
  }

  sql(query: string, timeoutS = 5): string | undefined {
    const r = spawnSync('psql', ['-h', '127.0.0.1', '-p', String(this.pgPort), '-U', 'postgres', '-d', 'postgres', '-Atqc', query], {
      encoding: 'utf8', timeout: timeoutS * 1000, env: { ...process.env, PGPASSWORD: 'pg', PGCONNECT_TIMEOUT: String(timeoutS) },
    });
    return r.status === 0 ? r.stdout.trim() : undefined;
  }

  log(): string {
    try { return readFileSync(join(this.dir, 'patroni.log'), 'utf8'); } catch { return ''; }
  }

  private postmasterPid(): number | undefined {
    try { return Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) || undefined; } catch { return undefined; }
  }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function patroniConfig(n: PgNode, hosts: string[], scope: string): string {
  return `scope: ${scope}
namespace: /service/
name: ${n.name}
log:
  level: INFO
restapi:
  listen: 127.0.0.1:${n.restPort}
  connect_address: 127.0.0.1:${n.restPort}
etcd3:
  hosts: ${hosts.join(',')}
bootstrap:
  dcs:
    ttl: ${TTL_S}
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 5
        max_replication_slots: 5
  initdb:
    - encoding: UTF8
  pg_hba:
    - host replication replicator 127.0.0.1/32 md5
    - host all all 127.0.0.1/32 md5
    - local all all trust
postgresql:
  listen: 127.0.0.1:${n.pgPort}
  connect_address: 127.0.0.1:${n.pgPort}
  data_dir: ${n.dataDir}
  bin_dir: ${PG_BIN}
  pgpass: ${join(n.dir, 'pgpass')}
  authentication:
    replication:
      username: replicator
      password: rep
    superuser:
      username: postgres
      password: pg
    rewind:
      username: postgres
      password: pg
  parameters:
    unix_socket_directories: ${n.dir}
    shared_buffers: 16MB
    fsync: "off"
tags: {}
`;
}

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

/** Waits until exactly one node answers as primary and every other running one as replica. */
async function waitForRoles(running: PgNode[], timeoutMs: number): Promise<PgNode> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const roles = running.map((n) => n.inRecovery());
    last = roles.map((r, i) => `${running[i].name}=${r === undefined ? 'down' : r ? 'replica' : 'primary'}`).join(' ');
    const primaries = running.filter((_, i) => roles[i] === false);
    if (primaries.length === 1 && roles.every((r) => r !== undefined)) return primaries[0];
    await sleep(300);
  }
  throw new Error(`no single primary within ${timeoutMs} ms (${last})\n${running.map((n) => `--- ${n.name}\n${n.log().split('\n').slice(-25).join('\n')}`).join('\n')}`);
}

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
