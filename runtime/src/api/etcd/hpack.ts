/**
 * Just enough HPACK (RFC 7541) to find and rewrite one header in a header block without a dynamic table: field
 * representations are walked by their prefixed integers and string lengths, and a string's Huffman code is
 * decoded when its value is needed. See {@link rewriteAuthority} for why.
 */

/**
 * The Huffman code's length in bits for each symbol 0..255 and EOS (256), from RFC 7541 Appendix B. The code is
 * canonical (codes of one length are consecutive, in symbol order, after every shorter code), so the lengths
 * define it; the test checks they form a complete prefix code and decode the RFC's examples.
 */
export const HUFFMAN_CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];


/** Canonical decoding tables: per length, the first code, how many codes, and where their symbols start. */
interface Canonical {
  readonly firstCode: number[];
  readonly count: number[];
  readonly offset: number[];
  readonly symbols: number[];
}

function canonical(lengths: readonly number[]): Canonical {
  const maxLen = Math.max(...lengths);
  const count = new Array<number>(maxLen + 1).fill(0);
  for (const l of lengths) count[l]++;
  const symbols = lengths.map((l, s) => [l, s]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, s]) => s);
  const firstCode = new Array<number>(maxLen + 1).fill(0);
  const offset = new Array<number>(maxLen + 1).fill(0);
  let code = 0;
  let seen = 0;
  for (let l = 1; l <= maxLen; l++) {
    code = (code + count[l - 1]) * 2;
    firstCode[l] = code;
    offset[l] = seen;
    seen += count[l];
  }
  return { firstCode, count, offset, symbols };
}

const HUFFMAN = canonical(HUFFMAN_CODE_LENGTHS);
const EOS = 256;

/** Decodes a Huffman-coded string; throws on EOS inside it or padding that is not a prefix of EOS (RFC 7541 5.2). */
export function huffmanDecode(data: Uint8Array): Buffer {
  const out: number[] = [];
  let code = 0;
  let len = 0;
  for (const byte of data) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      len++;
      const index = code - HUFFMAN.firstCode[len];
      if (len < HUFFMAN.count.length && index >= 0 && index < HUFFMAN.count[len]) {
        const symbol = HUFFMAN.symbols[HUFFMAN.offset[len] + index];
        if (symbol === EOS) throw new Error('hpack: EOS inside a Huffman string');
        out.push(symbol);
        code = 0;
        len = 0;
      } else if (len >= 30) {
        throw new Error('hpack: invalid Huffman code');
      }
    }
  }
  if (len > 7 || code !== 2 ** len - 1) throw new Error('hpack: Huffman padding is not a prefix of EOS');
  return Buffer.from(out);
}

/** An HPACK prefixed integer (RFC 7541 5.1) at `at` with an N-bit prefix: its value and the offset after it. */
function readInteger(block: Uint8Array, at: number, prefixBits: number): [number, number] {
  if (at >= block.length) throw new Error('hpack: header block ends inside an integer');
  const max = 2 ** prefixBits - 1;
  let value = block[at] & max;
  let i = at + 1;
  if (value < max) return [value, i];
  for (let shift = 0; ; shift += 7) {
    if (i >= block.length) throw new Error('hpack: header block ends inside an integer');
    if (shift > 28) throw new Error('hpack: integer too large');
    const b = block[i++];
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [value, i];
  }
}

function writeInteger(value: number, prefixBits: number, firstByteFlags: number): Buffer {
  const max = 2 ** prefixBits - 1;
  if (value < max) return Buffer.from([firstByteFlags | value]);
  const out = [firstByteFlags | max];
  let rest = value - max;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return Buffer.from(out);
}

/** An HPACK string literal at `at`: its decoded bytes and the offset after it. */
function readString(block: Uint8Array, at: number): [Buffer, number] {
  if (at >= block.length) throw new Error('hpack: header block ends before a string');
  const huffman = (block[at] & 0x80) !== 0;
  const [length, start] = readInteger(block, at, 7);
  const end = start + length;
  if (end > block.length) throw new Error('hpack: a string overruns the header block');
  const raw = block.subarray(start, end);
  return [huffman ? huffmanDecode(raw) : Buffer.from(raw), end];
}

const AUTHORITY_INDEX = 1;
const AUTHORITY = ':authority';

/**
 * Returns `block` with every literal `:authority` value that holds a `/` rewritten by `fix` to a value of the same
 * length (sent as a plain string), or undefined when no such value is there. The length must stay: the peer's
 * encoder sized its dynamic table entry by it, and the decoder after this one has to agree.
 */
export function rewriteAuthority(block: Uint8Array, fix: (value: string) => string): Buffer | undefined {
  const parts: Uint8Array[] = [];
  let copiedTo = 0;
  let i = 0;
  while (i < block.length) {
    const b = block[i];
    if (b & 0x80) { i = readInteger(block, i, 7)[1]; continue; } // indexed field
    if ((b & 0xe0) === 0x20) { i = readInteger(block, i, 5)[1]; continue; } // dynamic table size update
    const prefixBits = b & 0x40 ? 6 : 4; // with incremental indexing, or without / never indexed
    let [nameIndex, at] = readInteger(block, i, prefixBits);
    let isAuthority = nameIndex === AUTHORITY_INDEX;
    if (nameIndex === 0) {
      const [name, afterName] = readString(block, at);
      isAuthority = name.toString('latin1') === AUTHORITY;
      at = afterName;
    }
    const [value, end] = readString(block, at);
    const text = value.toString('latin1');
    if (isAuthority && text.includes('/')) {
      const fixed = Buffer.from(fix(text), 'latin1');
      if (fixed.length !== value.length) throw new Error('hpack: the rewritten :authority must keep its length');
      parts.push(block.subarray(copiedTo, at), writeInteger(fixed.length, 7, 0), fixed);
      copiedTo = end;
    }
    i = end;
  }
  if (copiedTo === 0) return undefined;
  parts.push(block.subarray(copiedTo));
  return Buffer.concat(parts);
}
