/**
 * `npm run bench:etcd`: the runtime's etcd v3 gRPC API against real etcd 3.4, both three members on loopback
 * with fsync on, driven in the same run by the same client code (grpc-js stubs built from our own .proto
 * definitions, runtime/src/api/etcd/proto.ts), interleaved round by round and alternating which goes first.
 * Scenarios: puts (256 B) at 1, 8 and 64 clients; linearizable and serializable ranges (one key and a
 * 100-key prefix) at 8 clients; txn (compare mod_revision, then put) at 8 clients; watch delivery latency
 * (watcher on another connection, on the leader and on a follower) under 8 writers; lease keep-alives
 * on one stream; a SIGKILL of the leader under 8 writers (`kill`: time until a put sent after it is acknowledged).
 * Each target first gets --warmup seconds (default 30) of untimed load: V8 tiers our members' hot paths up over about
 * 20 s of load (perf of the members under puts at 1 client: 14% of their CPU in V8's optimizing compiler 5 s in, 0.1% at
 * 25 s), while etcd is compiled ahead of time; a long-running server is measured warm. Reports medians of the
 * rounds and the ratio ours/etcd, with the members' CPU time per operation (robust to a shared machine's load).
 *
 * usage: node runtime/.build-test/bench/etcd.js [--rounds N] [--seconds S] [--warmup S] [--only put,range,txn,watch,keepalive,kill|none] [--base-port P]
 *        [--json FILE] [--no-etcd] [--load-keys N]
 * --load-keys N (off by default; 1000000 takes ~10 min per system here): after the rounds, load N keys of 256 B into
 * each system, report load rate, RSS and data directory size per member, graceful stop time and the time from
 * starting every member again to the first linearizable read of the last key.
 * env: ETCD_BENCH_ROUNDS, ETCD_BENCH_SECONDS (defaults for --rounds 3, --seconds 3), HA_TEST_MEMBER_NODE_ARGS
 * (node flags for our members, e.g. --cpu-prof). Ports: ours P..P+5, etcd P+50..P+55 (default P = 24300).
 */
import { spawnSync } from 'child_process';
import { readFileSync, writeFileSync } from 'fs';
import { cpus, loadavg } from 'os';
import { join } from 'path';
import * as grpc from '@grpc/grpc-js';
import { drive, LoadResult, percentile, positiveNumber, writeUnavailability } from './load';
import { etcdPackageDefinition } from '../src/api/etcd/proto';
import { EtcdCluster, etcdVersion } from '../test/support/etcd-cluster';
import { KvCluster, sleep } from '../test/support/kv-cluster';

type Obj = Record<string, any>;
type Unary = (req: Obj) => Promise<Obj>;

/** One gRPC connection to one member, with the unary calls the scenarios use. */
class Conn {
  private static readonly ctors = grpc.loadPackageDefinition(etcdPackageDefinition()).etcdserverpb as Record<string, grpc.ServiceClientConstructor>;
  readonly kv: grpc.Client;
  readonly watchClient: grpc.Client;
  readonly lease: grpc.Client;

  constructor(readonly endpoint: string) {
    // A local subchannel pool: otherwise grpc-js shares one TCP connection among every client of the same target.
    const opts = { 'grpc.use_local_subchannel_pool': 1 };
    const creds = grpc.credentials.createInsecure();
    this.kv = new Conn.ctors.KV(endpoint, creds, opts);
    const channel = this.kv.getChannel();
    this.watchClient = new Conn.ctors.Watch(endpoint, creds, { channelOverride: channel });
    this.lease = new Conn.ctors.Lease(endpoint, creds, { channelOverride: channel });
  }

  readonly put: Unary = (r) => this.call(this.kv, 'Put', r);
  /** A put that gives up after `deadlineMs` (DEADLINE_EXCEEDED), for measuring unavailability. */
  readonly putWithin = (r: Obj, deadlineMs: number): Promise<Obj> => this.call(this.kv, 'Put', r, deadlineMs);
  readonly range: Unary = (r) => this.call(this.kv, 'Range', r);
  readonly txn: Unary = (r) => this.call(this.kv, 'Txn', r);
  readonly grant: Unary = (r) => this.call(this.lease, 'LeaseGrant', r);
  readonly revoke: Unary = (r) => this.call(this.lease, 'LeaseRevoke', r);

  close(): void { this.kv.close(); }

