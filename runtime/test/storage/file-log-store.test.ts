import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, after } from 'node:test';
import { EntryType, type Entry, type HardState, type Snapshot } from '../../src/raft/types';
import { CorruptionError, FileLogStore, MemoryLogStore, StorageFailedError, type RecoveredState, type StorageUpdate } from '../../src/storage';
import { skipUnlessCi } from '../support/prerequisite';

const roots: string[] = [];
after(() => { for (const r of roots) rmSync(r, { recursive: true, force: true }); });
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ha-wal-test-'));
  roots.push(d);
  return d;
}

function entry(index: number, term: number, payload = `cmd-${index}-${term}`): Entry {
  return { index, term, type: EntryType.NORMAL, data: Buffer.from(payload) };
}
function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}
function snapshot(index: number, term: number, data = `state@${index}`): Snapshot {
  return { metadata: { index, term, confState: { voters: [1, 2, 3], learners: [4], votersOutgoing: [] } }, data: Buffer.from(data) };
}
/** Plain values for deepEqual: Buffers and Uint8Arrays compare by content. */
function plain(r: RecoveredState): unknown {
  return {
    hardState: { ...r.hardState },
    snapshot: r.snapshot ? { metadata: r.snapshot.metadata, data: Buffer.from(r.snapshot.data).toString('hex') } : undefined,
    entries: r.entries.map((e) => ({ index: e.index, term: e.term, type: e.type, data: Buffer.from(e.data).toString('hex') })),
  };
}
/** Where the last segment's records end (segments are preallocated: the file is longer). */
async function dataEnd(dir: string): Promise<number> {
  return (await FileLogStore.inspect(dir)).segments.at(-1)!.bytes;
}

/** Zeroes `file` from `from` to `to`, as a write that never reached the disk leaves a preallocated segment. */
function zeroFrom(file: string, from: number, to: number): void {
  const bytes = readFileSync(file);
  bytes.fill(0, from, to);
  writeFileSync(file, bytes);
}

function walFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.wal')).sort();
}

describe('FileLogStore round trip', () => {
  it('recovers exactly what was saved: entries, hard state, overwritten suffixes, installed snapshots', async () => {
    const dir = tempDir();
    const { store, recovered } = await FileLogStore.open(dir);
    assert.deepEqual(plain(recovered), plain({ hardState: { term: 0, vote: 0, commit: 0 }, entries: [] }));
    await store.save({ hardState: { term: 1, vote: 1, commit: 0 }, entries: entries(1, 5, 1) });
    await store.save({ entries: [{ index: 6, term: 1, type: EntryType.CONF_CHANGE, data: new Uint8Array([0, 255, 7]) }] });
    // A new leader overwrites the uncommitted suffix 4..6 (Raft paper 5.3).
    await store.save({ hardState: { term: 2, vote: 2, commit: 3 }, entries: entries(4, 7, 2) });
    await store.close();

    const reopened = await FileLogStore.open(dir);
    const expected = [...entries(1, 3, 1), ...entries(4, 7, 2)];
    assert.deepEqual(plain(reopened.recovered), plain({ hardState: { term: 2, vote: 2, commit: 3 }, entries: expected }));

    // Installing a snapshot replaces the log; entries after it continue at index + 1.
    await reopened.store.save({ snapshot: snapshot(20, 3), entries: entries(21, 22, 3), hardState: { term: 3, vote: 2, commit: 20 } });
    await reopened.store.close();
    const third = await FileLogStore.open(dir);
    assert.deepEqual(plain(third.recovered), plain({
      hardState: { term: 3, vote: 2, commit: 20 },
      snapshot: snapshot(20, 3),
      entries: entries(21, 22, 3),
    }));
    await third.store.close();
  });

  it('refuses a second open of the same directory in one process until the first closes', async () => {
    const dir = tempDir();
    const first = await FileLogStore.open(dir);
    await assert.rejects(FileLogStore.open(join(dir, '.', '')), /is already open in this process; close the other store first/);
    await first.store.close();
    const second = await FileLogStore.open(dir);
    await second.store.close();
  });

  it('rejects bad input without failing the store', async () => {
    const { store } = await FileLogStore.open(tempDir());
    await store.save({ entries: entries(1, 3, 1) });
    await assert.rejects(store.save({ entries: entries(5, 6, 1) }), /leaves a gap after the last index 3/);
    await assert.rejects(store.save({ entries: [entry(4, 1), entry(6, 1)] }), /must be contiguous/);
    await assert.rejects(store.save({ entries: [entry(0, 1)] }), /must be a positive integer/);
    await assert.rejects(store.save({ entries: [entry(4, -2)] }), /entry 4 has term -2/);
    await assert.rejects(store.save({ hardState: { term: 1, vote: 1.5, commit: 0 } }), /must hold non-negative integers/);
    assert.equal(store.failure, undefined);
    await store.save({ entries: entries(4, 4, 1) });
    await store.close();
  });

  it('rotates segments at the size limit and replays across them', async () => {
    const dir = tempDir();
    const { store } = await FileLogStore.open(dir, { segmentSizeBytes: 4096 });
    for (let i = 1; i <= 400; i += 4) await store.save({ entries: entries(i, i + 3, 1), hardState: { term: 1, vote: 1, commit: i } });
    assert.ok(store.segmentCount >= 5, `expected rotation, got ${store.segmentCount} segments`);
    await store.close();
    const { store: s2, recovered } = await FileLogStore.open(dir, { segmentSizeBytes: 4096 });
    assert.equal(recovered.entries.length, 400);
    assert.deepEqual(recovered.hardState, { term: 1, vote: 1, commit: 397 });
    await s2.close();
  });
});

