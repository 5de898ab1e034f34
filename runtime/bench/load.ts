/** The closed-loop load generator shared by the benchmarks: same method for every system measured. */
import { sleep } from '../test/support/kv-cluster';

/** Throughput and latency of one scenario run. */
export interface LoadResult {
  readonly ops: number;
  readonly errors: number;
  readonly seconds: number;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The first failure seen, for the report (an error here means a path is broken). */
  readonly firstError?: string;
}

/** The `p` quantile (0..1) of ascending `sorted` values, NaN when empty. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Runs `clients` closed loops of `op` for `seconds`; latency of successful ops only, failures counted. */
export async function drive(clients: number, seconds: number, op: (client: number, seq: number) => Promise<boolean>): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    for (let seq = 0; process.hrtime.bigint() < end; seq++) {
      const t0 = process.hrtime.bigint();
      let ok = false;
      try { ok = await op(c, seq); } catch (e) { firstError ??= (e as Error).message; ok = false; }
      if (ok) {latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);} else { errors++; await sleep(5); }
    }
  }));
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const sorted = Float64Array.from(latencies).sort();
  return {
    ops: latencies.length,
    errors,
    seconds: elapsed,
    opsPerSec: latencies.length / elapsed,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    ...(firstError ? { firstError } : {}),
  };
}

/**
 * Write unavailability after a leader kill, measured the same way for every system: 8 writers call `put(client, seq)`
 * (false or a throw is a failed put) in closed loops; `kill` SIGKILLs the leader, calling `onKill` just before the
 * signal. The figure is the time from the kill to the first acknowledgement of a put sent after it (one in flight
 * may have committed before it), NaN when none comes within 15 s.
 */
export async function writeUnavailability(put: (client: number, seq: number) => Promise<boolean>,
  kill: (onKill: () => void) => Promise<void>): Promise<number> {
  let killedAt = 0n;
  let firstAfter = 0n;
  let stop = false;
  const writers = Array.from({ length: 8 }, async (_, c) => {
    for (let seq = 0; !stop; seq++) {
      const started = process.hrtime.bigint();
      const ok = await put(c, seq).catch(() => false);
      if (ok && killedAt !== 0n && started > killedAt && firstAfter === 0n) firstAfter = process.hrtime.bigint();
      if (!ok) await sleep(10);
    }
  });
  await sleep(1000);
  await kill(() => { killedAt = process.hrtime.bigint(); });
  const deadline = Date.now() + 15_000;
  while (firstAfter === 0n && Date.now() < deadline) await sleep(20);
  stop = true;
  await Promise.all(writers);
  return firstAfter === 0n ? NaN : Number(firstAfter - killedAt) / 1e6;
}

/** A command-line or environment value that must be a positive number; the error names the bench, the setting and the value. */
export function positiveNumber(bench: string, setting: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || value === '' || !Number.isFinite(n) || n <= 0) throw new Error(`${bench}: ${setting} needs a positive number, got '${value ?? ''}'`);
  return n;
}