  private call(client: grpc.Client, method: string, req: Obj, deadlineMs = 5000): Promise<Obj> {
    return new Promise((resolve, reject) => {
      const done = (err: grpc.ServiceError | null, resp: Obj): void => (err ? reject(err) : resolve(resp));
      (client as any)[method](req, { deadline: Date.now() + deadlineMs }, done);
    });
  }
}

/** One system under test: its member endpoints (host:port) and which one leads. */
interface Target {
  readonly name: 'ha-runtime' | 'etcd';
  readonly endpoints: string[];
  leader(): Promise<string>;
  pids(): number[];
  dataDirs(): string[];
  /** Stops every member gracefully (SIGTERM). */
  stopAll(): Promise<void>;
  /** Starts every member again on its data. */
  startAll(): void;
  /** SIGKILLs the leader, calling `onKill` just before the signal; resolves with a function that restarts it. */
  killLeader(onKill: () => void): Promise<() => void>;
  close(): Promise<void>;
}

async function startOurs(basePort: number): Promise<Target> {
  const c = await KvCluster.start({ size: 3, basePort });
  return {
    name: 'ha-runtime',
    endpoints: c.members.map((m) => `127.0.0.1:${m.clientPort}`),
    leader: async () => `127.0.0.1:${(await c.waitForLeader(15_000)).clientPort}`,
    pids: () => c.members.map((m) => m.proc?.pid ?? 0),
    dataDirs: () => c.members.map((m) => m.dataDir),
    stopAll: async () => { await Promise.all(c.members.map((m) => m.signal('SIGTERM', 30_000))); },
    startAll: () => { for (const m of c.members) m.start(); },
    killLeader: async (onKill) => {
      const leader = await c.waitForLeader(15_000);
      onKill();
      await leader.kill();
      return () => leader.start();
    },
    close: async () => {
      // With member node flags (e.g. --cpu-prof) stop gracefully first, so the profile is written.
      if (process.env.HA_TEST_MEMBER_NODE_ARGS) await Promise.all(c.members.map((m) => m.signal('SIGTERM').catch(() => undefined)));
      await c.close();
    },
  };
}

async function startEtcd(basePort: number): Promise<Target> {
  const c = await EtcdCluster.start(3, basePort);
  return {
    name: 'etcd',
    endpoints: c.members.map((m) => `127.0.0.1:${m.clientPort}`),
    leader: async () => `127.0.0.1:${(await c.waitForLeader(15_000)).clientPort}`,
    pids: () => c.members.map((m) => m.proc?.pid ?? 0),
    dataDirs: () => c.members.map((m) => join(c.dir, m.name)),
    stopAll: async () => { await Promise.all(c.members.map((m) => m.kill('SIGTERM'))); },
    startAll: () => { for (const m of c.members) m.start('existing'); },
    killLeader: async (onKill) => {
      const leader = await c.waitForLeader(15_000);
      onKill();
      await leader.kill();
      return () => leader.start('existing');
    },
    close: () => c.close(),
  };
}

const VALUE = Buffer.alloc(256, 0x62);
const PREFIX_KEYS = 100;

/** `n` connections, spread over `endpoints` round robin; closed by the caller. */
function connections(endpoints: string[], n: number): Conn[] {
  return Array.from({ length: n }, (_, i) => new Conn(endpoints[i % endpoints.length]));
}

/** Runs `fn` with `clients` closed loops over min(clients, 8) connections, then closes them. */
async function withConns(endpoints: string[], clients: number, seconds: number,
  op: (conn: Conn, client: number, seq: number) => Promise<boolean>): Promise<LoadResult> {
  const conns = connections(endpoints, Math.min(clients, 8));
  try {
    await Promise.all(conns.map((c) => c.range({ key: Buffer.from('warm'), serializable: true })));
    return await drive(clients, seconds, (c, s) => op(conns[c % conns.length], c, s));
  } finally {
    for (const c of conns) c.close();
  }
}

/** Keys the reads and txns need, written once per target before the rounds. */
async function seed(t: Target): Promise<void> {
  const conn = new Conn(await t.leader());
  try {
    await conn.put({ key: Buffer.from('r1/key'), value: VALUE });
    for (let i = 0; i < PREFIX_KEYS; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => conn.put({ key: Buffer.from(`r100/${String(i + j).padStart(4, '0')}`), value: VALUE })));
    }
  } finally { conn.close(); }
}

