/**
 * Snapshots of the whole store (keys with their history, leases, revisions) without stalling the event loop:
 * {@link MvccStore.view} takes an immutable view in O(leases) (the index is cloned copy-on-write, records are
 * immutable), then {@link snapshotChunks} serializes it lazily, one ~`chunkBytes` frame per step, so the
 * server writes a chunk, yields to the event loop, and continues, while the store keeps applying writes.
 * {@link SnapshotRestorer} rebuilds a store frame by frame from the same byte stream, split anywhere.
 *
 * Stream: frames of [u32 LE payload length][payload]; payload = frame type u8 + items until its end (codec.ts):
 * HEADER (magic version, applied index, revisions, leases), AUTH (users, roles, enabled flag; only when there is
 * auth state, so a store without it snapshots as before), MULTI (revisions that wrote several keys, in op
 * order), RECORDS (key + entries), END (record count: a truncated stream is detected).
 */
import { AuthStore } from './auth-store';
import { ByteReader, ByteWriter, DecodeError } from './codec';
import { ByteString } from './keys';
import { KeyRecord, SLOTS } from './record';
import { MvccStore, MvccStoreOptions, SnapshotHeader, StoreView } from './store';

const FORMAT = 1;
const enum Frame { HEADER = 1, MULTI = 2, RECORDS = 3, END = 4, AUTH = 5 }

/**
 * The serialized view as a lazy sequence of frames of about `chunkBytes` each. `auth` is the auth state's
 * encoding ({@link AuthStore.encode}) taken at the same moment as the view (it is small: taken eagerly).
 */
export function* snapshotChunks(view: StoreView, appliedIndex: number, chunkBytes = 262_144, auth?: Buffer): Generator<Buffer> {
  const w = new ByteWriter(Math.min(chunkBytes * 2, 67_108_864));
  yield frame(w, Frame.HEADER, () => writeHeader(w, view, appliedIndex));
  if (auth) yield frame(w, Frame.AUTH, () => w.raw(auth));
  // Multi-key revisions first: the restorer must know them before records claim single-key slots.
  const multi: [number, ByteString[]][] = [];
  for (let i = 0; i < view.revCount; i++) {
    const keys = view.revKeys[i];
    if (typeof keys !== 'string' && keys.length > 0) multi.push([view.revBase + i, keys]);
  }
  for (let i = 0; i < multi.length;) {
    yield frame(w, Frame.MULTI, () => {
      const start = w.length;
      while (i < multi.length && w.length - start < chunkBytes) {
        const [rev, keys] = multi[i++];
        w.int(rev).int(keys.length);
        for (const k of keys) w.str(k);
      }
    });
  }
  let count = 0;
  const it = view.index.entries();
  let next = it.next();
  while (!next.done) {
    yield frame(w, Frame.RECORDS, () => {
      const start = w.length;
      while (!next.done && w.length - start < chunkBytes) {
        writeRecord(w, next.value[0], next.value[1]);
        count++;
        next = it.next();
      }
    });
  }
  yield frame(w, Frame.END, () => w.int(count));
}

/** The whole snapshot as one buffer (tests, small stores). */
export function snapshotBytes(view: StoreView, appliedIndex: number, auth?: Buffer): Buffer {
  return Buffer.concat([...snapshotChunks(view, appliedIndex, undefined, auth)]);
}

/** The auth part of a snapshot, or undefined when there is no auth state to keep. */
export function authSnapshot(auth: AuthStore): Buffer | undefined {
  if (auth.isEmpty) return undefined;
  const w = new ByteWriter(256);
  auth.encode(w);
  return w.take();
}

function frame(w: ByteWriter, type: Frame, body: () => void): Buffer {
  w.u8(0).u8(0).u8(0).u8(0).u8(type);
  body();
  const out = w.take();
  out.writeUInt32LE(out.length - 4, 0);
  return out;
}

function writeHeader(w: ByteWriter, v: StoreView, appliedIndex: number): void {
  w.int(FORMAT).int(appliedIndex).int(v.revision).int(v.compactRevision).int(v.revBase).int(v.leaseIdCounter);
  w.int(v.leases.length);
  for (const l of v.leases) w.int(l.id).int(l.ttl).int(l.remaining);
}

function writeRecord(w: ByteWriter, k: ByteString, rec: KeyRecord): void {
  w.str(k).int(rec.entries);
  const old = rec.old;
  for (let i = 0; i < rec.oldLen; i += SLOTS) {
    w.int(old![i] as number).int(old![i + 1] as number).int(old![i + 2] as number).int(old![i + 3] as number);
    writeValue(w, old![i + 4] as ByteString | null);
  }
  w.int(rec.mod).int(rec.create).int(rec.ver).int(rec.lease);
  writeValue(w, rec.value ?? null);
}

