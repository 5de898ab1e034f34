/**
 * Helpers for the etcd-client tests: run etcdctl (ETCDCTL_API=3) bounded in time, follow a long-running
 * etcdctl (watch, lock, elect) until its output shows what we wait for, and start the same three-member
 * cluster either of the runtime or of real etcd 3.4, so one suite shows both behave the same.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { EtcdCluster, etcdVersion } from '../support/etcd-cluster';
import { KvCluster, KvMember } from '../support/kv-cluster';

/** A cluster the suite runs against: its members' client endpoints (host:port) and a way to stop it. */
export interface Target {
  readonly name: 'runtime' | 'etcd';
  readonly endpoints: string[];
  /** Index into `endpoints` of the leader when the cluster started (tests also talk to followers). */
  readonly leaderIndex: number;
  /** Kills member `index` (SIGKILL) and waits for it to exit. */
  kill(index: number): Promise<void>;
  /** Stops member `index` (SIGTERM) and starts it again on its data. */
  restart(index: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts three runtime members on basePort..basePort+5. */
export async function startRuntime(basePort: number, args: string[] = []): Promise<Target> {
  const c = await KvCluster.start({ size: 3, basePort, args });
  const leader = await c.waitForLeader(15_000);
  return {
    name: 'runtime',
    endpoints: c.members.map((m) => `127.0.0.1:${m.clientPort}`),
    leaderIndex: c.members.indexOf(leader),
    kill: (i) => c.members[i].kill(),
    restart: async (i) => { await c.members[i].signal('SIGTERM'); c.members[i].start(); },
    close: () => c.close(),
  };
}

/** Starts three etcd 3.4 members, or returns undefined when etcd is not installed. */
export async function startEtcd(basePort: number, args: readonly string[] = []): Promise<Target | undefined> {
  if (!etcdVersion()) return undefined;
  const c = await EtcdCluster.start(3, basePort, args);
  const leaderIndex = c.members.indexOf(await c.waitForLeader(10_000));
  return {
    name: 'etcd',
    endpoints: c.members.map((m) => `127.0.0.1:${m.clientPort}`),
    leaderIndex,
    kill: (i) => c.members[i].kill(),
    restart: async (i) => { await c.members[i].kill('SIGTERM'); c.members[i].start('existing'); },
    close: () => c.close(),
  };
}

/** What a finished etcdctl printed. */
export interface CtlResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const running = new Set<ChildProcess>();
process.on('exit', () => { for (const p of running) { try { p.kill('SIGKILL'); } catch { /* gone */ } } });

/** Runs `etcdctl args` against `endpoints` with `input` on stdin; killed after `timeoutMs`. */
export function etcdctl(endpoints: string[], args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<CtlResult> {
  const p = spawnCtl(endpoints, args);
  if (options.input !== undefined) p.stdin!.end(options.input); else p.stdin!.end();
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  p.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const timer = setTimeout(() => p.kill('SIGKILL'), options.timeoutMs ?? 15_000);
  return new Promise((resolve) => p.once('close', (code) => {
    clearTimeout(timer);
    running.delete(p);
    resolve({ code, stdout, stderr });
  }));
}

/** A long-running etcdctl whose output is followed. */
export class CtlProcess {
  private out = '';
  private readonly proc: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(endpoints: string[], args: string[]) {
    this.proc = spawnCtl(endpoints, args);
    this.proc.stdin!.end();
    this.proc.stdout!.on('data', (d: Buffer) => { this.out += d.toString(); });
    this.proc.stderr!.on('data', (d: Buffer) => { this.out += d.toString(); });
    this.exited = new Promise((r) => this.proc.once('close', () => { running.delete(this.proc); r(); }));
  }

  get output(): string { return this.out; }

  /** Resolves once the output satisfies `pred`; rejects after `timeoutMs` with the output so far. */
  async waitFor(pred: (out: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.out)) {
      if (Date.now() > deadline) throw new Error(`etcdctl output did not match within ${timeoutMs} ms:\n${this.out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.out;
  }

  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
    this.proc.kill(signal);
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(t);
  }
}

function spawnCtl(endpoints: string[], args: string[]): ChildProcess {
  const p = spawn('etcdctl', [`--endpoints=${endpoints.join(',')}`, '--command-timeout=10s', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(p);
  return p;
}

/** Whether etcdctl runs here. */
export function haveEtcdctl(): boolean {
  return spawnSync('etcdctl', ['version'], { env: { ...process.env, ETCDCTL_API: '3' } }).status === 0;
}

/** Waits until `pred` holds; on timeout fails with what `state` saw last. */
export async function until(what: string, pred: () => Promise<boolean>, state: () => Promise<unknown>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last state: ${JSON.stringify(await state())}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every member reports that /v1 serves the MVCC store (the fold entry applied, server/v1-store.ts). */
export async function waitForV1OnMvcc(members: readonly KvMember[]): Promise<void> {
  const statuses = (): Promise<unknown[]> => Promise.all(members.map((m) => m.status()));
  await until('every member to serve /v1 from the MVCC store',
    async () => (await statuses()).every((s) => (s as { v1OnMvcc?: boolean } | undefined)?.v1OnMvcc === true), statuses);
}

/** A JSON gateway POST to `/v3<path>` (with `token` in `Authorization`); the answer's status and JSON body. */
export async function gateway(endpoint: string, path: string, body: unknown, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://${endpoint}/v3${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token !== undefined ? { authorization: token } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: await res.json() };
}