/** Extra figures a scenario reports besides throughput and latency (e.g. watch delivery after the ack). */
type Extra = Record<string, number>;
interface Sample {
  readonly result: LoadResult;
  readonly extra?: Extra;
  /** CPU time (user + system) of the three members per successful operation: robust to a shared machine's load. */
  readonly serverCpuMsPerOp?: number;
  /** CPU time of this load generator per successful operation (the same client code for both targets). */
  readonly clientCpuMsPerOp?: number;
}

async function putScenario(t: Target, clients: number, seconds: number, tag: string): Promise<Sample> {
  const leader = await t.leader();
  return {
    result: await withConns([leader], clients, seconds, async (conn, c, s) => {
      await conn.put({ key: Buffer.from(`p/${tag}/${c}/${s}`), value: VALUE });
      return true;
    }),
  };
}

async function rangeScenario(t: Target, serializable: boolean, prefix: boolean, seconds: number): Promise<Sample> {
  const req = prefix
    ? { key: Buffer.from('r100/'), range_end: Buffer.from('r1000'), serializable }
    : { key: Buffer.from('r1/key'), serializable };
  const want = prefix ? PREFIX_KEYS : 1;
  // Reads go to every member, as clients spread over the endpoints do.
  return { result: await withConns(t.endpoints, 8, seconds, async (conn) => (await conn.range(req)).kvs.length === want) };
}

/** Each client owns a key and moves it by compare-and-swap on its mod_revision, as an optimistic update loop. */
async function txnScenario(t: Target, seconds: number, tag: string): Promise<Sample> {
  const leader = await t.leader();
  const modRev: string[] = [];
  const boot = new Conn(leader);
  try {
    for (let c = 0; c < 8; c++) modRev[c] = (await boot.put({ key: Buffer.from(`t/${tag}/${c}`), value: VALUE })).header.revision;
  } finally { boot.close(); }
  return {
    result: await withConns([leader], 8, seconds, async (conn, c) => {
      const key = Buffer.from(`t/${tag}/${c}`);
      const r = await conn.txn({
        compare: [{ result: 0 /* EQUAL */, target: 2 /* MOD */, key, mod_revision: modRev[c] }],
        success: [{ request_put: { key, value: VALUE } }],
      });
      if (!r.succeeded) return false;
      modRev[c] = r.header.revision;
      return true;
    }),
  };
}

/**
 * 8 writers put unique keys on the leader; a watcher on another connection (to `watchAt`) receives them.
 * Latency: put sent -> event received, and put acknowledged -> event received (negative when the event
 * overtakes the acknowledgement).
 */
