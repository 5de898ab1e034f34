/**
 * `npm run bench:router`: what the router costs. Two 3-member Raft shards; the same load generator
 * drives, in the same run and interleaved round by round (the order rotates each round so no path
 * always runs on a warmer or cooler machine):
 *   - direct: each request straight to the leader of the shard the ring assigns (the floor);
 *   - router: through `ha-runtime router` (its own process, as deployed);
 *   - nginx:  through nginx (when installed), `upstream` with `hash $request_uri consistent` over
 *     the two shard leaders, one worker process, upstream keep-alive: the reference proxy.
 * nginx cannot follow a follower's 307 to the leader, so its upstream lists the leaders only, and
 * its ketama placement differs from our ring: a key may land on the other shard. The benchmark
 * therefore writes its read keys to both shards, and nginx only measures proxying cost, not
 * correct placement or failover.
 * Scenarios: puts (256 B values) and linearizable gets at 1 and 64 clients; p50/p99 latency and
 * ops/s; added latency = router minus direct (and nginx minus direct).
 *
 * usage: node runtime/.build-test/bench/router.js [--short] [--rounds N] [--seconds S] [--no-nginx]
 *        [--base-port P] [--json FILE]
 * Ports: shard a P..P+5, shard b P+10..P+15, router P+20, nginx P+21 (default P = 26500).
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { Agent } from 'http';
import { connect } from 'net';
import { cpus, loadavg, tmpdir } from 'os';
import { join } from 'path';
import { drive, LoadResult, positiveNumber } from './load';
import { placeSlots, slotOf } from '../src/shardmap';
import { keepAliveAgent, keyUrl, kvRequest, KvResponse } from '../test/support/kv-client';
import { KvCluster, sleep } from '../test/support/kv-cluster';

const MAIN_JS = join(__dirname, '..', 'src', 'main.js');
const NGINX = '/usr/sbin/nginx';
const SHARDS = ['a', 'b'] as const;

/** A child process we started, killed (and awaited) on close. */
class Child {
  private exited: Promise<void>;
  private output = '';
  constructor(readonly name: string, readonly proc: ChildProcess) {
    proc.stdout?.on('data', (c: Buffer) => { this.output = (this.output + c.toString()).slice(-4000); });
    proc.stderr?.on('data', (c: Buffer) => { this.output = (this.output + c.toString()).slice(-4000); });
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
  }
  get running(): boolean { return this.proc.exitCode === null && this.proc.signalCode === null; }
  get tail(): string { return this.output; }
  /**
   * Stops the process: `signal` first (nginx needs SIGTERM on its master, which then stops its
   * workers; SIGKILL would orphan them, still listening), SIGKILL after `graceMs`.
   */
  async close(signal: NodeJS.Signals = 'SIGKILL', graceMs = 5000): Promise<void> {
    if (this.running) this.proc.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([this.exited.then(() => false), new Promise<boolean>((r) => { timer = setTimeout(() => r(true), graceMs); })]);
    clearTimeout(timer);
    if (late && this.running) this.proc.kill('SIGKILL');
    await this.exited;
  }
}

/** Throws if something already listens on `port` (a stale server would answer in place of ours). */
async function assertPortFree(port: number): Promise<void> {
  const taken = await new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
  if (taken) throw new Error(`bench:router: port ${port} is already in use (a leftover process?); free it or pass --base-port`);
}

/** Polls `url` until it answers 200, or throws with the child's output. */
async function waitReady(child: Child, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!child.running) throw new Error(`${child.name} exited during startup:\n${child.tail}`);
    try { if ((await kvRequest(url, { timeoutMs: 500 })).status === 200) return; } catch { /* not listening yet */ }
    await sleep(50);
  }
  throw new Error(`${child.name} not ready at ${url} within ${timeoutMs} ms:\n${child.tail}`);
}

/** The nginx configuration: one worker, hash-consistent upstream over the leaders, keep-alive both sides. */
function nginxConf(dir: string, port: number, leaders: string[]): string {
  const servers = leaders.map((u) => `    server ${new URL(u).host} max_fails=0;`).join('\n');
  const temp = (n: string) => join(dir, n);
  return `daemon off;
master_process on;
worker_processes 1;
${process.getuid?.() === 0 ? 'user root;' : ''}
pid ${temp('nginx.pid')};
error_log ${temp('error.log')} warn;
events { worker_connections 2048; }
http {
  access_log off;
  client_body_temp_path ${temp('client_body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  keepalive_requests 1000000;
  upstream shard_leaders {
    hash $request_uri consistent;
${servers}
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location = /healthz { return 200 "ok"; }
    location / {
      proxy_pass http://shard_leaders;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # Members serve only their slots; nginx's placement is not ours, so it asks as the migrator
      # does (any slot): it measures proxying cost only (module comment).
      proxy_set_header X-HA-Migration 1;
      proxy_next_upstream off;
    }
  }
}
`;
}

