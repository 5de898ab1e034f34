/**
 * The first frames of a gRPC connection, read before the socket goes to grpc-js, so a URL in `:authority` works.
 *
 * etcdctl's `endpoint status` and `endpoint hashkv` (with `--cluster`, or `--endpoints http://host:port`) dial each
 * endpoint with the URL itself as the HTTP/2 `:authority`, e.g. `http://10.0.0.1:2379`. etcd's Go server takes it;
 * nghttp2 (under Node's HTTP/2) refuses a `/` in `:authority` with a stream PROTOCOL_ERROR, and Node has no option to
 * relax that. So the front sends its own SETTINGS, reads the client's frames up to its first request (grpc-go
 * sends none before it has the server's SETTINGS), drops the client's ACK of those SETTINGS (nghttp2 sent none of
 * them), and rewrites each `/` in a literal `:authority` of the requests read to `_` (same length, so HPACK's
 * dynamic tables on both sides stay in step). Then the socket itself, with those bytes put back, goes to grpc-js:
 * nothing stays between the client and nghttp2 afterwards. A later literal `:authority` with a `/` on the same
 * connection is not rewritten; etcdctl sends it once and refers to it by index after that.
 */
import { Socket } from 'net';
import { rewriteAuthority } from './hpack';

const PREFACE_BYTES = 24;
const FRAME_HEADER_BYTES = 9;
const TYPE_HEADERS = 0x1;
const TYPE_PRIORITY = 0x2;
const TYPE_SETTINGS = 0x4;
const TYPE_WINDOW_UPDATE = 0x8;
const TYPE_CONTINUATION = 0x9;
const FLAG_ACK = 0x1;
const FLAG_END_STREAM = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
/** nghttp2's SETTINGS_MAX_FRAME_SIZE until it says otherwise (the HTTP/2 default). */
const MAX_FRAME_BYTES = 16_384;
/** A client that sends more than this before its first request is not one this front waits for. */
const MAX_HELD_BYTES = 256 * 1024;
/** Frames a client sends before its first request: SETTINGS, the ACK, WINDOW_UPDATE, PRIORITY, a few at most. */
const MAX_FRAMES_BEFORE_REQUEST = 32;
/** A client that acknowledged the SETTINGS but sends no request (an idle channel) is handed over after this. */
const IDLE_HANDOFF_MS = 100;
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, TYPE_SETTINGS, 0, 0, 0, 0, 0]);

interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  readonly start: number;
  readonly end: number;
}

/** The complete frames in `buf` after the preface (an incomplete one at the end is left for later). */
function frames(buf: Buffer): Frame[] {
  const out: Frame[] = [];
  let at = PREFACE_BYTES;
  while (at + FRAME_HEADER_BYTES <= buf.length) {
    const end = at + FRAME_HEADER_BYTES + buf.readUIntBE(at, 3);
    if (end > buf.length) break;
    out.push({ type: buf[at + 3], flags: buf[at + 4], stream: buf.readUInt32BE(at + 5) & 0x7fffffff, start: at, end });
    at = end;
  }
  return out;
}

/**
 * What the frames read so far say: where the SETTINGS ACK is, and whether a request (or anything else, or more
 * frames than a client sends before its first request) came.
 */
function progress(all: Frame[]): { ack?: Frame; request: boolean } {
  let ack: Frame | undefined;
  let request = all.length > MAX_FRAMES_BEFORE_REQUEST;
  for (const [i, f] of all.entries()) {
    if (f.type === TYPE_SETTINGS && (f.flags & FLAG_ACK) !== 0 && !ack) ack = f;
    else if (f.type === TYPE_HEADERS) request ||= headerBlockFrames(all, i) !== undefined;
    else if (f.type !== TYPE_SETTINGS && f.type !== TYPE_WINDOW_UPDATE && f.type !== TYPE_PRIORITY) request = true;
  }
  return { ack, request };
}

/**
 * The HEADERS frame at `i` and its CONTINUATIONs; undefined while the block's end has not arrived, 'malformed' when
 * another frame interrupts it (nghttp2 answers that as HTTP/2 says).
 */
function headerBlockFrames(all: Frame[], i: number): Frame[] | 'malformed' | undefined {
  const block = [all[i]];
  for (let j = i; (all[j].flags & FLAG_END_HEADERS) === 0; j++) {
    if (j + 1 >= all.length) return undefined;
    const next = all[j + 1];
    if (next.type !== TYPE_CONTINUATION || next.stream !== all[i].stream) return 'malformed';
    block.push(next);
  }
  return block;
}

