/**
 * Benchmark: our HashRing against `hashring` (npm, ketama-compatible, the anchor) in one run,
 * rounds interleaved (the machine is shared: compare ratios, not absolute figures).
 * For N = 10, 100, 1000 nodes: lookups/s over 1M random keys, max/mean (structural: share of
 * the hash space; and over the 1M keys), keys moved on add and on remove vs the ideal, the share
 * a weight-3 node takes when added vs its fair share, keys moved between two unaffected nodes,
 * build time and memory (heap + array buffers delta after GC).
 * Run: `npm run bench:ring` (after `npx tsc -p runtime/tsconfig.test.json`).
 */
import { spawnSync } from 'node:child_process';
import { HashRing } from '../src/ring';

interface AnyRing {
  get(key: string): string;
  add(id: string, weight: number): void;
  remove(id: string): void;
  shares(): number[];
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const Ketama = require('hashring') as new (servers: string[] | Record<string, number>) => {
  ring: Array<{ value: number; server: string }>;
  get(key: string): string;
  add(servers: string[] | Record<string, number>): void;
  remove(server: string): void;
};

const IMPLEMENTATIONS: Record<string, (ids: string[]) => AnyRing> = {
  'cdk8s-ha HashRing': (ids) => {
    const ring = new HashRing(ids.map((id) => ({ id })));
    return {
      get: (k) => ring.get(k),
      add: (id, weight) => ring.add({ id, weight }),
      remove: (id) => ring.remove(id),
      shares: () => [...ring.shares().values()],
    };
  },
  'hashring 3.2 (ketama)': (ids) => {
    const ring = new Ketama(ids);
    return {
      get: (k) => ring.get(k),
      add: (id, weight) => ring.add(weight === 1 ? [id] : { [id]: weight }),
      remove: (id) => ring.remove(id),
      shares: () => {
        const owned = new Map<string, number>();
        const points = ring.ring;
        for (let i = 0; i < points.length; i++) {
          const from = i === 0 ? points[points.length - 1].value - 4294967296 : points[i - 1].value;
          owned.set(points[i].server, (owned.get(points[i].server) ?? 0) + points[i].value - from);
        }
        return [...owned.values()].map((v) => v / 4294967296);
      },
    };
  },
};

const ROUNDS = 3;
const LOOKUP_KEYS = 1_000_000;
const MOVE_KEYS = 200_000;

function randomKeys(n: number, seed: number): string[] {
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0);
  return Array.from({ length: n }, () => `obj:${next().toString(36)}${next().toString(36)}`);
}

