/**
 * FileLogStore: the shipping LogStore. A write-ahead log in segment files with CRC32C records and
 * group commit, atomic snapshot files, and recovery that truncates a torn tail but refuses
 * corruption. File format and recovery rules: see docs/storage.md.
 */
import { promises as fsp, writeSync } from 'fs';
import { dirname, join } from 'path';
import {
  CorruptionError, EMPTY_HARD_STATE, StorageFailedError,
  type LogStore, type OpenedLogStore, type SnapshotParts, type RecoveredState, type StorageMetrics, type StorageUpdate,
} from './log-store';
import {
  HARD_STATE_RECORD_SIZE, MARKER_RECORD_SIZE, RecordType, SEGMENT_HEADER_SIZE,
  checkSegmentHeader, decodeSnapshotFileStepped, encodeSegmentHeader, SnapshotFileCrc, entryRecordSize, findValidRecordAfter, lastNonZeroByte,
  parseRecord, writeEntryRecord, writeHardStateRecord, writeMarkerRecord, type WalRecord,
} from './wal-format';
import type { ConfState, Entry, HardState, Snapshot, SnapshotMetadata } from '../raft/types';

/** Options for {@link FileLogStore.open}. */
export interface FileLogStoreOptions {
  /**
   * A segment is closed and a new one started once it reaches this size (a batch never spans
   * segments, so a segment may exceed it by one batch).
   * @default 64 MiB
   */
  readonly segmentSizeBytes?: number;
  /** How many snapshot files to keep (newest first). @default 2 */
  readonly snapshotsToKeep?: number;
  /** Observability hooks (fsync latency, bytes written). */
  readonly metrics?: StorageMetrics;
}

