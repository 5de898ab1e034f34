/**
 * The client port, shared like etcd's: one TCP listener that looks at the first bytes of each connection.
 * The HTTP/2 connection preface (`PRI * HTTP/2.0`, RFC 9113 section 3.4) means gRPC and the socket goes to
 * grpc-js through its connection injector; anything else is HTTP/1.1 (the JSON gateway, /v1, probes,
 * /metrics) and goes to the node http server. Both servers never listen themselves.
 */
import { Server as HttpServer } from 'http';
import { createServer, Server, Socket } from 'net';
import { Duplex } from 'stream';
import * as grpc from '@grpc/grpc-js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n');

/** A connection that sends nothing for this long is closed (it cannot be routed). */
const SNIFF_TIMEOUT_MS = 30_000;

/** The shared client port. */
export class ClientPort {
  readonly server: Server;
  private readonly injector: grpc.ConnectionInjector;

  constructor(private readonly http: HttpServer, grpcServer: grpc.Server) {
    this.injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.server = createServer({ pauseOnConnect: false }, (socket) => this.route(socket));
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => { this.server.off('error', reject); resolve(); });
    });
  }

  /** Stops accepting; open gRPC sessions get `graceMs` to finish. HTTP connections are closed by the caller. */
  close(graceMs: number): void {
    this.server.close();
    this.injector.drain(graceMs);
    setTimeout(() => this.injector.destroy(), graceMs).unref();
  }

  private route(socket: Socket): void {
    let head = Buffer.alloc(0);
    socket.setTimeout(SNIFF_TIMEOUT_MS, () => socket.destroy());
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, PREFACE.length);
      // Wait until the bytes seen could not be the start of either protocol's first line.
      if (n < PREFACE.length && head.subarray(0, n).equals(PREFACE.subarray(0, n))) return;
      socket.off('data', onData);
      socket.pause();
      socket.setTimeout(0);
      if (head.subarray(0, PREFACE.length).equals(PREFACE)) {
        this.injector.injectConnection(new ReplayedSocket(socket, head));
      } else {
        socket.unshift(head);
        this.http.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  }
}

/**
 * A socket whose first bytes were already read, replayed in front of the rest. node's HTTP/2 session reads
 * the socket's handle directly and would miss bytes given back with `unshift` (it then sees no preface);
 * over a plain Duplex it reads through the stream, which includes them. HTTP/1.1's parser handles unshift.
 */
class ReplayedSocket extends Duplex {
  constructor(private readonly socket: Socket, head: Buffer) {
    super();
    this.push(head);
    socket.on('data', (d: Buffer) => { if (!this.push(d)) socket.pause(); });
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
    socket.on('error', (e) => this.destroy(e));
  }

  get remoteAddress(): string | undefined { return this.socket.remoteAddress; }
  get remotePort(): number | undefined { return this.socket.remotePort; }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.socket.write(chunk, encoding, callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.socket.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.socket.destroy();
    callback(err);
  }
}
