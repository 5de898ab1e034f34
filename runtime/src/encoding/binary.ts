/**
 * Little-endian binary helpers shared by the WAL and the wire codec. Integers in the Raft types
 * are JavaScript numbers (safe up to 2^53 - 1), stored as u64 so the formats never need to change
 * when a counter grows.
 */
import type { ConfState } from '../raft/types';

const TWO_32 = 0x1_0000_0000;

/** Writes `value` (a safe non-negative integer) as u64 LE at `offset`; returns the next offset. */
export function writeU64(buf: Buffer, value: number, offset: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`expected a non-negative safe integer, got ${value}`);
  }
  buf.writeUInt32LE(value % TWO_32, offset);
  buf.writeUInt32LE(Math.floor(value / TWO_32), offset + 4);
  return offset + 8;
}

/** Reads a u64 LE written by `writeU64`; throws a RangeError if it exceeds 2^53 - 1. */
export function readU64(buf: Buffer, offset: number): number {
  const lo = buf.readUInt32LE(offset);
  const hi = buf.readUInt32LE(offset + 4);
  if (hi >= 0x20_0000) throw new RangeError(`u64 at offset ${offset} exceeds 2^53 - 1`);
  return hi * TWO_32 + lo;
}

/** Encoded size of a ConfState: three counted lists of u64 ids. */
export function confStateSize(cs: ConfState): number {
  return 12 + 8 * (cs.voters.length + cs.learners.length + cs.votersOutgoing.length);
}

/** Writes `cs` at `offset`; returns the next offset. */
export function writeConfState(buf: Buffer, cs: ConfState, offset: number): number {
  for (const list of [cs.voters, cs.learners, cs.votersOutgoing]) {
    buf.writeUInt32LE(list.length, offset);
    offset += 4;
    for (const id of list) offset = writeU64(buf, id, offset);
  }
  return offset;
}

/** Reads a ConfState at `offset`; returns it with the next offset. Throws RangeError on a short buffer. */
export function readConfState(buf: Buffer, offset: number): { confState: ConfState; next: number } {
  const lists: number[][] = [];
  for (let l = 0; l < 3; l++) {
    const n = buf.readUInt32LE(offset);
    offset += 4;
    if (offset + 8 * n > buf.length) throw new RangeError(`conf state list of ${n} ids overruns the buffer`);
    const ids: number[] = new Array(n);
    for (let i = 0; i < n; i++) { ids[i] = readU64(buf, offset); offset += 8; }
    lists.push(ids);
  }
  return { confState: { voters: lists[0], learners: lists[1], votersOutgoing: lists[2] }, next: offset };
}
