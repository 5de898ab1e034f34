/**
 * FaultProxy: a TCP proxy between Raft peers for fault tests. Every directed link (from -> to)
 * gets its own listening port that forwards to `to`'s real address; node `from` is configured
 * with `proxy.peersFor(from)` instead of the real addresses. Because a TcpTransport sends its
 * messages to a peer only on its own outbound connection, blocking link (a -> b) is a one-way
 * partition: a's messages stop reaching b while b's still reach a.
 *
 * Modes per link:
 * - PASS: forward both directions.
 * - BLACKHOLE: accept connections but forward nothing, in either direction, as when packets
 *   vanish: reads are paused, so bytes stay queued in the kernel (TCP would retransmit them) and
 *   the stream is intact if the link heals before either side gives up.
 * - REFUSE: stop listening (new connects get ECONNREFUSED) and reset live connections, as when
 *   the peer's host is up but the port is closed or a firewall rejects.
 * - DELAY: forward every chunk `delayMs` later, preserving order.
 */
import * as net from 'node:net';

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

const PASS: LinkMode = { kind: 'pass' };

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  /** Delay mode: the time the last scheduled chunk is due, per direction, so order holds. */
  lastDueUp: number;
  lastDueDown: number;
  pendingTimers: Set<NodeJS.Timeout>;
  pendingBytes: number;
}

class Link {
  mode: LinkMode = PASS;
  server: net.Server | undefined;
  readonly pairs = new Set<Pair>();
  connections = 0;
  forwardedBytes = 0;
  droppedBytes = 0;

  constructor(readonly from: number, readonly to: number, readonly host: string, public port: number,
    readonly target: { host: string; port: number }) { }

  async listen(): Promise<void> {
    const server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.host, port: this.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async unlisten(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.mode.kind === 'refuse') {
      client.destroy();
      return;
    }
    this.connections++;
    const upstream = net.connect(this.target);
    const pair: Pair = { client, upstream, lastDueUp: 0, lastDueDown: 0, pendingTimers: new Set(), pendingBytes: 0 };
    this.pairs.add(pair);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      for (const t of pair.pendingTimers) clearTimeout(t);
      this.droppedBytes += pair.pendingBytes;
      pair.pendingTimers.clear();
      pair.pendingBytes = 0;
      this.pairs.delete(pair);
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
    client.on('data', (chunk: Buffer) => this.forward(pair, chunk, upstream, 'up'));
    upstream.on('data', (chunk: Buffer) => this.forward(pair, chunk, client, 'down'));
    if (this.mode.kind === 'blackhole') {
      client.pause();
      upstream.pause();
    }
  }

  private forward(pair: Pair, chunk: Buffer, to: net.Socket, direction: 'up' | 'down'): void {
    const mode = this.mode;
    if (mode.kind === 'delay') {
      const dueField = direction === 'up' ? 'lastDueUp' : 'lastDueDown';
      const due = Math.max(Date.now() + mode.delayMs, pair[dueField]);
      pair[dueField] = due;
      pair.pendingBytes += chunk.length;
      const timer = setTimeout(() => {
        pair.pendingTimers.delete(timer);
        pair.pendingBytes -= chunk.length;
        this.forwardedBytes += chunk.length;
        to.write(chunk);
      }, due - Date.now());
      pair.pendingTimers.add(timer);
      return;
    }
    // PASS (BLACKHOLE pauses reads, so no data event arrives then; a chunk already in flight passes).
    this.forwardedBytes += chunk.length;
    if (!to.write(chunk)) {
      const from = direction === 'up' ? pair.client : pair.upstream;
      from.pause();
      to.once('drain', () => {
        if (this.mode.kind !== 'blackhole') from.resume();
      });
    }
  }

  async setMode(mode: LinkMode): Promise<void> {
    if (mode.kind === 'delay' && !(mode.delayMs >= 0)) throw new RangeError(`FaultProxy: delayMs (${mode.delayMs}) must be >= 0`);
    this.mode = mode;
    for (const pair of this.pairs) {
      if (mode.kind === 'blackhole') {
        pair.client.pause();
        pair.upstream.pause();
      } else if (mode.kind === 'refuse') {
        pair.client.resetAndDestroy();
        pair.upstream.destroy();
      } else {
        pair.client.resume();
        pair.upstream.resume();
      }
    }
    if (mode.kind === 'refuse') await this.unlisten();
    else if (!this.server) await this.listen();
  }
}

