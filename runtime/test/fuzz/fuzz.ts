/**
 * The seeded fuzzer of issue 14. Phase 1 runs in-process: the peer codec and the KV state machine
 * get random and mutated bytes (they may only refuse them, with a RangeError, or apply them as
 * deterministic rejections). Phase 2 runs against a live cluster of three `ha-runtime raft`
 * processes (plus a fourth configured member, stopped once the cluster formed, whose identity the
 * fuzzer borrows to get past the handshake): hostile handshakes, frames and raw HTTP requests while a client workload
 * records a history. It fails on any member exit, any 500, an RSS above the bound, or a history
 * that is not linearizable. Inputs come from one seed; process timing does not, so a seed replays
 * the same inputs, in the same order, under a possibly different interleaving.
 */
import * as net from 'node:net';
import { Choices, hostileBody, hostileHello, hostileHttp2Start, hostileHttpRequest, messageFrame, plausibleMessage } from './inputs';
import { encodeCommand, KvOp, KvStateMachine } from '../../src/kv/state-machine';
import { checkHistory } from '../../src/lincheck';
import { FrameDecoder, FrameKind, MAX_WIRE_INTEGER, PING_FRAME, PROTOCOL_VERSION, decodeHandshake, decodeMessage, encodeHandshakeFrame, encodeMessage } from '../../src/transport/codec';
import { seededRandom } from '../../src/util/mulberry32';
import { rssBytes } from '../security/forger';
import { KvCluster, sleep } from '../support/kv-cluster';
import { runWorkload } from '../support/kv-workload';
import { randomMessage } from '../support/random-messages';

/** Options of one fuzz run. */
export interface FuzzOptions {
  readonly seed: number;
  /** Length of the live phase. */
  readonly durationMs: number;
  /** Members use basePort..basePort+7. */
  readonly basePort: number;
  /** In-process cases per target. @default 3000 */
  readonly inProcessCases?: number;
  /** Largest RSS a member may reach. @default 512 MiB */
  readonly maxRssBytes?: number;
  readonly log?: (line: string) => void;
  readonly keepDir?: boolean;
}

/** What a run did and found; `failures` is empty when it passed. */
export interface FuzzReport {
  readonly seed: number;
  readonly failures: string[];
  readonly inProcessCases: number;
  readonly peerActions: number;
  readonly framesSent: number;
  readonly httpRequests: number;
  readonly http2Starts: number;
  readonly maxRssBytes: number;
  readonly acknowledgedWrites: number;
  readonly historyEvents: number;
  readonly elapsedMs: number;
}

const GHOST_ID = 4;
const WORKLOAD_KEYS = ['a', 'b', 'c'];

/** Runs phase 1 and phase 2 for `options.seed`; never throws for what it finds (see `failures`). */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const started = Date.now();
  const c = new Choices(seededRandom(options.seed));
  const failures: string[] = [];
  const cases = options.inProcessCases ?? 3000;
  fuzzCodec(c, cases, failures);
  fuzzStateMachine(c, cases, failures);
  const live = await fuzzLive(c, options, failures);
  return { seed: options.seed, failures, inProcessCases: cases * 2, ...live, elapsedMs: Date.now() - started };
}

/** Decoders may refuse input only with a RangeError; whatever they accept is within bounds. */
function fuzzCodec(c: Choices, cases: number, failures: string[]): void {
  const refuse = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof RangeError)) failures.push(`codec: ${what} threw ${(e as Error).name}: ${(e as Error).message}`);
    }
  };
  for (let i = 0; i < cases; i++) {
    const valid = encodeMessage(randomMessage(c.random));
    const input = c.pick([() => c.mutate(valid), () => valid.subarray(0, c.int(0, valid.length)), () => c.bytes(c.int(0, 200))])();
    refuse('decodeMessage', () => {
      const m = decodeMessage(input);
      for (const v of [m.term, m.index, m.commit, m.logTerm, m.from, m.to, ...m.entries.map((e) => e.term)]) {
        if (!(v >= 0 && v < MAX_WIRE_INTEGER)) failures.push(`codec: decodeMessage accepted ${v}`);
      }
    });
    const hello = encodeHandshakeFrame(FrameKind.HELLO, { version: PROTOCOL_VERSION, clusterId: 'x', senderId: 1, targetId: 2, metadata: { a: 'b' } });
    refuse('decodeHandshake', () => decodeHandshake(c.mutate(hello).subarray(5)));
    const decoder = new FrameDecoder(1 << 16);
    refuse('FrameDecoder', () => { for (let k = 0; k < 4; k++) decoder.push(c.chance(0.5) ? c.mutate(hello) : c.bytes(c.int(1, 100))); });
  }
}

