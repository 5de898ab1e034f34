import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { murmur3, murmur3Bytes } from '../../src/ring';

// A reference implementation (imurmurhash, a dependency of the toolchain) over the string's
// low bytes: fed the UTF-8 bytes as a latin1 string, it must agree with us.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const reference = require('imurmurhash') as (s: string, seed: number) => { result(): number };

describe('murmur3 (x86_32)', () => {
  it('matches the published test vectors', () => {
    assert.equal(murmur3('', 0), 0);
    assert.equal(murmur3('', 1), 0x514e28b7);
    assert.equal(murmur3('', 0xffffffff), 0x81f16f39);
    assert.equal(murmur3('hello', 0), 0x248bfa47);
    assert.equal(murmur3('The quick brown fox jumps over the lazy dog', 0), 0x2e4ff723);
    assert.equal(murmur3('aaaa', 0x9747b28c), 0x5a97808a);
    assert.equal(murmur3('Hello, world!', 0x9747b28c), 0x24884cba);
  });

  it('agrees with a reference implementation on random ASCII and UTF-8 strings of every tail length', () => {
    const alphabet = 'abcXYZ019-_/:é日😀';
    let seed = 1;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    for (let i = 0; i < 5000; i++) {
      const chars = Array.from({ length: Math.floor(rand() * 24) }, () => [...alphabet][Math.floor(rand() * (i % 2 ? 9 : [...alphabet].length))]);
      const s = chars.join('');
      const bytes = Buffer.from(s, 'utf8');
      const expected = reference(bytes.toString('latin1'), i).result();
      assert.equal(murmur3(s, i), expected, `murmur3(${JSON.stringify(s)}, ${i})`);
      assert.equal(murmur3Bytes(bytes, i), expected);
    }
  });
});
