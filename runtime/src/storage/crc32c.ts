/**
 * CRC32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78), table-driven, slicing-by-8.
 * Node 20 has no zlib.crc32, and CRC32C is what ext4, iSCSI and etcd's WAL use: it detects all
 * burst errors up to 32 bits, which is what torn sectors and flipped bits look like.
 */

function makeTables(): Uint32Array[] {
  const tables: Uint32Array[] = [];
  const t0 = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t0[n] = c >>> 0;
  }
  tables.push(t0);
  for (let t = 1; t < 8; t++) {
    const prev = tables[t - 1];
    const table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) table[n] = (t0[prev[n] & 0xff] ^ (prev[n] >>> 8)) >>> 0;
    tables.push(table);
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = makeTables();

/**
 * Returns the CRC32C of `bytes[start, end)`, continuing from `previous` (the CRC of the bytes
 * before, 0 to start fresh), as an unsigned 32-bit integer. crc32c('123456789') = 0xE3069283.
 */
export function crc32c(bytes: Uint8Array, previous = 0, start = 0, end = bytes.length): number {
  if (start < 0 || end > bytes.length || start > end) {
    throw new RangeError(`crc32c: range [${start}, ${end}) is outside the ${bytes.length}-byte buffer`);
  }
  let crc = ~previous >>> 0;
  let i = start;
  // Slicing-by-8: eight table look-ups per 8 bytes instead of one per byte.
  while (end - i >= 8) {
    const lo = (crc ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24))) >>> 0;
    crc = T7[lo & 0xff] ^ T6[(lo >>> 8) & 0xff] ^ T5[(lo >>> 16) & 0xff] ^ T4[lo >>> 24]
      ^ T3[bytes[i + 4]] ^ T2[bytes[i + 5]] ^ T1[bytes[i + 6]] ^ T0[bytes[i + 7]];
    i += 8;
  }
  while (i < end) crc = T0[(crc ^ bytes[i++]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}
