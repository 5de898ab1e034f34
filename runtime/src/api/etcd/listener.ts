/**
 * The client port, shared like etcd's: one TCP listener that looks at the first bytes of each connection.
 * The HTTP/2 connection preface (`PRI * HTTP/2.0`, RFC 9113 section 3.4) means gRPC and the socket goes to
 * grpc-js through its connection injector; anything else is HTTP/1.1 (the JSON gateway, /v1, probes,
 * /metrics) and goes to the node http server. Both servers never listen themselves.
 */
import { Server as HttpServer } from 'http';
import { createServer, Server, Socket } from 'net';
import * as grpc from '@grpc/grpc-js';
import { errorBody, KvError } from '../../errors';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n');

/** Limits the front enforces for both protocols (the HTTP server's own apply once a connection reaches it). */
export interface ClientPortLimits {
  /** Most open client connections, gRPC and HTTP together; beyond, a 503 too_many_connections. */
  readonly maxConnections: number;
  /** A connection that has not sent enough to be routed within this time is closed (slow loris). */
  readonly firstBytesTimeoutMs: number;
}

/** The shared client port. */
export class ClientPort {
  readonly server: Server;
  private readonly injector: grpc.ConnectionInjector;
  private open = 0;
  private readonly refusal: Buffer;

  constructor(private readonly http: HttpServer, grpcServer: grpc.Server, private readonly limits: ClientPortLimits) {
    this.injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.server = createServer({ pauseOnConnect: false }, (socket) => this.accept(socket));
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

  /** Stops accepting; open gRPC sessions get `graceMs` to finish. HTTP connections are closed by the caller. */
  close(graceMs: number): void {
    this.server.close();
    this.injector.drain(graceMs);
    setTimeout(() => this.injector.destroy(), graceMs).unref();
  }

  private accept(socket: Socket): void {
    socket.on('error', () => socket.destroy());
    if (this.open >= this.limits.maxConnections) {
      // Say why, then drain what the client still sends so its FIN is seen and the socket really closes.
      socket.end(this.refusal);
      socket.resume();
      setTimeout(() => socket.destroy(), this.limits.firstBytesTimeoutMs).unref();
      return;
    }
    this.open++;
    socket.once('close', () => { this.open--; });
    // A gRPC answer is several small writes (HEADERS, DATA, trailers): with Nagle on, the last waits for the
    // client's delayed ACK, about 40 ms per call. node's own http and http2 servers disable it; this front must too.
    socket.setNoDelay(true);
    this.route(socket);
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
      socket.unshift(head);
      if (head.subarray(0, PREFACE.length).equals(PREFACE)) {
        // The socket itself, not a JS stream over it: node's HTTP/2 session then reads and writes the native
        // handle (one writev per flush) and feeds what was buffered here, the sniffed head, to nghttp2 first.
        this.injector.injectConnection(socket);
      } else {
        this.http.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
  }
}
