/**
 * `npm run bench:raft`: our three-member Raft KV cluster against a three-member etcd cluster
 * (when etcd is installed), driven by the same load generator in the same run, interleaved
 * round by round so both see the same machine load. Scenarios: durable puts (256 B values) with
 * 1, 8 and 64 clients, linearizable and serializable gets with 64 clients, and the write
 * unavailability after SIGKILL of the leader.
 *
 * usage: node runtime/.build-test/bench/raft.js [--short] [--rounds N] [--seconds S] [--no-etcd]
 *        [--base-port P] [--json FILE] [--only put|get|kill]
 * Ports: ours P..P+5, etcd P+100..P+105 (default P = 23100).
 */
import { writeFileSync } from 'fs';
import { Agent } from 'http';
import { cpus } from 'os';
import { drive, LoadResult, positiveNumber, writeUnavailability } from './load';
import { EtcdCluster, etcdVersion } from '../test/support/etcd-cluster';
import { keepAliveAgent, keyUrl, kvRequest } from '../test/support/kv-client';
import { KvCluster, sleep } from '../test/support/kv-cluster';

/** One system under test, behind the same interface. */
interface Target {
  readonly name: string;
  leaderUrl(): Promise<string>;
  memberUrls(): string[];
  put(agent: Agent, base: string, key: string, value: Buffer, timeoutMs: number): Promise<boolean>;
  get(agent: Agent, base: string, key: string, serializable: boolean): Promise<boolean>;
  /** SIGKILLs the current leader, calling `onKill` just before the signal; resolves with a restart function. */
  killLeader(onKill: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

class OursTarget implements Target {
  readonly name = 'ha-runtime';
  constructor(private readonly cluster: KvCluster) {}
  async leaderUrl(): Promise<string> { return (await this.cluster.waitForLeader(15_000)).url; }
  memberUrls(): string[] { return this.cluster.members.filter((m) => m.running).map((m) => m.url); }
  async put(agent: Agent, base: string, key: string, value: Buffer, timeoutMs: number): Promise<boolean> {
    const r = await kvRequest(keyUrl(base, key), { method: 'PUT', body: value, agent, timeoutMs });
    return r.status === 200;
  }
  async get(agent: Agent, base: string, key: string, serializable: boolean): Promise<boolean> {
    const r = await kvRequest(keyUrl(base, key, serializable ? 'consistency=serializable' : ''), { agent, timeoutMs: 5000 });
    return r.status === 200;
  }
  async killLeader(onKill: () => void): Promise<() => Promise<void>> {
    const leader = await this.cluster.waitForLeader(15_000);
    onKill();
    await leader.kill();
    return async () => {
      leader.start();
      await this.cluster.waitForLeader(20_000, this.cluster.members);
      await waitCaughtUp(this.cluster);
    };
  }
  close(): Promise<void> { return this.cluster.close(); }
}

async function waitCaughtUp(cluster: KvCluster): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const st = await Promise.all(cluster.members.map((m) => m.status()));
    if (st.every((s) => s && s.applied >= st[0]!.commit - 1 && s.leader !== 0)) return;
    await sleep(100);
  }
}

class EtcdTarget implements Target {
  readonly name = 'etcd';
  constructor(private readonly cluster: EtcdCluster) {}
  async leaderUrl(): Promise<string> { return (await this.cluster.waitForLeader(15_000)).url; }
  memberUrls(): string[] { return this.cluster.members.filter((m) => m.running).map((m) => m.url); }
  async put(agent: Agent, base: string, key: string, value: Buffer, timeoutMs: number): Promise<boolean> {
    const body = JSON.stringify({ key: Buffer.from(key).toString('base64'), value: value.toString('base64') });
    const r = await kvRequest(`${base}/v3/kv/put`, { method: 'POST', body, agent, timeoutMs });
    return r.status === 200;
  }
  async get(agent: Agent, base: string, key: string, serializable: boolean): Promise<boolean> {
    const body = JSON.stringify({ key: Buffer.from(key).toString('base64'), serializable });
    const r = await kvRequest(`${base}/v3/kv/range`, { method: 'POST', body, agent, timeoutMs: 5000 });
    return r.status === 200 && r.body.includes('"kvs"');
  }
  async killLeader(onKill: () => void): Promise<() => Promise<void>> {
    const leader = await this.cluster.waitForLeader(15_000);
    onKill();
    await leader.kill();
    return async () => {
      leader.start('existing');
      await this.cluster.waitForLeader(20_000);
      await sleep(500);
    };
  }
  close(): Promise<void> { return this.cluster.close(); }
}

