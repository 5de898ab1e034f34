/**
 * The client port, shared like etcd's: one TCP listener that looks at the first bytes of each connection.
 * The HTTP/2 connection preface (`PRI * HTTP/2.0`, RFC 9113 section 3.4) means gRPC and the socket goes to
 * grpc-js through its connection injector; anything else is HTTP/1.1 (the JSON gateway, /v1, probes,
 * /metrics) and goes to the node http server. Both servers never listen themselves.
 *
 * With client TLS this port terminates TLS itself and routes by ALPN: a client that offers only `h2` is a gRPC
 * client (grpc-go, grpc-js), one that offers `http/1.1` (curl, browsers, Python's urllib3) gets HTTP/1.1, and
 * one that offers nothing is routed by its first bytes as above.
 */
import { Server as HttpServer } from 'http';
import { createServer, Server, Socket } from 'net';
import * as tls from 'tls';
import * as grpc from '@grpc/grpc-js';
import { readFirstFrames } from './first-frames';
import { errorBody, KvError } from '../../errors';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n');

/** Limits the front enforces for both protocols (the HTTP server's own apply once a connection reaches it). */
export interface ClientPortLimits {
  /** Most open client connections, gRPC and HTTP together; beyond, a 503 too_many_connections. */
  readonly maxConnections: number;
  /** A connection that has not sent enough to be routed within this time is closed (slow loris). */
  readonly firstBytesTimeoutMs: number;
}

/** Client TLS: the certificate this port presents, and whether it asks for (and checks) client certificates. */
export interface ClientPortTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
  /** Ask for a client certificate; gRPC connections without a verified one are closed (HTTP handlers decide themselves). */
  readonly requestCert: boolean;
}

/** An ALPN choice that keeps curl's `h2, http/1.1` offer on HTTP/1.1 (the gateway) and a gRPC client's `h2` on gRPC. */
function chooseProtocol({ protocols }: { protocols: string[] }): string | undefined {
  if (protocols.includes('http/1.1')) return 'http/1.1';
  return protocols.includes('h2') ? 'h2' : undefined;
}

/** The shared client port. */
export class ClientPort {
  readonly server: Server;
  private readonly injector: grpc.ConnectionInjector;
  private open = 0;
  private readonly refusal: Buffer;

  constructor(private readonly http: HttpServer, grpcServer: grpc.Server, private readonly limits: ClientPortLimits,
    private readonly tlsOptions?: ClientPortTls) {
    this.injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.server = tlsOptions ? this.createTlsServer(tlsOptions) : createServer({ pauseOnConnect: false }, (socket) => this.accept(socket));
    const body = JSON.stringify(errorBody(new KvError(503, 'too_many_connections',
      `this server already holds ${limits.maxConnections} client connections (--http-max-connections); retry shortly or use fewer connections`, true))) + '\n';
    this.refusal = Buffer.from('HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        // node's http server enforces its header/request deadlines from a timer it starts on 'listening';
        // it never listens itself here, so tell it the port is open.
        this.http.emit('listening');
        resolve();
      });
    });
  }

  /** Swaps the certificate (and CA) for new handshakes; established connections keep theirs. */
  setTls(material: { cert: Buffer; key: Buffer; ca?: Buffer }): void {
    if (!this.tlsOptions) throw new Error('setTls: this client port was created without TLS');
    (this.server as tls.Server).setSecureContext({ cert: material.cert, key: material.key, ca: material.ca });
  }

  /** Stops accepting; open gRPC sessions get `graceMs` to finish. HTTP connections are closed by the caller. */
  close(graceMs: number): void {
    this.server.close();
    this.injector.drain(graceMs);
    setTimeout(() => this.injector.destroy(), graceMs).unref();
  }

  private accept(socket: Socket): void {
    socket.on('error', () => socket.destroy());
    if (!this.admit(socket)) {
      // Say why, then drain what the client still sends so its FIN is seen and the socket really closes.
      socket.end(this.refusal);
      socket.resume();
      setTimeout(() => socket.destroy(), this.limits.firstBytesTimeoutMs).unref();
      return;
    }
    this.route(socket);
  }

  /** Counts a new TCP connection against --http-max-connections; false when the port is full. */
  private admit(socket: Socket): boolean {
    if (this.open >= this.limits.maxConnections) return false;
    this.open++;
    socket.once('close', () => { this.open--; });
    // A gRPC answer is several small writes (HEADERS, DATA, trailers): with Nagle on, the last waits for the
    // client's delayed ACK, about 40 ms per call. node's own http and http2 servers disable it; this front must too.
    socket.setNoDelay(true);
    return true;
  }

  private createTlsServer(o: ClientPortTls): tls.Server {
    const server = tls.createServer({
      cert: o.cert,
      key: o.key,
      ca: o.ca,
      requestCert: o.requestCert,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ALPNCallback: chooseProtocol,
      handshakeTimeout: this.limits.firstBytesTimeoutMs,
    }, (socket) => this.routeTls(socket));
    // Count (and bound) TCP connections before the handshake: a flood of handshakes is what costs CPU.
    server.on('connection', (socket: Socket) => { if (!this.admit(socket)) socket.destroy(); });
    // A failed handshake is the client's problem: close it, never crash or log per connection.
    server.on('tlsClientError', (_err: Error, socket: tls.TLSSocket) => socket.destroy());
    return server;
  }

  private routeTls(socket: tls.TLSSocket): void {
    socket.on('error', () => socket.destroy());
    if (socket.alpnProtocol !== 'h2') { this.route(socket); return; }
    // etcd with --client-cert-auth refuses gRPC without a verified client certificate; so do we.
    if (this.tlsOptions!.requestCert && !socket.authorized) { socket.destroy(); return; }
    this.toGrpc(socket, Buffer.alloc(0));
  }

  /**
   * Hands an HTTP/2 connection to grpc-js once its first frames are read (first-frames.ts: a URL as `:authority`).
   * The socket itself goes, not a JS stream over it: node's HTTP/2 session then reads and writes the native handle
   * (one writev per flush) and feeds what was read here to nghttp2 first.
   */
  private toGrpc(socket: Socket, head: Buffer): void {
    readFirstFrames(socket, head, this.limits.firstBytesTimeoutMs, (s) => this.injector.injectConnection(s));
  }

  private route(socket: Socket): void {
    let head = Buffer.alloc(0);
    socket.setTimeout(this.limits.firstBytesTimeoutMs, () => socket.destroy());
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, PREFACE.length);
      // Wait until the bytes seen could not be the start of either protocol's first line.
      if (n < PREFACE.length && head.subarray(0, n).equals(PREFACE.subarray(0, n))) return;
      socket.off('data', onData);
      socket.pause();
      socket.setTimeout(0);
      if (head.subarray(0, PREFACE.length).equals(PREFACE)) {
        if (this.tlsOptions?.requestCert && (socket as tls.TLSSocket).authorized !== true) { socket.destroy(); return; }
        this.toGrpc(socket, head);
      } else {
        socket.unshift(head);
        this.http.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
  }
}
