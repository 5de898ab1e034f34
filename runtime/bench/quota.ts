/**
 * Space quota in a memory-limited container: one member runs in a memory cgroup (as a pod with a memory limit does),
 * 64 gRPC clients put 256-byte values under new keys until a put is refused or the member dies, then the member is
 * restarted in the same cgroup. With the default quota it must refuse with etcd's "database space exceeded" and stay
 * up, inside the limit, and restart; with `--no-quota` it shows what the quota prevents. Needs root and a writable
 * cgroup v1 memory controller or cgroup v2 (it creates and removes its own cgroup). Bounded by --max-seconds.
 *
 *   node runtime/.build-test/bench/quota.js [--limit-mib 512] [--no-quota] [--max-seconds 600] [--base-port 24910]
 */
import { ChildProcess, spawn } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as grpc from '@grpc/grpc-js';
import { etcdPackageDefinition } from '../src/api/etcd/proto';

const MAIN_JS = join(__dirname, '..', 'src', 'main.js');

interface Args { limitMib: number; quota: boolean; maxSeconds: number; basePort: number }

function parseArgs(argv: string[]): Args {
  const a: Args = { limitMib: 512, quota: true, maxSeconds: 600, basePort: 24910 };
  for (let i = 0; i < argv.length; i++) {
    const num = (): number => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`bench:quota: ${argv[i - 1]} takes a positive integer, got '${argv[i]}'`);
      return n;
    };
    switch (argv[i]) {
      case '--limit-mib': a.limitMib = num(); break;
      case '--no-quota': a.quota = false; break;
      case '--max-seconds': a.maxSeconds = num(); break;
      case '--base-port': a.basePort = num(); break;
      default: throw new Error(`bench:quota: unknown flag ${argv[i]} (see the file comment)`);
    }
  }
  return a;
}

/** A memory cgroup of our own: v1 (memory controller) or v2 (unified), with the limit and the peak usage. */
class MemoryCgroup {
  static create(limitBytes: number): MemoryCgroup {
    const name = `ha-bench-quota-${process.pid}`;
    const v1 = '/sys/fs/cgroup/memory';
    const cg = existsSync(v1) ? new MemoryCgroup(join(v1, name), true) : new MemoryCgroup(join('/sys/fs/cgroup', name), false);
    mkdirSync(cg.dir);
    cg.write(cg.v1 ? 'memory.limit_in_bytes' : 'memory.max', limitBytes);
    return cg;
  }

  private constructor(readonly dir: string, readonly v1: boolean) {}

  /** Peak usage since the last reset (v1 counts page cache too), or undefined where the kernel does not report it. */
  peakBytes(): number | undefined {
    const f = join(this.dir, this.v1 ? 'memory.max_usage_in_bytes' : 'memory.peak');
    return existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : undefined;
  }

  resetPeak(): void { if (this.v1) this.write('memory.max_usage_in_bytes', 0); }

  /** A shell command prefix that moves the shell into this cgroup before exec'ing the member. */
  enter(): string { return `echo $$ > ${join(this.dir, 'cgroup.procs')}; exec "$@"`; }

  remove(): void { try { rmdirSync(this.dir); } catch { /* a process is still inside: left for the kernel */ } }

  private write(file: string, value: number): void { writeFileSync(join(this.dir, file), String(value)); }
}

class Member {
  proc: ChildProcess | undefined;
  exit: string | undefined;

  constructor(private readonly cg: MemoryCgroup, readonly dir: string, readonly port: number, private readonly quota: boolean) {}

  start(): void {
    const args = [
      process.execPath, '-e', `require(${JSON.stringify(MAIN_JS)}).main(process.argv.slice(1))`, 'raft',
      '--id', 'kv-0', '--data-dir', join(this.dir, 'data'), '--listen-client', `127.0.0.1:${this.port}`,
      '--listen-peer', `127.0.0.1:${this.port + 1}`, '--advertise-client', `http://127.0.0.1:${this.port}`,
      '--initial-cluster', `kv-0=127.0.0.1:${this.port + 1}`, ...(this.quota ? [] : ['--quota-backend-bytes', '-1']),
    ];
    this.exit = undefined;
    this.proc = spawn('sh', ['-c', this.cg.enter(), 'sh', ...args], { stdio: ['ignore', 'ignore', openSync(join(this.dir, 'member.log'), 'a')] });
    this.proc.on('exit', (code, signal) => { this.exit = signal ?? `exit ${code}`; });
  }

