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
  /** Per-request timeout (an unanswered write becomes `info`). @default 3000 */
  readonly timeoutMs?: number;
  /** Deterministic op choice. @default 1 */
  readonly seed?: number;
}

/** What a workload did: the history and counts by outcome. */
export interface WorkloadResult {
  readonly events: HistoryEvent[];
  readonly counts: { ok: number; fail: number; info: number };
  /** Writes (put/delete/cas) acknowledged with 2xx. */
  readonly acknowledgedWrites: number;
}


type Outcome = 'ok' | 'fail' | 'info';

function errorOutcome(res: KvResponse): Outcome {
  if (res.status === 503 || res.status === 307) {
    try {
      const body = JSON.parse(res.body.toString());
      return body.outcome === 'unknown' ? 'info' : 'fail';
    } catch { return 'info'; }
  }
  throw new Error(`workload: unexpected ${res.status} from ${res.url}: ${res.body.toString()}`);
}

/** Runs the workload until `until` resolves, then reads every key once more (linearizably) and returns the history. */
export async function runWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const events: HistoryEvent[] = [];
  const counts = { ok: 0, fail: 0, info: 0 };
  let acknowledgedWrites = 0;
  const rnd = seededRandom(options.seed ?? 1);
  const agent: Agent = keepAliveAgent(options.clients + 8);
  const timeoutMs = options.timeoutMs ?? 3000;
  let stopped = false;
  void options.until.then(() => { stopped = true; });
  let nextProcess = 0;
  const lastSeen = new Map<string, string | null>();
  let valueCounter = 0;

  const pickUrl = (): string => { const u = options.urls(); return u[Math.floor(rnd() * u.length)]; };
  const record = (e: HistoryEvent): void => { events.push(e); };

  async function one(process: number, f: HistoryEvent['f'], key: string): Promise<Outcome> {
    const base = pickUrl();
    let value: HistoryEvent['value'];
    let res: KvResponse | undefined;
    if (f === 'put') value = `v${++valueCounter}`;
    if (f === 'cas') value = [lastSeen.get(key) ?? null, `v${++valueCounter}`] as const;
    record({ process, type: 'invoke', f, key, ...(value !== undefined ? { value } : {}) });
    try {
      if (f === 'get') {res = await kvRequest(keyUrl(base, key), { agent, timeoutMs });} else if (f === 'put') {res = await kvRequest(keyUrl(base, key), { method: 'PUT', body: value as string, agent, timeoutMs });} else if (f === 'delete') {res = await kvRequest(keyUrl(base, key), { method: 'DELETE', agent, timeoutMs });} else {
        const [expected, next] = value as readonly [string | null, string];
        const q = expected === null ? 'prev_exist=false' : `prev=${encodeURIComponent(expected)}`;
        res = await kvRequest(keyUrl(base, key, q), { method: 'PUT', body: next, agent, timeoutMs });
      }
    } catch {
      const outcome: Outcome = f === 'get' ? 'fail' : 'info';
      record({ process, type: outcome, f, key, ...(value !== undefined ? { value } : {}) });
      return outcome;
    }
    let outcome: Outcome;
    let out: HistoryEvent['value'] = value;
    if (f === 'get') {
      if (res.status === 200) { outcome = 'ok'; out = res.body.toString(); lastSeen.set(key, out); } else if (res.status === 404) { outcome = 'ok'; out = null; lastSeen.set(key, null); } else {outcome = 'fail';}
    } else if (res.status === 200) {
      outcome = 'ok';
      acknowledgedWrites++;
      if (f === 'put') lastSeen.set(key, value as string);
      if (f === 'cas') lastSeen.set(key, (value as readonly [string | null, string])[1]);
      if (f === 'delete') lastSeen.set(key, null);
    } else if (res.status === 412 && f === 'cas') {
      outcome = 'fail';
    } else {
      outcome = errorOutcome(res);
    }
    if (f === 'get' && outcome === 'fail') out = undefined;
    record({ process, type: outcome, f, key, ...(out !== undefined ? { value: out } : {}) });
    return outcome;
  }

  async function client(): Promise<void> {
    let process = nextProcess++;
    while (!stopped) {
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
      let res: KvResponse | undefined;
      try { res = await kvRequest(keyUrl(pickUrl(), key), { agent, timeoutMs }); } catch { res = undefined; }
      if (res && (res.status === 200 || res.status === 404)) {
        record({ process: finalProcess, type: 'ok', f: 'get', key, value: res.status === 200 ? res.body.toString() : null });
        break;
      }
      record({ process: finalProcess, type: 'fail', f: 'get', key });
      await sleep(100);
    }
  }
  agent.destroy();
  return { events, counts, acknowledgedWrites };
}

/** The history as JSON Lines (the checker's input format). */
export function toJsonLines(events: readonly HistoryEvent[]): string {
  return events.map((e) => JSON.stringify(e)).join('\n') + '\n';
}
