/**
 * Starts a multi-process cluster of `ha-runtime raft` members on loopback for tests and the
 * benchmark: each member is a real child process with its own data directory. Optionally puts a
 * FaultProxy between every pair of peers. `close()` kills every process it started and removes
 * every directory, and is safe to call twice and after failures.
 */
import { ChildProcess, spawn } from 'child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, WriteStream } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { FaultProxy } from './fault-proxy';
import { keepAliveAgent, kvRequest } from './kv-client';

/** The compiled CLI entry, relative to this file once compiled into runtime/.build-test/test/support. */
const MAIN_JS = join(__dirname, '..', '..', 'src', 'main.js');

/** Every member process alive: killed synchronously if the test process exits without cleaning up. */
const liveProcesses = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of liveProcesses) { try { p.kill('SIGKILL'); } catch { /* already gone */ } }
});

/** One member process. */
export class KvMember {
  proc: ChildProcess | undefined;
  private logStream: WriteStream | undefined;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  /** Where /v1/status is read: the client port, or the plain --listen-metrics port when the client port is https. */
  statusBase: string | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    readonly id: number,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly dataDir: string,
    readonly logFile: string,
    private readonly args: () => string[],
    private readonly env: Record<string, string>,
  ) {}

  /** The client base URL. */
  get url(): string { return `http://127.0.0.1:${this.clientPort}`; }

  get running(): boolean { return this.proc !== undefined && this.exitCode === null && this.exitSignal === null; }

  /** Spawns the process (again, after a kill). */
  start(): void {
    if (this.running) throw new Error(`member ${this.name} is already running`);
    this.exitCode = null;
    this.exitSignal = null;
    this.logStream = createWriteStream(this.logFile, { flags: 'a' });
    // HA_TEST_MEMBER_NODE_ARGS: extra node flags for members, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` when profiling.
    const nodeArgs = (process.env.HA_TEST_MEMBER_NODE_ARGS ?? '').split(' ').filter((a) => a);
    const proc = spawn(process.execPath, [...nodeArgs, '-e', `require(${JSON.stringify(MAIN_JS)}).main(process.argv.slice(1))`, 'raft', ...this.args()], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.env },
    });
    proc.stdout!.pipe(this.logStream, { end: false });
    proc.stderr!.pipe(this.logStream, { end: false });
    this.proc = proc;
    liveProcesses.add(proc);
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => {
      liveProcesses.delete(proc);
      this.exitCode = code;
      this.exitSignal = signal;
      resolve();
    }));
  }

  /** Sends `signal` and, unless it is SIGSTOP/SIGCONT, waits for the exit (bounded). */
  async signal(signal: NodeJS.Signals, timeoutMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.proc!.kill(signal);
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') return;
    await this.waitExit(timeoutMs);
  }

  /** Waits for the process to exit; SIGKILLs it if it has not within `timeoutMs`. */
  async waitExit(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((r) => { timer = setTimeout(() => r(true), timeoutMs); });
    const late = await Promise.race([this.exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late && this.running) {
      this.proc!.kill('SIGCONT');
      this.proc!.kill('SIGKILL');
      await this.exited;
      throw new Error(`member ${this.name} did not exit within ${timeoutMs} ms`);
    }
  }

  /** Kills without grace and waits (cleanup path). */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.proc!.kill('SIGCONT');
    this.proc!.kill('SIGKILL');
    await this.exited;
  }

  /** The member's log so far (JSON lines). */
  log(): string {
    try { return readFileSync(this.logFile, 'utf8'); } catch { return ''; }
  }

  /** `/v1/status`, or undefined if unreachable. */
  async status(timeoutMs = 1000): Promise<Record<string, any> | undefined> {
    try {
      const r = await kvRequest(`${this.statusBase ?? this.url}/v1/status`, { timeoutMs, agent: statusAgent });
      return r.status === 200 ? JSON.parse(r.body.toString()) : undefined;
    } catch { return undefined; }
  }
}

const statusAgent = keepAliveAgent(16);

/** Options for {@link KvCluster.start}. */
export interface KvClusterOptions {
  readonly size: number;
  /** Member i uses clientPort basePort+2i and peerPort basePort+2i+1; the proxy uses basePort+100... */
  readonly basePort: number;
  /** Put a FaultProxy between every pair of peers (partitions, one-way cuts). @default false */
  readonly proxy?: boolean;
  /** Extra flags for every member. */
  readonly args?: readonly string[];
  readonly tickMs?: number;
  /** Called for each member's data directory before its first start (e.g. to mount a tiny tmpfs there). */
  readonly prepareDataDir?: (name: string, dir: string) => void | Promise<void>;
  /** Keep the directory (logs, data) after close for debugging. @default false */
  readonly keepDir?: boolean;
  /**
   * Give every member `--listen-metrics 127.0.0.1:<client port + offset>` and read its status there
   * (needed when the client port is https). @default status on the client port
   */
  readonly metricsPortOffset?: number;
}