  async ready(timeoutMs: number): Promise<number> {
    const started = Date.now();
    while (Date.now() - started < timeoutMs && this.exit === undefined) {
      const ok = await fetch(`http://127.0.0.1:${this.port}/readyz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
      if (ok) return (Date.now() - started) / 1000;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`member not ready within ${timeoutMs} ms (${this.exit ?? 'running'}); see ${join(this.dir, 'member.log')}`);
  }

  rssMib(): number | undefined {
    try {
      return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.proc!.pid}/status`, 'utf8'))![1]) / 1024;
    } catch { return undefined; }
  }

  async stop(): Promise<void> {
    if (!this.proc || this.exit !== undefined) return;
    const gone = new Promise((r) => this.proc!.once('exit', r));
    this.proc.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 30_000))]);
    if (this.exit === undefined) this.proc.kill('SIGKILL');
  }
}

interface Fill { acknowledged: number; refusal?: string; otherErrors: number; seconds: number }

/** 64 clients put new keys until a put is refused for space, the member dies, or time runs out. */
async function fill(m: Member, maxSeconds: number): Promise<Fill> {
  const KV = (grpc.loadPackageDefinition(etcdPackageDefinition()).etcdserverpb as grpc.GrpcObject).KV as grpc.ServiceClientConstructor;
  const kv = new KV(`127.0.0.1:${m.port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, (...a: unknown[]) => void>;
  const value = Buffer.alloc(256, 0x62);
  const started = Date.now();
  const out: Fill = { acknowledged: 0, otherErrors: 0, seconds: 0 };
  let next = 0;
  const put = (i: number): Promise<grpc.ServiceError | null> => new Promise((resolve) => {
    const key = Buffer.from(`key/${String(i).padStart(9, '0')}`);
    kv.Put({ key, value }, { deadline: Date.now() + 10_000 }, (e: grpc.ServiceError | null) => resolve(e));
  });
  const timeUp = (): boolean => Date.now() - started > maxSeconds * 1000;
  const stop = (): boolean => out.refusal !== undefined || m.exit !== undefined || out.otherErrors >= 1000 || timeUp();
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (!stop()) {
      const e = await put(next++);
      if (!e) out.acknowledged++;
      else if (e.code === grpc.status.RESOURCE_EXHAUSTED) out.refusal = e.details;
      else out.otherErrors++;
    }
  }));
  kv.close();
  out.seconds = (Date.now() - started) / 1000;
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cg = MemoryCgroup.create(args.limitMib * 2 ** 20);
  const dir = mkdtempSync(join(tmpdir(), 'ha-bench-quota-'));
  const m = new Member(cg, dir, args.basePort, args.quota);
  const mib = (b: number | undefined): string => (b === undefined ? 'n/a' : (b / 2 ** 20).toFixed(0));
  try {
    console.log(`one member in a ${args.limitMib} MiB memory cgroup (${cg.v1 ? 'v1' : 'v2'}), ${args.quota ? 'default quota' : 'no quota (--quota-backend-bytes -1)'}`);
    m.start();
    await m.ready(30_000);
    const f = await fill(m, args.maxSeconds);
    const status = await fetch(`http://127.0.0.1:${m.port}/v1/status`, { signal: AbortSignal.timeout(5000) }).then((r) => r.json() as Promise<Record<string, number>>, () => undefined);
    const fatal = /FATAL ERROR[^\n]*/.exec(readFileSync(join(dir, 'member.log'), 'utf8'))?.[0];
    console.log(`fill: ${f.acknowledged} puts acknowledged in ${f.seconds.toFixed(0)} s; refused: ${f.refusal ?? 'never'}; other errors: ${f.otherErrors}`);
    console.log(`member: ${m.exit === undefined ? 'running' : `died (${m.exit})${fatal ? `: ${fatal}` : ''}`}; RSS ${m.rssMib()?.toFixed(0) ?? 'n/a'} MiB; ` +
      `cgroup peak ${mib(cg.peakBytes())} MiB; store ${mib(status?.storeBytes)} MiB of quota ${mib(status?.quotaBytes)} MiB`);
    await m.stop();
    cg.resetPeak();
    m.start();
    try {
      const secs = await m.ready(120_000);
      console.log(`restart: ready in ${secs.toFixed(1)} s; RSS ${m.rssMib()?.toFixed(0) ?? 'n/a'} MiB; cgroup peak ${mib(cg.peakBytes())} MiB`);
    } catch (e) {
      console.log(`restart: failed: ${(e as Error).message}`);
    }
  } finally {
    await m.stop();
    cg.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => { console.error((e as Error).message); process.exit(1); });
