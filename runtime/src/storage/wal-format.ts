/**
 * The on-disk formats of FileLogStore: WAL segment headers, WAL records and snapshot files.
 * Everything is little endian; every record and header carries a CRC32C. See docs/storage.md.
 */
import { crc32c } from './crc32c';
import { confStateSize, readConfState, readU64, writeConfState, writeU64 } from '../encoding/binary';
import type { Entry, EntryType, HardState, Snapshot, SnapshotMetadata } from '../raft/types';

/** Segment header: magic(8) version(u32) reserved(u32) seq(u64) crc32c(u32, of bytes 0..24) pad(u32). */
export const SEGMENT_MAGIC = Buffer.from('HAWALSEG', 'latin1');
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_SIZE = 32;

/** Record header: length(u32, payload bytes) type(u8) reserved(3 zero bytes) crc32c(u32). */
export const RECORD_HEADER_SIZE = 12;

/**
 * Record types. 0 is never written, so zero-filled space (a torn or preallocated tail) never
 * parses as a record.
 */
export enum RecordType {
  ENTRY = 1,
  HARD_STATE = 2,
  /** A snapshot was installed here: replay drops every entry before this record. */
  SNAPSHOT_MARKER = 3,
}

/** Largest record payload accepted when reading (guards against a garbage length). */
export const MAX_RECORD_PAYLOAD = 1 << 30;

const ENTRY_FIXED = 17; // term u64, index u64, type u8
const HARD_STATE_SIZE = 24;
const MARKER_SIZE = 16;

/** Encodes a segment header for segment number `seq`. */
export function encodeSegmentHeader(seq: number): Buffer {
  const buf = Buffer.alloc(SEGMENT_HEADER_SIZE);
  SEGMENT_MAGIC.copy(buf, 0);
  buf.writeUInt32LE(SEGMENT_VERSION, 8);
  writeU64(buf, seq, 16);
  buf.writeUInt32LE(crc32c(buf, 0, 0, 24), 24);
  return buf;
}

/** Checks a segment header; returns a reason string when it is bad, undefined when good. */
export function checkSegmentHeader(buf: Buffer, expectedSeq: number): string | undefined {
  if (buf.length < SEGMENT_HEADER_SIZE) return `file is ${buf.length} bytes, shorter than the ${SEGMENT_HEADER_SIZE}-byte segment header`;
  if (!buf.subarray(0, 8).equals(SEGMENT_MAGIC)) return 'bad magic (not a cdk8s-ha WAL segment)';
  if (buf.readUInt32LE(24) !== crc32c(buf, 0, 0, 24)) return 'segment header CRC mismatch';
  const version = buf.readUInt32LE(8);
  if (version !== SEGMENT_VERSION) return `unsupported segment version ${version} (this build reads ${SEGMENT_VERSION})`;
  const seq = readU64(buf, 16);
  if (seq !== expectedSeq) return `header names segment ${seq} but the file name says ${expectedSeq}`;
  return undefined;
}

/** Size of the encoded record for an entry. */
export function entryRecordSize(entry: Entry): number {
  return RECORD_HEADER_SIZE + ENTRY_FIXED + entry.data.length;
}
export const HARD_STATE_RECORD_SIZE = RECORD_HEADER_SIZE + HARD_STATE_SIZE;
export const MARKER_RECORD_SIZE = RECORD_HEADER_SIZE + MARKER_SIZE;

function sealRecord(buf: Buffer, offset: number, type: RecordType, payloadLength: number): number {
  buf.writeUInt32LE(payloadLength, offset);
  buf[offset + 4] = type;
  buf[offset + 5] = 0; buf[offset + 6] = 0; buf[offset + 7] = 0;
  const headerCrc = crc32c(buf, 0, offset, offset + 8);
  const payloadStart = offset + RECORD_HEADER_SIZE;
  buf.writeUInt32LE(crc32c(buf, headerCrc, payloadStart, payloadStart + payloadLength), offset + 8);
  return payloadStart + payloadLength;
}

/** Writes an ENTRY record at `offset` of `buf` (which must have room); returns the next offset. */
export function writeEntryRecord(buf: Buffer, entry: Entry, offset: number): number {
  let p = offset + RECORD_HEADER_SIZE;
  p = writeU64(buf, entry.term, p);
  p = writeU64(buf, entry.index, p);
  buf[p++] = entry.type;
  buf.set(entry.data, p);
  return sealRecord(buf, offset, RecordType.ENTRY, ENTRY_FIXED + entry.data.length);
}

/** Writes a HARD_STATE record; returns the next offset. */
export function writeHardStateRecord(buf: Buffer, hs: HardState, offset: number): number {
  let p = offset + RECORD_HEADER_SIZE;
  p = writeU64(buf, hs.term, p);
  p = writeU64(buf, hs.vote, p);
  writeU64(buf, hs.commit, p);
  return sealRecord(buf, offset, RecordType.HARD_STATE, HARD_STATE_SIZE);
}