describe('FileLogStore crash recovery', () => {
  it('recovers every acknowledged record when the last record is torn at any byte', async () => {
    const dir = tempDir();
    const small = { segmentSizeBytes: 8192 }; // each copy below stays small
    const { store } = await FileLogStore.open(dir, small);
    await store.save({ hardState: { term: 1, vote: 1, commit: 0 }, entries: entries(1, 3, 1) });
    await store.save({ entries: entries(4, 4, 1) });
    const before = await dataEnd(dir);
    await store.save({ entries: [entry(5, 1, 'the last record, torn by a crash')] });
    await store.close();
    const full = await dataEnd(dir);
    assert.ok(full > before);
    assert.equal(statSync(join(dir, walFiles(dir)[0])).size, 8192, 'the segment is preallocated');

    // A crash leaves the preallocated segment written up to `cut`, zeros after; a segment of an older release (not
    // preallocated) simply ends at `cut`.
    for (const layout of ['preallocated', 'older release'] as const) {
      for (let cut = before; cut <= full; cut++) {
        const copy = tempDir();
        cpSync(dir, copy, { recursive: true });
        const segmentCopy = join(copy, walFiles(copy)[0]);
        if (layout === 'preallocated') zeroFrom(segmentCopy, cut, full);
        else truncateSync(segmentCopy, cut);
        assert.equal((await FileLogStore.inspect(copy)).tornTailAt !== undefined, cut !== full && cut !== before, `${layout}, cut at ${cut}: torn tail reported`);
        const { store: s, recovered } = await FileLogStore.open(copy, small);
        const expectedLast = cut === full ? 5 : 4;
        assert.equal(recovered.entries.length, expectedLast, `${layout}, cut at ${cut} of ${full}`);
        assert.deepEqual(recovered.hardState, { term: 1, vote: 1, commit: 0 });
        // The store keeps working after truncating the tail, and what it writes next survives.
        await s.save({ entries: [entry(expectedLast + 1, 2)] });
        await s.close();
        const again = await FileLogStore.open(copy, small);
        assert.equal(again.recovered.entries.length, expectedLast + 1, `cut at ${cut}: write after recovery`);
        assert.equal(again.recovered.entries[expectedLast].term, 2);
        await again.store.close();
        rmSync(copy, { recursive: true, force: true });
      }
    }
  });

  it('reads a preallocated segment that stopped being the last (the segment size was lowered between runs)', async () => {
    const dir = tempDir();
    const first = await FileLogStore.open(dir, { segmentSizeBytes: 65536 });
    await first.store.save({ hardState: { term: 1, vote: 1, commit: 2 }, entries: entries(1, 20, 1) });
    await first.store.close();
    const second = await FileLogStore.open(dir, { segmentSizeBytes: 4096 });
    const big = Array.from({ length: 20 }, (_, i) => entry(21 + i, 1, 'x'.repeat(300)));
    await second.store.save({ entries: big }); // past 4096 bytes: the next save rolls over
    await second.store.save({ entries: entries(41, 41, 1) });
    await second.store.close();
    assert.ok(walFiles(dir).length >= 2, 'rolled over to a new segment');
    assert.equal(statSync(join(dir, walFiles(dir)[0])).size, 65536, 'the first segment keeps its preallocated zeros');
    const { store, recovered } = await FileLogStore.open(dir, { segmentSizeBytes: 4096 });
    assert.deepEqual(recovered.entries.map((e) => e.index), Array.from({ length: 41 }, (_, i) => i + 1));
    await store.close();
  });

  it('truncates a zero-filled or garbage tail with nothing valid after it', async () => {
    for (const tail of [Buffer.alloc(300), Buffer.from('x'.repeat(50))]) {
      const dir = tempDir();
      const { store } = await FileLogStore.open(dir);
      await store.save({ entries: entries(1, 10, 1) });
      await store.close();
      const segment = join(dir, walFiles(dir)[0]);
      const bytes = readFileSync(segment);
      tail.copy(bytes, await dataEnd(dir)); // where the next batch would have gone
      writeFileSync(segment, bytes);
      const { store: s, recovered } = await FileLogStore.open(dir);
      assert.equal(recovered.entries.length, 10);
      await s.close();
    }
  });

  it('refuses to start when a bad record is followed by valid ones, naming file and offset', async () => {
    const dir = tempDir();
    const { store } = await FileLogStore.open(dir);
    for (let i = 1; i <= 10; i++) await store.save({ entries: [entry(i, 1, `payload number ${i}`)] });
    await store.close();
    const segment = join(dir, walFiles(dir)[0]);
    const bytes = readFileSync(segment);
    const at = bytes.indexOf('payload number 5');
    bytes[at + 3] ^= 0x10; // one flipped bit in the middle of the log
    writeFileSync(segment, bytes);
    await assert.rejects(FileLogStore.open(dir), (e: unknown) => {
      assert.ok(e instanceof CorruptionError);
      assert.equal(e.file, segment);
      assert.ok(e.offset > 0 && e.offset < at);
      assert.match(e.message, /record CRC mismatch, but a valid record follows/);
      assert.match(e.message, /Restore the data directory from a backup/);
      return true;
    });
  });

  it('refuses a damaged segment header and a damaged record in an earlier (complete) segment', async () => {
    const dir = tempDir();
    const { store } = await FileLogStore.open(dir, { segmentSizeBytes: 4096 });
    for (let i = 1; i <= 200; i++) await store.save({ entries: [entry(i, 1, `record ${i} `.padEnd(40, '.'))] });
    await store.close();
    const [first] = walFiles(dir);

    const headerDamaged = tempDir();
    cpSync(dir, headerDamaged, { recursive: true });
    const h = readFileSync(join(headerDamaged, first));
    h[17] ^= 1;
    writeFileSync(join(headerDamaged, first), h);
    await assert.rejects(FileLogStore.open(headerDamaged), /at offset 0: bad segment header \(segment header CRC mismatch\)/);

    const tailDamaged = tempDir();
    cpSync(dir, tailDamaged, { recursive: true });
    const t = readFileSync(join(tailDamaged, first));
    t[t.length - 2] ^= 1; // the very last record of a non-last segment: still corruption
    writeFileSync(join(tailDamaged, first), t);
    await assert.rejects(FileLogStore.open(tailDamaged), /in a segment that was complete and synced/);

    const missing = tempDir();
    cpSync(dir, missing, { recursive: true });
    rmSync(join(missing, walFiles(missing)[1]));
    await assert.rejects(FileLogStore.open(missing), /the segments in between are missing/);
  });
});

