/**
 * api/etcd/hpack.ts and first-frames.ts: HPACK's Huffman code against RFC 7541's examples, and the first frames of
 * a real etcdctl connection (recorded from etcdctl 3.4 `endpoint status` with a URL endpoint) made acceptable to
 * nghttp2: the SETTINGS ACK for the front's own SETTINGS dropped, `/` in `:authority` rewritten, all else as sent.
 */
import * as assert from 'node:assert/strict';
import { once } from 'node:events';
import { AddressInfo, createServer, connect, Socket } from 'node:net';
import { describe, it } from 'node:test';
import * as fc from 'fast-check';
import { prepareForServer, readFirstFrames } from '../../src/api/etcd/first-frames';
import { HUFFMAN_CODE_LENGTHS, huffmanDecode, rewriteAuthority } from '../../src/api/etcd/hpack';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const PREFACE_AND_SETTINGS = hex('505249202a20485454502f322e300d0a0d0a534d0d0a0d0a 000000040000000000');
const SETTINGS_ACK = hex('000000040100000000');
/** etcdctl's HEADERS for /etcdserverpb.Maintenance/Status to http://127.0.0.1:25299 (Huffman-coded values). */
const STATUS_HEADERS = hex(`000077 01 04 00000001
  8386459760a924882d9dcb6571afa066a925a87510ac6e48d36a3f 41909d29aee30c044eae05c0b86e09b13eff
  5f8b1d75d0620d263d4c4d65647a8b9acac8b4c7602bb2caecff40027465864d833505b11f40899acac8b24d494f6a7f
  860bef85e7deb7408d25062d495875996ee5b1063d5f03332e34`);
const EMPTY_DATA = hex('0000050001000000010000000000');

