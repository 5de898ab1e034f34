/**
 * Every client-facing HTTP server of the runtime (members' client port and metrics port, the
 * router) is created here, with the same limits: header and whole-request deadlines (a slow-loris
 * connection is closed within --http-headers-timeout-ms), a keep-alive idle timeout, and a bound
 * on concurrent connections answered with a clear 503. Client TLS is terminated in front of it by
 * the member's client port (api/etcd/listener.ts), which hands over decrypted connections.
 */
import * as http from 'http';
import type { Socket } from 'net';
import type { HttpServerLimits } from './raft-config';
import { errorBody, KvError } from '../errors';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

function refusalBytes(max: number): Buffer {
  const body = JSON.stringify(errorBody(new KvError(503, 'too_many_connections',
    `this server already holds ${max} client connections (--http-max-connections); retry shortly or use fewer connections`, true))) + '\n';
  return Buffer.from('HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** Creates (does not listen) a hardened HTTP server; see the module comment. */
export function createClientServer(handler: Handler, limits: HttpServerLimits): http.Server {
  const server = http.createServer({
    keepAliveTimeout: limits.idleTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // Node checks the two deadlines on this interval (30 s by default): check often enough that a
    // slow-loris connection is closed close to its deadline.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
  }, handler);
  // Set as properties too: not every Node 20 release reads all of them from the options.
  server.keepAliveTimeout = limits.idleTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  let open = 0;
  const refusal = refusalBytes(limits.maxConnections);
  server.on('connection', (socket: Socket) => {
    if (open >= limits.maxConnections) {
      // Say why before closing (through TLS too: a decrypted connection from the client port writes encrypted).
      socket.end(refusal);
      socket.on('error', () => undefined);
      return;
    }
    open++;
    socket.once('close', () => { open--; });
  });
  return server;
}