function writeValue(w: ByteWriter, v: ByteString | null): void {
  if (v === null) w.u8(0);
  else w.u8(1).str(v);
}

/**
 * Rebuilds a store from a snapshot stream fed in pieces of any size. `write` parses the complete frames
 * it has (call it per received chunk and yield between calls); `finish` checks the stream was complete.
 * Throws {@link DecodeError} on a malformed stream.
 */
export class SnapshotRestorer {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private builder?: ReturnType<typeof MvccStore.builder>;
  private index = 0;
  private records = 0;
  private ended = false;
  private auth?: AuthStore;

  constructor(private readonly options: MvccStoreOptions = {}) {}

  /** The applied index the snapshot was taken at (known after the header frame). */
  get appliedIndex(): number { return this.index; }

  write(chunk: Uint8Array): void {
    this.buffered.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.bufferedBytes += chunk.byteLength;
    let buf = this.buffered.length === 1 ? this.buffered[0] : Buffer.concat(this.buffered);
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readUInt32LE(off);
      if (buf.length - off - 4 < len) break;
      this.frame(buf.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    buf = buf.subarray(off);
    this.buffered = buf.length ? [buf] : [];
    this.bufferedBytes = buf.length;
  }

  /** The restored store, auth state and applied index; throws when the stream was incomplete. */
  finish(): { store: MvccStore; auth: AuthStore; appliedIndex: number } {
    if (!this.ended || !this.builder || this.bufferedBytes > 0) throw new DecodeError('snapshot stream is incomplete');
    return { store: this.builder.finish(), auth: this.auth ?? new AuthStore(), appliedIndex: this.index };
  }

  private frame(payload: Buffer): void {
    if (this.ended) throw new DecodeError('data after the end of the snapshot');
    const r = new ByteReader(payload);
    const type = r.u8();
    if (type !== Frame.HEADER && !this.builder) throw new DecodeError('snapshot does not start with its header');
    switch (type) {
      case Frame.HEADER: this.readHeader(r); break;
      case Frame.AUTH:
        if (this.auth) throw new DecodeError('second auth frame in the snapshot');
        this.auth = AuthStore.decode(r);
        break;
      case Frame.MULTI: {
        while (!r.done) {
          const rev = r.int();
          const m = r.count(payload.length);
          const keys: ByteString[] = [];
          for (let j = 0; j < m; j++) keys.push(r.str());
          this.builder!.addMultiKeyRevision(rev, keys);
        }
        break;
      }
      case Frame.RECORDS:
        while (!r.done) {
          const k = r.str();
          this.builder!.addRecord(k, readRecord(r));
          this.records++;
        }
        break;
      case Frame.END:
        if (r.int() !== this.records) throw new DecodeError(`snapshot holds ${this.records} records, its end frame says otherwise`);
        this.ended = true;
        break;
      default: throw new DecodeError(`snapshot frame type ${type}`);
    }
    if (!r.done) throw new DecodeError(`trailing bytes in snapshot frame ${type}`);
  }

  private readHeader(r: ByteReader): void {
    if (this.builder) throw new DecodeError('second snapshot header');
    const format = r.int();
    if (format !== FORMAT) throw new DecodeError(`snapshot format ${format} (this build reads ${FORMAT})`);
    this.index = r.int();
    const h = { revision: r.int(), compactRevision: r.int(), revBase: r.int(), leaseIdCounter: r.int(), leases: [] as SnapshotHeader['leases'][number][] };
    const n = r.count();
    for (let i = 0; i < n; i++) h.leases.push({ id: r.int(), ttl: r.int(), remaining: r.int() });
    this.builder = MvccStore.builder(this.options, h);
  }
}

function readRecord(r: ByteReader): KeyRecord {
  const n = r.count();
  if (n < 1) throw new DecodeError('record without entries');
  const old: (number | ByteString | null)[] | undefined = n > 1 ? [] : undefined;
  for (let i = 0; i < n - 1; i++) old!.push(r.int(), r.int(), r.int(), r.int(), readValue(r));
  const mod = r.int();
  const create = r.int();
  const ver = r.int();
  const lease = r.int();
  const value = readValue(r);
  return new KeyRecord(mod, create, ver, lease, value ?? undefined, old, old ? old.length : 0);
}

function readValue(r: ByteReader): ByteString | null {
  return r.bool() ? r.str() : null;
}
