/**
 * Seeded generators of hostile input for the fuzzer: peer frames (handshakes, messages, garbage,
 * oversize headers) and raw HTTP requests. Every choice comes from the seeded generator, so a
 * seed replays the same sequence of inputs.
 */
import { encodeCommand, KvOp } from '../../src/kv/state-machine';
import { MessageType, type Entry, type Message } from '../../src/raft/types';
import {
  FrameKind, PROTOCOL_VERSION, decodeMessage, encodeHandshakeFrame, encodeMessage,
} from '../../src/transport/codec';

/** A seeded source of choices. */
export class Choices {
  constructor(readonly random: () => number) {}

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)];
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(this.random() * 256);
    return b;
  }

  /** Flips 1-8 random bytes of a copy of `buf`. */
  mutate(buf: Buffer): Buffer {
    const out = Buffer.from(buf);
    if (out.length === 0) return out;
    for (let k = this.int(1, 8); k > 0; k--) out[this.int(0, out.length - 1)] = this.int(0, 255);
    return out;
  }
}

/**
 * Terms the core must drop: at or beyond the wire limit (the codec refuses them), or far more than
 * 2^24 ahead of any real term (the core refuses them). Everything the fuzzer sends after an
 * admitted handshake carries one, so that no well-formed forgery (which Raft without peer TLS
 * cannot tell from a real message) can reach the core: the fuzzer tests the validation, not Raft's
 * lack of authentication.
 */
const ABSURD_TERMS = [2 ** 53 - 2, 2 ** 53 - 1, 2 ** 48, 2 ** 48 - 1, 2 ** 47, 2 ** 44 + 12345];
/** Decoded messages below this term could be taken for real ones: never sent (see ABSURD_TERMS). */
export const PLAUSIBLE_TERM_LIMIT = 2 ** 40;

/** A poison payload: bytes that do not decode as a KV command, or a command with odd fields. */
function poison(c: Choices): Buffer {
  return c.pick([
    () => Buffer.from([1, 2, 3]),
    () => c.bytes(c.int(0, 40)),
    () => Buffer.from(encodeCommand({ op: KvOp.PUT, requestId: 0, key: `fz-${c.int(0, 9)}`, value: c.bytes(4) })).subarray(0, c.int(0, 30)),
    () => { const b = Buffer.from(encodeCommand({ op: KvOp.PUT, requestId: 0, key: 'fz', value: c.bytes(4) })); b[0] = c.int(5, 255); return b; },
  ])();
}

/** A message from `from` to `to` with random fields and an absurd term (or a PROPOSE, which members drop). */
export function hostileMessage(c: Choices, from: number, to: number): Message {
  const type = c.int(0, 12) as MessageType;
  const index = c.pick([0, 1, c.int(0, 1000), 2 ** 47, 2 ** 48 - 2]);
  const entries: Entry[] = Array.from({ length: c.pick([0, 0, 1, 3]) }, (_, i) => ({
    term: c.pick(ABSURD_TERMS.slice(2)), index: Math.min(index + 1 + i, 2 ** 48 - 1), type: c.int(0, 1), data: poison(c),
  }));
  const message: Message = {
    type,
    from,
    to,
    term: type === MessageType.PROPOSE ? 0 : c.pick(ABSURD_TERMS),
    logTerm: c.pick([0, 1, 2 ** 47]),
    index,
    commit: c.pick([0, index, index + 1, 2 ** 47]),
    reject: c.chance(0.5),
    rejectHint: c.int(0, 1000),
    logTermHint: c.int(0, 1000),
    entries,
    context: c.bytes(c.int(0, 16)),
  };
  if (type === MessageType.SNAPSHOT && c.chance(0.7)) {
    return {
      ...message,
      snapshot: {
        metadata: { index: c.int(0, 2 ** 20), term: message.term, confState: { voters: [1, 2, 3], learners: [], votersOutgoing: [] } },
        data: poison(c),
      },
    };
  }
  return message;
}

/**
 * Whether bytes the fuzzer is about to send as a MESSAGE frame body could be taken for a real
 * message (they decode, and are neither a PROPOSE nor beyond every plausible term): such bytes
 * are not sent (see ABSURD_TERMS).
 */
