/**
 * The peer wire format: length-prefixed frames carrying a handshake or one Raft Message in a
 * fixed binary layout (no JSON or base64: entry and snapshot data travel as raw bytes, and the
 * decoder hands them out as views of the received frame, without copying).
 *
 * Frame:   length u32 LE (of kind + body) | kind u8 | body   (kinds: HELLO, WELCOME, REJECT, MESSAGE, PING)
 * Message: type u8 | reject u8 | flags u8 (bit 0: has snapshot) | 0 u8 |
 *          from, to, term, logTerm, index, commit, rejectHint, logTermHint (u64 LE each) |
 *          context (u32 length + bytes) | entry count u32 | entries | [snapshot]
 * Entry:   term u64 | index u64 | type u8 | data (u32 length + bytes)
 * Snapshot: index u64 | term u64 | confState (3 x (count u32 + u64 ids)) | data (u32 length + bytes)
 * Hello/Welcome: version u16 | clusterId (string) | senderId u64 | targetId u64 |
 *          metadata count u32 | (key string, value string)*      strings: u32 length + UTF-8
 *
 * Everything decoded here crossed a process boundary, so it is validated here (TigerBeetle's
 * "assert every input where it is decoded"): node ids, terms and indexes must stay below
 * {@link MAX_WIRE_INTEGER} so that a forged term of 2^53-2 can never be adopted and later
 * overflow, types must be known, and counts must fit in the frame.
 */
import { confStateSize, readConfState, readU64, writeConfState, writeU64 } from '../encoding/binary';
import { MAX_RAFT_INTEGER } from '../raft/errors';
import { MessageType, type ConfState, type Entry, type EntryType, type Message, type Snapshot } from '../raft/types';

/** Frame kinds. */
export enum FrameKind {
  /** Dialer -> acceptor, first frame on a connection. */
  HELLO = 1,
  /** Acceptor -> dialer: handshake accepted, with the acceptor's identity and metadata. */
  WELCOME = 2,
  /** Acceptor -> dialer: handshake refused; body is a UTF-8 reason. The acceptor then closes. */
  REJECT = 3,
  /** One Raft message. */
  MESSAGE = 4,
  /**
   * Empty, every keepalive interval. Acceptor -> dialer: the dialer's proof that the peer is still
   * reading its connection (the stream carries no other reverse traffic). Dialer -> acceptor: the
   * acceptor's proof that the member's connection is alive, so nobody else may claim its id.
   */
  PING = 5,
}

/** Wire protocol version carried in the handshake; a peer with another version is rejected. */
export const PROTOCOL_VERSION = 1;
/** Bytes before a frame's body: length u32 + kind u8. */
export const FRAME_HEADER_SIZE = 5;

const MESSAGE_FIXED = 4 + 8 * 8;
/**
 * The largest term, index or node id a peer may send: 2^48, far beyond any real cluster (a new term
 * every millisecond for 8,900 years) yet with a 2^5 margin below 2^53, so arithmetic on an accepted
 * value (term + 1, index + n) stays exact.
 */
export const MAX_WIRE_INTEGER = MAX_RAFT_INTEGER;
/** Most entries one message may carry (the core sends at most maxEntriesPerMsg, 512 by default). */
export const MAX_ENTRIES_PER_MESSAGE = 65_536;
/** Most ids in one list of a snapshot's membership. */
const MAX_CONF_IDS = 4096;
const MAX_MESSAGE_TYPE = 12;
const MAX_ENTRY_TYPE = 1;
const FLAG_SNAPSHOT = 1;

/** The identity a node presents in HELLO / WELCOME. */
export interface Handshake {
  readonly version: number;
  readonly clusterId: string;
  readonly senderId: number;
  /** HELLO: the node the dialer meant to reach (the acceptor checks it is itself). WELCOME: the dialer's id. */
  readonly targetId: number;
  readonly metadata: Readonly<Record<string, string>>;
}

function snapshotSize(s: Snapshot): number {
  return 16 + confStateSize(s.metadata.confState) + 4 + s.data.length;
}

