/**
 * The peer-to-peer message contract of the Raft server (hashicorp/raft's Transport). A transport
 * moves `Message`s between nodes; it never interprets them. Delivery is best effort: Raft
 * retransmits, so a transport drops rather than blocks or grows without bound.
 */
import type { Message } from '../raft/types';

/** Called for every message received from a peer, in the order that peer sent them. */
export type MessageHandler = (message: Message) => void;

/**
 * Called when messages to `peerId` could not be delivered (connection refused or lost, queue
 * full). The server forwards it to `RawNode.reportUnreachable(peerId)` so the leader stops
 * pipelining to a peer that is not listening.
 */
export type UnreachableHandler = (peerId: number) => void;

/** Counters for one peer's outbound link. All counts are since the transport started. */
export interface PeerStats {
  readonly peerId: number;
  readonly address: string;
  readonly connected: boolean;
  /** Messages waiting in the outbound queue, and their encoded size. Both are bounded. */
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  readonly sentMessages: number;
  readonly sentBytes: number;
  /** Messages dropped because the queue was full or the connection was lost with them queued. */
  readonly droppedMessages: number;
  /** Successful connections (handshake completed); more than 1 means reconnects happened. */
  readonly connects: number;
  readonly receivedMessages: number;
}

/** A Raft peer transport: see the module comment for the delivery contract. */
export interface Transport {
  /** This node's id (positive integer). */
  readonly localId: number;
  /**
   * Queues each message for `message.to`. Never blocks and never throws for delivery problems:
   * messages to unknown peers, or beyond a peer's queue bounds, are dropped and counted.
   * Messages to one peer are delivered in the order they were passed (or not at all).
   * A message whose fields cannot be encoded (negative or unsafe integers) is a caller bug:
   * TcpTransport throws a RangeError for it, after queueing the messages before it.
   */
  send(messages: readonly Message[]): void;
  /** Sets the (single) handler for received messages. Messages arriving before it is set are dropped. */
  onMessage(handler: MessageHandler): void;
  /** Sets the (single) handler for unreachable peers. */
  onUnreachable(handler: UnreachableHandler): void;
  /**
   * Replaces the peer set (membership change): `peers` maps node id to `host:port`. Links to peers
   * that left are closed (their queues dropped), new ones are dialled lazily on first send, and a
   * changed address reconnects. The local id, if present, is ignored.
   */
  setPeers(peers: ReadonlyMap<number, string>): void;
  /**
   * The metadata `peerId` sent in its handshake (for example its advertised client URL), or
   * undefined if no handshake with it has completed yet.
   */
  peerMetadata(peerId: number): Readonly<Record<string, string>> | undefined;
  /** Per-peer counters for metrics and tests. */
  stats(): PeerStats[];
  /** Closes the listener and every link, dropping queued messages. Idempotent. */
  close(): Promise<void>;
}
