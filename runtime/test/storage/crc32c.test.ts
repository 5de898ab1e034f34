import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { crc32c } from '../../src/storage';

/** The bit-at-a-time definition, deliberately simple: the reference for the sliced version. */
function reference(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

it('matches the published CRC32C check values', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43); // RFC 3720 B.4: 32 bytes of 0xff
});

it('matches the bitwise reference on random buffers, ranges and continuations', () => {
  for (let i = 0; i < 300; i++) {
    const buf = randomBytes(i * 7 % 257);
    const start = buf.length ? i % buf.length : 0;
    const mid = start + Math.floor((buf.length - start) / 2);
    assert.equal(crc32c(buf, 0, start), reference(buf.subarray(start)));
    assert.equal(crc32c(buf, crc32c(buf, 0, start, mid), mid), reference(buf.subarray(start)), `split at ${mid}`);
  }
  assert.throws(() => crc32c(Buffer.alloc(4), 0, 2, 8), /range \[2, 8\) is outside the 4-byte buffer/);
});