/** Encoded size of `message` (without the frame header). */
export function encodedMessageSize(message: Message): number {
  let size = MESSAGE_FIXED + 4 + message.context.length + 4;
  for (const e of message.entries) size += 21 + e.data.length;
  if (message.snapshot) size += snapshotSize(message.snapshot);
  return size;
}

/** Writes `message` at `offset` (the buffer must have `encodedMessageSize` bytes free); returns the next offset. */
export function writeMessage(buf: Buffer, message: Message, offset: number): number {
  buf[offset] = message.type;
  buf[offset + 1] = message.reject ? 1 : 0;
  buf[offset + 2] = message.snapshot ? FLAG_SNAPSHOT : 0;
  buf[offset + 3] = 0;
  let p = offset + 4;
  p = writeU64(buf, message.from, p);
  p = writeU64(buf, message.to, p);
  p = writeU64(buf, message.term, p);
  p = writeU64(buf, message.logTerm, p);
  p = writeU64(buf, message.index, p);
  p = writeU64(buf, message.commit, p);
  p = writeU64(buf, message.rejectHint, p);
  p = writeU64(buf, message.logTermHint, p);
  p = writeBytes(buf, message.context, p);
  buf.writeUInt32LE(message.entries.length, p);
  p += 4;
  for (const e of message.entries) {
    p = writeU64(buf, e.term, p);
    p = writeU64(buf, e.index, p);
    buf[p++] = e.type;
    p = writeBytes(buf, e.data, p);
  }
  if (message.snapshot) {
    const s = message.snapshot;
    p = writeU64(buf, s.metadata.index, p);
    p = writeU64(buf, s.metadata.term, p);
    p = writeConfState(buf, s.metadata.confState, p);
    p = writeBytes(buf, s.data, p);
  }
  return p;
}

/** Encodes `message` into a new buffer (without the frame header). */
export function encodeMessage(message: Message): Buffer {
  const buf = Buffer.allocUnsafe(encodedMessageSize(message));
  writeMessage(buf, message, 0);
  return buf;
}

/** Encodes `message` as a complete MESSAGE frame (header included), in one allocation. */
export function encodeMessageFrame(message: Message): Buffer {
  const size = encodedMessageSize(message);
  const buf = Buffer.allocUnsafe(FRAME_HEADER_SIZE + size);
  buf.writeUInt32LE(size + 1, 0);
  buf[4] = FrameKind.MESSAGE;
  writeMessage(buf, message, FRAME_HEADER_SIZE);
  return buf;
}

/**
 * Decodes a message encoded by `writeMessage`. Byte fields (context, entry data, snapshot data)
 * are views into `bytes`. Throws a RangeError naming the problem on truncated or malformed input.
 */
export function decodeMessage(bytes: Uint8Array): Message {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return decode(buf);
  } catch (e) {
    if (e instanceof RangeError) throw new RangeError(`malformed message (${buf.length} bytes): ${e.message}`);
    throw e;
  }
}

