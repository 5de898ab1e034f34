/**
 * Every client-facing HTTP server of the runtime (members' client port and metrics port, the
 * router) is created here, with the same limits: header and whole-request deadlines (a slow-loris
 * connection is closed within --http-headers-timeout-ms), a keep-alive idle timeout, and a bound
 * on concurrent connections answered with a clear 503. With TLS material it is https, optionally
 * verifying client certificates, and its certificates can be swapped while it runs.
 */
import * as http from 'http';
import * as https from 'https';
import type { Socket } from 'net';
import type { HttpServerLimits } from './raft-config';
import type { TlsMaterial } from './tls-files';
import { errorBody, KvError } from '../errors';

/** TLS for a client-facing server. */
export interface ClientTls extends TlsMaterial {
  /** Ask for a client certificate and verify it against `ca` (the request handler decides what needs one). */
  readonly requestCert: boolean;
}

/** A created server and how to rotate its certificates. */
export interface ClientServer {
  readonly server: http.Server;
  /** Connections refused because the limit was reached. */
  readonly refusedConnections: () => number;
  /** Swaps the certificate (and CA) for new handshakes; established connections keep theirs. */
  setTls(material: TlsMaterial): void;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

function refusalBytes(max: number): Buffer {
  const body = JSON.stringify(errorBody(new KvError(503, 'too_many_connections',
    `this server already holds ${max} client connections (--http-max-connections); retry shortly or use fewer connections`, true))) + '\n';
  return Buffer.from('HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** Creates (does not listen) a hardened HTTP or HTTPS server; see the module comment. */
export function createClientServer(handler: Handler, limits: HttpServerLimits, tls?: ClientTls): ClientServer {
  const common = {
    keepAliveTimeout: limits.idleTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // Node checks the two deadlines on this interval (30 s by default): check often enough that a
    // slow-loris connection is closed close to its deadline.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
  };
  const server: http.Server = tls
    ? https.createServer({
      ...common, cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: tls.requestCert, rejectUnauthorized: false, minVersion: 'TLSv1.2',
    }, handler)
    : http.createServer(common, handler);
  // Set as properties too: not every Node 20 release reads all of them from the options.
  server.keepAliveTimeout = limits.idleTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  let open = 0;
  let refused = 0;
  const refusal = refusalBytes(limits.maxConnections);
  server.on('connection', (socket: Socket) => {
    if (open >= limits.maxConnections) {
      refused++;
      // Plain HTTP: say why before closing. TLS: the bytes would be garbage to the client; just close.
      if (tls) socket.destroy();
      else socket.end(refusal);
      socket.on('error', () => undefined);
      return;
    }
    open++;
    socket.once('close', () => { open--; });
  });
  if (tls) {
    // An unverifiable certificate is a 401 from the handler, not a silent TLS failure; broken
    // handshakes are the client's problem and must not crash or log-spam the server.
    server.on('tlsClientError', (_err: Error, socket: Socket) => socket.destroy());
  }
  return {
    server,
    refusedConnections: () => refused,
    setTls(material: TlsMaterial): void {
      if (!tls) throw new Error('setTls: this server was created without TLS');
      (server as https.Server).setSecureContext({ cert: material.cert, key: material.key, ca: material.ca });
    },
  };
}
