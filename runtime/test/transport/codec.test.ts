import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  FrameDecoder, FrameKind, decodeHandshake, decodeMessage, encodeHandshakeFrame, encodeMessage, encodeMessageFrame, encodeRejectFrame,
} from '../../src/transport/codec';
import { comparable, randomMessage, rng } from '../support/random-messages';

describe('message codec', () => {
  it('round-trips random messages exactly (property test, 2000 seeded cases)', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const message = randomMessage(rng(seed));
      const decoded = decodeMessage(encodeMessage(message));
      assert.deepEqual(comparable(decoded), comparable(message), `seed ${seed}`);
    }
  });

  it('rejects every truncation and trailing garbage with a RangeError', () => {
    const encoded = encodeMessage(randomMessage(rng(7)));
    for (let cut = 0; cut < encoded.length; cut++) {
      assert.throws(() => decodeMessage(encoded.subarray(0, cut)), RangeError, `cut at ${cut}`);
    }
    assert.throws(() => decodeMessage(Buffer.concat([encoded, Buffer.from([0])])), /1 trailing bytes/);
    const badType = Buffer.from(encoded);
    badType[0] = 99;
    assert.throws(() => decodeMessage(badType), /unknown message type 99/);
  });

  it('refuses to encode numbers the format cannot hold', () => {
    const m = randomMessage(rng(3));
    assert.throws(() => encodeMessage({ ...m, term: -1 }), /non-negative safe integer, got -1/);
    assert.throws(() => encodeMessage({ ...m, index: 2 ** 60 }), /non-negative safe integer/);
  });

  it('round-trips handshakes with UTF-8 metadata', () => {
    const frame = encodeHandshakeFrame(FrameKind.HELLO, { version: 1, clusterId: 'prod-é', senderId: 3, targetId: 2, metadata: { clientUrl: 'http://10.0.0.3:2379', zone: 'eu-west-1a', ключ: 'значение' } });
    const [decoded] = new FrameDecoder(1 << 20).push(frame);
    assert.equal(decoded.kind, FrameKind.HELLO);
    assert.deepEqual(decodeHandshake(decoded.body), { version: 1, clusterId: 'prod-é', senderId: 3, targetId: 2, metadata: { clientUrl: 'http://10.0.0.3:2379', zone: 'eu-west-1a', ключ: 'значение' } });
  });
});

describe('FrameDecoder', () => {
  it('reassembles frames split at arbitrary points, including 1-byte chunks', () => {
    const random = rng(11);
    const messages = Array.from({ length: 60 }, (_, i) => randomMessage(rng(100 + i)));
    const stream = Buffer.concat([encodeRejectFrame('first a reject'), ...messages.map(encodeMessageFrame)]);
    for (const maxChunk of [1, 2, 5, 64, 4096, stream.length]) {
      const decoder = new FrameDecoder(1 << 20);
      const frames = [];
      for (let p = 0; p < stream.length;) {
        const n = Math.max(1, Math.min(stream.length - p, Math.ceil(random() * maxChunk)));
        frames.push(...decoder.push(stream.subarray(p, p + n)));
        p += n;
      }
      assert.equal(decoder.bufferedBytes, 0);
      assert.equal(frames.length, messages.length + 1, `chunks up to ${maxChunk}`);
      assert.equal(frames[0].kind, FrameKind.REJECT);
      assert.equal(frames[0].body.toString(), 'first a reject');
      frames.slice(1).forEach((f, i) => assert.deepEqual(comparable(decodeMessage(f.body)), comparable(messages[i])));
    }
  });

  it('rejects an oversized length prefix before buffering it', () => {
    const decoder = new FrameDecoder(1024);
    const header = Buffer.alloc(5);
    header.writeUInt32LE(1_000_000, 0);
    assert.throws(() => decoder.push(header), /frame length 1000000 is outside \[1, 1024\]/);
  });
});