/** Write unavailability after SIGKILL of the leader: kill time to the first acknowledgement of a put sent after it. */
async function leaderKill(target: Target, agent: Agent): Promise<number> {
  const value = Buffer.alloc(256, 0x61);
  let restart = async (): Promise<void> => undefined;
  const ms = await writeUnavailability((c, seq) => {
    const urls = target.memberUrls();
    return target.put(agent, urls[(c + seq) % urls.length], `kill-${c}-${seq}`, value, 1000);
  }, async (onKill) => { restart = await target.killLeader(onKill); });
  await restart();
  return ms;
}

interface Args { short: boolean; rounds: number; seconds: number; etcd: boolean; basePort: number; json?: string; only?: 'put' | 'get' | 'kill' }

function parseArgs(argv: string[]): Args {
  const a: Args = { short: false, rounds: 3, seconds: 4, etcd: true, basePort: 23100 };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const num = (): number => positiveNumber('bench:raft', f, argv[++i]);
    if (f === '--short') { a.short = true; a.rounds = 1; a.seconds = 1; } else if (f === '--rounds') {a.rounds = num();} else if (f === '--seconds') {a.seconds = num();} else if (f === '--no-etcd') {a.etcd = false;} else if (f === '--base-port') {a.basePort = num();} else if (f === '--json') {a.json = argv[++i];} else if (f === '--only') {
      const v = argv[++i];
      if (v !== 'put' && v !== 'get' && v !== 'kill') throw new Error(`bench:raft: --only takes put, get or kill, got '${v}'`);
      a.only = v;
    } else {throw new Error(`bench:raft: unknown flag ${f} (flags: --short --rounds N --seconds S --no-etcd --base-port P --json FILE --only put|get|kill)`);}
  }
  return a;
}

