/**
 * MurmurHash3, x86 32-bit variant (Austin Appleby, public domain), over the UTF-8 bytes of a
 * string. Placement on the ring depends on these exact bits: never change them (the golden
 * vectors in runtime/test/ring/ guard them).
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function mixBlock(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number, k: number, tailBytes: number, length: number): number {
  if (tailBytes > 0) {
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3 x86_32 of a byte array; returns an unsigned 32-bit integer. */
export function murmur3Bytes(bytes: Uint8Array, seed = 0): number {
  let h = seed | 0;
  const n = bytes.length;
  const blocks = n & ~3;
  for (let i = 0; i < blocks; i += 4) {
    h = mixBlock(h, bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
  }
  let k = 0;
  for (let j = (n & 3) - 1; j >= 0; j--) k |= bytes[blocks + j] << (8 * j);
  return finish(h, k, n & 3, n);
}

/**
 * MurmurHash3 x86_32 of the UTF-8 encoding of `key`; returns an unsigned 32-bit integer.
 * ASCII strings are hashed straight from their char codes (no encoding, no allocation).
 */
export function murmur3(key: string, seed = 0): number {
  const n = key.length;
  let h = seed | 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const a = key.charCodeAt(i);
    const b = key.charCodeAt(i + 1);
    const c = key.charCodeAt(i + 2);
    const d = key.charCodeAt(i + 3);
    if ((a | b | c | d) >= 0x80) return murmur3Bytes(Buffer.from(key, 'utf8'), seed);
    h = mixBlock(h, a | (b << 8) | (c << 16) | (d << 24));
  }
  let k = 0;
  const tail = n - i;
  for (let j = 0; j < tail; j++) {
    const c = key.charCodeAt(i + j);
    if (c >= 0x80) return murmur3Bytes(Buffer.from(key, 'utf8'), seed);
    k |= c << (8 * j);
  }
  return finish(h, k, tail, n);
}
