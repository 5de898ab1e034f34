/**
 * A hostile peer for the security tests and the fuzzer: it dials a member's peer port and speaks
 * the wire protocol (transport/codec.ts) with whatever identity, frames and messages it is told,
 * the way an attacker who can reach the port would.
 */
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { MessageType, type Entry, type Message } from '../../src/raft/types';
import { FrameDecoder, FrameKind, PROTOCOL_VERSION, decodeHandshake, encodeHandshakeFrame, encodeMessageFrame } from '../../src/transport/codec';

/** How the handshake ended. */
export type HandshakeOutcome = { kind: 'welcome'; metadata: Record<string, string> } | { kind: 'reject'; reason: string } | { kind: 'closed'; reason: string };

/** Options for {@link ForgedPeer.connect}. */
export interface ForgeOptions {
  readonly port: number;
  readonly host?: string;
  readonly clusterId?: string;
  readonly senderId: number;
  readonly targetId: number;
  readonly metadata?: Record<string, string>;
  /** Dial with TLS using this client material (PEM), not verifying the server. */
  readonly tls?: { key: Buffer; cert: Buffer };
  readonly timeoutMs?: number;
}

/** One hostile connection. */
export class ForgedPeer {
  /** Dials and sends HELLO; resolves once the member welcomed, refused or closed. */
  static async connect(o: ForgeOptions): Promise<ForgedPeer> {
    const host = o.host ?? '127.0.0.1';
    const socket: net.Socket = o.tls
      ? tls.connect({ host, port: o.port, key: o.tls.key, cert: o.tls.cert, rejectUnauthorized: false })
      : net.connect({ host, port: o.port });
    const peer = new ForgedPeer(socket);
    const hello = encodeHandshakeFrame(FrameKind.HELLO, {
      version: PROTOCOL_VERSION, clusterId: o.clusterId ?? 'ha-raft', senderId: o.senderId, targetId: o.targetId, metadata: o.metadata ?? {},
    });
    socket.once(o.tls ? 'secureConnect' : 'connect', () => socket.write(hello));
    const timer = setTimeout(() => peer.settle({ kind: 'closed', reason: 'no answer' }), o.timeoutMs ?? 3000);
    await peer.handshake;
    clearTimeout(timer);
    return peer;
  }

  outcome: HandshakeOutcome | undefined;
  /** Resolves when the member closes the connection (or it fails). */
  readonly closed: Promise<string>;
  private readonly handshake: Promise<void>;
  private resolveHandshake: (() => void) | undefined;

  private constructor(readonly socket: net.Socket) {
    this.handshake = new Promise((resolve) => { this.resolveHandshake = resolve; });
    const decoder = new FrameDecoder(1 << 20);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const f of decoder.push(chunk)) {
          if (f.kind === FrameKind.WELCOME) this.settle({ kind: 'welcome', metadata: { ...decodeHandshake(f.body).metadata } });
          else if (f.kind === FrameKind.REJECT) this.settle({ kind: 'reject', reason: f.body.toString('utf8') });
        }
      } catch (e) {
        this.settle({ kind: 'closed', reason: (e as Error).message });
      }
    });
    this.closed = new Promise((resolve) => {
      socket.on('error', (e) => { this.settle({ kind: 'closed', reason: e.message }); resolve(e.message); });
      socket.on('close', () => { this.settle({ kind: 'closed', reason: 'closed' }); resolve('closed'); });
    });
  }

  get welcomed(): boolean {
    return this.outcome?.kind === 'welcome';
  }

  private settle(o: HandshakeOutcome): void {
    if (this.outcome) return;
    this.outcome = o;
    this.resolveHandshake?.();
  }

  /** Writes raw bytes; resolves when written (or the socket is gone). */
  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.write(bytes, () => resolve());
    });
  }

  /** Sends one message frame. */
  send(message: Message): Promise<void> {
    return this.write(encodeMessageFrame(message));
  }

  /** Whether the member closed the connection within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.closed.then(() => true), new Promise<boolean>((res) => { timer = setTimeout(() => res(false), ms); })]);
    clearTimeout(timer);
    return r;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A Message with every field defaulted. */
export function forgedMessage(fields: Partial<Message> & { type: MessageType; from: number; to: number }): Message {
  return {
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [] as Entry[],
    commit: 0,
    reject: false,
    rejectHint: 0,
    logTermHint: 0,
    context: new Uint8Array(0),
    ...fields,
  };
}

/** A frame header announcing `length` body bytes of a MESSAGE frame, with no body. */
export function frameHeader(length: number): Buffer {
  const b = Buffer.alloc(5);
  b.writeUInt32LE(length, 0);
  b[4] = FrameKind.MESSAGE;
  return b;
}

/** Resident set size of a process in bytes (Linux /proc). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}
