/** The router's resolved configuration (parsed from flags and env by cli/router-config.ts). */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** Where a shard's members come from. */
export type ShardSource = { readonly kind: 'static'; readonly urls: string[] } | { readonly kind: 'dns'; readonly host: string; readonly port: number };

/** A validated router configuration. */
export interface RouterConfig {
  readonly listenHost: string;
  readonly listenPort: number;
  readonly shards: ReadonlyMap<string, ShardSource>;
  readonly healthIntervalMs: number;
  /** Consecutive failed health checks before a member is ejected. */
  readonly ejectAfter: number;
  /** Consecutive passed health checks before an ejected member is readmitted. */
  readonly readmitAfter: number;
  readonly dnsIntervalMs: number;
  /** Re-read the slot map from the shards this often (it is also re-read whenever a shard answers `wrong_shard`). */
  readonly mapIntervalMs: number;
  /** Bound on one upstream request. */
  readonly requestTimeoutMs: number;
  /** Bound on one client request, retries and backoff included. */
  readonly retryBudgetMs: number;
  readonly maxBodyBytes: number;
  /**
   * After SIGTERM, keep serving this long (answering `/readyz` 503) before closing: Kubernetes
   * removes a terminating pod from the Service endpoints asynchronously, and the image has no shell
   * for a preStop sleep, so the router itself waits out the propagation.
   */
  readonly drainMs: number;
  /** Limits of the client-facing server (cli/http-server.ts applies them). @default Node's defaults */
  readonly http?: {
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly idleTimeoutMs: number;
    readonly maxConnections: number;
  };
  /**
   * Creates the client-facing server (the CLI passes its hardened one: timeouts, connection bound).
   * @default a plain `http.createServer`
   */
  readonly createServer?: (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server;
}