function decode(buf: Buffer): Message {
  if (buf.length < MESSAGE_FIXED) throw new RangeError(`shorter than the ${MESSAGE_FIXED}-byte fixed part`);
  const type = buf[0] as MessageType;
  if (buf[0] > MAX_MESSAGE_TYPE) throw new RangeError(`unknown message type ${buf[0]}`);
  if (buf[1] > 1) throw new RangeError(`reject flag ${buf[1]} is not 0 or 1`);
  const reject = buf[1] === 1;
  const flags = buf[2];
  if ((flags & ~FLAG_SNAPSHOT) !== 0 || buf[3] !== 0) throw new RangeError(`unknown flags ${flags}/${buf[3]}`);
  let p = 4;
  const from = readId(buf, p, 'from'); p += 8;
  const to = readId(buf, p, 'to'); p += 8;
  const term = readWireInt(buf, p, 'term'); p += 8;
  const logTerm = readWireInt(buf, p, 'logTerm'); p += 8;
  const index = readWireInt(buf, p, 'index'); p += 8;
  const commit = readWireInt(buf, p, 'commit'); p += 8;
  const rejectHint = readWireInt(buf, p, 'rejectHint'); p += 8;
  const logTermHint = readWireInt(buf, p, 'logTermHint'); p += 8;
  const context = readBytes(buf, p); p = context.next;
  const count = buf.readUInt32LE(p); p += 4;
  if (count > MAX_ENTRIES_PER_MESSAGE) throw new RangeError(`${count} entries exceed the limit of ${MAX_ENTRIES_PER_MESSAGE}`);
  if (count * 21 > buf.length - p) throw new RangeError(`${count} entries cannot fit in ${buf.length - p} bytes`);
  const entries: Entry[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const eTerm = readWireInt(buf, p, 'entry term');
    const eIndex = readWireInt(buf, p + 8, 'entry index');
    if (buf[p + 16] > MAX_ENTRY_TYPE) throw new RangeError(`entry ${eIndex} has unknown type ${buf[p + 16]}`);
    const eType = buf[p + 16] as EntryType;
    const data = readBytes(buf, p + 17);
    entries[i] = { term: eTerm, index: eIndex, type: eType, data: data.bytes };
    p = data.next;
  }
  if (type === MessageType.APPEND) checkEntriesContiguous(entries, index);
  let snapshot: Snapshot | undefined;
  if (flags & FLAG_SNAPSHOT) {
    const sIndex = readWireInt(buf, p, 'snapshot index');
    const sTerm = readWireInt(buf, p + 8, 'snapshot term');
    const cs = readConfState(buf, p + 16);
    checkConfState(cs.confState);
    const data = readBytes(buf, cs.next);
    snapshot = { metadata: { index: sIndex, term: sTerm, confState: cs.confState }, data: data.bytes };
    p = data.next;
  }
  if (p !== buf.length) throw new RangeError(`${buf.length - p} trailing bytes`);
  const message = { type, from, to, term, logTerm, index, entries, commit, reject, rejectHint, logTermHint, context: context.bytes };
  return snapshot ? { ...message, snapshot } : message;
}

/** A u64 that must be below MAX_WIRE_INTEGER (terms, indexes). */
function readWireInt(buf: Buffer, p: number, what: string): number {
  const v = readU64(buf, p);
  if (v >= MAX_WIRE_INTEGER) throw new RangeError(`${what} ${v} is not below 2^48`);
  return v;
}

/** A node id: 0 (none) or a wire integer. */
function readId(buf: Buffer, p: number, what: string): number {
  return readWireInt(buf, p, what);
}

/** Entries of one APPEND follow the preceding index without gaps (the core relies on it). */
function checkEntriesContiguous(entries: readonly Entry[], index: number): void {
  for (let i = 0; i < entries.length; i++) {
    if (entries[i].index !== index + 1 + i) {
      throw new RangeError(`entry ${i} has index ${entries[i].index}, expected ${index + 1 + i}`);
    }
  }
}

function checkConfState(cs: ConfState): void {
  for (const [name, ids] of [['voters', cs.voters], ['learners', cs.learners], ['votersOutgoing', cs.votersOutgoing]] as const) {
    if (ids.length > MAX_CONF_IDS) throw new RangeError(`snapshot ${name} list has ${ids.length} ids`);
    for (const id of ids) if (id <= 0 || id >= MAX_WIRE_INTEGER) throw new RangeError(`snapshot ${name} id ${id} is not a valid node id`);
  }
}

function writeBytes(buf: Buffer, bytes: Uint8Array, p: number): number {
  buf.writeUInt32LE(bytes.length, p);
  buf.set(bytes, p + 4);
  return p + 4 + bytes.length;
}

function readBytes(buf: Buffer, p: number): { bytes: Buffer; next: number } {
  const n = buf.readUInt32LE(p);
  const end = p + 4 + n;
  if (end > buf.length) throw new RangeError(`a ${n}-byte field at offset ${p} overruns the buffer`);
  return { bytes: buf.subarray(p + 4, end), next: end };
}

function writeString(buf: Buffer, s: string, p: number): number {
  const n = buf.write(s, p + 4, 'utf8');
  buf.writeUInt32LE(n, p);
  return p + 4 + n;
}

