/**
 * MemoryTransport: Transports wired through an in-process MemoryNetwork, for tests. Delivery is
 * asynchronous (a microtask later, like a socket) and ordered per link; the network can cut links
 * one way, so server tests can partition without sockets.
 */
import type { MessageHandler, PeerStats, Transport, UnreachableHandler } from './transport';
import type { Message } from '../raft/types';

/** A set of in-memory transports that can reach each other. */
export class MemoryNetwork {
  private readonly nodes = new Map<number, MemoryTransport>();
  private readonly cuts = new Set<string>();

  /** Creates the transport of node `localId`, advertising `metadata` to its peers. Replaces a closed one. */
  connect(localId: number, metadata: Readonly<Record<string, string>> = {}): MemoryTransport {
    if (!Number.isSafeInteger(localId) || localId <= 0) throw new RangeError(`MemoryNetwork.connect: id (${localId}) must be a positive integer`);
    const existing = this.nodes.get(localId);
    if (existing && !existing.isClosed) throw new Error(`MemoryNetwork.connect: node ${localId} is already connected; close it first`);
    const transport = new MemoryTransport(this, localId, { ...metadata });
    this.nodes.set(localId, transport);
    return transport;
  }

  /** Drops every message from `from` to `to` until `restore` (one way: call twice for both). */
  cut(from: number, to: number): void {
    this.cuts.add(`${from}>${to}`);
  }

  /** Undoes `cut(from, to)`. */
  restore(from: number, to: number): void {
    this.cuts.delete(`${from}>${to}`);
  }

  /** Restores every link. */
  heal(): void {
    this.cuts.clear();
  }

  /** @internal the live transport of `id` if the link from -> id is up. */
  route(from: number, to: number): MemoryTransport | undefined {
    if (this.cuts.has(`${from}>${to}`)) return undefined;
    const node = this.nodes.get(to);
    return node && !node.isClosed ? node : undefined;
  }

  /** @internal */
  metadataOf(id: number): Readonly<Record<string, string>> | undefined {
    return this.nodes.get(id)?.metadata;
  }
}

interface Counters { sent: number; dropped: number; received: number }

/** One node's endpoint on a MemoryNetwork. */
export class MemoryTransport implements Transport {
  private peers = new Map<number, string>();
  private messageHandler: MessageHandler | undefined;
  private unreachableHandler: UnreachableHandler | undefined;
  private closed = false;
  private readonly counters = new Map<number, Counters>();

  /** @internal use MemoryNetwork.connect */
  constructor(private readonly network: MemoryNetwork, readonly localId: number, readonly metadata: Readonly<Record<string, string>>) { }

  /** True after close(). */
  get isClosed(): boolean {
    return this.closed;
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const message of messages) {
      if (!this.peers.has(message.to)) continue;
      const c = this.counter(message.to);
      const target = this.network.route(this.localId, message.to);
      if (!target) {
        c.dropped++;
        const handler = this.unreachableHandler;
        if (handler) queueMicrotask(() => handler(message.to));
        continue;
      }
      c.sent++;
      queueMicrotask(() => target.deliver(message));
    }
  }

  /** @internal */
  deliver(message: Message): void {
    if (this.closed) return;
    // Re-check at delivery: a cut made after send still drops what is "on the wire".
    if (!this.network.route(message.from, this.localId)) return;
    this.counter(message.from).received++;
    this.messageHandler?.(message);
  }

  onMessage(handler: MessageHandler): void {
    this.messageHandler = handler;
  }

  onUnreachable(handler: UnreachableHandler): void {
    this.unreachableHandler = handler;
  }

  setPeers(peers: ReadonlyMap<number, string>): void {
    this.peers = new Map([...peers].filter(([id]) => id !== this.localId));
  }

  peerMetadata(peerId: number): Readonly<Record<string, string>> | undefined {
    return this.peers.has(peerId) ? this.network.metadataOf(peerId) : undefined;
  }

  stats(): PeerStats[] {
    return [...this.peers].map(([peerId, address]) => {
      const c = this.counter(peerId);
      return {
        peerId,
        address,
        connected: this.network.route(this.localId, peerId) !== undefined,
        queuedMessages: 0,
        queuedBytes: 0,
        sentMessages: c.sent,
        sentBytes: 0,
        droppedMessages: c.dropped,
        connects: 0,
        receivedMessages: c.received,
      };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private counter(peerId: number): Counters {
    let c = this.counters.get(peerId);
    if (!c) this.counters.set(peerId, (c = { sent: 0, dropped: 0, received: 0 }));
    return c;
  }
}