describe('FileLogStore group commit', () => {
  it('covers many concurrent saves with few fdatasyncs, acknowledging each only when durable', async () => {
    const dir = tempDir();
    let syncs = 0;
    let savesCovered = 0;
    const { store } = await FileLogStore.open(dir, { metrics: { onSync: (_ms, _bytes, _records, saves) => { syncs++; savesCovered += saves; } } });
    const n = 500;
    const acks: Promise<void>[] = [];
    for (let i = 1; i <= n; i++) acks.push(store.save({ entries: [entry(i, 1)], hardState: { term: 1, vote: 1, commit: i - 1 } }));
    await Promise.all(acks);
    assert.equal(savesCovered, n);
    // The first save syncs alone; everything queued during that sync shares the second one.
    assert.ok(syncs <= 5, `expected group commit, got ${syncs} fdatasyncs for ${n} saves`);
    await store.close();
    const { store: s2, recovered } = await FileLogStore.open(dir);
    assert.equal(recovered.entries.length, n);
    assert.equal(recovered.hardState.commit, n - 1);
    await s2.close();
  });
});

describe('FileLogStore batch bound', () => {
  it('splits a burst of big saves into writes of at most 32 MiB, in order', async () => {
    const dir = tempDir();
    const batches: number[] = [];
    const { store } = await FileLogStore.open(dir, { metrics: { onSync: (_ms, bytes) => batches.push(bytes) } });
    const big = 'b'.repeat(4 * 1024 * 1024);
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.save({ entries: [entry(i + 1, 1, `${i + 1}:${big}`)] })));
    assert.ok(batches.every((b) => b <= 32 * 1024 * 1024), `batch sizes ${batches.join(', ')}`);
    assert.ok(batches.length >= 3 && batches.length < 20, `${batches.length} batches`);
    await store.close();
    const { store: s2, recovered } = await FileLogStore.open(dir);
    assert.deepEqual(recovered.entries.map((e) => Buffer.from(e.data.subarray(0, 3)).toString().split(':')[0]), Array.from({ length: 20 }, (_, i) => String(i + 1)));
    await s2.close();
  });
});