const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;
const SEGMENT_NAME = /^([0-9a-f]{16})\.wal$/;
const SNAPSHOT_NAME = /^snap-([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}
function segmentName(seq: number): string {
  return `${hex16(seq)}.wal`;
}
function snapshotName(index: number, term: number): string {
  return `snap-${hex16(index)}-${hex16(term)}.snap`;
}

/** fsync a directory so that a create, rename or unlink in it is durable. */
async function syncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

interface SegmentInfo {
  readonly seq: number;
  readonly path: string;
  /** Highest entry index written in this segment (0 if none): compaction drops it when covered. */
  maxEntryIndex: number;
  /** Valid records and bytes found at recovery (not maintained while writing). */
  records: number;
  bytes: number;
}

/** What `FileLogStore.inspect` reports about a data directory. */
export interface LogInspection {
  /** The hard state recovery would return. */
  readonly hardState: HardState;
  /** Snapshot file names, oldest first. */
  readonly snapshots: readonly string[];
  readonly newestSnapshot?: { readonly index: number; readonly term: number; readonly confState: ConfState; readonly bytes: number };
  readonly segments: readonly { readonly file: string; readonly records: number; readonly bytes: number; readonly maxEntryIndex: number }[];
  /** The log range recovery would return (after the snapshot); undefined when empty. */
  readonly firstIndex?: number;
  readonly lastIndex?: number;
  readonly lastTerm?: number;
  /** Where `open` would truncate a torn tail, if there is one. */
  readonly tornTailAt?: { readonly file: string; readonly offset: number };
  /** Leftover temporaries `open` would delete. */
  readonly temporaryFiles: readonly string[];
}

interface PendingSave {
  readonly update: StorageUpdate;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  /** Encoded WAL bytes of this save (snapshot files not counted). */
  readonly bytes: number;
}

/**
 * Upper bound on one group-commit write. Past it the batch ends (a single larger save still goes
 * alone), so a burst of big saves never needs one huge contiguous buffer.
 */
const MAX_BATCH_BYTES = 32 * 1024 * 1024;
/**
 * Batches up to this size are written on the event loop: a write into the page cache takes microseconds, while a trip
 * through libuv's thread pool and back wakes two threads on every member's write path (puts at 1 client: 1.14x the
 * rate, docs/benchmarks.md). Larger ones (a busy leader's batches) go to the pool. The fdatasync always does.
 */
const SYNC_WRITE_MAX_BYTES = 64 * 1024;

/** A durable LogStore in a directory it owns exclusively. */
export class FileLogStore implements LogStore {
  /**
   * Reads the store in `dir` without changing anything (no truncation, no clean-up) and describes
   * it: for operators (`ha-runtime wal-inspect`) and tests. Rejects with a CorruptionError exactly
   * when `open` would.
   */
  static async inspect(dir: string): Promise<LogInspection> {
    const names = await fsp.readdir(dir);
    const snapshot = await loadNewestSnapshot(dir, names);
    const snapshotIndex = snapshot?.metadata.index ?? 0;
    const replay = await replaySegments(dir, names, snapshotIndex);
    const entries = replay.entries.filter((e) => e.index > snapshotIndex);
    return {
      hardState: replay.hardState,
      snapshots: names.filter((n) => SNAPSHOT_NAME.test(n)).sort(),
      newestSnapshot: snapshot
        ? { ...snapshot.metadata, bytes: snapshot.data.length }
        : undefined,
      segments: replay.segments.map((seg) => ({ file: seg.path, records: seg.records, bytes: seg.bytes, maxEntryIndex: seg.maxEntryIndex })),
      firstIndex: entries[0]?.index,
      lastIndex: entries.at(-1)?.index,
      lastTerm: entries.at(-1)?.term,
      tornTailAt: replay.truncatedAt === undefined ? undefined : { file: replay.segments.at(-1)!.path, offset: replay.truncatedAt },
      temporaryFiles: names.filter((n) => n.endsWith('.tmp')),
    };
  }

  /**
   * Opens (creating if needed) the store in `dir` and recovers its state. A torn tail of the last
   * segment is truncated; anything else damaged rejects with a CorruptionError naming the file.
   */
  static async open(dir: string, options: FileLogStoreOptions = {}): Promise<OpenedLogStore<FileLogStore>> {
    const segmentSize = options.segmentSizeBytes ?? DEFAULT_SEGMENT_SIZE;
    if (!Number.isSafeInteger(segmentSize) || segmentSize < 4096) {
      throw new RangeError(`FileLogStore: segmentSizeBytes (${segmentSize}) must be an integer >= 4096`);
    }
    const keep = options.snapshotsToKeep ?? 2;
    if (!Number.isInteger(keep) || keep < 1) {
      throw new RangeError(`FileLogStore: snapshotsToKeep (${keep}) must be an integer >= 1`);
    }
    // Owner-only, like etcd: the log holds every client value, in the clear.
    const created = await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    // A new data directory must itself survive a crash, or the first "durable" save could vanish.
    if (created !== undefined) await syncDir(dirname(created));
    // Two writers on one WAL interleave records and destroy it. Node has no flock, so this guards
    // the process (tests, a double start); across processes the StatefulSet's one-pod-per-volume
    // rule is what protects the directory.
    const realDir = await fsp.realpath(dir);
    if (FileLogStore.openDirectories.has(realDir)) {
      throw new Error(`FileLogStore: ${realDir} is already open in this process; close the other store first`);
    }
    FileLogStore.openDirectories.add(realDir);
    try {
      return await FileLogStore.recover(dir, realDir, segmentSize, keep, options);
    } catch (e) {
      FileLogStore.openDirectories.delete(realDir);
      throw e;
    }
  }

  private static readonly openDirectories = new Set<string>();

  private static async recover(dir: string, realDir: string, segmentSize: number, keep: number,
    options: FileLogStoreOptions): Promise<OpenedLogStore<FileLogStore>> {
    const names = await fsp.readdir(dir);
    // Leftovers of an interrupted snapshot write or segment creation: never renamed, so never live.
    for (const name of names.filter((n) => n.endsWith('.tmp'))) await fsp.unlink(join(dir, name));

    const snapshot = await loadNewestSnapshot(dir, names);
    const snapshotIndex = snapshot?.metadata.index ?? 0;
    const replay = await replaySegments(dir, names, snapshotIndex);

    if (replay.markerIndex > snapshotIndex) {
      throw new CorruptionError(
        `${dir}: the WAL records a snapshot installed at index ${replay.markerIndex}, but the newest snapshot file is at index ${snapshotIndex}. ` +
        'The snapshot file was lost; restore the data directory from a backup or remove this member and re-add it empty.',
        dir, 0);
    }
    const entries = replay.entries.filter((e) => e.index > snapshotIndex);
    if (entries.length > 0 && entries[0].index !== snapshotIndex + 1) {
      throw new CorruptionError(
        `${dir}: the log starts at index ${entries[0].index} but the snapshot ends at ${snapshotIndex}: entries are missing ` +
        '(a segment was deleted?). Restore the data directory from a backup or remove this member and re-add it empty.',
        dir, 0);
    }
    const lastIndex = entries.length > 0 ? entries[entries.length - 1].index : Math.max(snapshotIndex, lastOf(replay.entries));

    const store = new FileLogStore(dir, segmentSize, keep, options.metrics ?? {}, replay.segments, replay.hardState, lastIndex, snapshotIndex);
    store.realDir = realDir;
    if (replay.segments.length === 0) {
      await store.createSegment(0);
    } else {
      const last = replay.segments[replay.segments.length - 1];
      store.handle = await fsp.open(last.path, 'r+');
      store.writeOffset = replay.lastSegmentEnd;
      // Truncate a torn tail, so a later, shorter batch cannot leave stale bytes behind it; preallocating again (also a
      // segment written before segments were preallocated) fills with zeros and makes both durable.
      if (replay.truncatedAt !== undefined) await store.handle.truncate(replay.truncatedAt);
      await store.preallocate(store.handle);
    }
    const recovered: RecoveredState = {
      hardState: replay.hardState,
      ...(snapshot ? { snapshot } : {}),
      entries,
    };
    return { store, recovered };
  }

  private handle: fsp.FileHandle | undefined;
  private writeOffset = 0;
  private pending: PendingSave[] = [];
  private flushing: Promise<void> | undefined;
  private failed: StorageFailedError | undefined;
  private closed = false;
  private snapshotQueue: Promise<void> = Promise.resolve();
  private realDir = '';

  private constructor(
    private readonly dir: string,
    private readonly segmentSize: number,
    private readonly snapshotsToKeep: number,
    private readonly metrics: StorageMetrics,
    private readonly segments: SegmentInfo[],
    /**
     * The last durable hard state, rewritten at the head of every new segment. Never a queued
     * one: its commit could point past entries that are not durable yet.
     */
    private durableHardState: HardState,
    /** The last log index as of the last queued save: validates that new entries connect. */
    private queuedLastIndex: number,
    /** The index of the newest durable snapshot: compaction may not pass it. */
    private snapshotIndex: number,
  ) { }

  /** The error that failed the store, or undefined while it is healthy. */
  get failure(): Error | undefined {
    return this.failed;
  }

  /** The directory this store owns. */
  get directory(): string {
    return this.dir;
  }

  /** Makes `update` durable; resolves after the fdatasync that covers it. See LogStore. */
  save(update: StorageUpdate): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new Error(`FileLogStore(${this.dir}): save after close`));
    try {
      this.validate(update);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ update, resolve, reject, bytes: walBytes(update) });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  /** Makes a locally taken snapshot durable (atomically), keeping the newest few. See LogStore. */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    await this.saveSnapshotParts(snapshot.metadata, [snapshot.data]);
  }

  /** {@link saveSnapshot} from the data's parts as they are produced; resolves to the data's length. See LogStore. */
  saveSnapshotParts(metadata: SnapshotMetadata, parts: SnapshotParts): Promise<number> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new Error(`FileLogStore(${this.dir}): saveSnapshot after close`));
    return this.writeSnapshotSerialized(metadata, parts, true).catch((e) => {
      // Closing abandons a snapshot still being written (its temporary file is removed on recovery): not a failure.
      if (this.closed && !this.failed) throw new Error(`FileLogStore(${this.dir}): closed while writing the snapshot at index ${metadata.index}; abandoned`);
      throw this.fail(e, 'writing a snapshot');
    });
  }

  /**
   * Reads back and checks the durable snapshot at `index` (see LogStore). A snapshot pruned meanwhile (two newer ones
   * were taken) rejects; the caller asks again for the newest.
   */
  async readSnapshot(index: number): Promise<Snapshot> {
    if (this.failed) throw this.failed;
    const name = (await fsp.readdir(this.dir)).find((n) => parseInt(SNAPSHOT_NAME.exec(n)?.[1] ?? '', 16) === index);
    if (name === undefined) throw new Error(`FileLogStore(${this.dir}): no snapshot file at index ${index} (newer snapshots replaced it)`);
    return loadSnapshotFile(this.dir, name);
  }

  /** Snapshot writes (local and installed) run one at a time, so pruning never races a write. */
  private writeSnapshotSerialized(metadata: SnapshotMetadata, parts: SnapshotParts, abandonOnClose = false): Promise<number> {
    const run = this.snapshotQueue.then(() => {
      if (this.failed) throw this.failed;
      return this.writeSnapshotFile(metadata, parts, abandonOnClose);
    });
    this.snapshotQueue = run.then(() => undefined, () => undefined);
    return run;
  }

  /** Deletes whole non-active segments whose entries all lie at or below `snapshotIndex`. */
  async compact(snapshotIndex: number): Promise<void> {
    if (this.failed) throw this.failed;
    if (!Number.isSafeInteger(snapshotIndex) || snapshotIndex < 0) {
      throw new RangeError(`compact: snapshotIndex (${snapshotIndex}) must be a non-negative integer`);
    }
    if (snapshotIndex > this.snapshotIndex) {
      throw new RangeError(
        `compact: snapshotIndex ${snapshotIndex} is past the newest durable snapshot (${this.snapshotIndex}); ` +
        'save a snapshot covering it first, or those entries would be lost');
    }
    let dropped = 0;
    // A prefix only: a later segment may truncate back into an earlier one's range.
    while (this.segments.length > 1 && this.segments[0].maxEntryIndex <= snapshotIndex) {
      const segment = this.segments.shift()!;
      await fsp.unlink(segment.path);
      dropped++;
    }
    if (dropped > 0) await syncDir(this.dir);
  }

  /** Waits for in-flight saves and snapshot writes, then closes the active segment. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flushing;
    await this.snapshotQueue;
    const handle = this.handle;
    this.handle = undefined;
    try {
      await handle?.close();
    } finally {
      FileLogStore.openDirectories.delete(this.realDir);
    }
  }

  /** Number of live segment files (for tests and metrics). */
  get segmentCount(): number {
    return this.segments.length;
  }

  private validate(update: StorageUpdate): void {
    let last = this.queuedLastIndex;
    if (update.snapshot) {
      const { index, term } = update.snapshot.metadata;
      if (!Number.isSafeInteger(index) || index < 0 || !Number.isSafeInteger(term) || term < 0) {
        throw new RangeError(`save: snapshot index/term (${index}/${term}) must be non-negative integers`);
      }
      last = index;
    }
    const entries = update.entries ?? [];
    if (entries.length > 0) {
      const first = entries[0].index;
      if (!Number.isSafeInteger(first) || first < 1) throw new RangeError(`save: entry index ${first} must be a positive integer`);
      if (first > last + 1) {
        throw new RangeError(`save: first entry index ${first} leaves a gap after the last index ${last}; entries must connect to the log`);
      }
      const floor = update.snapshot ? update.snapshot.metadata.index : this.snapshotIndex;
      if (first <= floor) {
        throw new RangeError(`save: entry index ${first} is at or below the snapshot index ${floor}; compacted entries cannot be overwritten`);
      }
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i];
        if (i > 0 && e.index !== first + i) {
          throw new RangeError(`save: entries must be contiguous; index ${e.index} follows ${entries[i - 1].index}`);
        }
        // Checked here, not when encoding: a bad value must reject this save, not fail the store.
        if (!Number.isSafeInteger(e.term) || e.term < 0) throw new RangeError(`save: entry ${e.index} has term ${e.term}; terms are non-negative integers`);
        if (!Number.isInteger(e.type) || e.type < 0 || e.type > 255) throw new RangeError(`save: entry ${e.index} has type ${e.type}; expected an EntryType`);
        if (!(e.data instanceof Uint8Array)) throw new RangeError(`save: entry ${e.index} data must be a Uint8Array`);
      }
      last = entries[entries.length - 1].index;
    }
    const hs = update.hardState;
    if (hs && ![hs.term, hs.vote, hs.commit].every((n) => Number.isSafeInteger(n) && n >= 0)) {
      throw new RangeError(`save: hard state ${JSON.stringify(hs)} must hold non-negative integers`);
    }
    this.queuedLastIndex = last;
  }

  private fail(error: unknown, what: string): StorageFailedError {
    if (!this.failed) {
      const msg = error instanceof Error ? error.message : String(error);
      this.failed = new StorageFailedError(
        `FileLogStore(${this.dir}) failed while ${what}: ${msg}. Nothing after the last acknowledged save is durable; ` +
        'stop serving and restart the process (recovery reads what reached the disk).', error);
    }
    return this.failed;
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        let take = 0;
        let bytes = 0;
        while (take < this.pending.length && (take === 0 || bytes + this.pending[take].bytes <= MAX_BATCH_BYTES)) {
          bytes += this.pending[take].bytes;
          take++;
        }
        const batch = this.pending.splice(0, take);
        if (this.failed) {
          for (const p of batch) p.reject(this.failed);
          continue;
        }
        try {
          await this.writeBatch(batch);
        } catch (e) {
          const failure = this.fail(e, 'writing the WAL');
          for (const p of batch) p.reject(failure);
          continue;
        }
        for (const p of batch) p.resolve();
        // Let the callers just acknowledged run (they are promise continuations) so their next
        // saves join the coming batch instead of waiting a whole extra sync for the one after.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.writeOffset >= this.segmentSize && !this.failed) {
          try {
            await this.createSegment(this.segments[this.segments.length - 1].seq + 1);
          } catch (e) {
            this.fail(e, 'starting a new WAL segment');
          }
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** Writes one group-commit batch: snapshot files first, then all records in one write, then one fdatasync. */
  private async writeBatch(batch: readonly PendingSave[]): Promise<void> {
    let size = 0;
    let records = 0;
    for (const { update, bytes } of batch) {
      // The snapshot file must be durable before the marker that makes replay depend on it.
      if (update.snapshot) await this.writeSnapshotSerialized(update.snapshot.metadata, [update.snapshot.data]);
      size += bytes;
      records += (update.snapshot ? 1 : 0) + (update.entries?.length ?? 0) + (update.hardState ? 1 : 0);
    }
    const buf = Buffer.allocUnsafe(size);
    let offset = 0;
    const segment = this.segments[this.segments.length - 1];
    for (const { update } of batch) {
      if (update.snapshot) offset = writeMarkerRecord(buf, update.snapshot.metadata.index, update.snapshot.metadata.term, offset);
      for (const entry of update.entries ?? []) {
        offset = writeEntryRecord(buf, entry, offset);
        if (entry.index > segment.maxEntryIndex) segment.maxEntryIndex = entry.index;
      }
      if (update.hardState) offset = writeHardStateRecord(buf, update.hardState, offset);
    }
    const handle = this.handle!;
    if (size <= SYNC_WRITE_MAX_BYTES) writeFullySync(handle.fd, buf, this.writeOffset);
    else await writeFully(handle, buf, this.writeOffset);
    this.writeOffset += size;
    this.metrics.onBytesWritten?.(size);
    const started = performance.now();
    await handle.datasync();
    this.metrics.onSync?.(performance.now() - started, size, records, batch.length);
    for (const { update } of batch) if (update.hardState) this.durableHardState = update.hardState;
  }

  /**
   * Extends a segment to the full segment size (zeros, sparse) and syncs it, so that appending records never grows the
   * file: fdatasync then has no file size to commit, only data (etcd preallocates its WAL files for the same reason).
   * Replay reads the zeros as the end of the records.
   */
  private async preallocate(handle: fsp.FileHandle): Promise<void> {
    if ((await handle.stat()).size < this.segmentSize) await handle.truncate(this.segmentSize);
    await handle.sync();
  }

  /** Creates segment `seq` atomically (tmp, header, hard state, fsync, rename, fsync dir) and makes it active. */
  private async createSegment(seq: number): Promise<void> {
    const path = join(this.dir, segmentName(seq));
    const tmp = `${path}.tmp`;
    const buf = Buffer.alloc(SEGMENT_HEADER_SIZE + HARD_STATE_RECORD_SIZE);
    encodeSegmentHeader(seq).copy(buf, 0);
    // Every segment opens with the current hard state, so compaction never deletes the only copy.
    writeHardStateRecord(buf, this.durableHardState, SEGMENT_HEADER_SIZE);
    const handle = await fsp.open(tmp, 'w+', 0o600);
    try {
      await writeFully(handle, buf, 0);
      await this.preallocate(handle);
      await fsp.rename(tmp, path);
      await syncDir(this.dir);
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw e;
    }
    this.metrics.onBytesWritten?.(buf.length);
    const previous = this.handle;
    this.handle = handle;
    this.writeOffset = buf.length;
    this.segments.push({ seq, path, maxEntryIndex: 0, records: 1, bytes: buf.length });
    await previous?.close();
  }

  /**
   * Writes the snapshot file part by part with a running CRC (so a large snapshot is never whole in memory), then
   * its header, fsyncs, renames it into place and prunes the oldest. Resolves to the data's length. A local snapshot
   * (`abandonOnClose`) stops being written when the store closes; an installed one is finished.
   */
  private async writeSnapshotFile(metadata: SnapshotMetadata, parts: SnapshotParts, abandonOnClose: boolean): Promise<number> {
    const { index, term } = metadata;
    const path = join(this.dir, snapshotName(index, term));
    const tmp = `${path}.tmp`;
    const crc = new SnapshotFileCrc(metadata);
    let offset = crc.header.length;
    const handle = await fsp.open(tmp, 'w', 0o600);
    try {
      for await (const part of parts) {
        if (abandonOnClose && this.closed) throw new Error('closed');
        await crc.update(part);
        await writeFully(handle, Buffer.from(part.buffer, part.byteOffset, part.byteLength), offset);
        offset += part.byteLength;
      }
      await writeFully(handle, crc.header, 0);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(tmp, path);
    await syncDir(this.dir);
    this.metrics.onBytesWritten?.(offset);
    if (index > this.snapshotIndex) this.snapshotIndex = index;
    await this.pruneSnapshots();
    return offset - crc.header.length;
  }

  private async pruneSnapshots(): Promise<void> {
    const files = (await fsp.readdir(this.dir))
      .map((name) => ({ name, m: SNAPSHOT_NAME.exec(name) }))
      .filter((f) => f.m)
      .sort((a, b) => (a.name < b.name ? 1 : -1)); // hex names sort by index, newest first
    const stale = files.slice(this.snapshotsToKeep);
    for (const f of stale) await fsp.unlink(join(this.dir, f.name));
    if (stale.length > 0) await syncDir(this.dir);
  }
}

function walBytes(update: StorageUpdate): number {
  let size = update.snapshot ? MARKER_RECORD_SIZE : 0;
  for (const entry of update.entries ?? []) size += entryRecordSize(entry);
  return size + (update.hardState ? HARD_STATE_RECORD_SIZE : 0);
}

function lastOf(entries: readonly Entry[]): number {
  return entries.length > 0 ? entries[entries.length - 1].index : 0;
}

function writeFullySync(fd: number, buf: Buffer, position: number): void {
  for (let done = 0; done < buf.length;) {
    const written = writeSync(fd, buf, done, buf.length - done, position + done);
    if (written <= 0) throw new Error(`short write at offset ${position + done}`);
    done += written;
  }
}

async function writeFully(handle: fsp.FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await handle.write(buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`short write at offset ${position + done}`);
    done += bytesWritten;
  }
}

