/**
 * Patroni-managed PostgreSQL instances for the Patroni tests (patroni.test.ts, patroni-auth.test.ts): one
 * process per node run as the `postgres` user, its SQL probe, and the Patroni configuration using a DCS over
 * etcd's v3 JSON gateway (`etcd3:`), optionally with etcd credentials.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { existsSync, readFileSync, openSync, closeSync } from 'fs';
import { join } from 'path';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
export const TTL_S = 20;
export const missing = !existsSync(join(PG_BIN, 'postgres')) ? 'PostgreSQL 15 is not installed'
  : spawnSync('patroni', ['--version']).status !== 0 ? 'patroni is not installed'
    : process.getuid?.() !== 0 ? 'needs root to run PostgreSQL as the postgres user' : undefined;

export const pgUser = (): { uid: number; gid: number } => {
  const id = (flag: string): number => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
};

/** One Patroni-managed PostgreSQL instance. */
export class PgNode {
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

export function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function patroniConfig(n: PgNode, hosts: string[], scope: string, etcdAuth?: { username: string; password: string }): string {
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
${etcdAuth ? `  username: ${etcdAuth.username}\n  password: ${etcdAuth.password}\n` : ''}bootstrap:
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

/** Waits until exactly one node answers as primary and every other running one as replica. */
export async function waitForRoles(running: PgNode[], timeoutMs: number): Promise<PgNode> {
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
