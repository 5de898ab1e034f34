/**
 * TcpTransport: the shipping Transport. One outbound, pipelined TCP connection per peer carrying
 * length-prefixed binary frames; a handshake that names the cluster, the sender and its metadata;
 * reconnect with bounded exponential backoff and jitter; bounded per-peer queues.
 *
 * Each node dials its own connection to every peer and only sends on it (the peer answers only
 * the handshake), so messages from A to B share one ordered stream, and a one-way network fault
 * affects one direction only, as it would in the network.
 *
 * What a peer may do is bounded (issue 14): a dialler must name a current member (a configured
 * peer id, and whatever {@link TcpTransportOptions.admitPeer} adds), may hold only one live inbound
 * connection per id (a second claim of a live id is refused, so a forger cannot take over a
 * member's stream while it runs), and frames are refused from their 5-byte header when they
 * announce more than maxFrameBytes. A peer's client URL ({@link TcpTransport.peerMetadata}) is taken
 * only from the WELCOME of the connection *we* dialled to its configured address, never from
 * what an inbound dialler announces, so a forged handshake cannot redirect clients.
 */
import * as net from 'net';
import * as tls from 'tls';
import {
  FrameDecoder, FrameKind, PROTOCOL_VERSION, decodeHandshake, decodeMessage,
  encodeHandshakeFrame, encodeMessageFrame, encodeRejectFrame, PING_FRAME, type Frame,
} from './codec';
import type { MessageHandler, PeerStats, Transport, UnreachableHandler } from './transport';
import { MessageType, type Message } from '../raft/types';
import { parseHostPort } from '../util/host-port';

/**
 * Mutual TLS between peers: each side presents `cert` and accepts only peers whose certificate
 * chains to `ca`. PEM strings or buffers.
 */
export interface PeerTlsOptions {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  readonly ca: string | Buffer;
  /**
   * Also check that the peer's certificate names the host we dialled (a DNS or IP SAN).
   * Membership is additionally pinned by the handshake's cluster id and node id.
   * @default true
   */
  readonly verifyHostname?: boolean;
  /**
   * Require a dialling peer to present a certificate chaining to `ca` (etcd's --peer-client-cert-auth).
   * Off, inbound connections are encrypted but any dialler that knows a member id is admitted.
   * @default true
   */
  readonly clientCertAuth?: boolean;
}

/** Options for {@link TcpTransport.start}. */
export interface TcpTransportOptions {
  /** Cluster identity: connections whose handshake names another cluster are refused. */
  readonly clusterId: string;
  /** This node's id (positive integer). */
  readonly localId: number;
  /** `host:port` to listen on for peers (port 0 picks a free port; see `TcpTransport.address`). */
  readonly listen: string;
  /** Initial peers, id -> `host:port`. @default no peers */
  readonly peers?: ReadonlyMap<number, string>;
  /** Small string map sent to peers in the handshake (e.g. `clientUrl`). @default {} */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Per-peer outbound queue bound, in messages. @default 4096 */
  readonly maxQueuedMessages?: number;
  /**
   * Per-peer outbound queue bound, in encoded bytes. A single message larger than this is still
   * accepted into an empty queue (a big snapshot must be able to go out).
   * @default 64 MiB
   */
  readonly maxQueuedBytes?: number;
  /**
   * Largest frame accepted from (and sent to) a peer; an inbound header announcing more closes
   * the connection before anything is buffered. It must exceed the largest snapshot: a message
   * that cannot fit is dropped at the sender and logged. @default 128 MiB
   */
  readonly maxFrameBytes?: number;
  /**
   * Extra admission check for an inbound dialler, after the built-in ones (known id, cluster,
   * target): return a reason to refuse it, e.g. a stale incarnation in `hello.metadata`
   * (membership/ plugs in here). @default admit every configured peer
   */
  readonly admitPeer?: (peerId: number, metadata: Readonly<Record<string, string>>) => string | undefined;
  /** First reconnect delay. @default 50 ms */
  readonly minBackoffMs?: number;
  /** Reconnect delay cap. @default 2000 ms */
  readonly maxBackoffMs?: number;
  /** Connect + handshake timeout. @default 2000 ms */
  readonly dialTimeoutMs?: number;
  /**
   * A connection whose peer has not drained our writes for this long is closed and redialled
   * (a half-dead peer or a silent partition; TCP alone would wait many minutes).
   * @default 5000 ms
   */
  readonly writeStallTimeoutMs?: number;
  /** How often an accepted connection sends PING to its dialler. @default 1000 ms */
  readonly keepaliveIntervalMs?: number;
  /**
   * A dialled connection that received nothing (not even PING) for this long is closed and
   * redialled: a peer host that vanished without a reset, or a silent partition, is detected even
   * when too little is being sent to fill any buffer. Must exceed keepaliveIntervalMs.
   * @default 5000 ms
   */
  readonly peerIdleTimeoutMs?: number;
  /** Mutual TLS for peer connections. @default plain TCP */
  readonly tls?: PeerTlsOptions;
  /** Randomness for backoff jitter, in [0, 1). @default Math.random */
  readonly random?: () => number;
  /** Called with a one-line description of connection problems (refused handshakes, bad frames). @default ignore */
  readonly log?: (line: string) => void;
  /**
   * Answers discovery probes (a HELLO with sender and target id 0, see transport/probe.ts): the
   * returned map joins `metadata` in the WELCOME, then the connection closes. A blank member uses it
   * to learn whether its cluster already exists before it may bootstrap. @default static metadata only
   */
  readonly probeInfo?: () => Readonly<Record<string, string>>;
}