/** A path to the shards: where a request for `key` goes. */
interface Path {
  readonly name: string;
  base(key: string): string;
}

interface Args { short: boolean; rounds: number; seconds: number; nginx: boolean; basePort: number; json?: string }

function parseArgs(argv: string[]): Args {
  const a: Args = { short: false, rounds: 3, seconds: 3, nginx: true, basePort: 26500 };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const num = (): number => positiveNumber('bench:router', f, argv[++i]);
    if (f === '--short') { a.short = true; a.rounds = 1; a.seconds = 1; } else if (f === '--rounds') {a.rounds = num();} else if (f === '--seconds') {a.seconds = num();} else if (f === '--no-nginx') {a.nginx = false;} else if (f === '--base-port') {a.basePort = num();} else if (f === '--json') {a.json = argv[++i];} else {throw new Error(`bench:router: unknown flag ${f} (flags: --short --rounds N --seconds S --no-nginx --base-port P --json FILE)`);}
  }
  return a;
}

/** Summary of one scenario on one path: medians over rounds. */
interface PathFigures { opsPerSec: number; p50Ms: number; p99Ms: number; errors: number; rounds: LoadResult[] }

/** Runs the benchmark; returns the summary (also printed as a Markdown table). */
export async function runRouterBench(argv: string[]): Promise<Record<string, any>> {
  const args = parseArgs(argv);
  const nginxInstalled = existsSync(NGINX);
  const useNginx = args.nginx && nginxInstalled;
  if (args.nginx && !nginxInstalled) process.stdout.write(`nginx is not installed (${NGINX}): measuring direct and router only (apt-get install nginx)\n`);
  const dir = mkdtempSync(join(tmpdir(), 'ha-bench-router-'));
  const clusters: KvCluster[] = [];
  const children: Child[] = [];
  const agent: Agent = keepAliveAgent(80);
  const load1 = loadavg();
  try {
    // allSettled: if one shard fails to start, the other is still closed below.
    const started = await Promise.allSettled([
      KvCluster.start({ size: 3, basePort: args.basePort, tickMs: 50 }),
      KvCluster.start({ size: 3, basePort: args.basePort + 10, tickMs: 50 }),
    ]);
    for (const r of started) if (r.status === 'fulfilled') clusters.push(r.value);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    const leaders = await Promise.all(clusters.map(async (c) => (await c.waitForLeader(15_000)).url));
    // The router gives a fresh store this map (epoch 1) when it starts.
    const owners = placeSlots(SHARDS);
    const leaderOf = (key: string): string => leaders[SHARDS.indexOf(owners[slotOf(key)] as 'a' | 'b')];

    const routerPort = args.basePort + 20;
    const nginxPort = args.basePort + 21;
    await assertPortFree(routerPort);
    if (useNginx) await assertPortFree(nginxPort);
    const router = new Child('router', spawn(process.execPath, ['-e', `require(${JSON.stringify(MAIN_JS)}).main(process.argv.slice(1))`, 'router',
      '--listen', `127.0.0.1:${routerPort}`,
      ...SHARDS.flatMap((s, i) => ['--shard', `${s}=${clusters[i].members.map((m) => m.url).join(',')}`])], { stdio: ['ignore', 'pipe', 'pipe'] }));
    children.push(router);
    await waitReady(router, `http://127.0.0.1:${routerPort}/readyz`, 10_000);

    const paths: Path[] = [
      { name: 'direct', base: leaderOf },
      { name: 'router', base: () => `http://127.0.0.1:${routerPort}` },
    ];
    let nginxVersion: string | null = null;
    if (useNginx) {
      const nginxDir = join(dir, 'nginx');
      mkdirSync(nginxDir, { mode: 0o755 });
      writeFileSync(join(nginxDir, 'nginx.conf'), nginxConf(nginxDir, nginxPort, leaders));
      nginxVersion = nginxVersionString();
      const nginx = new Child('nginx', spawn(NGINX, ['-p', nginxDir, '-c', join(nginxDir, 'nginx.conf'), '-e', join(nginxDir, 'error.log')], { stdio: ['ignore', 'pipe', 'pipe'] }));
      children.push(nginx);
      await waitReady(nginx, `http://127.0.0.1:${nginxPort}/healthz`, 10_000);
      paths.push({ name: 'nginx', base: () => `http://127.0.0.1:${nginxPort}` });
    }

    const value = Buffer.alloc(256, 0x62);
    // Read keys on both shards' leaders: nginx's placement differs from the ring (module comment).
    for (const leader of leaders) {
      for (let k = 0; k < 64; k++) {
        const r = await kvRequest(keyUrl(leader, `read-${k}`), { method: 'PUT', body: value, agent, timeoutMs: 5000, headers: { 'X-HA-Migration': '1' } });
        if (r.status !== 200) throw new Error(`seeding read-${k} on ${leader}: ${r.status} ${r.body.toString()}`);
      }
    }
    const expect200 = (r: KvResponse): boolean => {
      if (r.status !== 200) throw new Error(`${r.status} from ${r.url}: ${r.body.toString().slice(0, 200)}`);
      return true;
    };
    const put = async (path: Path, key: string): Promise<boolean> =>
      expect200(await kvRequest(keyUrl(path.base(key), key), { method: 'PUT', body: value, agent, timeoutMs: 5000, maxRedirects: 0 }));
    const get = async (path: Path, key: string): Promise<boolean> =>
      expect200(await kvRequest(keyUrl(path.base(key), key), { agent, timeoutMs: 5000, maxRedirects: 0 }));

    const results: Record<string, Record<string, LoadResult[]>> = {};
    for (let round = 0; round < args.rounds; round++) {
      process.stdout.write(`round ${round + 1}/${args.rounds}\n`);
      for (const [op, clients] of [['put', 1], ['put', 64], ['get', 1], ['get', 64]] as const) {
        const scenario = `${op} c=${clients}`;
        // Rotate the order each round and scenario.
        const shift = (round + clients) % paths.length;
        const order = [...paths.slice(shift), ...paths.slice(0, shift)];
        for (const path of order) {
          const r = await drive(clients, args.seconds, (c, s) => (op === 'put' ? put(path, `k-${round}-${c}-${s}`) : get(path, `read-${(c + s) % 64}`)));
          ((results[scenario] ??= {})[path.name] ??= []).push(r);
          process.stdout.write(`  ${scenario.padEnd(9)} ${path.name.padEnd(7)} ${r.opsPerSec.toFixed(0).padStart(6)} ops/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  errors ${r.errors}${r.firstError ? ` (first: ${r.firstError})` : ''}\n`);
        }
      }
    }
    const load2 = loadavg();
    const median = (xs: number[]): number => { const s = [...xs].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
    const figures = (rs: LoadResult[]): PathFigures => ({
      opsPerSec: median(rs.map((r) => r.opsPerSec)),
      p50Ms: median(rs.map((r) => r.p50Ms)),
      p99Ms: median(rs.map((r) => r.p99Ms)),
      errors: rs.reduce((n, r) => n + r.errors, 0),
      rounds: rs,
    });
    const scenarios: Record<string, any> = {};
    const lines = [
      '| scenario | path | ops/s | p50 ms | p99 ms | added p50 ms | added p99 ms | ops/s vs direct | errors |',
      '|---|---|---|---|---|---|---|---|---|',
    ];
    for (const [scenario, byPath] of Object.entries(results)) {
      const direct = figures(byPath.direct);
      const entry: Record<string, any> = { direct };
      for (const name of Object.keys(byPath)) {
        const f = name === 'direct' ? direct : figures(byPath[name]);
        const added = name === 'direct' ? null : { p50Ms: f.p50Ms - direct.p50Ms, p99Ms: f.p99Ms - direct.p99Ms, throughputRatio: f.opsPerSec / direct.opsPerSec };
        entry[name] = { ...f, added };
        lines.push(`| ${scenario} | ${name} | ${f.opsPerSec.toFixed(0)} | ${f.p50Ms.toFixed(2)} | ${f.p99Ms.toFixed(2)} | ${added ? added.p50Ms.toFixed(2) : '-'} | ${added ? added.p99Ms.toFixed(2) : '-'} | ${added ? added.throughputRatio.toFixed(2) : '-'} | ${f.errors} |`);
      }
      scenarios[scenario] = entry;
    }
    const machine = {
      nproc: cpus().length,
      cpu: cpus()[0]?.model,
      node: process.version,
      nginx: nginxVersion,
      loadavgBefore: load1,
      loadavgAfter: load2,
    };
    const summary = { machine, args, scenarios };
    process.stdout.write(`\n${lines.join('\n')}\n\nmedians over ${args.rounds} round(s) of ${args.seconds} s; machine: ${machine.nproc} cores, ${machine.cpu}, node ${machine.node}, ${nginxVersion ?? 'nginx absent'}; load average before ${load1.map((x) => x.toFixed(2)).join(' ')}, after ${load2.map((x) => x.toFixed(2)).join(' ')}\n`);
    if (args.json) writeFileSync(args.json, JSON.stringify(summary, null, 2));
    return summary;
  } finally {
    agent.destroy();
    await Promise.all(children.map((c) => c.close(c.name === 'nginx' ? 'SIGTERM' : 'SIGKILL').catch(() => undefined)));
    await Promise.all(clusters.map((c) => c.close().catch(() => undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `nginx -v` (printed on stderr), e.g. `nginx/1.22.1`. */
function nginxVersionString(): string | null {
  const r = spawnSync(NGINX, ['-v'], { encoding: 'utf8' });
  return /nginx\/[\w.]+/.exec(`${r.stderr}${r.stdout}`)?.[0] ?? null;
}

if (require.main === module) {
  runRouterBench(process.argv.slice(2)).then(() => process.exit(0), (e) => {
    process.stderr.write(`bench:router failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