async function loadNewestSnapshot(dir: string, names: readonly string[]): Promise<Snapshot | undefined> {
  const snaps = names.filter((n) => SNAPSHOT_NAME.test(n)).sort().reverse();
  return snaps.length === 0 ? undefined : loadSnapshotFile(dir, snaps[0]);
}

/** A snapshot file, checked: its CRC (in steps: it may be hundreds of MB) and that its content matches its name. */
async function loadSnapshotFile(dir: string, name: string): Promise<Snapshot> {
  const path = join(dir, name);
  const decoded = await decodeSnapshotFileStepped(await fsp.readFile(path));
  if (typeof decoded === 'string') {
    throw new CorruptionError(
      `${path}: ${decoded}. Snapshots are written atomically, so this is media corruption, not a crash. ` +
      'Restore the data directory from a backup, or remove this member from the cluster and re-add it with an empty directory.',
      path, 0);
  }
  const m = SNAPSHOT_NAME.exec(name)!;
  if (decoded.metadata.index !== parseInt(m[1], 16) || decoded.metadata.term !== parseInt(m[2], 16)) {
    throw new CorruptionError(`${path}: contents (index ${decoded.metadata.index}, term ${decoded.metadata.term}) do not match the file name`, path, 0);
  }
  return decoded;
}

