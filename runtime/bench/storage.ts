/**
 * Storage micro-benchmark: the fdatasync ceiling of this disk, then FileLogStore durable saves at
 * increasing concurrency, showing what group commit buys. Bounded: about 2 s per row.
 *
 *   npx tsc -p runtime/tsconfig.test.json && node runtime/.build-test/bench/storage.js [secondsPerRow]
 */
import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from 'fs';
import { cpus, tmpdir } from 'os';
import { join } from 'path';
import { EntryType } from '../src/raft/types';
import { FileLogStore } from '../src/storage';

const seconds = Number(process.argv[2] ?? 2);

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

/**
 * Writes 128 bytes + fdatasync in a loop: the best a one-record-per-sync log could do. Appending grows the file, so each
 * fdatasync also commits the new size; `preallocated` writes inside a file already extended to 64 MiB (as FileLogStore's
 * segments are), where it commits only data.
 */
function rawFdatasync(dir: string, preallocated: boolean): number {
  const fd = openSync(join(dir, `raw-${preallocated}`), 'w');
  if (preallocated) { ftruncateSync(fd, 64 * 1024 * 1024); fsyncSync(fd); }
  let offset = 0;
  const buf = Buffer.alloc(128, 1);
  let n = 0;
  const end = performance.now() + seconds * 1000;
  try {
    while (performance.now() < end) {
      offset += writeSync(fd, buf, 0, buf.length, offset);
      fdatasyncSync(fd);
      n++;
    }
  } finally {
    closeSync(fd);
  }
  return n / seconds;
}

async function groupCommit(dir: string, clients: number, payloadBytes: number): Promise<string> {
  let syncs = 0;
  let syncMs = 0;
  const { store } = await FileLogStore.open(join(dir, `wal-${clients}`), {
    metrics: { onSync: (ms) => { syncs++; syncMs += ms; } },
  });
  let nextIndex = 1;
  const latencies: number[] = [];
  const data = Buffer.alloc(payloadBytes, 7);
  const end = performance.now() + seconds * 1000;
  const client = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await store.save({
        entries: [{ term: 1, index: nextIndex++, type: EntryType.NORMAL, data }],
        hardState: {
          term: 1,
          vote: 1,
          commit: nextIndex - 2,
        },
      });
      latencies.push(performance.now() - t0);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, client));
  const elapsed = (performance.now() - started) / 1000;
  await store.close();
  latencies.sort((a, b) => a - b);
  const saves = latencies.length;
  return `| ${clients} | ${payloadBytes} | ${Math.round(saves / elapsed)} | ${Math.round(syncs / elapsed)} | ${(saves / syncs).toFixed(1)} | ` +
    `${(syncMs / syncs).toFixed(2)} | ${percentile(latencies, 50).toFixed(2)} | ${percentile(latencies, 99).toFixed(2)} |`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ha-bench-storage-'));
  try {
    console.log(`# storage bench: ${cpus().length} x ${cpus()[0]?.model}, ${seconds} s per row, dir ${dir}`);
    console.log(`raw write(128 B)+fdatasync loop: appending ${Math.round(rawFdatasync(dir, false))} syncs/s, ` +
      `into a preallocated file ${Math.round(rawFdatasync(dir, true))} syncs/s`);
    console.log('| clients | entry bytes | durable saves/s | fdatasyncs/s | saves per sync | mean sync ms | p50 ms | p99 ms |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const clients of [1, 8, 64, 256]) console.log(await groupCommit(dir, clients, 128));
    console.log(await groupCommit(dir, 64, 4096));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