/** Heap plus array buffers after full collections; array buffer backing stores are freed off-thread, hence the pauses. */
async function memoryNow(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    (globalThis as unknown as { gc: () => void }).gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface Row {
  /** Per CPU-second. */
  lookups: number[];
  /** Per wall-clock second. */
  wallLookups: number[];
  buildMs: number[];
  memory: number[];
  structural: number;
  keyMaxMean: number;
  addRatio: number;
  removeRatio: number;
  weightedRatio: number;
  crossMoves: number;
}

async function measure(name: string, n: number, round: number, lookupKeys: string[], moveKeys: string[], row: Row): Promise<void> {
  const ids = Array.from({ length: n }, (_, i) => `10.1.${i >> 8}.${i & 255}:7000`);
  const before = await memoryNow();
  const t0 = process.hrtime.bigint();
  const ring = IMPLEMENTATIONS[name](ids);
  row.buildMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  row.memory.push((await memoryNow()) - before);

  // CPU time of this process, not wall time: on a shared machine wall time mostly measures the
  // wait for a core.
  const c1 = process.cpuUsage();
  const t1 = process.hrtime.bigint();
  const owners = new Array<string>(lookupKeys.length);
  for (let i = 0; i < lookupKeys.length; i++) owners[i] = ring.get(lookupKeys[i]);
  const wall = Number(process.hrtime.bigint() - t1) / 1e9;
  const cpu = process.cpuUsage(c1);
  row.lookups.push(lookupKeys.length / ((cpu.user + cpu.system) / 1e6));
  row.wallLookups.push(lookupKeys.length / wall);
  if (round > 0) return;

  const shares = ring.shares();
  row.structural = Math.max(...shares) * n;
  const counts = new Map<string, number>();
  for (const o of owners) counts.set(o, (counts.get(o) ?? 0) + 1);
  row.keyMaxMean = Math.max(...counts.values()) / (lookupKeys.length / n);

  const place = () => moveKeys.map((k) => ring.get(k));
  const p0 = place();
  ring.add('added:1', 1);
  const p1 = place();
  let cross = 0;
  let moved = 0;
  for (let i = 0; i < moveKeys.length; i++) {
    if (p0[i] === p1[i]) continue;
    moved++;
    if (p1[i] !== 'added:1') cross++;
  }
  row.addRatio = moved / (moveKeys.length / (n + 1));
  const victim = ids[Math.floor(n / 3)];
  ring.remove(victim);
  const p2 = place();
  moved = 0;
  for (let i = 0; i < moveKeys.length; i++) {
    if (p1[i] === p2[i]) continue;
    moved++;
    if (p1[i] !== victim) cross++;
  }
  row.removeRatio = moved / (moveKeys.length / (n + 1));
  ring.add('heavy:3', 3);
  const p3 = place();
  moved = 0;
  for (let i = 0; i < moveKeys.length; i++) {
    if (p2[i] === p3[i]) continue;
    moved++;
    if (p3[i] !== 'heavy:3') cross++;
  }
  row.weightedRatio = moved / (moveKeys.length * (3 / (n + 3)));
  row.crossMoves = cross;
}

async function main(): Promise<void> {
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
    // Memory deltas need a forced GC: re-run this file with --expose-gc.
    const r = spawnSync(process.execPath, ['--expose-gc', __filename, ...process.argv.slice(2)], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  const lookupKeys = randomKeys(LOOKUP_KEYS, 42);
  const moveKeys = randomKeys(MOVE_KEYS, 7);
  const names = Object.keys(IMPLEMENTATIONS);
  const header = ['N', 'implementation', 'lookups/CPU-s (median)', 'spread', 'lookups/wall-s', 'max/mean structural', 'max/mean 1M keys', 'moved on add / ideal', 'moved on remove / ideal', 'weight-3 add / fair', 'moves between others', 'build ms', 'memory MB'];
  const rows: string[][] = [];
  const ratios: string[] = [];
  for (const n of [10, 100, 1000]) {
    const results = new Map<string, Row>(names.map((name) => [name, {
      lookups: [],
      wallLookups: [],
      buildMs: [],
      memory: [],
      structural: 0,
      keyMaxMean: 0,
      addRatio: 0,
      removeRatio: 0,
      weightedRatio: 0,
      crossMoves: 0,
    }]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? names : [...names].reverse();
      for (const name of order) await measure(name, n, round, lookupKeys, moveKeys, results.get(name) as Row);
    }
    for (const name of names) {
      const r = results.get(name) as Row;
      const spread = `${(Math.min(...r.lookups) / 1e6).toFixed(2)}-${(Math.max(...r.lookups) / 1e6).toFixed(2)} M`;
      rows.push([String(n), name, `${(median(r.lookups) / 1e6).toFixed(2)} M`, spread, `${(median(r.wallLookups) / 1e6).toFixed(2)} M`, r.structural.toFixed(3), r.keyMaxMean.toFixed(3),
        r.addRatio.toFixed(3), r.removeRatio.toFixed(3), r.weightedRatio.toFixed(2), String(r.crossMoves), median(r.buildMs).toFixed(0),
        (median(r.memory) / 1e6).toFixed(2)]);
    }
    const ours = results.get(names[0]) as Row;
    const anchor = results.get(names[1]) as Row;
    const perRound = ours.lookups.map((x, i) => x / anchor.lookups[i]);
    ratios.push(`N=${n}: lookups per CPU-second ${(median(ours.lookups) / median(anchor.lookups)).toFixed(1)}x hashring (per round ${perRound.map((x) => x.toFixed(1)).join(', ')}), memory ${(median(ours.memory) / median(anchor.memory)).toFixed(2)}x`);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => (i === 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  console.log(`ring: ${LOOKUP_KEYS.toLocaleString('en-US')} random keys for lookups, ${MOVE_KEYS.toLocaleString('en-US')} for movement; ${ROUNDS} interleaved rounds; movement from round 1`);
  console.log(line(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(line(r));
  for (const r of ratios) console.log(r);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