/** Writes a SNAPSHOT_MARKER record; returns the next offset. */
export function writeMarkerRecord(buf: Buffer, index: number, term: number, offset: number): number {
  let p = offset + RECORD_HEADER_SIZE;
  p = writeU64(buf, index, p);
  writeU64(buf, term, p);
  return sealRecord(buf, offset, RecordType.SNAPSHOT_MARKER, MARKER_SIZE);
}

/** A record parsed from a segment. */
export type WalRecord =
  | { readonly type: RecordType.ENTRY; readonly entry: Entry }
  | { readonly type: RecordType.HARD_STATE; readonly hardState: HardState }
  | { readonly type: RecordType.SNAPSHOT_MARKER; readonly index: number; readonly term: number };

/** Result of trying to parse one record at an offset. */
export type ParseResult =
  | { readonly ok: true; readonly record: WalRecord; readonly next: number }
  | { readonly ok: false; readonly reason: string };

/**
 * Parses the record at `offset`. Never throws: a short, zero, oversized or CRC-failing record
 * returns `{ ok: false, reason }`. Entry data is a view into `buf` (no copy).
 */
export function parseRecord(buf: Buffer, offset: number): ParseResult {
  if (buf.length - offset < RECORD_HEADER_SIZE) {
    return { ok: false, reason: `${buf.length - offset} bytes left, less than a record header` };
  }
  const length = buf.readUInt32LE(offset);
  const type = buf[offset + 4];
  if (type < RecordType.ENTRY || type > RecordType.SNAPSHOT_MARKER) return { ok: false, reason: `unknown record type ${type}` };
  if (buf[offset + 5] !== 0 || buf[offset + 6] !== 0 || buf[offset + 7] !== 0) return { ok: false, reason: 'reserved header bytes are not zero' };
  if (length > MAX_RECORD_PAYLOAD) return { ok: false, reason: `record length ${length} is implausible` };
  const start = offset + RECORD_HEADER_SIZE;
  const end = start + length;
  if (end > buf.length) return { ok: false, reason: `record of ${length} bytes runs past the end of the file` };
  const expected = crc32c(buf, crc32c(buf, 0, offset, offset + 8), start, end);
  if (buf.readUInt32LE(offset + 8) !== expected) return { ok: false, reason: 'record CRC mismatch' };
  switch (type as RecordType) {
    case RecordType.ENTRY:
      if (length < ENTRY_FIXED) return { ok: false, reason: `entry record of ${length} bytes is too short` };
      return {
        ok: true,
        next: end,
        record: {
          type: RecordType.ENTRY,
          entry: {
            term: readU64(buf, start),
            index: readU64(buf, start + 8),
            type: buf[start + 16] as EntryType,
            data: buf.subarray(start + ENTRY_FIXED, end),
          },
        },
      };
    case RecordType.HARD_STATE:
      if (length !== HARD_STATE_SIZE) return { ok: false, reason: `hard state record of ${length} bytes` };
      return {
        ok: true,
        next: end,
        record: {
          type: RecordType.HARD_STATE,
          hardState: { term: readU64(buf, start), vote: readU64(buf, start + 8), commit: readU64(buf, start + 16) },
        },
      };
    default:
      if (length !== MARKER_SIZE) return { ok: false, reason: `snapshot marker record of ${length} bytes` };
      return { ok: true, next: end, record: { type: RecordType.SNAPSHOT_MARKER, index: readU64(buf, start), term: readU64(buf, start + 8) } };
  }
}

/**
 * Snapshot file: magic(8) crc32c(u32, of everything after this field, data included)
 * metaLength(u32) meta(index u64, term u64, confState) data.
 */
export const SNAPSHOT_MAGIC = Buffer.from('HASNAP01', 'latin1');

/** Encodes the snapshot file header (everything before `data`), CRC included. */
export function encodeSnapshotHeader(snapshot: Snapshot): Buffer {
  const header = snapshotHeaderWithoutCrc(snapshot);
  header.writeUInt32LE(crc32c(snapshot.data, crc32c(header, 0, 12)), 8);
  return header;
}

/** CRC this many bytes of a snapshot per event-loop turn (about 20 ms of JS CRC32C). */
const CRC_STEP_BYTES = 4 * 1024 * 1024;

/**
 * A snapshot file written as its data is produced: the header comes first in the file but its CRC covers the data,
 * so the writer feeds every data part to {@link SnapshotFileCrc.update}, then writes {@link SnapshotFileCrc.header}.
 */
export class SnapshotFileCrc {
  readonly header: Buffer;
  private crc: number;
  constructor(metadata: SnapshotMetadata) {
    this.header = snapshotHeaderWithoutCrc({ metadata, data: new Uint8Array() });
    this.crc = crc32c(this.header, 0, 12);
    this.header.writeUInt32LE(this.crc, 8);
  }