/** Encodes a HELLO or WELCOME frame (header included). */
export function encodeHandshakeFrame(kind: FrameKind.HELLO | FrameKind.WELCOME, h: Handshake): Buffer {
  const pairs = Object.entries(h.metadata);
  let size = 2 + 4 + Buffer.byteLength(h.clusterId) + 16 + 4;
  for (const [k, v] of pairs) size += 8 + Buffer.byteLength(k) + Buffer.byteLength(v);
  const buf = Buffer.alloc(FRAME_HEADER_SIZE + size);
  buf.writeUInt32LE(size + 1, 0);
  buf[4] = kind;
  let p = FRAME_HEADER_SIZE;
  buf.writeUInt16LE(h.version, p); p += 2;
  p = writeString(buf, h.clusterId, p);
  p = writeU64(buf, h.senderId, p);
  p = writeU64(buf, h.targetId, p);
  buf.writeUInt32LE(pairs.length, p); p += 4;
  for (const [k, v] of pairs) { p = writeString(buf, k, p); p = writeString(buf, v, p); }
  return buf;
}

/** Decodes a HELLO or WELCOME body; throws a RangeError on malformed input. */
export function decodeHandshake(body: Buffer): Handshake {
  try {
    let p = 0;
    const version = body.readUInt16LE(p); p += 2;
    const cluster = readBytes(body, p); p = cluster.next;
    const senderId = readU64(body, p); p += 8;
    const targetId = readU64(body, p); p += 8;
    const n = body.readUInt32LE(p); p += 4;
    const metadata: Record<string, string> = {};
    for (let i = 0; i < n; i++) {
      const k = readBytes(body, p); p = k.next;
      const v = readBytes(body, p); p = v.next;
      metadata[k.bytes.toString('utf8')] = v.bytes.toString('utf8');
    }
    if (p !== body.length) throw new RangeError(`${body.length - p} trailing bytes`);
    return { version, clusterId: cluster.bytes.toString('utf8'), senderId, targetId, metadata };
  } catch (e) {
    throw new RangeError(`malformed handshake: ${(e as Error).message}`);
  }
}

/** The (constant) PING frame. */
export const PING_FRAME: Buffer = Buffer.from([1, 0, 0, 0, FrameKind.PING]);

/** Encodes a REJECT frame carrying `reason`. */
export function encodeRejectFrame(reason: string): Buffer {
  const body = Buffer.from(reason, 'utf8');
  const buf = Buffer.allocUnsafe(FRAME_HEADER_SIZE + body.length);
  buf.writeUInt32LE(body.length + 1, 0);
  buf[4] = FrameKind.REJECT;
  body.copy(buf, FRAME_HEADER_SIZE);
  return buf;
}

/** A complete frame: its kind and body (a view of the received bytes). */
export interface Frame {
  readonly kind: FrameKind;
  readonly body: Buffer;
}

/**
 * Reassembles frames from a byte stream split at arbitrary points. Each frame is returned in a
 * buffer of its own (a chunk that is exactly one frame is used as is; otherwise one copy).
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /**
   * @param maxFrameBytes frames larger than this throw (a corrupt or hostile length prefix). It
   * may be raised later, e.g. from a small pre-handshake limit to the full one after it.
   */
  constructor(public maxFrameBytes: number) { }

  /** Bytes received but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Adds a chunk and returns every frame it completes. Throws a RangeError on a bad length or kind. */
  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const length = this.peekLength();
      if (length < 1 || length > this.maxFrameBytes) {
        throw new RangeError(`frame length ${length} is outside [1, ${this.maxFrameBytes}]`);
      }
      if (this.buffered < 4 + length) break;
      const frame = this.take(4 + length);
      const kind = frame[4];
      if (kind < FrameKind.HELLO || kind > FrameKind.PING) throw new RangeError(`unknown frame kind ${kind}`);
      frames.push({ kind, body: frame.subarray(FRAME_HEADER_SIZE) });
    }
    return frames;
  }

  private peekLength(): number {
    const first = this.chunks[0];
    if (first.length >= 4) return first.readUInt32LE(0);
    const head = Buffer.concat(this.chunks, 4);
    return head.readUInt32LE(0);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (first.length === n) {
      out = first;
      this.chunks.shift();
    } else if (first.length > n) {
      // Copy rather than view: decoded entries live on in the Raft log, and a view would pin
      // the whole network chunk (up to 64 KiB) behind every small entry.
      out = Buffer.from(first.subarray(0, n));
      this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0];
        const k = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, k);
        filled += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }
}