/** A HEADERS frame's priority fields and its header block (HEADERS and CONTINUATION fragments, padding removed). */
function headerBlock(buf: Buffer, block: Frame[]): { priority: Buffer; fragment: Buffer } {
  const first = block[0];
  let from = first.start + FRAME_HEADER_BYTES;
  let to = first.end;
  if (first.flags & FLAG_PADDED) to -= buf[from++];
  const priority = first.flags & FLAG_PRIORITY ? buf.subarray(from, from + 5) : Buffer.alloc(0);
  from += priority.length;
  if (to < from) throw new Error('http2: HEADERS padding overruns the frame');
  const fragments = [buf.subarray(from, to), ...block.slice(1).map((f) => buf.subarray(f.start + FRAME_HEADER_BYTES, f.end))];
  return { priority, fragment: Buffer.concat(fragments) };
}

function headersFrame(stream: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(FRAME_HEADER_BYTES);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = TYPE_HEADERS;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/**
 * `buf` without the SETTINGS ACK frame that starts at `ackStart`, each request's `:authority` made acceptable to
 * nghttp2 (see the file comment).
 */
export function prepareForServer(buf: Buffer, ackStart: number | undefined): Buffer {
  const all = frames(buf);
  const parts: Buffer[] = [buf.subarray(0, PREFACE_BYTES)];
  for (let i = 0; i < all.length; i++) {
    const f = all[i];
    if (f.start === ackStart) continue;
    const found = f.type === TYPE_HEADERS ? headerBlockFrames(all, i) : undefined;
    const block = Array.isArray(found) ? found : undefined;
    const rewritten = block && rewriteHeaders(buf, block);
    if (rewritten) {
      parts.push(rewritten);
      i += block.length - 1;
    } else {
      parts.push(buf.subarray(f.start, f.end));
    }
  }
  parts.push(buf.subarray(all.length ? all[all.length - 1].end : PREFACE_BYTES));
  return Buffer.concat(parts);
}

/** One HEADERS frame replacing `block` when its `:authority` needed the fix, else undefined. */
function rewriteHeaders(buf: Buffer, block: Frame[]): Buffer | undefined {
  try {
    const { priority, fragment } = headerBlock(buf, block);
    const fixed = rewriteAuthority(fragment, (value) => value.replace(/\//g, '_'));
    if (!fixed || priority.length + fixed.length > MAX_FRAME_BYTES) return undefined;
    const flags = (block[0].flags & (FLAG_END_STREAM | FLAG_PRIORITY)) | FLAG_END_HEADERS;
    return headersFrame(block[0].stream, flags, Buffer.concat([priority, fixed]));
  } catch {
    return undefined; // a malformed block goes to nghttp2 as it came, which answers it as HTTP/2 says
  }
}

/**
 * The bytes read so far. They are joined and parsed only once enough arrived to complete another frame, so a client
 * that drips its bytes costs no repeated copying or parsing.
 */
class HeldBytes {
  private chunks: Buffer[] = [];
  private held = 0;
  private need = PREFACE_BYTES + FRAME_HEADER_BYTES;

  get length(): number { return this.held; }

  get bytes(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /** Adds `chunk`; returns every complete frame when another one may have completed, else undefined. */
  add(chunk: Buffer): Frame[] | undefined {
    if (chunk.length) this.chunks.push(chunk);
    this.held += chunk.length;
    if (this.held < this.need) return undefined;
    const buf = this.bytes;
    const all = frames(buf);
    const at = all.length ? all[all.length - 1].end : PREFACE_BYTES;
    this.need = at + FRAME_HEADER_BYTES + (buf.length >= at + FRAME_HEADER_BYTES ? buf.readUIntBE(at, 3) : 0);
    return all;
  }
}

/**
 * Reads `socket`'s first frames (after `head`, which holds the preface) as the file comment says, then puts them
 * back and calls `deliver`; destroys a socket that does not acknowledge the SETTINGS within `timeoutMs`.
 */
export function readFirstFrames(socket: Socket, head: Buffer, timeoutMs: number, deliver: (socket: Socket) => void): void {
  const held = new HeldBytes();
  let ack: Frame | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  const finish = (): void => {
    socket.off('data', onData);
    clearTimeout(deadline);
    clearTimeout(idleTimer);
    socket.pause();
    socket.unshift(prepareForServer(held.bytes, ack?.start));
    deliver(socket);
  };
  const onData = (chunk: Buffer): void => {
    const all = held.add(chunk);
    if (held.length > MAX_HELD_BYTES) { socket.destroy(); return; }
    if (!all) return;
    const seen = progress(all);
    ack = seen.ack;
    if (ack && seen.request) finish();
    else if (ack && !idleTimer) idleTimer = setTimeout(finish, IDLE_HANDOFF_MS);
  };
  const deadline = setTimeout(() => socket.destroy(), timeoutMs).unref();
  socket.on('close', () => { clearTimeout(deadline); clearTimeout(idleTimer); });
  socket.on('data', onData);
  socket.write(EMPTY_SETTINGS);
  onData(head);
  socket.resume();
}