void describe('HPACK Huffman code', () => {
  void it('is a complete prefix code (Kraft sum exactly 1) over 256 symbols and EOS', () => {
    assert.equal(HUFFMAN_CODE_LENGTHS.length, 257);
    const kraft = HUFFMAN_CODE_LENGTHS.reduce((sum, l) => sum + 2 ** (30 - l), 0);
    assert.equal(kraft, 2 ** 30);
  });

  void it("decodes RFC 7541 Appendix C.4's strings and refuses bad padding and EOS", () => {
    assert.equal(huffmanDecode(hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff')).toString(), 'www.example.com');
    assert.equal(huffmanDecode(hex('a8eb 1064 9cbf')).toString(), 'no-cache');
    assert.equal(huffmanDecode(hex('25a8 49e9 5ba9 7d7f')).toString(), 'custom-key');
    assert.equal(huffmanDecode(hex('25a8 49e9 5bb8 e8b4 bf')).toString(), 'custom-value');
    assert.equal(huffmanDecode(hex('9d29aee30c044eae05c0b86e09b13eff')).toString(), 'http://127.0.0.1:25299');
    assert.throws(() => huffmanDecode(hex('f1e3 c2e5 f23a 6ba0 ab90 f4')), /padding/); // cut mid-symbol
    assert.throws(() => huffmanDecode(hex('ffffffff')), /EOS|padding|invalid/);
  });
});

void describe('rewriteAuthority', () => {
  const block = STATUS_HEADERS.subarray(9);

  void it("rewrites only a literal :authority holding '/', keeping its length", () => {
    const fixed = rewriteAuthority(block, (v) => v.replace(/\//g, '_'))!;
    const at = block.indexOf(hex('41909d29'));
    assert.deepEqual(fixed.subarray(0, at), block.subarray(0, at));
    assert.deepEqual(fixed.subarray(at, at + 2 + 22), Buffer.concat([hex('4116'), Buffer.from('http:__127.0.0.1:25299')]));
    assert.deepEqual(fixed.subarray(at + 24), block.subarray(at + 18));
    assert.equal(rewriteAuthority(fixed, (v) => v), undefined, 'nothing left to rewrite');
    assert.throws(() => rewriteAuthority(block, () => 'short'), /keep its length/);
  });

  void it('refuses a block cut inside a field', () => {
    assert.throws(() => rewriteAuthority(block.subarray(0, 30), (v) => v), /overruns|ends/);
  });
});

void describe('prepareForServer', () => {
  const stream = Buffer.concat([PREFACE_AND_SETTINGS, SETTINGS_ACK, STATUS_HEADERS, EMPTY_DATA]);
  const ackAt = PREFACE_AND_SETTINGS.length;

  void it('drops the ACK of our SETTINGS and rewrites the request headers into one HEADERS frame', () => {
    const out = prepareForServer(stream, ackAt);
    assert.deepEqual(out.subarray(0, ackAt), PREFACE_AND_SETTINGS);
    const length = out.readUIntBE(ackAt, 3);
    assert.equal(out[ackAt + 3], 1, 'HEADERS');
    assert.equal(out[ackAt + 4], 0x04, 'END_HEADERS, as sent');
    assert.equal(out.readUInt32BE(ackAt + 5), 1);
    assert.equal(length, STATUS_HEADERS.length - 9 + 6, 'the 16-byte Huffman value became 22 plain bytes');
    assert.ok(out.subarray(ackAt + 9, ackAt + 9 + length).includes(Buffer.from('http:__127.0.0.1:25299')));
    assert.deepEqual(out.subarray(ackAt + 9 + length), EMPTY_DATA);
  });

  void it('never throws on whatever a client sends, and changes nothing but the ACK and HEADERS frames', () => {
    const frame = fc.tuple(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 80 }))
      .map(([type, flags, payload]) => Buffer.concat([hex(`${payload.length.toString(16).padStart(6, '0')}${type.toString(16).padStart(2, '0')}${flags.toString(16).padStart(2, '0')}00000001`), payload]));
    const someFrames = fc.array(fc.oneof(frame, fc.constant(STATUS_HEADERS), fc.constant(SETTINGS_ACK)), { maxLength: 6 });
    fc.assert(fc.property(someFrames, fc.uint8Array({ maxLength: 12 }),
      (frames, tail) => {
        const input = Buffer.concat([PREFACE_AND_SETTINGS, ...frames, tail]);
        const out = prepareForServer(input, undefined);
        const untouched = frames.every((f) => f[3] !== 1);
        if (untouched) assert.deepEqual(out, input);
        assert.deepEqual(out.subarray(out.length - tail.length), Buffer.from(tail));
      }), { numRuns: 500 });
  });

  void it('passes a connection without a URL authority byte for byte, an incomplete tail included', () => {
    const plain = Buffer.concat([PREFACE_AND_SETTINGS, EMPTY_DATA, EMPTY_DATA.subarray(0, 5)]);
    assert.deepEqual(prepareForServer(plain, undefined), plain);
    const withAck = Buffer.concat([PREFACE_AND_SETTINGS, SETTINGS_ACK, EMPTY_DATA]);
    assert.deepEqual(prepareForServer(withAck, ackAt),
      Buffer.concat([PREFACE_AND_SETTINGS, EMPTY_DATA]));
  });
});

/** A loopback server that reads each connection's first frames, then collects what it would hand to grpc-js. */
async function frontServer(timeoutMs: number): Promise<{ port: number; delivered: Promise<Buffer>; closed: Promise<void>; close: () => void }> {
  let deliveredFn: (b: Buffer) => void = () => {};
  let closedFn: () => void = () => {};
  const delivered = new Promise<Buffer>((r) => { deliveredFn = r; });
  const closed = new Promise<void>((r) => { closedFn = r; });
  const server = createServer((socket) => {
    socket.on('close', closedFn);
    readFirstFrames(socket, Buffer.alloc(0), timeoutMs, (s: Socket) => {
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => got.push(d));
      s.resume();
      setTimeout(() => deliveredFn(Buffer.concat(got)), 100);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, delivered, closed, close: () => server.close() };
}

void describe('readFirstFrames on a socket', () => {
  void it('answers the preface with SETTINGS, waits for the ACK and the request (sent byte by byte), hands over the rest', async () => {
    const front = await frontServer(5000);
    const client = connect(front.port, '127.0.0.1');
    try {
      const fromServer: Buffer[] = [];
      client.on('data', (d: Buffer) => fromServer.push(d));
      for (const byte of PREFACE_AND_SETTINGS) {
        client.write(Buffer.from([byte]));
        await new Promise((r) => setImmediate(r));
      }
      for (let i = 0; i < 50 && Buffer.concat(fromServer).length < 9; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(Buffer.concat(fromServer), hex('000000040000000000'), 'the front\'s empty SETTINGS');
      client.write(Buffer.concat([SETTINGS_ACK, STATUS_HEADERS, EMPTY_DATA]));
      const got = await front.delivered;
      const sent = Buffer.concat([PREFACE_AND_SETTINGS, SETTINGS_ACK, STATUS_HEADERS, EMPTY_DATA]);
      assert.deepEqual(got, prepareForServer(sent, PREFACE_AND_SETTINGS.length));
    } finally {
      client.destroy();
      front.close();
    }
  });

  void it('closes a connection that never acknowledges the SETTINGS', async () => {
    const front = await frontServer(300);
    const client = connect(front.port, '127.0.0.1');
    try {
      client.write(Buffer.concat([PREFACE_AND_SETTINGS, STATUS_HEADERS]));
      client.resume();
      const started = Date.now();
      await front.closed;
      assert.ok(Date.now() - started < 3000);
    } finally {
      client.destroy();
      front.close();
    }
  });
});