/** Two state machines applying the same random entries agree on every result and on the final snapshot; nothing throws. */
function fuzzStateMachine(c: Choices, cases: number, failures: string[]): void {
  const a = new KvStateMachine();
  const b = new KvStateMachine();
  for (let i = 1; i <= cases; i++) {
    const op = c.int(1, 4) as KvOp;
    const prev = c.chance(0.3) ? c.bytes(2) : undefined;
    const valid = encodeCommand({ op, requestId: i, key: `k${c.int(0, 5)}`, value: c.bytes(c.int(0, 8)), prev });
    const data = c.pick([
      () => valid, () => c.mutate(Buffer.from(valid)), () => Buffer.from(valid).subarray(0, c.int(0, valid.length)), () => c.bytes(c.int(0, 30)),
    ])();
    try {
      const ra = a.applyData(i, data);
      const rb = b.applyData(i, Buffer.from(data));
      if (JSON.stringify(ra) !== JSON.stringify(rb)) failures.push(`kv: entry ${i} applied differently: ${JSON.stringify(ra)} vs ${JSON.stringify(rb)}`);
    } catch (e) {
      failures.push(`kv: applyData threw on entry ${i} (${data.toString('hex')}): ${(e as Error).message}`);
      return;
    }
  }
  if (!Buffer.from(a.snapshot()).equals(Buffer.from(b.snapshot()))) failures.push('kv: replicas diverged');
  for (let i = 0; i < 200; i++) {
    const snap = c.mutate(Buffer.from(a.snapshot()));
    const before = Buffer.from(b.snapshot());
    try {
      b.restore(b.appliedIndex, snap);
    } catch {
      if (!Buffer.from(b.snapshot()).equals(before)) failures.push('kv: a failed restore changed the state');
    }
  }
}

interface LiveStats {
  peerActions: number;
  framesSent: number;
  httpRequests: number;
  /** Connections opened as HTTP/2 with hostile first frames. */
  http2Starts: number;
  maxRssBytes: number;
  acknowledgedWrites: number;
  historyEvents: number;
}

async function fuzzLive(c: Choices, options: FuzzOptions, failures: string[]): Promise<LiveStats> {
  const stats: LiveStats = {
    peerActions: 0, framesSent: 0, httpRequests: 0, http2Starts: 0, maxRssBytes: 0, acknowledgedWrites: 0, historyEvents: 0,
  };
  // Four configured members; the fourth is stopped once the cluster formed (a blank member bootstraps
  // only when every initial member answers), so the fuzzer can pose as a member that is down.
  const cluster = await KvCluster.start({ size: 4, basePort: options.basePort, keepDir: options.keepDir });
  await cluster.members.pop()!.kill();
  try {
    let stop!: () => void;
    const until = new Promise<void>((r) => { stop = r; });
    let stopped = false;
    void until.then(() => { stopped = true; });
    const workload = runWorkload({ urls: () => cluster.members.map((m) => m.url), keys: WORKLOAD_KEYS, clients: 3, until, seed: options.seed });
    const rssBound = options.maxRssBytes ?? 512 * 1024 * 1024;
    const sampler = setInterval(() => {
      for (const m of cluster.members) {
        if (!m.running) continue;
        const rss = rssBytes(m.proc!.pid!);
        stats.maxRssBytes = Math.max(stats.maxRssBytes, rss);
      }
    }, 100);
    const peerLoop = (async () => {
      while (!stopped) {
        await peerAction(c, cluster, stats);
        stats.peerActions++;
      }
    })();
    // A second generator for HTTP, derived from the seed: its consumption must not depend on peer timing.
    const h = new Choices(seededRandom(options.seed ^ 0x5eed));
    const httpLoops = [0, 1, 2].map(async () => {
      while (!stopped) {
        const target = h.pick(cluster.members);
        const request = hostileHttpRequest(h);
        const status = await rawHttp(target.clientPort, request);
        stats.httpRequests++;
        if (status >= 500 && status !== 503) failures.push(`http: ${status} for ${request.subarray(0, 120).toString('latin1').split('\r\n')[0]}`);
      }
    });
    // Connections that start as HTTP/2 (gRPC) with hostile first frames, from a third generator so the HTTP/1.1
    // inputs of pinned seeds stay what they were.
    const h2 = new Choices(seededRandom(options.seed ^ 0x4832));
    const http2Loop = (async () => {
      while (!stopped) {
        await rawHttp(h2.pick(cluster.members).clientPort, hostileHttp2Start(h2));
        stats.http2Starts++;
      }
    })();
    await sleep(options.durationMs);
    stop();
    await Promise.all([peerLoop, ...httpLoops, http2Loop]);
    clearInterval(sampler);
    const result = await workload;
    stats.acknowledgedWrites = result.acknowledgedWrites;
    stats.historyEvents = result.events.length;
    for (const m of cluster.members) {
      if (!m.running) failures.push(`member ${m.name} exited (code ${m.exitCode}, signal ${m.exitSignal}):\n${m.log().split('\n').slice(-15).join('\n')}`);
    }
    if (stats.maxRssBytes > rssBound) failures.push(`a member reached ${(stats.maxRssBytes / 2 ** 20).toFixed(0)} MiB RSS (bound ${rssBound / 2 ** 20} MiB)`);
    const verdict = checkHistory(result.events, { timeoutMs: 30_000 });
    if (!verdict.ok) failures.push(`history of ${result.events.length} events is not linearizable: ${JSON.stringify(verdict).slice(0, 500)}`);
    if (result.acknowledgedWrites < 10) failures.push(`only ${result.acknowledgedWrites} writes acknowledged: the cluster barely served`);
    await sleep(200);
    return stats;
  } finally {
    await cluster.close();
  }
}

