/**
 * A concurrent client workload against the KV API that records its history in the JSON Lines
 * format of the linearizability checker (`runtime/src/lincheck`). Outcomes are recorded honestly:
 * `ok` only for a 2xx (or a 404 read), `fail` only when the server says the operation surely did
 * not apply (a 412 compare-and-swap, a 503 with outcome not_applied, a failed read), and `info`
 * when the outcome is unknown (timeouts, connection errors, 503 with outcome unknown); a process
 * that saw `info` is retired and replaced by a fresh process id, as the checker requires.
 */
import { Agent } from 'http';
import { keepAliveAgent, keyUrl, kvRequest, KvResponse } from './kv-client';
import { sleep } from './kv-cluster';
import type { HistoryEvent } from '../../src/lincheck';
import { seededRandom } from '../../src/util/mulberry32';

/** Options for {@link runWorkload}. */
export interface WorkloadOptions {
  /** Client URLs of the members; each request starts at a random one and follows redirects. */
  readonly urls: () => readonly string[];
  readonly keys: readonly string[];
  /** Concurrent client loops. */
  readonly clients: number;
  /** Stop invoking new operations once this resolves (in-flight ones finish). */
  readonly until: Promise<void>;
  /**
   * Keep going after `until` until this many writes were acknowledged (at most 30 s more): on a loaded machine a
   * short run may see few, and the checker needs the cluster to have served. @default 0
   */
  readonly minAcknowledgedWrites?: number;
  /** Per-request timeout (an unanswered write becomes `info`). @default 3000 */
  readonly timeoutMs?: number;
  /** Deterministic op choice. @default 1 */
  readonly seed?: number;
  /** How operations reach the cluster. @default the /v1 HTTP API ({@link httpOps}) */
  readonly ops?: (timeoutMs: number) => WorkloadOps;
}

/** What one operation's answer means for the checker, and a read's value (null: absent). */
export interface OpResult { readonly outcome: Outcome; readonly value?: string | null }

/**
 * One protocol's way to run the workload's four operations against the member at `base`. An
 * operation answers `fail` only when the server said it surely did not apply, `info` when unknown.
 */
export interface WorkloadOps {
  get(base: string, key: string): Promise<OpResult>;
  put(base: string, key: string, value: string): Promise<OpResult>;
  delete(base: string, key: string): Promise<OpResult>;
  /** Compare-and-swap: `expected` null means "only if absent". A refused compare is `fail`. */
  cas(base: string, key: string, expected: string | null, next: string): Promise<OpResult>;
  close(): void;
}

/** What a workload did: the history and counts by outcome. */
export interface WorkloadResult {
  readonly events: HistoryEvent[];
  readonly counts: { ok: number; fail: number; info: number };
  /** Writes (put/delete/cas) acknowledged with 2xx. */
  readonly acknowledgedWrites: number;
}


export type Outcome = 'ok' | 'fail' | 'info';

function errorOutcome(res: KvResponse): Outcome {
  if (res.status === 503 || res.status === 307) {
    try {
      const body = JSON.parse(res.body.toString());
      return body.outcome === 'unknown' ? 'info' : 'fail';
    } catch { return 'info'; }
  }
  throw new Error(`workload: unexpected ${res.status} from ${res.url}: ${res.body.toString()}`);
}

/** The /v1 HTTP API: each request follows redirects to the leader. */
export function httpOps(clients: number): (timeoutMs: number) => WorkloadOps {
  return (timeoutMs) => {
    const agent: Agent = keepAliveAgent(clients + 8);
    const write = async (send: () => Promise<KvResponse>, cas = false): Promise<OpResult> => {
      let res: KvResponse;
      try { res = await send(); } catch { return { outcome: 'info' }; }
      if (res.status === 200) return { outcome: 'ok' };
      if (res.status === 412 && cas) return { outcome: 'fail' };
      return { outcome: errorOutcome(res) };
    };
    return {
      async get(base, key) {
        let res: KvResponse;
        try { res = await kvRequest(keyUrl(base, key), { agent, timeoutMs }); } catch { return { outcome: 'fail' }; }
        if (res.status === 200) return { outcome: 'ok', value: res.body.toString() };
        return res.status === 404 ? { outcome: 'ok', value: null } : { outcome: 'fail' };
      },
      put: (base, key, value) => write(() => kvRequest(keyUrl(base, key), { method: 'PUT', body: value, agent, timeoutMs })),
      delete: (base, key) => write(() => kvRequest(keyUrl(base, key), { method: 'DELETE', agent, timeoutMs })),
      cas: (base, key, expected, next) => {
        const q = expected === null ? 'prev_exist=false' : `prev=${encodeURIComponent(expected)}`;
        return write(() => kvRequest(keyUrl(base, key, q), { method: 'PUT', body: next, agent, timeoutMs }), true);
      },
      close: () => agent.destroy(),
    };
  };
}