export function plausibleMessage(body: Buffer): boolean {
  let m: Message;
  try {
    m = decodeMessage(body);
  } catch {
    return false;
  }
  return m.type !== MessageType.PROPOSE && m.term < PLAUSIBLE_TERM_LIMIT;
}

/** A MESSAGE frame carrying `body` (header included), or an oversize header alone. */
export function messageFrame(body: Buffer): Buffer {
  const header = Buffer.allocUnsafe(5);
  header.writeUInt32LE(body.length + 1, 0);
  header[4] = FrameKind.MESSAGE;
  return Buffer.concat([header, body]);
}

/** A hostile MESSAGE-frame body: encoded, mutated, truncated, padded or random. */
export function hostileBody(c: Choices, from: number, to: number): Buffer {
  const encoded = encodeMessage(hostileMessage(c, from, to));
  return c.pick([
    () => encoded,
    () => c.mutate(encoded),
    () => encoded.subarray(0, c.int(0, encoded.length)),
    () => Buffer.concat([encoded, c.bytes(c.int(1, 8))]),
    () => c.bytes(c.int(0, 300)),
    () => encodeMessage({ ...hostileMessage(c, from, to), from: c.pick([0, 1, 2, 3, 99]) }),
  ])();
}

/** A hostile HELLO: random identities and versions, or mutated bytes. */
export function hostileHello(c: Choices, targetId: number, knownIds: readonly number[]): Buffer {
  const hello = encodeHandshakeFrame(FrameKind.HELLO, {
    version: c.chance(0.8) ? PROTOCOL_VERSION : c.int(0, 65535),
    clusterId: c.chance(0.8) ? 'ha-raft' : c.bytes(c.int(0, 20)).toString('latin1'),
    senderId: c.pick([...knownIds, 0, 99, 2 ** 48, 2 ** 53 - 1]),
    targetId: c.chance(0.8) ? targetId : c.int(0, 10),
    metadata: c.chance(0.5) ? {} : { clientUrl: 'http://127.0.0.1:1/attacker', leader: 'true', name: c.bytes(8).toString('hex') },
  });
  return c.pick([() => hello, () => c.mutate(hello), () => hello.subarray(0, c.int(0, hello.length)), () => c.bytes(c.int(1, 64))])();
}

/** GET and PUT weigh more: they reach the most code. */
const METHODS = ['GET', 'GET', 'GET', 'PUT', 'PUT', 'DELETE', 'POST', 'HEAD', 'PATCH', 'OPTIONS', 'G\u00e9T', ''];
/** Percent-encoded fragments, several of them invalid UTF-8 once decoded. */
const FRAGMENTS = ['fz', 'fz-%FF', 'fz-%C3%28', 'fz-%ED%A0%80', 'fz-%F0%9F%98%80', 'fz-%', 'fz-%G1', 'fz-%00', 'fz-\u00ff', 'fz-..%2F..'];