/** A running cluster; see the module comment. */
export class KvCluster {
  /** Starts every member and waits until one is leader and every member knows it. */
  static async start(options: KvClusterOptions): Promise<KvCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'ha-kv-cluster-'));
    const cluster = new KvCluster(dir, options);
    try {
      const real = new Map<number, string>();
      for (let i = 0; i < options.size; i++) real.set(i + 1, `127.0.0.1:${options.basePort + 2 * i + 1}`);
      if (options.proxy) cluster.proxy = await FaultProxy.start({ nodes: real, basePort: options.basePort + 100 });
      for (let i = 0; i < options.size; i++) {
        const id = i + 1;
        const name = `kv-${i}`;
        const dataDir = join(dir, name);
        mkdirSync(dataDir, { recursive: true });
        await options.prepareDataDir?.(name, dataDir);
        const peersOf = cluster.proxy ? cluster.proxy.peersFor(id) : real;
        const args = (): string[] => [
          '--id', name,
          '--data-dir', dataDir,
          '--listen-client', `127.0.0.1:${options.basePort + 2 * i}`,
          '--listen-peer', real.get(id)!,
          '--advertise-client', `${options.args?.includes('--cert-file') ? 'https' : 'http'}://127.0.0.1:${options.basePort + 2 * i}`,
          '--initial-cluster', [
            ...[...real.keys()].map((m) => `kv-${m - 1}=${m === id ? real.get(m) : peersOf.get(m)}`),
          ].join(','),
          '--tick-ms', String(options.tickMs ?? 50),
          ...(options.metricsPortOffset ? ['--listen-metrics', `127.0.0.1:${options.basePort + 2 * i + options.metricsPortOffset}`] : []),
          ...(options.args ?? []),
        ];
        const member = new KvMember(name, id, options.basePort + 2 * i, options.basePort + 2 * i + 1, dataDir,
          join(dir, `${name}.log`), args, { HA_RAFT_LOG_LEVEL: 'info' });
        if (options.metricsPortOffset) member.statusBase = `http://127.0.0.1:${options.basePort + 2 * i + options.metricsPortOffset}`;
        cluster.members.push(member);
      }
      for (const m of cluster.members) m.start();
      await cluster.waitForLeader(15_000);
      return cluster;
    } catch (e) {
      await cluster.close();
      throw e;
    }
  }

  readonly members: KvMember[] = [];
  proxy: FaultProxy | undefined;

  private constructor(readonly dir: string, private readonly options: KvClusterOptions) {}

  /**
   * Waits until every running member (or those in `only`) reports the same leader, which is
   * itself running; returns it.
   */
  async waitForLeader(timeoutMs: number, only?: KvMember[]): Promise<KvMember> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      // Without `only`, re-read which members run on every poll: one may die while we wait.
      const among = only ?? this.members.filter((m) => m.running);
      const statuses = await Promise.all(among.map((m) => m.status(500)));
      // By name: a member that rejoined after losing its disk has a new id (a new incarnation).
      const leaders = new Set(statuses.map((s) => (s?.leader ? s.leaderName ?? `#${s.leader}` : '')));
      last = JSON.stringify(statuses.map((s) => s && { name: s.name, leader: s.leader, term: s.term, role: s.role, state: s.state }));
      if (leaders.size === 1) {
        const name = [...leaders][0];
        const leader = this.members.find((m) => m.name === name);
        if (name !== '' && leader?.running) return leader;
      }
      await sleep(50);
    }
    throw new Error(`no agreed leader within ${timeoutMs} ms; last statuses ${last}\n${this.logTails()}`);
  }

  /** Kills `member`, deletes its data directory (a lost disk) and starts it again with a blank one. */
  async wipeAndRestart(member: KvMember): Promise<void> {
    await member.kill();
    rmSync(member.dataDir, { recursive: true, force: true });
    mkdirSync(member.dataDir, { recursive: true });
    member.start();
  }

  /** The last lines of every member's log, for failure messages. */
  logTails(lines = 15): string {
    return this.members.map((m) => `--- ${m.name} (${m.logFile})\n${m.log().split('\n').slice(-lines).join('\n')}`).join('\n');
  }

  /** Kills every process, closes the proxy, removes the directory. Idempotent. */
  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => m.kill().catch(() => undefined)));
    await this.proxy?.close().catch(() => undefined);
    if (!this.options.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