/** Runs the workload until `until` resolves, then reads every key once more (linearizably) and returns the history. */
export async function runWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const events: HistoryEvent[] = [];
  const counts = { ok: 0, fail: 0, info: 0 };
  let acknowledgedWrites = 0;
  const rnd = seededRandom(options.seed ?? 1);
  const timeoutMs = options.timeoutMs ?? 3000;
  const ops = (options.ops ?? httpOps(options.clients))(timeoutMs);
  let untilPassed = false;
  let overtimeEnds = Infinity;
  void options.until.then(() => { untilPassed = true; overtimeEnds = Date.now() + 30_000; });
  const enough = (): boolean => acknowledgedWrites >= (options.minAcknowledgedWrites ?? 0) || Date.now() > overtimeEnds;
  const stopped = (): boolean => untilPassed && enough();
  let nextProcess = 0;
  const lastSeen = new Map<string, string | null>();
  let valueCounter = 0;

  const pickUrl = (): string => { const u = options.urls(); return u[Math.floor(rnd() * u.length)]; };
  const record = (e: HistoryEvent): void => { events.push(e); };

  async function one(process: number, f: HistoryEvent['f'], key: string): Promise<Outcome> {
    const base = pickUrl();
    let value: HistoryEvent['value'];
    if (f === 'put') value = `v${++valueCounter}`;
    if (f === 'cas') value = [lastSeen.get(key) ?? null, `v${++valueCounter}`] as const;
    record({ process, type: 'invoke', f, key, ...(value !== undefined ? { value } : {}) });
    let res: OpResult;
    if (f === 'get') res = await ops.get(base, key);
    else if (f === 'put') res = await ops.put(base, key, value as string);
    else if (f === 'delete') res = await ops.delete(base, key);
    else res = await ops.cas(base, key, ...(value as readonly [string | null, string]));
    let out: HistoryEvent['value'] = value;
    if (f === 'get') out = res.outcome === 'ok' ? res.value : undefined;
    if (res.outcome === 'ok') {
      if (f !== 'get') acknowledgedWrites++;
      if (f === 'get' || f === 'put') lastSeen.set(key, out as string | null);
      if (f === 'cas') lastSeen.set(key, (value as readonly [string | null, string])[1]);
      if (f === 'delete') lastSeen.set(key, null);
    }
    record({ process, type: res.outcome, f, key, ...(out !== undefined ? { value: out } : {}) });
    return res.outcome;
  }

  async function client(): Promise<void> {
    let process = nextProcess++;
    while (!stopped()) {
      const r = rnd();
      const f: HistoryEvent['f'] = r < 0.4 ? 'get' : r < 0.75 ? 'put' : r < 0.9 ? 'cas' : 'delete';
      const key = options.keys[Math.floor(rnd() * options.keys.length)];
      const outcome = await one(process, f, key);
      counts[outcome]++;
      if (outcome === 'info') process = nextProcess++;
      if (outcome !== 'ok') await sleep(20 + rnd() * 30);
    }
  }

  await Promise.all(Array.from({ length: options.clients }, () => client()));
  // Final reads: an acknowledged write that was lost shows up here as a read the checker cannot place.
  const finalProcess = nextProcess++;
  for (const key of options.keys) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`workload: final read of '${key}' did not succeed within 20 s`);
      record({ process: finalProcess, type: 'invoke', f: 'get', key });
      const res = await ops.get(pickUrl(), key);
      if (res.outcome === 'ok') {
        record({ process: finalProcess, type: 'ok', f: 'get', key, value: res.value ?? null });
        break;
      }
      record({ process: finalProcess, type: 'fail', f: 'get', key });
      await sleep(100);
    }
  }
  ops.close();
  return { events, counts, acknowledgedWrites };
}

/** The history as JSON Lines (the checker's input format). */
export function toJsonLines(events: readonly HistoryEvent[]): string {
  return events.map((e) => JSON.stringify(e)).join('\n') + '\n';
}