/** See the module comment. */
export class FaultProxy {
  /** Starts one listener per directed link. Rejects if a port cannot be bound (after closing the others). */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const host = options.host ?? '127.0.0.1';
    const ids = [...options.nodes.keys()].sort((a, b) => a - b);
    const proxy = new FaultProxy();
    let next = options.basePort ?? 0;
    try {
      for (const from of ids) {
        for (const to of ids) {
          if (from === to) continue;
          const address = options.nodes.get(to)!;
          const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address);
          if (!m) throw new RangeError(`FaultProxy: address of node ${to} '${address}' is not host:port`);
          const link = new Link(from, to, host, next, { host: m[1], port: Number(m[2]) });
          if (next !== 0) next++;
          proxy.links.set(key(from, to), link);
          await link.listen();
        }
      }
    } catch (e) {
      await proxy.close();
      throw e;
    }
    return proxy;
  }

  private readonly links = new Map<string, Link>();

  private constructor() { }

  /** The addresses node `id` must use to reach every other node through the proxy. */
  peersFor(id: number): Map<number, string> {
    const peers = new Map<number, string>();
    for (const link of this.links.values()) if (link.from === id) peers.set(link.to, `${link.host}:${link.port}`);
    return peers;
  }

  /** Sets the mode of the directed link `from -> to`. */
  async setLink(from: number, to: number, mode: LinkMode): Promise<void> {
    await this.link(from, to).setMode(mode);
  }

  /**
   * Cuts traffic between the groups: both directions, or only `groupA -> groupB` when
   * `oneWay` is set. `mode` is 'blackhole' (default) or 'refuse'.
   */
  async partition(groupA: readonly number[], groupB: readonly number[],
    options: { oneWay?: boolean; mode?: 'blackhole' | 'refuse' } = {}): Promise<void> {
    const mode: LinkMode = { kind: options.mode ?? 'blackhole' };
    for (const a of groupA) {
      for (const b of groupB) {
        if (a === b) throw new RangeError(`FaultProxy.partition: node ${a} is in both groups`);
        await this.setLink(a, b, mode);
        if (!options.oneWay) await this.setLink(b, a, mode);
      }
    }
  }

  /** Cuts node `id` off from every other node, both ways. */
  async isolate(id: number, mode: 'blackhole' | 'refuse' = 'blackhole'): Promise<void> {
    const others = [...new Set([...this.links.values()].map((l) => l.from))].filter((n) => n !== id);
    if (others.length === this.links.size) throw new RangeError(`FaultProxy.isolate: unknown node ${id}`);
    await this.partition([id], others, { mode });
  }

  /** Sets every link back to PASS. */
  async heal(): Promise<void> {
    for (const link of this.links.values()) await link.setMode(PASS);
  }

  /**
   * Counters per link, for assertions: connections accepted, bytes forwarded, and bytes dropped
   * (delayed bytes still in flight when their connection closed).
   */
  linkStats(from: number, to: number): { connections: number; forwardedBytes: number; droppedBytes: number } {
    const l = this.link(from, to);
    return { connections: l.connections, forwardedBytes: l.forwardedBytes, droppedBytes: l.droppedBytes };
  }

  /** Closes every listener and connection. Idempotent. */
  async close(): Promise<void> {
    for (const link of this.links.values()) {
      for (const pair of link.pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
        for (const t of pair.pendingTimers) clearTimeout(t);
      }
      link.pairs.clear();
      await link.unlisten();
    }
  }

  private link(from: number, to: number): Link {
    const l = this.links.get(key(from, to));
    if (!l) throw new RangeError(`FaultProxy: no link ${from} -> ${to} (known nodes: ${[...new Set([...this.links.values()].map((x) => x.from))].join(', ')})`);
    return l;
  }
}

function key(from: number, to: number): string {
  return `${from}>${to}`;
}