/**
 * Bytes we let the kernel socket buffer and Node's writable buffer hold before we stop moving
 * frames out of the bounded queue: a peer that stops reading then fills our queue (bounded,
 * counted drops) instead of Node's unbounded write buffer.
 */
const SOCKET_HIGH_WATER = 1 << 20;
/** The sender and target id of a discovery probe's HELLO (no node has id 0). */
export const PROBE_ID = 0;
/** Largest handshake frame (cluster id + metadata) accepted. */
const HANDSHAKE_MAX_BYTES = 64 * 1024;
/** Default frame limit: far above an APPEND (the server caps them near 1 MiB), room for a snapshot. */
const DEFAULT_MAX_FRAME_BYTES = 128 * 1024 * 1024;
/** Minimum gap between two unreachable reports for the same peer, so drops do not storm the core. */
const UNREACHABLE_REPORT_INTERVAL_MS = 100;

/**
 * Opens a connection to a peer: plain TCP, or TLS 1.2+ presenting our certificate and verifying
 * the peer's against the cluster CA (and its host name, unless `verifyHostname` is false).
 */
export function dialPeer(host: string, port: number, peerTls?: PeerTlsOptions): net.Socket {
  if (!peerTls) return net.connect({ host, port });
  return tls.connect({
    host,
    port,
    key: peerTls.key,
    cert: peerTls.cert,
    ca: peerTls.ca,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    ...(net.isIP(host) ? {} : { servername: host }),
    ...(peerTls.verifyHostname === false ? { checkServerIdentity: () => undefined } : {}),
  });
}

function checkId(id: number, what: string): void {
  if (!Number.isSafeInteger(id) || id <= 0) throw new RangeError(`${what} (${id}) must be a positive integer`);
}

enum LinkState { IDLE, DIALING, CONNECTED, BACKOFF }

/** The outbound side of one peer: its queue, its connection, its backoff. */
class PeerLink {
  state = LinkState.IDLE;
  socket: net.Socket | undefined;
  queue: Buffer[] = [];
  queueHead = 0;
  queuedBytes = 0;
  attempt = 0;
  timer: NodeJS.Timeout | undefined;
  stallTimer: NodeJS.Timeout | undefined;
  flushScheduled = false;
  lastUnreachableReport = -Infinity;
  sentMessages = 0;
  sentBytes = 0;
  droppedMessages = 0;
  connects = 0;
  lastError: string | undefined;
  closed = false;

