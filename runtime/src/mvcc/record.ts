/**
 * One key's revisions. The newest entry sits inline in the record's fields; older ones (since the last
 * compaction) are packed five slots each in `old` — no object per revision. Records are immutable once in the
 * index, so a cloned index is a consistent snapshot view: a write makes a new record, and `old` is only ever
 * appended to (a view keeps its own `oldLen`) or replaced by compaction, never changed in place below `oldLen`.
 */
import { ByteString } from './keys';

/** Slots per packed old entry: mod_revision, create_revision, version, lease, value (null = tombstone). */
export const SLOTS = 5;

type Slot = number | ByteString | null;

/** See the file comment. `value` undefined = the newest entry is a tombstone (the key is deleted). */
export class KeyRecord {
  constructor(
    readonly mod: number,
    readonly create: number,
    readonly ver: number,
    readonly lease: number,
    readonly value: ByteString | undefined,
    readonly old: Slot[] | undefined,
    readonly oldLen: number,
  ) {}

  get live(): boolean { return this.value !== undefined; }

  /** Number of entries (old plus newest). */
  get entries(): number { return this.oldLen / SLOTS + 1; }
}

/** One key's state at one revision (strings, not Buffers: built per read, materialized only for the response). */
export class KvView {
  constructor(
    readonly key: ByteString,
    readonly mod: number,
    readonly create: number,
    readonly ver: number,
    readonly lease: number,
    readonly value: ByteString | null,
  ) {}

  get live(): boolean { return this.value !== null; }
}

/** The newest entry of `rec` as a view. */
export function newest(key: ByteString, rec: KeyRecord): KvView {
  return new KvView(key, rec.mod, rec.create, rec.ver, rec.lease, rec.value ?? null);
}

/** Entry `i` (0 = oldest) of `rec`, the newest being `rec.entries - 1`. */
export function entryAt(key: ByteString, rec: KeyRecord, i: number): KvView {
  if (i === rec.oldLen / SLOTS) return newest(key, rec);
  const o = rec.old!;
  const b = i * SLOTS;
  return new KvView(key, o[b] as number, o[b + 1] as number, o[b + 2] as number, o[b + 3] as number, o[b + 4] as ByteString | null);
}

/** The mod revision of entry `i`. */
export function modAt(rec: KeyRecord, i: number): number {
  return i === rec.oldLen / SLOTS ? rec.mod : rec.old![i * SLOTS] as number;
}

/** Index of the newest entry with mod_revision <= rev, or -1. */
export function indexAtOrBefore(rec: KeyRecord, rev: number): number {
  if (rec.mod <= rev) return rec.oldLen / SLOTS;
  let lo = 0;
  let hi = rec.oldLen / SLOTS - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = Math.floor((lo + hi) / 2);
    if ((rec.old![mid * SLOTS] as number) <= rev) { found = mid; lo = mid + 1; } else {hi = mid - 1;}
  }
  return found;
}

/** The key's live state at `rev`, or undefined when it did not exist then (or that part was compacted). */
export function visibleAt(key: ByteString, rec: KeyRecord, rev: number): KvView | undefined {
  if (rec.mod <= rev) return rec.value === undefined ? undefined : newest(key, rec);
  const i = indexAtOrBefore(rec, rev);
  if (i < 0) return undefined;
  const v = entryAt(key, rec, i);
  return v.live ? v : undefined;
}

/** A new record whose newest entry is the given one, the current newest moving into `old`. */
export function withEntry(rec: KeyRecord | undefined, mod: number, create: number, ver: number, lease: number,
  value: ByteString | undefined): KeyRecord {
  if (rec === undefined) return new KeyRecord(mod, create, ver, lease, value, undefined, 0);
  // Appending in place is safe for views holding `rec.old` (they read below their own oldLen); a shorter
  // array than oldLen never happens, a longer one means another record appended: copy.
  let old = rec.old ?? [];
  if (old.length !== rec.oldLen) old = old.slice(0, rec.oldLen);
  old.push(rec.mod, rec.create, rec.ver, rec.lease, rec.value ?? null);
  return new KeyRecord(mod, create, ver, lease, value, old, rec.oldLen + SLOTS);
}

/**
 * The record trimmed for a compaction at `rev`: drops entries superseded at or before `rev`, keeps the newest
 * entry <= rev unless it is a tombstone older than `rev`; undefined when nothing is left (the key is gone).
 */
export function compacted(rec: KeyRecord, rev: number): KeyRecord | undefined {
  const n = rec.entries;
  let keep = indexAtOrBefore(rec, rev);
  if (keep < 0) return rec;
  const tomb = (keep === n - 1 ? rec.value === undefined : rec.old![keep * SLOTS + 4] === null);
  if (tomb && modAt(rec, keep) < rev) keep++;
  if (keep >= n) return undefined;
  if (keep === 0) return rec;
  const old = keep === n - 1 ? undefined : rec.old!.slice(keep * SLOTS, rec.oldLen);
  return new KeyRecord(rec.mod, rec.create, rec.ver, rec.lease, rec.value, old, old ? old.length : 0);
}