describe('FileLogStore snapshots and compaction', () => {
  it('writes snapshots atomically, keeps the newest two, ignores leftover temporaries', async () => {
    const dir = tempDir();
    const { store } = await FileLogStore.open(dir);
    await store.save({ entries: entries(1, 30, 1) });
    for (const index of [10, 20, 30]) await store.saveSnapshot(snapshot(index, 1));
    const snaps = readdirSync(dir).filter((n) => n.endsWith('.snap')).sort();
    assert.deepEqual(snaps, ['snap-0000000000000014-0000000000000001.snap', 'snap-000000000000001e-0000000000000001.snap']);
    await store.close();
    // A crash mid-write leaves only a temporary file, which recovery deletes and never reads.
    writeFileSync(join(dir, 'snap-0000000000000028-0000000000000001.snap.tmp'), 'half a snapshot');
    const { store: s2, recovered } = await FileLogStore.open(dir);
    assert.equal(recovered.snapshot?.metadata.index, 30);
    assert.equal(Buffer.from(recovered.snapshot!.data).toString(), 'state@30');
    assert.deepEqual(recovered.snapshot?.metadata.confState, { voters: [1, 2, 3], learners: [4], votersOutgoing: [] });
    assert.equal(recovered.entries.length, 0);
    assert.ok(!readdirSync(dir).some((n) => n.endsWith('.tmp')));
    await s2.close();
  });

  it('refuses a damaged snapshot', async () => {
    const dir = tempDir();
    const { store } = await FileLogStore.open(dir);
    await store.saveSnapshot(snapshot(5, 1, 'important state'));
    await store.close();
    const file = join(dir, readdirSync(dir).find((n) => n.endsWith('.snap'))!);
    const bytes = readFileSync(file);
    bytes[bytes.length - 3] ^= 4;
    writeFileSync(file, bytes);
    await assert.rejects(FileLogStore.open(dir), /snapshot CRC mismatch/);
  });

  it('reads back a kept snapshot by index (checked), and refuses a pruned or damaged one', async () => {
    const dir = tempDir();
    const { store } = await FileLogStore.open(dir);
    await store.save({ entries: entries(1, 30, 1) });
    // Larger than one CRC step (4 MiB), so the stepped check runs more than one step.
    const big = Buffer.alloc(9 * 1024 * 1024 + 7, 0x5a);
    await store.saveSnapshot({ metadata: { index: 10, term: 1, confState: { voters: [1, 2, 3], learners: [], votersOutgoing: [] } }, data: big });
    for (const index of [20, 30]) await store.saveSnapshot(snapshot(index, 1));
    const read = await store.readSnapshot(30);
    assert.equal(Buffer.from(read.data).toString(), 'state@30');
    assert.deepEqual(read.metadata, { index: 30, term: 1, confState: { voters: [1, 2, 3], learners: [4], votersOutgoing: [] } });
    await assert.rejects(store.readSnapshot(10), /no snapshot file at index 10/); // pruned: the newest two are kept
    await store.close();

    const dir2 = tempDir();
    const { store: s2 } = await FileLogStore.open(dir2);
    await s2.saveSnapshot({ metadata: { index: 10, term: 1, confState: { voters: [1], learners: [], votersOutgoing: [] } }, data: big });
    assert.ok(Buffer.from((await s2.readSnapshot(10)).data).equals(big));
    const file = join(dir2, readdirSync(dir2).find((n) => n.endsWith('.snap'))!);
    const bytes = readFileSync(file);
    bytes[bytes.length - 5 * 1024 * 1024] ^= 1; // in a later CRC step than the first
    writeFileSync(file, bytes);
    await assert.rejects(s2.readSnapshot(10), /snapshot CRC mismatch/);
    await s2.close();
  });

  it('writes a snapshot from parts as they are produced; it reads back and recovers as their concatenation', async () => {
    const dir = tempDir();
    const { store } = await FileLogStore.open(dir);
    await store.save({ entries: entries(1, 12, 1) });
    const parts = [Buffer.from('head'), Buffer.alloc(5 * 1024 * 1024, 0x33), Buffer.alloc(0), Buffer.from('tail')];
    let pulled = 0;
    async function* produce(): AsyncGenerator<Uint8Array> {
      for (const p of parts) { pulled++; yield p; await new Promise((resolve) => setImmediate(resolve)); }
    }
    const metadata = { index: 12, term: 1, confState: { voters: [1, 2, 3], learners: [], votersOutgoing: [] } };
    assert.equal(await store.saveSnapshotParts(metadata, produce()), Buffer.concat(parts).length);
    assert.equal(pulled, parts.length);
    assert.ok(Buffer.from((await store.readSnapshot(12)).data).equals(Buffer.concat(parts)));
    await store.close();
    const { store: s2, recovered } = await FileLogStore.open(dir);
    assert.deepEqual(recovered.snapshot?.metadata, metadata);
    assert.ok(Buffer.from(recovered.snapshot!.data).equals(Buffer.concat(parts)));
    await s2.close();
  });

  it('compacts whole segments below a durable snapshot and recovers from snapshot + tail', async () => {
    const dir = tempDir();
    const { store } = await FileLogStore.open(dir, { segmentSizeBytes: 4096 });
    for (let i = 1; i <= 300; i += 3) await store.save({ entries: entries(i, i + 2, 1), hardState: { term: 1, vote: 1, commit: i + 2 } });
    const before = store.segmentCount;
    await assert.rejects(store.compact(200), /past the newest durable snapshot \(0\)/);
    await store.saveSnapshot(snapshot(200, 1));
    await store.compact(200);
    assert.ok(store.segmentCount < before && store.segmentCount >= 2, `segments ${before} -> ${store.segmentCount}`);
    assert.equal(walFiles(dir).length, store.segmentCount);
    await store.close();
    const { store: s2, recovered } = await FileLogStore.open(dir, { segmentSizeBytes: 4096 });
    assert.equal(recovered.snapshot?.metadata.index, 200);
    assert.deepEqual(recovered.entries.map((e) => e.index), entries(201, 300, 1).map((e) => e.index));
    assert.deepEqual(recovered.hardState, { term: 1, vote: 1, commit: 300 });
    await s2.close();
  });
});