/** A raw HTTP/1.1 request (possibly malformed). Keys always start with `fz` so the workload's keys stay untouched. */
export function hostileHttpRequest(c: Choices): Buffer {
  const method = c.pick(METHODS);
  const key = Array.from({ length: c.int(1, 3) }, () => c.pick(FRAGMENTS)).join('');
  const path = c.pick([
    `/v1/kv/${key}`, `/v1/kv/?prefix=${key}`, `/v1/kv/?prefix=${key}&limit=${c.pick(['1', '0', '-1', '99999999999', '%FF'])}`,
    `/v1/kv/${key}?consistency=${c.pick(['serializable', 'linearizable', '%FF', ''])}`, `/v1/kv/${key}?prev=${c.pick(['%FF', 'x', '%'])}`,
    `/v1/kv/${key}?prev_exist=false`, '/v1/status', '/metrics', '/livez', '/readyz', `/${key}`, '/v1/kv', `/v1/kv/${'fz'.repeat(c.int(1, 2000))}`,
  ]);
  const body = c.chance(0.5) ? c.bytes(c.int(0, c.pick([10, 1000, 70_000]))) : Buffer.alloc(0);
  const headers = ['Host: fuzz'];
  if (c.chance(0.7)) headers.push(`Content-Length: ${c.pick([String(body.length), String(body.length + 5), '-1', 'abc', '99999999999'])}`);
  if (c.chance(0.2)) headers.push('Transfer-Encoding: chunked');
  if (c.chance(0.2)) headers.push(`X-Junk: ${c.bytes(c.int(0, 200)).toString('latin1').replace(/[\r\n]/g, '')}`);
  if (c.chance(0.1)) headers.push(`X-Long: ${'a'.repeat(c.int(1000, 20_000))}`);
  headers.push('Connection: close');
  const head = Buffer.from(`${method} ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1');
  return c.chance(0.05) ? c.mutate(Buffer.concat([head, body])) : Buffer.concat([head, body]);
}

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** etcdctl 3.4's request headers for Maintenance/Status with a URL endpoint (Huffman-coded `:authority` with `//`). */
const URL_AUTHORITY_BLOCK = Buffer.from('8386459760a924882d9dcb6571afa066a925a87510ac6e48d36a3f41909d29aee30c044eae05c0b86e09b13eff'
  + '5f8b1d75d0620d263d4c4d65647a8b9acac8b4c7602bb2caecff40027465864d833505b11f40899acac8b24d494f6a7f', 'hex');

function h2Frame(type: number, flags: number, stream: number, payload: Buffer, lengthField = payload.length): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(lengthField, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream >>> 0, 5);
  return Buffer.concat([head, payload]);
}

/** A header block: etcdctl's (perhaps mutated or cut), random bytes, or a literal `:authority` with random Huffman bytes. */
function hostileHeaderBlock(c: Choices): Buffer {
  switch (c.int(0, 3)) {
    case 0: return URL_AUTHORITY_BLOCK;
    case 1: return c.mutate(URL_AUTHORITY_BLOCK).subarray(0, c.int(1, URL_AUTHORITY_BLOCK.length));
    case 2: return c.bytes(c.int(0, 300));
    default: {
      const value = c.bytes(c.int(0, 40));
      return Buffer.concat([Buffer.from([0x41, 0x80 | Math.min(value.length + c.int(-2, 2), 127)]), value]);
    }
  }
}

/**
 * The start of an HTTP/2 connection on the client port, as a hostile client could send it (the front reads these
 * first frames itself, api/etcd/first-frames.ts): the preface, then SETTINGS, ACKs, HEADERS with padding or priority,
 * CONTINUATIONs, frames of other types, lengths that promise more than comes; sometimes byte-mutated.
 */
export function hostileHttp2Start(c: Choices): Buffer {
  const parts: Buffer[] = [H2_PREFACE];
  for (let n = c.int(0, 8); n > 0; n--) {
    const stream = c.pick([1, 3, 0, 2 ** 31 - 1]);
    switch (c.int(0, 6)) {
      case 0: parts.push(h2Frame(4, 0, 0, Buffer.alloc(0))); break;
      case 1: parts.push(h2Frame(4, 1, 0, Buffer.alloc(0))); break;
      case 2: parts.push(h2Frame(1, c.pick([0x4, 0x5, 0x0, 0x24, 0x2c, 0x8]), stream,
        Buffer.concat([c.chance(0.3) ? Buffer.from([c.int(0, 255)]) : Buffer.alloc(0), hostileHeaderBlock(c)]))); break;
      case 3: parts.push(h2Frame(9, c.pick([0, 4]), stream, hostileHeaderBlock(c))); break;
      case 4: parts.push(h2Frame(c.int(0, 255), c.int(0, 255), stream, c.bytes(c.int(0, 64)))); break;
      case 5: parts.push(h2Frame(c.int(0, 9), 0, stream, c.bytes(c.int(0, 16)), c.pick([0xffffff, 16_385, 70_000]))); break;
      default: parts.push(h2Frame(8, 0, 0, Buffer.from([0, 0, 0x10, 0]))); break;
    }
  }
  const all = Buffer.concat(parts);
  return c.chance(0.1) ? c.mutate(all) : all;
}
