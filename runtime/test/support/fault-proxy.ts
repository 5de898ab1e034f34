/**
 * FaultProxy: a TCP proxy between Raft peers for fault tests. Every directed link (from -> to)
 * gets its own listening port that forwards to `to`'s real address; node `from` is configured
 * with `proxy.peersFor(from)` instead of the real addresses. Because a TcpTransport sends its
 * messages to a peer only on its own outbound connection, blocking link (a -> b) is a one-way
 * partition: a's messages stop reaching b while b's still reach a.
 *
 * Modes per link: PASS, BLACKHOLE (accept and read, forward nothing: the dialer sees a live but
 * silent peer), REFUSE (stop listening: connect gets ECONNREFUSED; live connections are reset),
 * DELAY (forward every chunk `delayMs` later, in order).
 */

/** What a link does with traffic. */
export type LinkMode =
  | { readonly kind: 'pass' }
  | { readonly kind: 'blackhole' }
  | { readonly kind: 'refuse' }
  | { readonly kind: 'delay'; readonly delayMs: number };

/** Options for {@link FaultProxy.start}. */
export interface FaultProxyOptions {
  /** The real peer addresses, id -> `host:port`. */
  readonly nodes: ReadonlyMap<number, string>;
  /** Host to listen on. @default 127.0.0.1 */
  readonly host?: string;
  /**
   * First port of a contiguous range the link listeners use (n*(n-1) ports for n nodes);
   * 0 lets the OS pick. @default 0
   */
  readonly basePort?: number;
}

/** See the module comment. */
export class FaultProxy {
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    void options;
    throw new Error('not implemented yet');
  }
  /** The addresses node `id` must use to reach every other node through the proxy. */
  peersFor(id: number): Map<number, string> { void id; return new Map(); }
  /** Sets the mode of the directed link `from -> to`. */
  async setLink(from: number, to: number, mode: LinkMode): Promise<void> { void from; void to; void mode; }
  /**
   * Cuts traffic between the groups: both directions, or only `groupA -> groupB` when
   * `oneWay` is set. `mode` is 'blackhole' (default) or 'refuse'.
   */
  async partition(groupA: readonly number[], groupB: readonly number[],
    options: { oneWay?: boolean; mode?: 'blackhole' | 'refuse' } = {}): Promise<void> {
    void groupA; void groupB; void options;
  }
  /** Cuts node `id` off from every other node, both ways. */
  async isolate(id: number, mode: 'blackhole' | 'refuse' = 'blackhole'): Promise<void> { void id; void mode; }
  /** Sets every link back to PASS. */
  async heal(): Promise<void> { }
  /** Counters per link, for assertions: connections accepted and bytes forwarded / dropped. */
  linkStats(from: number, to: number): { connections: number; forwardedBytes: number; droppedBytes: number } {
    void from; void to;
    return { connections: 0, forwardedBytes: 0, droppedBytes: 0 };
  }
  /** Closes every listener and connection. Idempotent. */
  async close(): Promise<void> { }
}
