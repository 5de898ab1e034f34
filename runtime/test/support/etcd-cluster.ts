/**
 * Starts a three-member etcd cluster on loopback (the benchmark's anchor), with fsync on, driven
 * through its JSON gateway (`/v3/kv/put`, `/v3/kv/range`). `close()` kills what it started and
 * removes its directory.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { mkdtempSync, openSync, closeSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { keepAliveAgent, kvRequest } from './kv-client';
import { sleep } from './kv-cluster';

/** The etcd binary and its version, or undefined when etcd is not installed. */
export function etcdVersion(): string | undefined {
  const r = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return /etcd Version: (\S+)/.exec(r.stdout)?.[1] ?? 'unknown';
}

/** One etcd member process. */
export class EtcdMember {
  proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  constructor(readonly name: string, readonly clientPort: number, readonly peerPort: number, private readonly args: (state: 'new' | 'existing') => string[],
    private readonly logFile: string) {}
  get url(): string { return `http://127.0.0.1:${this.clientPort}`; }
  get running(): boolean { return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null; }
  start(state: 'new' | 'existing'): void {
    const fd = openSync(this.logFile, 'a');
    const proc = spawn('etcd', this.args(state), { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.proc = proc;
    this.exited = new Promise((r) => proc.once('exit', () => r()));
  }
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.proc!.kill(signal);
    await this.exited;
  }
  /** `/v3/maintenance/status`: this member's id and the leader id it knows (decimal strings), or undefined. */
  async status(): Promise<{ memberId: string; leader: string } | undefined> {
    try {
      const r = await kvRequest(`${this.url}/v3/maintenance/status`, { method: 'POST', body: '{}', timeoutMs: 1000, agent });
      if (r.status !== 200) return undefined;
      const j = JSON.parse(r.body.toString());
      return { memberId: String(j.header?.member_id ?? ''), leader: String(j.leader ?? '0') };
    } catch { return undefined; }
  }
}

const agent = keepAliveAgent(8);

/** A running etcd cluster. */
export class EtcdCluster {
  /** Starts `size` members with client ports basePort+2i and peer ports basePort+2i+1 (and `extraArgs`); waits for a leader. */
  static async start(size: number, basePort: number, extraArgs: readonly string[] = []): Promise<EtcdCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'ha-etcd-bench-'));
    const c = new EtcdCluster(dir);
    const initial = Array.from({ length: size }, (_, i) => `e${i}=http://127.0.0.1:${basePort + 2 * i + 1}`).join(',');
    for (let i = 0; i < size; i++) {
      const client = basePort + 2 * i;
      const peer = basePort + 2 * i + 1;
      c.members.push(new EtcdMember(`e${i}`, client, peer, (state) => [
        '--name', `e${i}`, '--data-dir', join(dir, `e${i}`),
        '--listen-client-urls', `http://127.0.0.1:${client}`, '--advertise-client-urls', `http://127.0.0.1:${client}`,
        '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
        '--initial-cluster', initial, '--initial-cluster-state', state, '--initial-cluster-token', `bench-${basePort}`,
        '--log-level', 'error', '--logger', 'zap', ...extraArgs,
      ], join(dir, `e${i}.log`)));
    }
    try {
      for (const m of c.members) m.start('new');
      await c.waitForLeader(20_000);
    } catch (e) {
      await c.close();
      throw e;
    }
    return c;
  }

  readonly members: EtcdMember[] = [];
  private constructor(readonly dir: string) {}

  /** Waits until every running member agrees on a running leader; returns it. */
  async waitForLeader(timeoutMs: number): Promise<EtcdMember> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const running = this.members.filter((m) => m.running);
      const st = await Promise.all(running.map((m) => m.status()));
      if (st.every((s) => s && s.leader !== '0' && s.leader === st[0]!.leader)) {
        const i = st.findIndex((s) => s!.memberId === s!.leader);
        if (i >= 0) return running[i];
      }
      await sleep(50);
    }
    throw new Error(`etcd: no agreed leader within ${timeoutMs} ms (logs in ${this.dir})`);
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => m.kill().catch(() => undefined)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