async function watchScenario(t: Target, watchAt: 'leader' | 'follower', seconds: number, tag: string): Promise<Sample> {
  const leader = await t.leader();
  const at = watchAt === 'leader' ? leader : t.endpoints.find((e) => e !== leader)!;
  const watcherConn = new Conn(at);
  const prefix = `w/${tag}/`;
  const sent = new Map<string, bigint>();
  const acked = new Map<string, bigint>();
  const arrived = new Map<string, bigint>();
  const stream = (watcherConn.watchClient as any).Watch() as grpc.ClientDuplexStream<Obj, Obj>;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${t.name}: watch not created within 5 s`)), 5000);
      stream.on('error', (e) => { clearTimeout(timer); reject(e); });
      stream.on('data', (resp: Obj) => {
        if (resp.created) { clearTimeout(timer); resolve(); }
        const now = process.hrtime.bigint();
        for (const ev of resp.events ?? []) arrived.set(ev.kv.key.toString(), now);
      });
      stream.write({ create_request: { key: Buffer.from(prefix), range_end: Buffer.from(prefix.slice(0, -1) + '0') } });
    });
    const result = await withConns([leader], 8, seconds, async (conn, c, s) => {
      const key = `${prefix}${c}/${s}`;
      sent.set(key, process.hrtime.bigint());
      await conn.put({ key: Buffer.from(key), value: VALUE });
      acked.set(key, process.hrtime.bigint());
      return true;
    });
    const deadline = Date.now() + 5000;
    while ([...acked.keys()].some((k) => !arrived.has(k)) && Date.now() < deadline) await sleep(20);
    const missing = [...acked.keys()].filter((k) => !arrived.has(k)).length;
    const ms = (a: bigint, b: bigint): number => Number(a - b) / 1e6;
    const fromSend = Float64Array.from([...acked.keys()].filter((k) => arrived.has(k)).map((k) => ms(arrived.get(k)!, sent.get(k)!))).sort();
    const fromAck = Float64Array.from([...acked.keys()].filter((k) => arrived.has(k)).map((k) => ms(arrived.get(k)!, acked.get(k)!))).sort();
    return {
      result,
      extra: {
        sendToEventP50: percentile(fromSend, 0.5),
        sendToEventP99: percentile(fromSend, 0.99),
        ackToEventP50: percentile(fromAck, 0.5),
        ackToEventP99: percentile(fromAck, 0.99),
        missingEvents: missing,
      },
    };
  } finally {
    stream.end();
    stream.cancel();
    watcherConn.close();
  }
}

/**
 * `leases` leases renewed on one LeaseKeepAlive stream to the leader with `window` requests in flight;
 * latency is request -> response (answers come in request order on a stream).
 */
async function keepAliveScenario(t: Target, seconds: number, leases = 100, window = 64): Promise<Sample> {
  const conn = new Conn(await t.leader());
  const ids: string[] = [];
  try {
    for (let i = 0; i < leases; i += 10) {
      const got = await Promise.all(Array.from({ length: 10 }, () => conn.grant({ TTL: 600 })));
      ids.push(...got.map((g) => g.ID as string));
    }
    const stream = (conn.lease as any).LeaseKeepAlive() as grpc.ClientDuplexStream<Obj, Obj>;
    const latencies: number[] = [];
    const pending: bigint[] = [];
    let errors = 0;
    let next = 0;
    const start = process.hrtime.bigint();
    const end = start + BigInt(Math.round(seconds * 1e9));
    const send = (): void => { pending.push(process.hrtime.bigint()); stream.write({ ID: ids[next++ % ids.length] }); };
    await new Promise<void>((resolve, reject) => {
      stream.on('error', reject);
      stream.on('data', (resp: Obj) => {
        const now = process.hrtime.bigint();
        latencies.push(Number(now - pending.shift()!) / 1e6);
        if (Number(resp.TTL) <= 0) errors++;
        if (now < end) send(); else if (pending.length === 0) resolve();
      });
      for (let i = 0; i < window; i++) send();
    });
    stream.end();
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    const sorted = Float64Array.from(latencies).sort();
    const ops = latencies.length - errors;
    return { result: { ops, errors, seconds: elapsed, opsPerSec: ops / elapsed, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99) } };
  } finally {
    await Promise.all(ids.map((ID) => conn.revoke({ ID }).catch(() => undefined)));
    conn.close();
  }
}

/**
 * Write unavailability after a SIGKILL of the leader: 8 writers put over gRPC, each to the members in turn (a client
 * with every endpoint, as clientv3 is configured), with a 1 s deadline per put. The figure is the time from the kill
 * to the first acknowledgement of a put sent after it; then the member is restarted and must serve a linearizable
 * read before the next measurement.
 */
async function leaderKill(t: Target): Promise<number> {
  const conns = t.endpoints.map((e) => new Conn(e));
  try {
    let restart = (): void => undefined;
    const ms = await writeUnavailability(
      async (c, seq) => { await conns[(c + seq) % conns.length].putWithin({ key: Buffer.from(`k/${c}/${seq}`), value: VALUE }, 1000); return true; },
      async (onKill) => { restart = await t.killLeader(onKill); });
    restart();
    const key = Buffer.from('k/after-restart');
    const writeBy = Date.now() + 30_000;
    for (let i = 0; !(await conns[i % conns.length].putWithin({ key, value: VALUE }, 1000).then(() => true, () => false)); i++) {
      if (Date.now() > writeBy) throw new Error(`${t.name}: no member took a put within 30 s of the restart`);
      await sleep(50);
    }
    for (const e of t.endpoints) {
      if (Number.isNaN(await timeToRead(e, key, VALUE, 30_000))) throw new Error(`${t.name}: ${e} did not serve a read within 30 s of its restart`);
    }
    return ms;
  } finally {
    for (const c of conns) c.close();
  }
}

const SCENARIOS = ['put', 'range', 'txn', 'watch', 'keepalive', 'kill'] as const;
type ScenarioGroup = typeof SCENARIOS[number];

interface Args {
  rounds: number; seconds: number; warmup: number; loadKeys: number; etcd: boolean; basePort: number; json?: string; only: Set<ScenarioGroup>;
}

function parseOnly(list: string): Set<ScenarioGroup> {
  if (list === 'none') return new Set(); // e.g. with --load-keys alone
  const groups = list.split(',');
  const bad = groups.filter((g) => !(SCENARIOS as readonly string[]).includes(g));
  if (bad.length) throw new Error(`bench:etcd: --only takes none or a comma list of ${SCENARIOS.join(', ')}; got '${bad.join(',')}'`);
  return new Set(groups as ScenarioGroup[]);
}

function parseArgs(argv: string[]): Args {
  const envNum = (name: string, dflt: number): number => (process.env[name] ? positiveNumber('bench:etcd', name, process.env[name]) : dflt);
  const a: Args = { rounds: envNum('ETCD_BENCH_ROUNDS', 3), seconds: envNum('ETCD_BENCH_SECONDS', 3), warmup: 30, loadKeys: 0, etcd: true, basePort: 24300, only: new Set(SCENARIOS) };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const num = (): number => positiveNumber('bench:etcd', f, argv[++i]);
    switch (f) {
      case '--rounds': a.rounds = num(); break;
      case '--seconds': a.seconds = num(); break;
      case '--no-etcd': a.etcd = false; break;
      case '--base-port': a.basePort = num(); break;
      case '--json': a.json = argv[++i]; break;
      case '--warmup': a.warmup = num(); break;
      case '--load-keys': a.loadKeys = num(); break;
      case '--only': a.only = parseOnly(argv[++i] ?? ''); break;
      default: throw new Error(`bench:etcd: unknown flag ${f} (flags: --rounds N --seconds S --warmup S --load-keys N --only ${SCENARIOS.join(',')} --base-port P --json FILE --no-etcd)`);
    }
  }
  return a;
}

/**
 * Disk space `dir` uses (du -s -B1: allocated blocks, so a WAL segment's unwritten preallocated tail does not count, and
 * etcd's fallocated WAL files do), NaN when unreadable.
 */
function dirBytes(dir: string): number {
  const r = spawnSync('du', ['-s', '-B1', dir], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.split('\t')[0]) : NaN;
}

/** Waits until a linearizable read of `key` through `endpoint` returns `value`; NaN after `timeoutMs`. */
async function timeToRead(endpoint: string, key: Buffer, value: Buffer, timeoutMs: number): Promise<number> {
  const started = process.hrtime.bigint();
  const deadline = Date.now() + timeoutMs;
  const conn = new Conn(endpoint);
  try {
    while (Date.now() < deadline) {
      try {
        const r = await conn.range({ key });
        if (r.kvs.length === 1 && Buffer.compare(r.kvs[0].value, value) === 0) return Number(process.hrtime.bigint() - started) / 1e6;
      } catch { /* not serving yet */ }
      await sleep(20);
    }
    return NaN;
  } finally { conn.close(); }
}

/**
 * Loads `keys` keys of 256 B through the leader at 64 clients, then reports the load rate, RSS and data
 * directory size per member, and the time from restarting every member to a linearizable read of the last key.
 */
async function bulkLoad(t: Target, keys: number): Promise<Record<string, unknown>> {
  const leader = await t.leader();
  const conns = connections([leader], 8);
  const keyOf = (i: number): Buffer => Buffer.from(`load/${String(i).padStart(8, '0')}`);
  let next = 0;
  let errors = 0;
  const started = Date.now();
  let lastAck = started;
  let longestGapMs = 0; // the longest time without any acknowledgement: a stall (election, snapshot pause)
  try {
    await Promise.all(Array.from({ length: 64 }, async (_, c) => {
      for (let i = next++; i < keys; i = next++) {
        const giveUp = Date.now() + 60_000;
        for (let attempt = 1; ; attempt++) {
          try {
            await conns[c % conns.length].put({ key: keyOf(i), value: VALUE });
            const now = Date.now();
            longestGapMs = Math.max(longestGapMs, now - lastAck);
            lastAck = now;
            break;
          } catch (e) {
            errors++;
            // Retried (a put is idempotent here): leader changes are counted, not fatal, unless one key fails for a minute.
            if (Date.now() > giveUp) throw new Error(`${t.name}: put ${i} failed for 60 s while loading; last: ${(e as Error).message}`);
            await sleep(50 * Math.min(attempt, 20));
          }
        }
        if (i % 100_000 === 0 && i > 0) process.stdout.write(`  ${t.name}: ${i} keys loaded (${Math.round(i / ((Date.now() - started) / 1000))}/s)\n`);
      }
    }));
  } finally { for (const c of conns) c.close(); }
  const loadSeconds = (Date.now() - started) / 1000;
  await sleep(2000); // let followers apply the tail before reading their RSS
  const rss = t.pids().map((p) => Math.round(rssMiB(p)));
  const peakRss = t.pids().map((p) => Math.round(rssMiB(p, true)));
  const dirs = t.dataDirs().map((d) => Math.round(dirBytes(d) / 1024 / 1024));
  const stopStart = Date.now();
  await t.stopAll();
  const stopMs = Date.now() - stopStart;
  const restartStart = Date.now();
  t.startAll();
  const readMs = await timeToRead(t.endpoints[0], keyOf(keys - 1), VALUE, 180_000);
  const restartMs = Number.isNaN(readMs) ? NaN : Date.now() - restartStart;
  const rssAfterRestart = t.pids().map((p) => Math.round(rssMiB(p)));
  const r = {
    keys,
    loadSeconds,
    putsPerSec: keys / loadSeconds,
    errors,
    longestGapMs,
    rssMiB: rss,
    peakRssMiB: peakRss,
    dataDirMiB: dirs,
    stopMs,
    restartToReadMs: restartMs,
    rssAfterRestartMiB: rssAfterRestart,
  };
  process.stdout.write(`  load ${t.name}: ${JSON.stringify(r)}\n`);
  return r;
}

/**
 * Untimed load on every path the rounds measure: V8 compiles our hot paths during the first seconds of load,
 * which round 1 would otherwise measure (etcd is compiled ahead of time).
 */
async function warmUp(t: Target, seconds: number): Promise<void> {
  const each = seconds / 5;
  await putScenario(t, 64, each, 'warm');
  await rangeScenario(t, true, false, each);
  await rangeScenario(t, false, true, each);
  await txnScenario(t, each, 'warm');
  await watchScenario(t, 'follower', each, 'warm');
}

/** The scenarios of one round for one target, in order: [name, run]. */
function scenarios(args: Args, round: number): Array<[string, (t: Target) => Promise<Sample>]> {
  const s = args.seconds;
  const list: Array<[string, (t: Target) => Promise<Sample>]> = [];
  if (args.only.has('put')) for (const c of [1, 8, 64]) list.push([`put c=${c}`, (t) => putScenario(t, c, s, `${round}-${c}`)]);
  if (args.only.has('range')) {
    for (const prefix of [false, true]) {
      for (const ser of [false, true]) {
        list.push([`range ${prefix ? '100 keys' : '1 key'} ${ser ? 'serializable' : 'linearizable'} c=8`, (t) => rangeScenario(t, ser, prefix, s)]);
      }
    }
  }
  if (args.only.has('txn')) list.push(['txn cas c=8', (t) => txnScenario(t, s, String(round))]);
  if (args.only.has('watch')) {
    for (const at of ['leader', 'follower'] as const) list.push([`watch at ${at}, 8 writers`, (t) => watchScenario(t, at, s, `${round}-${at}`)]);
  }
  if (args.only.has('keepalive')) list.push(['lease keep-alive 1 stream', (t) => keepAliveScenario(t, s)]);
  return list;
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** User + system CPU milliseconds the processes `pids` have used so far (0 for one that is gone). */
function cpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch { /* exited */ }
  }
  return ticks * 1000 / CLOCK_TICKS;
}

/** VmRSS of `pid` in MiB, NaN when unreadable. */
/** Resident memory now (VmRSS), or with `peak` the most the process ever held (the kernel's VmHWM). */
function rssMiB(pid: number, peak = false): number {
  try {
    const m = (peak ? /VmHWM:\s+(\d+) kB/ : /VmRSS:\s+(\d+) kB/).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch { return NaN; }
}

const median = (xs: number[]): number => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};
const fmt = (x: number, digits = 1): string => (Number.isNaN(x) ? '-' : x.toFixed(digits));

/** Runs the benchmark; prints each measurement and a summary table; returns the summary. */
export async function runEtcdBench(argv: string[]): Promise<Record<string, unknown>> {
  const args = parseArgs(argv);
  const etcd = args.etcd ? etcdVersion() : undefined;
  if (args.etcd && !etcd) throw new Error('bench:etcd: etcd is not installed (apt-get install etcd-server), or pass --no-etcd');
  const targets: Target[] = [];
  const samples: Record<string, Record<string, Sample[]>> = {};
  const kills: Record<string, number[]> = {};
  const load0 = loadavg()[0];
  try {
    targets.push(await startOurs(args.basePort));
    if (etcd) targets.push(await startEtcd(args.basePort + 50));
    for (const t of targets) await seed(t);
    for (const t of targets) await warmUp(t, args.warmup);
    for (let round = 0; round < args.rounds; round++) {
      process.stdout.write(`round ${round + 1}/${args.rounds} (load average ${loadavg()[0].toFixed(2)})\n`);
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const [name, run] of scenarios(args, round)) {
        for (const t of order) {
          const cpu0 = cpuMs(t.pids());
          const client0 = process.cpuUsage();
          const ran = await run(t);
          const client = process.cpuUsage(client0);
          const sample = {
            ...ran,
            serverCpuMsPerOp: (cpuMs(t.pids()) - cpu0) / ran.result.ops,
            clientCpuMsPerOp: (client.user + client.system) / 1000 / ran.result.ops,
          };
          ((samples[name] ??= {})[t.name] ??= []).push(sample);
          const r = sample.result;
          const extra = sample.extra ? '  ' + Object.entries(sample.extra).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(' ') : '';
          const errors = `errors ${r.errors}${r.firstError ? ` (${r.firstError})` : ''}`;
          process.stdout.write(`  ${name.padEnd(36)} ${t.name.padEnd(10)} ${r.opsPerSec.toFixed(0).padStart(7)} ops/s  ` +
            `p50 ${fmt(r.p50Ms, 2)} ms  p99 ${fmt(r.p99Ms, 2)} ms  server CPU ${fmt(sample.serverCpuMsPerOp, 3)} ms/op  client CPU ${fmt(sample.clientCpuMsPerOp, 3)} ms/op  ${errors}${extra}\n`);
        }
      }
      if (args.only.has('kill')) {
        for (const t of order) {
          const ms = await leaderKill(t);
          (kills[t.name] ??= []).push(ms);
          process.stdout.write(`  ${'leader kill, 8 writers'.padEnd(36)} ${t.name.padEnd(10)} writes unavailable ${fmt(ms, 0)} ms\n`);
        }
      }
    }
    const rss = Object.fromEntries(targets.map((t) => [t.name, t.pids().map((p) => Math.round(rssMiB(p)))]));
    const summary = report(args, etcd, samples, kills, rss, load0);
    if (args.loadKeys > 0) {
      process.stdout.write(`bulk load: ${args.loadKeys} keys of 256 B at 64 clients, then a restart of every member\n`);
      summary.bulkLoad = {};
      for (const t of targets) (summary.bulkLoad as Record<string, unknown>)[t.name] = await bulkLoad(t, args.loadKeys);
      if (args.json) writeFileSync(args.json, JSON.stringify(summary, null, 2));
    }
    return summary;
  } finally {
    await Promise.all(targets.map((t) => t.close().catch(() => undefined)));
  }
}

function report(args: Args, etcd: string | undefined, samples: Record<string, Record<string, Sample[]>>,
  kills: Record<string, number[]>, rss: Record<string, number[]>, load0: number): Record<string, unknown> {
  const summary: Record<string, any> = {
    machine: { nproc: cpus().length, cpu: cpus()[0]?.model, node: process.version, etcd: etcd ?? null, loadavg: [load0, loadavg()[0]] },
    args: { ...args, only: [...args.only] },
    rssMiBAfterRun: rss,
    scenarios: {},
  };
  const lines = [
    '| scenario | ours ops/s | etcd ops/s | ratio | ours p50 / p99 ms | etcd p50 / p99 ms | p99 ratio | server CPU ms/op ours / etcd | CPU ratio | client CPU ms/op ours / etcd |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const watchLines = ['| watch (ms, medians of rounds) | ours p50 / p99 | etcd p50 / p99 | p99 ratio |', '|---|---|---|---|'];
  for (const [name, bySystem] of Object.entries(samples)) {
    const agg = (xs: Sample[] | undefined): Obj | undefined => xs && {
      opsPerSec: median(xs.map((x) => x.result.opsPerSec)),
      p50Ms: median(xs.map((x) => x.result.p50Ms)),
      p99Ms: median(xs.map((x) => x.result.p99Ms)),
      errors: xs.reduce((n, x) => n + x.result.errors, 0),
      perRound: xs.map((x) => Math.round(x.result.opsPerSec)),
      serverCpuMsPerOp: median(xs.map((x) => x.serverCpuMsPerOp ?? NaN)),
      clientCpuMsPerOp: median(xs.map((x) => x.clientCpuMsPerOp ?? NaN)),
      ...(xs[0].extra ? Object.fromEntries(Object.keys(xs[0].extra).map((k) => [k, median(xs.map((x) => x.extra![k]))])) : {}),
    };
    const o = agg(bySystem['ha-runtime'])!;
    const e = agg(bySystem.etcd);
    summary.scenarios[name] = {
      ours: o, etcd: e ?? null, throughputRatio: e ? o.opsPerSec / e.opsPerSec : null, p99Ratio: e ? o.p99Ms / e.p99Ms : null,
    };
    lines.push(`| ${name} | ${o.opsPerSec.toFixed(0)} | ${e ? e.opsPerSec.toFixed(0) : '-'} | ${e ? (o.opsPerSec / e.opsPerSec).toFixed(2) : '-'} | ` +
      `${fmt(o.p50Ms)} / ${fmt(o.p99Ms)} | ${e ? `${fmt(e.p50Ms)} / ${fmt(e.p99Ms)}` : '-'} | ${e ? (o.p99Ms / e.p99Ms).toFixed(2) : '-'} | ` +
      `${fmt(o.serverCpuMsPerOp, 3)} / ${e ? fmt(e.serverCpuMsPerOp, 3) : '-'} | ${e ? (o.serverCpuMsPerOp / e.serverCpuMsPerOp).toFixed(2) : '-'} | ` +
      `${fmt(o.clientCpuMsPerOp, 3)} / ${e ? fmt(e.clientCpuMsPerOp, 3) : '-'} |`);
    if (name.startsWith('watch')) {
      for (const [what, p50, p99] of [['put sent -> event', 'sendToEventP50', 'sendToEventP99'], ['put ack -> event', 'ackToEventP50', 'ackToEventP99']]) {
        watchLines.push(`| ${name}: ${what} | ${fmt(o[p50])} / ${fmt(o[p99])} | ${e ? `${fmt(e[p50])} / ${fmt(e[p99])}` : '-'} | ${e ? (o[p99] / e[p99]).toFixed(2) : '-'} |`);
      }
    }
  }
  let killLine = '';
  if (kills['ha-runtime']) {
    const o = median(kills['ha-runtime']);
    const e = kills.etcd ? median(kills.etcd) : NaN;
    summary.leaderKillMs = { ours: kills['ha-runtime'], etcd: kills.etcd ?? null, ratio: o / e };
    killLine = `leader kill, writes unavailable (ms, median of rounds): ours ${fmt(o, 0)} (${kills['ha-runtime'].map((x) => fmt(x, 0)).join(', ')}), ` +
      `etcd ${fmt(e, 0)} (${(kills.etcd ?? []).map((x) => fmt(x, 0)).join(', ')}), ratio ${fmt(o / e, 2)}\n\n`;
  }
  const rssLine = Object.entries(rss).map(([n, xs]) => `${n} ${xs.join(', ')} MiB`).join('; ');
  process.stdout.write(`\n${lines.length > 2 ? lines.join('\n') + '\n\n' : ''}${watchLines.length > 2 ? watchLines.join('\n') + '\n\n' : ''}` +
    killLine + `RSS per member after the run: ${rssLine}\n` +
    `machine: ${cpus().length} cores, ${cpus()[0]?.model}, node ${process.version}, etcd ${etcd ?? 'absent'}; ` +
    `load average ${load0.toFixed(2)} -> ${loadavg()[0].toFixed(2)}\n`);
  if (args.json) writeFileSync(args.json, JSON.stringify(summary, null, 2));
  return summary;
}

if (require.main === module) {
  runEtcdBench(process.argv.slice(2)).then(() => process.exit(0), (e) => {
    process.stderr.write(`bench:etcd failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
