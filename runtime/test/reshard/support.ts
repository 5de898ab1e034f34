/**
 * Shared by the resharding tests: bulk-loading acknowledged keys through a router, checking every
 * one reads back, a writer on slots a migration does not move, and the ring's predicted share.
 */
import { placeSlots, SLOT_COUNT, slotMoves, slotOf } from '../../src/shardmap';
import { keepAliveAgent, keyUrl, kvRequest, KvResponse } from '../support/kv-client';
import { sleep } from '../support/kv-cluster';

/** Puts `count` keys `bulk/<i>` = `v<i>` through the router, `concurrency` at a time; returns the acknowledged ones. */
export async function loadKeys(base: string, count: number, concurrency = 32): Promise<Map<string, string>> {
  const agent = keepAliveAgent(concurrency + 4);
  const acked = new Map<string, string>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const key = `bulk/${i}`;
      const r = await kvRequest(keyUrl(base, key), { method: 'PUT', body: `v${i}`, agent, timeoutMs: 10_000 }).catch(() => undefined);
      if (r?.status === 200) acked.set(key, `v${i}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return acked;
}

export interface KeyCheck {
  readonly unreadable: string[];
  readonly lost: string[];
  readonly wrong: string[];
}

/** Reads every acknowledged key through the router: counts unreadable (error), lost (404) and wrong values. */
export async function verifyKeys(base: string, acked: ReadonlyMap<string, string>, concurrency = 32): Promise<KeyCheck> {
  const agent = keepAliveAgent(concurrency + 4);
  const out = { unreadable: [] as string[], lost: [] as string[], wrong: [] as string[] };
  const entries = [...acked];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < entries.length) {
      const [key, value] = entries[next++];
      // A key is unreadable only if it stays so: a shard electing a leader answers 503 for a moment.
      let r: KvResponse | undefined;
      for (let attempt = 0; attempt < 4; attempt++) {
        if (attempt > 0) await sleep(500);
        r = await kvRequest(keyUrl(base, key), { agent, timeoutMs: 10_000 }).catch(() => undefined);
        if (r && (r.status === 200 || r.status === 404)) break;
      }
      if (!r || (r.status !== 200 && r.status !== 404)) out.unreadable.push(`${key}: ${r?.status} ${r?.body.toString().slice(0, 120)}`);
      else if (r.status === 404) out.lost.push(key);
      else if (r.body.toString() !== value) out.wrong.push(`${key}: ${r.body.toString()} != ${value}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return out;
}

/** The share of slots the ring moves from `from` to `to` shard names. */
export function predictedShare(from: string[], to: string[]): number {
  return slotMoves(placeSlots(from), placeSlots(to)).length / SLOT_COUNT;
}

/** `count` keys named `<prefix><i>` whose slot has the same owner in every one of `layouts`. */
export function keysOnStableSlots(prefix: string, count: number, layouts: string[][]): string[] {
  const placements = layouts.map((l) => placeSlots(l));
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const slot = slotOf(`${prefix}${i}`);
    if (placements.every((p) => p[slot] === placements[0][slot])) keys.push(`${prefix}${i}`);
  }
  return keys;
}

/** `count` keys whose slot changes owner between `from` and `to`. */
export function keysOnMovingSlots(prefix: string, count: number, from: string[], to: string[]): string[] {
  const a = placeSlots(from);
  const b = placeSlots(to);
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const slot = slotOf(`${prefix}${i}`);
    if (a[slot] !== b[slot]) keys.push(`${prefix}${i}`);
  }
  return keys;
}

export interface SteadyResult {
  readonly writes: number;
  readonly failures: string[];
  /** 503s from a shard electing a leader (leadership_lost, no_leader): a shard's own failover, not the migration. */
  readonly elections: number;
  readonly maxMs: number;
  readonly p99Ms: number;
}

/** A writer that keeps putting keys of slots no migration moves, recording every latency and any failure. */
export function steadyWriter(base: string, keys: string[], until: Promise<void>): Promise<SteadyResult> {
  const agent = keepAliveAgent(4);
  let stopped = false;
  void until.then(() => { stopped = true; });
  return (async () => {
    const latencies: number[] = [];
    const failures: string[] = [];
    let elections = 0;
    for (let i = 0; !stopped; i++) {
      const key = keys[i % keys.length];
      const t = Date.now();
      const r = await kvRequest(keyUrl(base, key), { method: 'PUT', body: `steady${i}`, agent, timeoutMs: 10_000 })
        .catch((e: Error) => e);
      latencies.push(Date.now() - t);
      if (!(r instanceof Error) && r.status === 503 && /"error":"(leadership_lost|no_leader)"/.test(r.body.toString())) elections++;
      else if (r instanceof Error || r.status !== 200) failures.push(`${key}: ${r instanceof Error ? r.message : `${r.status} ${r.body.toString().slice(0, 120)}`}`);
    }
    agent.destroy();
    latencies.sort((x, y) => x - y);
    const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? 0;
    return { writes: latencies.length, failures, elections, maxMs: at(1), p99Ms: at(0.99) };
  })();
}