  constructor(readonly peerId: number, readonly address: string) { }

  get queuedMessages(): number {
    return this.queue.length - this.queueHead;
  }

  dropQueue(): number {
    const n = this.queuedMessages;
    this.droppedMessages += n;
    this.queue = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
    return n;
  }
}

/** A Transport over TCP; see the module comment. */
export class TcpTransport implements Transport {
  /** Starts listening and returns the transport. Rejects if the address cannot be bound. */
  static async start(options: TcpTransportOptions): Promise<TcpTransport> {
    checkId(options.localId, 'TcpTransport: localId');
    if (!options.clusterId) throw new RangeError('TcpTransport: clusterId must be a non-empty string');
    const { host, port } = parseHostPort(options.listen, 'TcpTransport: listen');
    const transport = new TcpTransport(options);
    try {
      await new Promise<void>((resolve, reject) => {
        transport.server.once('error', reject);
        transport.server.listen({ host, port }, () => {
          transport.server.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      await transport.close(); // it may already be dialling its peers
      throw e;
    }
    return transport;
  }

  readonly localId: number;
  private readonly clusterId: string;
  private readonly metadata: Readonly<Record<string, string>>;
  private readonly maxQueuedMessages: number;
  private readonly maxQueuedBytes: number;
  private readonly maxFrameBytes: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly dialTimeoutMs: number;
  private readonly writeStallTimeoutMs: number;
  private readonly keepaliveIntervalMs: number;
  private readonly peerIdleTimeoutMs: number;
  private readonly random: () => number;
  private readonly log: (line: string) => void;
  private readonly probeInfo: (() => Readonly<Record<string, string>>) | undefined;
  private readonly server: net.Server;
  private tls: PeerTlsOptions | undefined;
  private readonly admitPeer: ((peerId: number, metadata: Readonly<Record<string, string>>) => string | undefined) | undefined;
  /** The live inbound connection of each peer id, and when it last received a frame. */
  private readonly inboundByPeer = new Map<number, { socket: net.Socket; lastReceived: number }>();
  /** Messages not sent because their frame exceeded maxFrameBytes. */
  oversizeDrops = 0;
  private readonly links = new Map<number, PeerLink>();
  private readonly inbound = new Set<net.Socket>();
  private readonly metadataByPeer = new Map<number, Readonly<Record<string, string>>>();
  private readonly receivedByPeer = new Map<number, number>();
  private messageHandler: MessageHandler | undefined;
  private unreachableHandler: UnreachableHandler | undefined;
  private closed = false;
  /** Messages addressed to ids not in the peer set. */
  unknownPeerDrops = 0;

  private constructor(options: TcpTransportOptions) {
    this.localId = options.localId;
    this.clusterId = options.clusterId;
    this.metadata = { ...(options.metadata ?? {}) };
    this.maxQueuedMessages = positive(options.maxQueuedMessages ?? 4096, 'maxQueuedMessages');
    this.maxQueuedBytes = positive(options.maxQueuedBytes ?? 64 * 1024 * 1024, 'maxQueuedBytes');
    this.maxFrameBytes = positive(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, 'maxFrameBytes');
    this.admitPeer = options.admitPeer;
    this.minBackoffMs = positive(options.minBackoffMs ?? 50, 'minBackoffMs');
    this.maxBackoffMs = positive(options.maxBackoffMs ?? 2000, 'maxBackoffMs');
    this.dialTimeoutMs = positive(options.dialTimeoutMs ?? 2000, 'dialTimeoutMs');
    this.writeStallTimeoutMs = positive(options.writeStallTimeoutMs ?? 5000, 'writeStallTimeoutMs');
    this.keepaliveIntervalMs = positive(options.keepaliveIntervalMs ?? 1000, 'keepaliveIntervalMs');
    this.peerIdleTimeoutMs = positive(options.peerIdleTimeoutMs ?? 5000, 'peerIdleTimeoutMs');
    if (this.peerIdleTimeoutMs <= this.keepaliveIntervalMs) {
      throw new RangeError(`TcpTransport: peerIdleTimeoutMs (${this.peerIdleTimeoutMs}) must exceed keepaliveIntervalMs (${this.keepaliveIntervalMs})`);
    }
    if (this.maxBackoffMs < this.minBackoffMs) {
      throw new RangeError(`TcpTransport: maxBackoffMs (${this.maxBackoffMs}) must be >= minBackoffMs (${this.minBackoffMs})`);
    }
    this.random = options.random ?? Math.random;
    this.log = options.log ?? (() => undefined);
    this.probeInfo = options.probeInfo;
    this.tls = options.tls;
    if (this.tls) {
      const { key, cert, ca } = this.tls;
      const verifyClient = this.tls.clientCertAuth !== false;
      this.server = tls.createServer({ key, cert, ca, requestCert: verifyClient, rejectUnauthorized: verifyClient, minVersion: 'TLSv1.2' },
        (socket) => this.accept(socket));
      // A peer that fails TLS verification never reaches accept(); say why instead of staying silent.
      this.server.on('tlsClientError', (err, socket) => {
        this.log(`transport ${this.localId}: TLS handshake with ${socket.remoteAddress}:${socket.remotePort} failed: ${err.message}`);
      });
    } else {
      this.server = net.createServer((socket) => this.accept(socket));
    }
    if (options.peers) this.setPeers(options.peers);
  }

  /** The bound `host:port` (useful with port 0). */
  get address(): string {
    const a = this.server.address();
    if (!a || typeof a === 'string') return '';
    return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  onMessage(handler: MessageHandler): void {
    this.messageHandler = handler;
  }

  onUnreachable(handler: UnreachableHandler): void {
    this.unreachableHandler = handler;
  }

  peerMetadata(peerId: number): Readonly<Record<string, string>> | undefined {
    return this.metadataByPeer.get(peerId);
  }

  setPeers(peers: ReadonlyMap<number, string>): void {
    for (const [id, address] of peers) {
      checkId(id, 'setPeers: peer id');
      parseHostPort(address, `setPeers: address of peer ${id}`);
    }
    for (const [id, link] of this.links) {
      if (peers.get(id) !== link.address) {
        this.closeLink(link);
        this.links.delete(id);
      }
    }
    for (const [id, address] of peers) {
      if (id === this.localId || this.links.has(id)) continue;
      const link = new PeerLink(id, address);
      this.links.set(id, link);
      // Dial every member at once, not on first send: each member then holds a live connection at
      // every other member, which is what stops a forger from claiming a running member's id.
      if (!this.closed) queueMicrotask(() => { if (!link.closed && link.state === LinkState.IDLE && !this.closed) this.dial(link); });
    }
    // A member that left may not keep talking on the connection it opened while it was one.
    for (const [id, inbound] of this.inboundByPeer) {
      if (!this.links.has(id)) {
        inbound.socket.destroy();
        this.inboundByPeer.delete(id);
      }
    }
    for (const id of this.metadataByPeer.keys()) if (!this.links.has(id)) this.metadataByPeer.delete(id);
  }

  /**
   * Replaces the TLS material (certificate rotation): new inbound handshakes use it at once, new
   * outbound connections on their next dial; established connections keep theirs. Only a
   * transport started with TLS can rotate (turning TLS on or off needs a restart).
   */
  setTls(options: PeerTlsOptions): void {
    if (!this.tls) throw new RangeError('TcpTransport.setTls: this transport was started without TLS');
    (this.server as tls.Server).setSecureContext({ key: options.key, cert: options.cert, ca: options.ca });
    this.tls = { ...options };
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const message of messages) {
      const link = this.links.get(message.to);
      if (!link) {
        this.unknownPeerDrops++;
        continue;
      }
      if (link.state === LinkState.BACKOFF) {
        // The peer is known to be down: queueing stale messages would only delay fresh ones.
        link.droppedMessages++;
        this.reportUnreachable(link);
        continue;
      }
      const frame = encodeMessageFrame(message);
      if (frame.length - 4 > this.maxFrameBytes) {
        // The peer would refuse it (and keep refusing a retry): drop it here and say what to raise.
        this.oversizeDrops++;
        link.droppedMessages++;
        this.log(`transport ${this.localId}: dropped a ${MessageType[message.type]} of ${frame.length} bytes to ${link.peerId}: over the ${this.maxFrameBytes}-byte frame limit (raise --max-peer-frame-bytes on every member)`);
        continue;
      }
      // An empty queue takes any one message, so a snapshot larger than the byte bound can still
      // be sent (alone); the bound is then max(maxQueuedBytes, that message).
      const full = link.queuedMessages >= this.maxQueuedMessages
        || (link.queuedMessages > 0 && link.queuedBytes + frame.length > this.maxQueuedBytes);
      if (full) {
        link.droppedMessages++;
        this.reportUnreachable(link);
        continue;
      }
      link.queue.push(frame);
      link.queuedBytes += frame.length;
      if (link.state === LinkState.IDLE) this.dial(link);
      else if (link.state === LinkState.CONNECTED) this.scheduleFlush(link);
    }
  }

  stats(): PeerStats[] {
    return [...this.links.values()].map((l) => ({
      peerId: l.peerId,
      address: l.address,
      connected: l.state === LinkState.CONNECTED,
      queuedMessages: l.queuedMessages,
      queuedBytes: l.queuedBytes,
      sentMessages: l.sentMessages,
      sentBytes: l.sentBytes,
      droppedMessages: l.droppedMessages,
      connects: l.connects,
      receivedMessages: this.receivedByPeer.get(l.peerId) ?? 0,
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links.values()) this.closeLink(link);
    for (const socket of this.inbound) socket.destroy();
    this.inbound.clear();
    this.inboundByPeer.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- outbound ----

  private dial(link: PeerLink): void {
    link.state = LinkState.DIALING;
    const { host, port } = parseHostPort(link.address, `address of peer ${link.peerId}`);
    const socket = dialPeer(host, port, this.tls);
    link.socket = socket;
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(HANDSHAKE_MAX_BYTES);
    const timeout = setTimeout(() => fail(`no handshake answer within ${this.dialTimeoutMs} ms`), this.dialTimeoutMs);
    let lastReceived = performance.now();
    let idleCheck: NodeJS.Timeout | undefined;
    let done = false;
    const fail = (reason: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timeout);
      if (idleCheck) clearInterval(idleCheck);
      socket.destroy();
      if (link.socket === socket) this.linkDown(link, reason);
    };
    socket.on(this.tls ? 'secureConnect' : 'connect', () => {
      socket.write(encodeHandshakeFrame(FrameKind.HELLO, {
        version: PROTOCOL_VERSION, clusterId: this.clusterId, senderId: this.localId, targetId: link.peerId, metadata: this.metadata,
      }));
    });
    socket.on('data', (chunk: Buffer) => {
      lastReceived = performance.now();
      let frames: Frame[];
      try {
        frames = decoder.push(chunk);
      } catch (e) {
        fail(`bad frame from peer: ${(e as Error).message}`);
        return;
      }
      for (const frame of frames) {
        if (frame.kind === FrameKind.PING && link.state === LinkState.CONNECTED) continue;
        if (link.state !== LinkState.DIALING || link.socket !== socket) {
          fail(`unexpected frame kind ${frame.kind} after the handshake`);
          return;
        }
        if (frame.kind === FrameKind.REJECT) {
          fail(`peer refused the handshake: ${frame.body.toString('utf8')}`);
          return;
        }
        if (frame.kind !== FrameKind.WELCOME) {
          fail(`expected a handshake answer, got frame kind ${frame.kind}`);
          return;
        }
        let welcome;
        try {
          welcome = decodeHandshake(frame.body);
        } catch (e) {
          fail((e as Error).message);
          return;
        }
        if (welcome.clusterId !== this.clusterId || welcome.senderId !== link.peerId) {
          fail(`reached node ${welcome.senderId} of cluster '${welcome.clusterId}', expected node ${link.peerId} of '${this.clusterId}'`);
          return;
        }
        clearTimeout(timeout);
        this.metadataByPeer.set(link.peerId, welcome.metadata);
        link.state = LinkState.CONNECTED;
        link.attempt = 0;
        link.connects++;
        link.lastError = undefined;
        let pingDue = 0;
        idleCheck = setInterval(() => {
          const silent = performance.now() - lastReceived;
          if (silent > this.peerIdleTimeoutMs) fail(`peer silent for ${Math.round(silent)} ms (no keepalive)`);
          // Our own keepalive, between whole frames (flush writes only whole frames).
          if (performance.now() >= pingDue && socket.writableLength === 0) {
            socket.write(PING_FRAME);
            pingDue = performance.now() + this.keepaliveIntervalMs;
          }
        }, Math.max(10, Math.min(this.peerIdleTimeoutMs / 4, this.keepaliveIntervalMs)));
        this.scheduleFlush(link);
      }
    });
    socket.on('drain', () => {
      if (link.stallTimer) clearTimeout(link.stallTimer);
      link.stallTimer = undefined;
      this.scheduleFlush(link);
    });
    socket.on('error', (e) => fail(e.message));
    socket.on('close', () => fail('connection closed'));
  }

  private scheduleFlush(link: PeerLink): void {
    if (link.flushScheduled) return;
    link.flushScheduled = true;
    // One flush per event-loop turn: every message the server sends in this turn goes out in one
    // corked write (a writev), not one syscall each.
    setImmediate(() => {
      link.flushScheduled = false;
      this.flush(link);
    });
  }

  private flush(link: PeerLink): void {
    const socket = link.socket;
    if (link.state !== LinkState.CONNECTED || !socket || link.queuedMessages === 0) return;
    socket.cork();
    while (link.queueHead < link.queue.length && socket.writableLength < SOCKET_HIGH_WATER) {
      const frame = link.queue[link.queueHead++];
      link.queuedBytes -= frame.length;
      link.sentMessages++;
      link.sentBytes += frame.length;
      socket.write(frame);
    }
    socket.uncork();
    if (link.queueHead === link.queue.length) {
      link.queue = [];
      link.queueHead = 0;
    } else if (link.queueHead > 1024) {
      link.queue = link.queue.slice(link.queueHead);
      link.queueHead = 0;
    }
    // The rest waits for 'drain': the queue, not Node's write buffer, absorbs a slow reader.
    if (socket.writableLength >= SOCKET_HIGH_WATER && !link.stallTimer) {
      link.stallTimer = setTimeout(() => {
        link.stallTimer = undefined;
        if (link.socket === socket) socket.destroy(new Error(`peer read nothing for ${this.writeStallTimeoutMs} ms`));
      }, this.writeStallTimeoutMs);
    }
  }

  private linkDown(link: PeerLink, reason: string): void {
    link.socket = undefined;
    if (link.stallTimer) clearTimeout(link.stallTimer);
    link.stallTimer = undefined;
    if (link.closed || this.closed) return;
    if (link.lastError !== reason) this.log(`transport ${this.localId}: link to ${link.peerId} (${link.address}) down: ${reason}`);
    link.lastError = reason;
    link.dropQueue();
    this.reportUnreachable(link, true);
    link.state = LinkState.BACKOFF;
    const ceiling = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** Math.min(link.attempt, 30));
    link.attempt++;
    // "Equal jitter": at least half the ceiling, so a flapping peer is not hammered, and spread
    // so that nodes restarting together do not reconnect in lockstep.
    const delay = ceiling / 2 + (this.random() * ceiling) / 2;
    link.timer = setTimeout(() => {
      link.timer = undefined;
      if (link.closed || this.closed) return;
      // Dial again right away: Raft sends heartbeats continuously, so an idle link would be dialled
      // on the next send anyway, and dialling now keeps peerMetadata fresh.
      this.dial(link);
    }, delay);
  }

  private reportUnreachable(link: PeerLink, force = false): void {
    const now = performance.now();
    if (!force && now - link.lastUnreachableReport < UNREACHABLE_REPORT_INTERVAL_MS) return;
    link.lastUnreachableReport = now;
    const handler = this.unreachableHandler;
    if (handler) queueMicrotask(() => handler(link.peerId));
  }

  private closeLink(link: PeerLink): void {
    link.closed = true;
    if (link.timer) clearTimeout(link.timer);
    if (link.stallTimer) clearTimeout(link.stallTimer);
    link.timer = link.stallTimer = undefined;
    link.socket?.destroy();
    link.socket = undefined;
    link.dropQueue();
  }

  // ---- inbound ----

  private accept(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.inbound.add(socket);
    socket.setNoDelay(true);
    // The dialler's side has the PING/idle check; here kernel keepalive eventually reaps a
    // connection whose dialler vanished, so dead sockets do not pile up.
    socket.setKeepAlive(true, 10_000);
    // Until the peer has identified itself, accept only handshake-sized frames: an unauthenticated
    // connection must not make us buffer a 512 MiB "frame".
    const decoder = new FrameDecoder(HANDSHAKE_MAX_BYTES);
    let peerId = 0;
    let keepalive: NodeJS.Timeout | undefined;
    const timeout = setTimeout(() => socket.destroy(), this.dialTimeoutMs);
    const refuse = (reason: string): void => {
      this.log(`transport ${this.localId}: refused a connection from ${socket.remoteAddress}:${socket.remotePort}: ${reason}`);
      socket.end(encodeRejectFrame(reason));
      socket.destroySoon();
      clearTimeout(timeout);
    };
    socket.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = decoder.push(chunk);
      } catch (e) {
        this.log(`transport ${this.localId}: closing the connection from ${peerId || socket.remoteAddress}: ${(e as Error).message}`);
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        if (socket.destroyed) return;
        if (peerId === 0) {
          if (frame.kind !== FrameKind.HELLO) return refuse(`expected a handshake, got frame kind ${frame.kind}`);
          let hello;
          try {
            hello = decodeHandshake(frame.body);
          } catch (e) {
            return refuse((e as Error).message);
          }
          if (hello.version !== PROTOCOL_VERSION) return refuse(`protocol version ${hello.version} is not ${PROTOCOL_VERSION}`);
          if (hello.clusterId !== this.clusterId) return refuse(`cluster '${hello.clusterId}' is not this node's cluster '${this.clusterId}'`);
          if (hello.senderId === PROBE_ID && hello.targetId === PROBE_ID) {
            // A discovery probe: say who we are and what we hold, deliver nothing, close.
            clearTimeout(timeout);
            socket.end(encodeHandshakeFrame(FrameKind.WELCOME, {
              version: PROTOCOL_VERSION,
              clusterId: this.clusterId,
              senderId: this.localId,
              targetId: PROBE_ID,
              metadata: { ...this.metadata, ...this.probeInfo?.() },
            }));
            return;
          }
          if (hello.targetId !== this.localId) return refuse(`you dialled node ${hello.targetId}, this is node ${this.localId}: check the peer addresses`);
          const refusal = this.admissionRefusal(socket, hello.senderId, hello.metadata);
          if (refusal) return refuse(refusal);
          clearTimeout(timeout);
          peerId = hello.senderId;
          this.inboundByPeer.set(peerId, { socket, lastReceived: performance.now() });
          decoder.maxFrameBytes = this.maxFrameBytes;
          socket.write(encodeHandshakeFrame(FrameKind.WELCOME, {
            version: PROTOCOL_VERSION, clusterId: this.clusterId, senderId: this.localId, targetId: peerId, metadata: this.metadata,
          }));
          keepalive = setInterval(() => {
            // Skip while our own PINGs are still queued: the dialler is not reading, and its idle
            // timeout is what should fire, not our memory.
            if (socket.writableLength === 0) socket.write(PING_FRAME);
          }, this.keepaliveIntervalMs);
          continue;
        }
        const live = this.inboundByPeer.get(peerId);
        if (live?.socket !== socket) {
          this.log(`transport ${this.localId}: closing the connection from ${peerId}: it is no longer a current member's connection`);
          socket.destroy();
          return;
        }
        live.lastReceived = performance.now();
        if (frame.kind === FrameKind.PING) continue;
        if (frame.kind !== FrameKind.MESSAGE) {
          this.log(`transport ${this.localId}: closing the connection from ${peerId}: unexpected frame kind ${frame.kind}`);
          socket.destroy();
          return;
        }
        let message: Message;
        try {
          message = decodeMessage(frame.body);
        } catch (e) {
          this.log(`transport ${this.localId}: closing the connection from ${peerId}: ${(e as Error).message}`);
          socket.destroy();
          return;
        }
        if (message.from !== peerId || message.to !== this.localId) {
          this.log(`transport ${this.localId}: closing the connection from ${peerId}: message ${message.from} -> ${message.to} does not belong on it`);
          socket.destroy();
          return;
        }
        this.receivedByPeer.set(peerId, (this.receivedByPeer.get(peerId) ?? 0) + 1);
        try {
          this.messageHandler?.(message);
        } catch (e) {
          // A throwing handler is a bug upstream; keep the link (and the other messages) alive.
          this.log(`transport ${this.localId}: message handler threw on ${MessageType[message.type]} from ${peerId}: ${(e as Error).message}`);
        }
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(timeout);
      if (keepalive) clearInterval(keepalive);
      this.inbound.delete(socket);
      if (peerId !== 0 && this.inboundByPeer.get(peerId)?.socket === socket) this.inboundByPeer.delete(peerId);
    });
  }

  /**
   * Why an inbound dialler claiming `senderId` may not speak for it, or undefined to admit it:
   * it must be a configured peer, must not take over a live connection of that peer (a
   * connection that received nothing for peerIdleTimeoutMs is presumed dead and replaced), and
   * with TLS its certificate must name the host configured for that id.
   */
  private admissionRefusal(socket: net.Socket, senderId: number, metadata: Readonly<Record<string, string>>): string | undefined {
    if (!Number.isSafeInteger(senderId) || senderId <= 0 || senderId === this.localId) return `sender id ${senderId} is not a valid peer id`;
    const link = this.links.get(senderId);
    if (!link) return `sender id ${senderId} is not a member of this cluster`;
    const certProblem = this.certificateMismatch(socket, senderId, link.address);
    if (certProblem) return certProblem;
    const extra = this.admitPeer?.(senderId, metadata);
    if (extra) return extra;
    const live = this.inboundByPeer.get(senderId);
    if (live && !live.socket.destroyed) {
      const silentMs = performance.now() - live.lastReceived;
      if (silentMs < this.peerIdleTimeoutMs) return `member ${senderId} is already connected (a live connection is never taken over)`;
      this.log(`transport ${this.localId}: replacing the connection from ${senderId}, silent for ${Math.round(silentMs)} ms`);
      live.socket.destroy();
    }
    return undefined;
  }

  /** With TLS and hostname checks on: the dialler's certificate must be valid for the host configured for `senderId`. */
  private certificateMismatch(socket: net.Socket, senderId: number, address: string): string | undefined {
    if (!this.tls || this.tls.verifyHostname === false || this.tls.clientCertAuth === false || !(socket instanceof tls.TLSSocket)) return undefined;
    const { host } = parseHostPort(address, `address of peer ${senderId}`);
    const err = tls.checkServerIdentity(host, socket.getPeerCertificate());
    return err ? `the certificate presented does not belong to member ${senderId} (${host}): ${err.message}` : undefined;
  }
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`TcpTransport: ${name} (${value}) must be a positive number`);
  return value;
}
