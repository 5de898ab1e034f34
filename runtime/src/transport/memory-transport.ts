/**
 * MemoryTransport: Transports wired through an in-process MemoryNetwork, for tests. Delivery is
 * asynchronous (a microtask later, like a socket) and ordered per link; the network can cut links
 * one way, so server tests can partition without sockets.
 */
import type { Message } from '../raft/types';
import type { MessageHandler, PeerStats, Transport, UnreachableHandler } from './transport';

/** A set of in-memory transports that can reach each other. */
export class MemoryNetwork {
  /** Creates the transport of node `localId`, advertising `metadata` to its peers. */
  connect(localId: number, metadata: Readonly<Record<string, string>> = {}): MemoryTransport {
    void localId; void metadata;
    throw new Error('not implemented yet');
  }
  /** Drops every message from `from` to `to` until `restore` (one way: call twice for both). */
  cut(from: number, to: number): void { void from; void to; }
  /** Undoes `cut(from, to)`. */
  restore(from: number, to: number): void { void from; void to; }
  /** Restores every link. */
  heal(): void { }
}

/** One node's endpoint on a MemoryNetwork. */
export class MemoryTransport implements Transport {
  private constructor() { }
  get localId(): number { return 0; }
  send(messages: readonly Message[]): void { void messages; }
  onMessage(handler: MessageHandler): void { void handler; }
  onUnreachable(handler: UnreachableHandler): void { void handler; }
  setPeers(peers: ReadonlyMap<number, string>): void { void peers; }
  peerMetadata(peerId: number): Readonly<Record<string, string>> | undefined { void peerId; return undefined; }
  stats(): PeerStats[] { return []; }
  async close(): Promise<void> { }
}
