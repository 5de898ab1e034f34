/**
 * MVCC store benchmark, in one process (no Raft, no network): load N keys of V-byte values through
 * MvccStateMachine.apply (encoded log commands, as a member applies them), then memory per key, range
 * latencies, and the snapshot: how long the event loop is blocked at a time while it is serialized in chunks
 * from a copy-on-write view (the store keeps applying writes between chunks), and the restore.
 *
 *   npx tsc -p runtime/tsconfig.test.json && node runtime/.build-test/bench/mvcc.js [keys=1000000] [valueBytes=256]
 *
 * Anchor: etcd 3.4's RSS for the same 1M keys of 256 B was 615-780 MiB (issue 11, three members on this machine).
 */
import { cpus, loadavg } from 'os';
import { setFlagsFromString } from 'v8';
import { runInNewContext } from 'vm';
import { encodeCommand, MvccStateMachine, prefixEnd } from '../src/mvcc';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const keys = Number(process.argv[2] ?? 1_000_000);
const valueBytes = Number(process.argv[3] ?? 256);
const MiB = 1024 * 1024;

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

function memory(): { heap: number; rss: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

const keyOf = (i: number): Buffer => Buffer.from(`key/${String(i).padStart(8, '0')}`);

function latencies(n: number, fn: (i: number) => void): { p50: number; p99: number; max: number } {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn(i);
    out.push(performance.now() - t0);
  }
  out.sort((a, b) => a - b);
  return { p50: percentile(out, 50), p99: percentile(out, 99), max: out[out.length - 1] };
}

const ms = (x: number): string => `${x.toFixed(2)} ms`;

async function main(): Promise<void> {
  const before = memory();
  const sm = new MvccStateMachine();
  let index = 0;
  const value = Buffer.alloc(valueBytes, 0x61);
  const t0 = performance.now();
  for (let i = 0; i < keys; i++) {
    const r = sm.apply(++index, encodeCommand({ op: 'put', requestId: i, request: { key: keyOf(i), value } }));
    if (r.error) throw r.error;
  }
  const loadSec = (performance.now() - t0) / 1000;
  const after = memory();
  const heapPerKey = (after.heap - before.heap) / keys;
  const rssPerKey = (after.rss - before.rss) / keys;
  console.log(`load: ${keys} keys of ${valueBytes} B in ${loadSec.toFixed(1)} s = ${Math.round(keys / loadSec)} puts/s (apply incl. decode)`);
  console.log(`memory: heapUsed ${(after.heap / MiB).toFixed(0)} MiB (+${heapPerKey.toFixed(0)} B/key), ` +
    `RSS ${(after.rss / MiB).toFixed(0)} MiB (+${rssPerKey.toFixed(0)} B/key); ` +
    `keys per GiB of heap: ${Math.round((1024 * MiB) / heapPerKey)}`);

  const s = sm.store;
  const get = latencies(10_000, (i) => s.range({ key: keyOf((i * 7919) % keys) }));
  console.log(`range single key: p50 ${ms(get.p50)}, p99 ${ms(get.p99)}`);
  const page = latencies(200, (i) => s.range({ key: keyOf((i * 4999) % keys), range_end: prefixEnd(Buffer.from('key/')), limit: 100 }));
  console.log(`range limit 100 (count over the rest of the keyspace, as etcd): p50 ${ms(page.p50)}, p99 ${ms(page.p99)}`);
  const small = latencies(200, (i) => s.range({ key: Buffer.from(`key/${String((i * 13) % (keys / 100)).padStart(6, '0')}`), range_end: prefixEnd(Buffer.from(`key/${String((i * 13) % (keys / 100)).padStart(6, '0')}`)) }));
  console.log(`range prefix of 100 keys: p50 ${ms(small.p50)}, p99 ${ms(small.p99)}`);
  const count = latencies(5, () => s.range({ key: Buffer.from([0]), range_end: Buffer.from([0]), count_only: true }));
  console.log(`count_only over all keys: p50 ${ms(count.p50)}, max ${ms(count.max)}`);
  const stepTimes: number[] = [];
  const again = s.rangeSteps({ key: Buffer.from([0]), range_end: Buffer.from([0]), count_only: true }, 10_000);
  for (;;) {
    const c0 = performance.now();
    const n = again.next();
    stepTimes.push(performance.now() - c0);
    if (n.done) break;
  }
  stepTimes.sort((a, b) => a - b);
  console.log(`count_only over all keys with rangeSteps (10k entries/step): ${stepTimes.length} steps, longest ${ms(stepTimes[stepTimes.length - 1])}, p50 ${ms(percentile(stepTimes, 50))}`);

  // Snapshot: view, then one chunk per event-loop turn while writes keep applying.
  const tView = performance.now();
  const snap = sm.snapshot();
  const viewMs = performance.now() - tView;
  const chunkTimes: number[] = [];
  const chunkCpu: number[] = [];
  const chunks: Buffer[] = [];
  let overwrites = 0;
  const tSnap = performance.now();
  for (;;) {
    const c0 = performance.now();
    const cpu0 = process.cpuUsage();
    const next = snap.chunks.next();
    chunkTimes.push(performance.now() - c0);
    const cpu = process.cpuUsage(cpu0);
    chunkCpu.push((cpu.user + cpu.system) / 1000);
    if (next.done) break;
    chunks.push(next.value);
    // A write between chunks, as the member keeps applying: it must not change the snapshot.
    sm.apply(++index, encodeCommand({ op: 'put', requestId: 0, request: { key: keyOf(overwrites++ % keys), value: Buffer.from('changed') } }));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const snapSec = (performance.now() - tSnap) / 1000;
  const bytes = chunks.reduce((n, c) => n + c.length, 0);
  chunkTimes.sort((a, b) => a - b);
  chunkCpu.sort((a, b) => a - b);
  console.log(`snapshot: view ${ms(viewMs)}; ${chunks.length} chunks, ${(bytes / MiB).toFixed(0)} MiB in ${snapSec.toFixed(1)} s; ` +
    `longest event-loop block ${ms(chunkTimes[chunkTimes.length - 1])} wall / ${ms(chunkCpu[chunkCpu.length - 1])} CPU, ` +
    `p99 ${ms(percentile(chunkTimes, 99))} wall / ${ms(percentile(chunkCpu, 99))} CPU (${overwrites} writes applied meanwhile)`);
  console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);

  // Restore, chunk by chunk, into a second state machine.
  const restored = new MvccStateMachine();
  const restorer = restored.restorer();
  const restoreTimes: number[] = [];
  const tRestore = performance.now();
  for (const c of chunks) {
    const c0 = performance.now();
    restorer.write(c);
    restoreTimes.push(performance.now() - c0);
  }
  restored.finishRestore(restorer);
  const restoreSec = (performance.now() - tRestore) / 1000;
  restoreTimes.sort((a, b) => a - b);
  const first = restored.store.range({ key: keyOf(0) }).kvs[0];
  if (first.value.toString() === 'changed' || restored.store.revision !== snap.revision) throw new Error('snapshot saw writes made after it was taken');
  console.log(`restore: ${restoreSec.toFixed(1)} s, longest chunk ${ms(restoreTimes[restoreTimes.length - 1])}, revision ${restored.store.revision}`);
  const both = memory();
  console.log(`memory with both stores: RSS ${(both.rss / MiB).toFixed(0)} MiB`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
