/**
 * TcpTransport: the shipping Transport. One outbound, pipelined TCP connection per peer carrying
 * length-prefixed binary frames; a handshake that names the cluster, the sender and its metadata;
 * reconnect with bounded exponential backoff and jitter; bounded per-peer queues.
 */
import type { Message } from '../raft/types';
import type { MessageHandler, PeerStats, Transport, UnreachableHandler } from './transport';

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
  /** Per-peer outbound queue bound, in encoded bytes. @default 64 MiB */
  readonly maxQueuedBytes?: number;
  /** Largest frame accepted from a peer; bigger ones close the connection. @default 512 MiB */
  readonly maxFrameBytes?: number;
  /** First reconnect delay. @default 50 ms */
  readonly minBackoffMs?: number;
  /** Reconnect delay cap. @default 2000 ms */
  readonly maxBackoffMs?: number;
  /** Connect + handshake timeout. @default 2000 ms */
  readonly dialTimeoutMs?: number;
}

/** A Transport over TCP; see the module comment. */
export class TcpTransport implements Transport {
  /** Starts listening and returns the transport. Rejects if the address cannot be bound. */
  static async start(options: TcpTransportOptions): Promise<TcpTransport> {
    void options;
    throw new Error('TcpTransport.start: not implemented yet');
  }
  /** The bound `host:port` (useful with port 0). */
  get address(): string { return ''; }
  get localId(): number { return 0; }
  send(messages: readonly Message[]): void { void messages; }
  onMessage(handler: MessageHandler): void { void handler; }
  onUnreachable(handler: UnreachableHandler): void { void handler; }
  setPeers(peers: ReadonlyMap<number, string>): void { void peers; }
  peerMetadata(peerId: number): Readonly<Record<string, string>> | undefined { void peerId; return undefined; }
  stats(): PeerStats[] { return []; }
  async close(): Promise<void> { }
}
