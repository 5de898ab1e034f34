/**
 * Keys inside the store are latin1 strings: one char per byte, so JavaScript's string order is exactly
 * etcd's byte order, comparison is native, and V8 stores them as one-byte strings (1 byte per byte plus a
 * 16-byte header) instead of a Buffer's ~100 bytes of objects per key. Values use the same representation.
 */

/** The store's representation of a byte string (see the file comment). */
export type ByteString = string;

/** Bytes -> {@link ByteString}. */
export function toByteString(bytes: Uint8Array | undefined): ByteString {
  if (bytes === undefined || bytes.length === 0) return '';
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** {@link ByteString} -> a fresh Buffer. */
export function toBytes(s: ByteString): Buffer {
  return Buffer.from(s, 'latin1');
}

/**
 * A half-open key span `[start, end)`; `end` null = unbounded. A single key `k` is `[k, k + "\0")`, the only
 * key in that span, so every lookup is a span scan.
 */
export interface KeySpan {
  readonly start: ByteString;
  readonly end: ByteString | null;
}

/** etcd's range convention: empty `range_end` = the single key; `"\0"` = every key >= `key`; else `[key, range_end)`. */
export function keySpan(key: Uint8Array | undefined, rangeEnd: Uint8Array | undefined): KeySpan {
  const start = toByteString(key);
  if (rangeEnd === undefined || rangeEnd.length === 0) return { start, end: start + '\0' };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start, end: null };
  return { start, end: toByteString(rangeEnd) };
}

/** Whether `k` lies in `span`. */
export function inSpan(span: KeySpan, k: ByteString): boolean {
  return k >= span.start && (span.end === null || k < span.end);
}

/** Whether the span is one key (lookups by key instead of scans). */
export function isSingleKey(span: KeySpan): boolean {
  return span.end !== null && span.end.length === span.start.length + 1 && span.end.endsWith('\0') && span.end.startsWith(span.start);
}

/**
 * The `range_end` that selects every key with `prefix` (etcd's GetPrefixRangeEnd): the prefix with its last
 * byte below 0xff incremented and the rest dropped; `"\0"` (all keys) when every byte is 0xff or it is empty.
 */
export function prefixEnd(prefix: Uint8Array): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