/** Runs the benchmark and returns the result rows (also printed as a table). */
export async function runRaftBench(argv: string[]): Promise<Record<string, unknown>> {
  const args = parseArgs(argv);
  const etcd = args.etcd ? etcdVersion() : undefined;
  if (args.etcd && !etcd) process.stdout.write('etcd is not installed: running ha-runtime only (apt-get install etcd-server)\n');
  const targets: Target[] = [];
  const agent = keepAliveAgent(80);
  try {
    targets.push(new OursTarget(await KvCluster.start({ size: 3, basePort: args.basePort, tickMs: 50 })));
    if (etcd) targets.push(new EtcdTarget(await EtcdCluster.start(3, args.basePort + 100)));
    const value = Buffer.alloc(256, 0x62);
    const results: Record<string, Record<string, LoadResult[]>> = {};
    const kills: Record<string, number[]> = {};
    const add = (scenario: string, t: Target, r: LoadResult): void => {
      ((results[scenario] ??= {})[t.name] ??= []).push(r);
      process.stdout.write(`  ${scenario.padEnd(22)} ${t.name.padEnd(10)} ${r.opsPerSec.toFixed(0).padStart(7)} ops/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  errors ${r.errors}\n`);
    };
    // Keys for the reads exist in both systems.
    for (const t of targets) {
      const leader = await t.leaderUrl();
      for (let k = 0; k < 64; k++) {
        // A keep-alive socket the server just closed answers ECONNRESET to the next request: set-up
        // retries a few times instead of failing the whole run (the measured phases count errors).
        for (let attempt = 1; ; attempt++) {
          try {
            if (await t.put(agent, leader, `read-${k}`, value, 5000)) break;
          } catch (err) {
            if (attempt >= 5) throw err;
          }
          if (attempt >= 5) throw new Error(`${t.name}: could not write read-${k} to ${leader} in 5 attempts`);
          await new Promise((r) => setTimeout(r, 200 * attempt));
        }
      }
    }
    for (let round = 0; round < args.rounds; round++) {
      process.stdout.write(`round ${round + 1}/${args.rounds}\n`);
      // Alternate which system goes first so neither always runs on a warmer or cooler machine.
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const clients of args.only === undefined || args.only === 'put' ? [1, 8, 64] : []) {
        for (const t of order) {
          const leader = await t.leaderUrl();
          add(`put c=${clients}`, t, await drive(clients, args.seconds, (c, s) => t.put(agent, leader, `k-${round}-${c}-${s}`, value, 5000)));
        }
      }
      for (const serializable of args.only === undefined || args.only === 'get' ? [false, true] : []) {
        for (const t of order) {
          const urls = t.memberUrls();
          add(`get ${serializable ? 'serializable' : 'linearizable'} c=64`, t,
            await drive(64, args.seconds, (c, s) => t.get(agent, urls[c % urls.length], `read-${(c + s) % 64}`, serializable)));
        }
      }
      for (const t of args.only === undefined || args.only === 'kill' ? order : []) {
        const ms = await leaderKill(t, agent);
        (kills[t.name] ??= []).push(ms);
        process.stdout.write(`  ${'leader kill'.padEnd(22)} ${t.name.padEnd(10)} writes unavailable ${ms.toFixed(0)} ms\n`);
      }
    }
    const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
    const summary: Record<string, unknown> = {
      machine: { nproc: cpus().length, cpu: cpus()[0]?.model, node: process.version, etcd: etcd ?? null },
      args,
      scenarios: {},
      leaderKillMs: kills,
    };
    const lines = ['| scenario | ha-runtime ops/s | ha-runtime p99 ms | etcd ops/s | etcd p99 ms | ops/s ratio | p99 ratio |', '|---|---|---|---|---|---|---|'];
    for (const [scenario, bySystem] of Object.entries(results)) {
      const ours = bySystem['ha-runtime'];
      const theirs = bySystem.etcd;
      const o = { opsPerSec: median(ours.map((r) => r.opsPerSec)), p99Ms: median(ours.map((r) => r.p99Ms)) };
      const e = theirs && { opsPerSec: median(theirs.map((r) => r.opsPerSec)), p99Ms: median(theirs.map((r) => r.p99Ms)) };
      (summary.scenarios as Record<string, unknown>)[scenario] = {
        ours: o,
        etcd: e ?? null,
        throughputRatio: e ? o.opsPerSec / e.opsPerSec : null,
        p99Ratio: e ? o.p99Ms / e.p99Ms : null,
      };
      lines.push(`| ${scenario} | ${o.opsPerSec.toFixed(0)} | ${o.p99Ms.toFixed(1)} | ${e ? e.opsPerSec.toFixed(0) : '-'} | ${e ? e.p99Ms.toFixed(1) : '-'} | ${e ? (o.opsPerSec / e.opsPerSec).toFixed(2) : '-'} | ${e ? (o.p99Ms / e.p99Ms).toFixed(2) : '-'} |`);
    }
    for (const [name, xs] of Object.entries(kills)) lines.push(`| leader kill: writes unavailable (ms, median of ${xs.length}) | ${name} | ${median(xs).toFixed(0)} | all: ${xs.map((x) => x.toFixed(0)).join(', ')} | | | |`);
    process.stdout.write(`\n${lines.join('\n')}\n\nmachine: ${cpus().length} cores, ${cpus()[0]?.model}, node ${process.version}, etcd ${etcd ?? 'absent'}\n`);
    if (args.json) writeFileSync(args.json, JSON.stringify(summary, null, 2));
    return summary;
  } finally {
    agent.destroy();
    await Promise.all(targets.map((t) => t.close().catch(() => undefined)));
  }
}

if (require.main === module) {
  runRaftBench(process.argv.slice(2)).then(() => process.exit(0), (e) => {
    process.stderr.write(`bench:raft failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