  /** Adds the next part of the data (in steps when it is large). */
  async update(part: Uint8Array): Promise<void> {
    this.crc = await crc32cStepped(part, this.crc);
    this.header.writeUInt32LE(this.crc, 8);
  }
}

/** CRC32C of `data` continuing from `seed`, {@link CRC_STEP_BYTES} per event-loop turn. */
async function crc32cStepped(data: Uint8Array, seed: number, from = 0): Promise<number> {
  let crc = seed;
  for (let at = from; at < data.length; at += CRC_STEP_BYTES) {
    crc = crc32c(data, crc, at, Math.min(data.length, at + CRC_STEP_BYTES));
    if (at + CRC_STEP_BYTES < data.length) await new Promise((resolve) => setImmediate(resolve));
  }
  return crc;
}

function snapshotHeaderWithoutCrc(snapshot: Snapshot): Buffer {
  const metaLength = 16 + confStateSize(snapshot.metadata.confState);
  const header = Buffer.alloc(16 + metaLength);
  SNAPSHOT_MAGIC.copy(header, 0);
  header.writeUInt32LE(metaLength, 12);
  let p = writeU64(header, snapshot.metadata.index, 16);
  p = writeU64(header, snapshot.metadata.term, p);
  writeConfState(header, snapshot.metadata.confState, p);
  return header;
}

/** Decodes a snapshot file; returns a reason string when it is damaged. */
export function decodeSnapshotFile(buf: Buffer): Snapshot | string {
  const bad = snapshotFileShape(buf);
  if (bad) return bad;
  if (buf.readUInt32LE(8) !== crc32c(buf, 0, 12)) return 'snapshot CRC mismatch';
  return snapshotFileContent(buf);
}

/** {@link decodeSnapshotFile} with the CRC checked in steps: a large snapshot read back never stalls the member. */
export async function decodeSnapshotFileStepped(buf: Buffer): Promise<Snapshot | string> {
  const bad = snapshotFileShape(buf);
  if (bad) return bad;
  if (buf.readUInt32LE(8) !== await crc32cStepped(buf, 0, 12)) return 'snapshot CRC mismatch';
  return snapshotFileContent(buf);
}

function snapshotFileShape(buf: Buffer): string | undefined {
  if (buf.length < 16) return `file is ${buf.length} bytes, shorter than a snapshot header`;
  if (!buf.subarray(0, 8).equals(SNAPSHOT_MAGIC)) return 'bad magic (not a cdk8s-ha snapshot)';
  return undefined;
}

function snapshotFileContent(buf: Buffer): Snapshot | string {
  const metaLength = buf.readUInt32LE(12);
  if (16 + metaLength > buf.length) return `metadata length ${metaLength} overruns the file`;
  try {
    const index = readU64(buf, 16);
    const term = readU64(buf, 24);
    const { confState, next } = readConfState(buf, 32);
    if (next !== 16 + metaLength) return 'metadata length does not match its content';
    return { metadata: { index, term, confState }, data: buf.subarray(next) };
  } catch (e) {
    return `bad metadata: ${(e as Error).message}`;
  }
}

/**
 * Looks for any well-formed record at any byte offset after `from`; returns its offset. Recovery
 * uses it to tell a torn tail (nothing valid follows) from corruption in the middle of the log.
 */
export function findValidRecordAfter(buf: Buffer, from: number, lastTypeByte = lastNonZeroByte(buf, from)): number | undefined {
  const types = Object.values(RecordType).filter((v): v is number => typeof v === 'number');
  // A record's type byte is never zero, so none starts where only zeros (preallocated space) follow: the scan stops at
  // `lastTypeByte`, the last non-zero byte (pass it when already known).
  for (let o = from + 1; o + RECORD_HEADER_SIZE <= buf.length && o + 4 <= lastTypeByte; o++) {
    // Cheap filters first: a known type byte followed by the three reserved zero bytes.
    if (!types.includes(buf[o + 4]) || buf[o + 5] !== 0 || buf[o + 6] !== 0 || buf[o + 7] !== 0) continue;
    if (parseRecord(buf, o).ok) return o;
  }
  return undefined;
}

const ZEROS = Buffer.alloc(64 * 1024);

/** Index of the last non-zero byte of `buf` at or after `from`, or -1 when only zeros follow it. */
export function lastNonZeroByte(buf: Buffer, from: number): number {
  let end = buf.length;
  while (end > from) {
    const start = Math.max(from, end - ZEROS.length);
    if (!buf.subarray(start, end).equals(ZEROS.subarray(0, end - start))) {
      for (let i = end - 1; i >= start; i--) if (buf[i] !== 0) return i;
    }
    end = start;
  }
  return -1;
}