/** The data replay keeps for an entry the snapshot covers (recovery drops such entries). */
const COVERED_BY_SNAPSHOT = Buffer.alloc(0);

interface ReplayResult {
  segments: SegmentInfo[];
  entries: Entry[];
  hardState: HardState;
  markerIndex: number;
  lastSegmentEnd: number;
  truncatedAt?: number;
}

/**
 * Replays every segment. Entries at or below `snapshotIndex` are dropped after replay, so their data is not copied out
 * of the segment buffers: only their indices matter (for gaps and overwrites).
 */
async function replaySegments(dir: string, names: readonly string[], snapshotIndex: number): Promise<ReplayResult> {
  const seqs = names.map((n) => SEGMENT_NAME.exec(n)).filter((m): m is RegExpExecArray => m !== null)
    .map((m) => parseInt(m[1], 16)).sort((a, b) => a - b);
  const result: ReplayResult = { segments: [], entries: [], hardState: EMPTY_HARD_STATE, markerIndex: 0, lastSegmentEnd: 0 };
  for (let s = 0; s < seqs.length; s++) {
    const seq = seqs[s];
    const path = join(dir, segmentName(seq));
    const isLast = s === seqs.length - 1;
    if (s > 0 && seq !== seqs[s - 1] + 1) {
      throw new CorruptionError(
        `${path}: segment ${seq} follows segment ${seqs[s - 1]}; the segments in between are missing. ` +
        'Restore the data directory from a backup, or remove this member and re-add it with an empty directory.', path, 0);
    }
    const buf = await fsp.readFile(path);
    const bad = checkSegmentHeader(buf, seq);
    if (bad) {
      throw new CorruptionError(
        `${path} at offset 0: bad segment header (${bad}). Segments are created atomically, so this is corruption. ` +
        'Restore the data directory from a backup, or remove this member and re-add it with an empty directory.', path, 0);
    }
    const segment: SegmentInfo = { seq, path, maxEntryIndex: 0, records: 0, bytes: buf.length };
    let offset = SEGMENT_HEADER_SIZE;
    while (offset < buf.length) {
      const parsed = parseRecord(buf, offset);
      if (!parsed.ok) {
        // Only zeros follow: the segment's preallocated space, not yet written. The records end here.
        const lastNonZero = lastNonZeroByte(buf, offset);
        if (lastNonZero < 0) break;
        const validAfter = isLast ? findValidRecordAfter(buf, offset, lastNonZero) : offset;
        if (validAfter !== undefined) {
          throw new CorruptionError(
            `${path} at offset ${offset}: ${parsed.reason}, ` +
            (isLast ? `but a valid record follows at offset ${validAfter}` : 'in a segment that was complete and synced') +
            '. This is not a torn write; durable records would be lost by truncating. ' +
            'Restore the data directory from a backup, or remove this member and re-add it with an empty directory ' +
            '(it will catch up from the leader).', path, offset);
        }
        // A torn tail: the crash interrupted the last batch, which was never acknowledged.
        result.truncatedAt = offset;
        break;
      }
      applyRecord(result, parsed.record, path, offset, segment, snapshotIndex);
      segment.records++;
      offset = parsed.next;
    }
    segment.bytes = offset;
    result.segments.push(segment);
    if (isLast) result.lastSegmentEnd = offset;
  }
  return result;
}

function applyRecord(result: ReplayResult, record: WalRecord, path: string, offset: number, segment: SegmentInfo, snapshotIndex: number): void {
  switch (record.type) {
    case RecordType.HARD_STATE:
      result.hardState = record.hardState;
      return;
    case RecordType.SNAPSHOT_MARKER:
      result.entries = [];
      result.markerIndex = Math.max(result.markerIndex, record.index);
      return;
    case RecordType.ENTRY: {
      // Copy the data out of the segment buffer: a view would pin the whole segment in memory.
      const data = record.entry.index > snapshotIndex ? Buffer.from(record.entry.data) : COVERED_BY_SNAPSHOT;
      const entry = { ...record.entry, data };
      const entries = result.entries;
      if (entries.length > 0) {
        const first = entries[0].index;
        const last = entries[entries.length - 1].index;
        if (entry.index > last + 1) {
          throw new CorruptionError(`${path} at offset ${offset}: entry ${entry.index} leaves a gap after entry ${last}`, path, offset);
        }
        if (entry.index <= last) entries.length = Math.max(0, entry.index - first); // Raft overwrote a conflicting suffix
      }
      entries.push(entry);
      if (entry.index > segment.maxEntryIndex) segment.maxEntryIndex = entry.index;
    }
  }
}