describe('FileLogStore write failures', () => {
  it('ENOSPC rejects the save and every later one; recovery keeps what was acknowledged', async (t) => {
    const mnt = tempDir();
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { stdio: 'pipe' });
    } catch (e) {
      skipUnlessCi(t, `cannot mount a tmpfs (needs root / CAP_SYS_ADMIN): ${(e as Error).message.split('\n')[0]}`);
      return;
    }
    try {
      const dir = join(mnt, 'wal');
      mkdirSync(dir);
      const { store } = await FileLogStore.open(dir);
      const big = 'x'.repeat(64 * 1024);
      let acked = 0;
      let failure: unknown;
      for (let i = 1; i <= 64; i++) {
        try {
          await store.save({ entries: [entry(i, 1, big)] });
          acked = i;
        } catch (e) {
          failure = e;
          break;
        }
      }
      assert.ok(failure instanceof StorageFailedError, `expected ENOSPC, acked ${acked}`);
      assert.match((failure as Error).message, /ENOSPC/);
      assert.equal(store.failure, failure);
      // Sticky: even a tiny save that would fit is refused; the server must stop acknowledging.
      await assert.rejects(store.save({ hardState: { term: 9, vote: 0, commit: 0 } }), StorageFailedError);
      await store.close();
      const { store: s2, recovered } = await FileLogStore.open(dir);
      assert.ok(recovered.entries.length >= acked, `recovered ${recovered.entries.length} < acknowledged ${acked}`);
      assert.deepEqual(recovered.hardState, { term: 0, vote: 0, commit: 0 });
      await s2.close();
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

/** A seeded xorshift PRNG, so a failing property test replays. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

describe('MemoryLogStore and FileLogStore agree', () => {
  it('recover the same state after the same random updates (truncations, snapshots, rotations)', async () => {
    for (let seed = 1; seed <= 4; seed++) {
      const random = rng(seed);
      const dir = tempDir();
      const file = await FileLogStore.open(dir, { segmentSizeBytes: 4096 });
      const mem = MemoryLogStore.open();
      let last = 0;
      let floor = 0;
      let term = 1;
      const saves: Promise<void>[] = [];
      for (let step = 0; step < 150; step++) {
        const update: { hardState?: HardState; entries?: Entry[]; snapshot?: Snapshot } = {};
        const r = random();
        if (r < 0.08) {
          const index = last + 1 + Math.floor(random() * 5);
          update.snapshot = snapshot(index, term);
          last = floor = index;
        }
        if (random() < 0.8) {
          // Usually append; sometimes overwrite a suffix above the snapshot floor with a newer term.
          const from = random() < 0.2 && last > floor ? floor + 1 + Math.floor(random() * (last - floor)) : last + 1;
          if (from <= last) term++;
          const n = 1 + Math.floor(random() * 6);
          update.entries = entries(from, from + n - 1, term);
          last = from + n - 1;
        }
        if (random() < 0.5) update.hardState = { term, vote: 1 + Math.floor(random() * 3), commit: floor };
        const u: StorageUpdate = update;
        saves.push(file.store.save(u), mem.store.save(u));
      }
      await Promise.all(saves);
      await file.store.close();
      const reopened = await FileLogStore.open(dir, { segmentSizeBytes: 4096 });
      assert.deepEqual(plain(reopened.recovered), plain(mem.store.durableState()), `seed ${seed}`);
      await reopened.store.close();
    }
  });
});

it('creates an owner-only directory with one segment and no temporaries', async () => {
  const dir = join(tempDir(), 'nested', 'data');
  const { store } = await FileLogStore.open(dir);
  await store.saveSnapshot(snapshot(1, 1));
  await store.close();
  assert.deepEqual(readdirSync(dir).sort(), ['0000000000000000.wal', 'snap-0000000000000001-0000000000000001.snap']);
  assert.ok(existsSync(join(dir, '0000000000000000.wal')));
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  for (const f of readdirSync(dir)) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
});

describe('MemoryLogStore', () => {
  it('survives reopen like a disk, loses saves not yet applied, and fails stickily', async () => {
    const { store } = MemoryLogStore.open();
    await store.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 1, commit: 2 } });
    const lost = store.save({ entries: entries(4, 4, 1) });
    const { store: second, recovered } = store.reopen(); // the crash happens before the save applies
    await assert.rejects(lost, /closed before the save became durable/);
    assert.deepEqual(recovered.entries.map((e) => e.index), [1, 2, 3]);
    assert.deepEqual(recovered.hardState, { term: 1, vote: 1, commit: 2 });
    second.injectFailure(new Error('EIO: simulated'));
    await assert.rejects(second.save({ entries: entries(4, 4, 1) }), StorageFailedError);
    await assert.rejects(second.save({ hardState: { term: 2, vote: 0, commit: 2 } }), /EIO: simulated/);
    assert.ok(second.failure instanceof StorageFailedError);
    assert.deepEqual(second.durableState().entries.map((e) => e.index), [1, 2, 3]);
    await assert.rejects(second.save({ entries: entries(9, 9, 1) }), StorageFailedError);
  });

  it('rejects bad input like FileLogStore does', async () => {
    const { store } = MemoryLogStore.open();
    await store.save({ entries: entries(1, 2, 1) });
    await assert.rejects(store.save({ entries: entries(4, 4, 1) }), /leaves a gap after the last index 2/);
    await store.saveSnapshot(snapshot(2, 1));
    await assert.rejects(store.save({ entries: entries(2, 2, 2) }), /at or below the snapshot index 2/);
    await assert.rejects(store.compact(5), /past the newest durable snapshot \(2\)/);
  });
});
