/**
 * A small binary writer/reader for log commands and snapshots: sign-and-magnitude varints for safe integers (negative
 * revisions mean "current" in requests), length-prefixed byte strings. The reader checks every bound and
 * throws {@link DecodeError}, which apply turns into a rejected command instead of a crash.
 */
import { ByteString } from './keys';

/** A malformed or truncated encoding. */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** Appends to a growing buffer. */
export class ByteWriter {
  private buf: Buffer;
  private len = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number { return this.len; }

  u8(v: number): this {
    this.reserve(1);
    this.buf[this.len++] = v;
    return this;
  }

  /**
   * A safe integer as a varint: the first byte holds the sign (bit 0) and 6 bits of magnitude, the next ones
   * 7 bits each (LEB128). No zigzag doubling, so every safe integer fits (at most 8 bytes).
   */
  int(v: number): this {
    if (!Number.isSafeInteger(v)) throw new RangeError(`mvcc codec: ${v} is not a safe integer`);
    let a = Math.abs(v);
    this.reserve(8);
    const first = (a % 64) * 2 + (v < 0 ? 1 : 0);
    a = Math.floor(a / 64);
    this.buf[this.len++] = a > 0 ? first + 0x80 : first;
    while (a > 0) {
      const low = a % 0x80;
      a = Math.floor(a / 0x80);
      this.buf[this.len++] = a > 0 ? low + 0x80 : low;
    }
    return this;
  }

  bool(v: boolean | undefined): this {
    return this.u8(v ? 1 : 0);
  }

  bytes(v: Uint8Array | undefined): this {
    const n = v?.length ?? 0;
    this.int(n);
    if (n > 0) {
      this.reserve(n);
      this.buf.set(v!, this.len);
      this.len += n;
    }
    return this;
  }

  /** A {@link ByteString} (latin1), written as its bytes. */
  str(s: ByteString): this {
    this.int(s.length);
    this.reserve(s.length);
    this.len += this.buf.write(s, this.len, 'latin1');
    return this;
  }

  /** Raw bytes, no length prefix. */
  raw(v: Uint8Array): this {
    this.reserve(v.length);
    this.buf.set(v, this.len);
    this.len += v.length;
    return this;
  }

  /** The bytes written so far (a view; copy it before writing more if you keep it). */
  view(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  /** The bytes written so far as a fresh buffer, and resets the writer. */
  take(): Buffer {
    const out = Buffer.from(this.view());
    this.len = 0;
    return out;
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
}

/** Reads what {@link ByteWriter} wrote; every read is bounds-checked. */
export class ByteReader {
  private off = 0;
  private readonly buf: Buffer;

  constructor(data: Uint8Array) {
    this.buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }

  get done(): boolean { return this.off >= this.buf.length; }
  get offset(): number { return this.off; }

  u8(): number {
    if (this.off >= this.buf.length) throw new DecodeError(`truncated at byte ${this.off}`);
    return this.buf[this.off++];
  }

  int(): number {
    const first = this.u8();
    const negative = first % 2 === 1;
    let a = Math.floor(first / 2) % 64;
    let more = first >= 0x80;
    for (let scale = 64, i = 1; more; scale *= 0x80, i++) {
      if (i >= 8) throw new DecodeError(`varint longer than 8 bytes at byte ${this.off}`);
      const b = this.u8();
      a += (b % 0x80) * scale;
      more = b >= 0x80;
    }
    if (!Number.isSafeInteger(a)) throw new DecodeError(`integer beyond 2^53 at byte ${this.off}`);
    if (negative && a === 0) throw new DecodeError(`negative zero at byte ${this.off}`);
    return negative ? -a : a;
  }

  /** A non-negative integer no larger than `max`. */
  count(max = Number.MAX_SAFE_INTEGER): number {
    const n = this.int();
    if (n < 0 || n > max) throw new DecodeError(`count ${n} out of range [0, ${max}] at byte ${this.off}`);
    return n;
  }

  bool(): boolean {
    const b = this.u8();
    if (b > 1) throw new DecodeError(`boolean byte ${b} at byte ${this.off - 1}`);
    return b === 1;
  }

  /** A byte field as a copy (log buffers are reused). */
  bytes(): Buffer {
    return Buffer.from(this.slice());
  }

  str(): ByteString {
    const n = this.count(this.buf.length - this.off);
    const s = this.buf.toString('latin1', this.off, this.off + n);
    this.off += n;
    return s;
  }

  private slice(): Buffer {
    const n = this.count(this.buf.length - this.off);
    const out = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }
}