/** One peer action: a hostile handshake, or a session as the member that never runs sending hostile frames. */
async function peerAction(c: Choices, cluster: KvCluster, stats: LiveStats): Promise<void> {
  const target = c.pick(cluster.members);
  const ids = [1, 2, 3, GHOST_ID];
  const admitted = c.chance(0.6);
  const hello = admitted
    ? encodeHandshakeFrame(FrameKind.HELLO, { version: PROTOCOL_VERSION, clusterId: 'ha-raft', senderId: GHOST_ID, targetId: target.id, metadata: { clientUrl: 'http://127.0.0.1:1/attacker' } })
    : hostileHello(c, target.id, ids);
  const socket = await dial(target.peerPort);
  if (!socket) return;
  try {
    socket.write(hello);
    const welcomed = await welcome(socket, 500);
    if (!welcomed) return;
    for (let k = c.int(1, 20); k > 0 && !socket.destroyed; k--) {
      const frame = hostileFrame(c, target.id);
      if (!frame) continue;
      await new Promise<void>((r) => socket.write(frame, () => r()));
      stats.framesSent++;
    }
    await sleep(c.int(0, 30));
  } finally {
    socket.destroy();
  }
}

function hostileFrame(c: Choices, targetId: number): Buffer | undefined {
  return c.pick([
    () => {
      const body = hostileBody(c, GHOST_ID, targetId);
      return plausibleMessage(body) ? undefined : messageFrame(body);
    },
    () => {
      const header = Buffer.alloc(5);
      header.writeUInt32LE(c.pick([128 * 1024 * 1024 + 2, 256 * 1024 * 1024, 0xffffffff, 0]), 0);
      header[4] = FrameKind.MESSAGE;
      return Buffer.concat([header, c.bytes(c.int(0, 4096))]);
    },
    () => messageFrame(c.bytes(c.pick([1, 100, 2 * 1024 * 1024]))),
    () => c.bytes(c.int(1, 64)),
    () => PING_FRAME,
    () => encodeHandshakeFrame(FrameKind.HELLO, { version: 1, clusterId: 'ha-raft', senderId: GHOST_ID, targetId, metadata: {} }),
  ])();
}

function dial(port: number): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', () => resolve(undefined));
  });
}

/** Whether the member answered WELCOME within `ms`. */
function welcome(socket: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const decoder = new FrameDecoder(1 << 16);
    const timer = setTimeout(() => resolve(false), ms);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const f of decoder.push(chunk)) {
          if (f.kind === FrameKind.WELCOME) { clearTimeout(timer); resolve(true); }
          if (f.kind === FrameKind.REJECT) { clearTimeout(timer); resolve(false); }
        }
      } catch { /* the member's frames are not under test */ }
    });
    socket.on('close', () => { clearTimeout(timer); resolve(false); });
  });
}

/** Sends raw bytes as one HTTP request; resolves with the status code, or 0 if the connection closed without one. */
function rawHttp(port: number, request: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.end(request));
    let head = '';
    const done = (status: number): void => { clearTimeout(timer); s.destroy(); resolve(status); };
    // A request whose Content-Length promises more than it sends waits for its body: do not wait long.
    const timer = setTimeout(() => done(0), 1000);
    s.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (m) done(Number(m[1]));
    });
    s.on('error', () => done(0));
    s.on('close', () => done(0));
  });
}
