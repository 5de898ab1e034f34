/**
 * Followers forward writes (and the leader-only lease calls) to the leader over gRPC, because gRPC clients
 * do not follow redirects. One channel per leader URL, reused; a leader change just picks another channel.
 * With client TLS the leader's URL is https and the follower dials it with its own client-port certificate
 * (as etcd's members do), which the leader's --client-cert-auth accepts since the same CA signed it.
 */
import { AsyncLocalStorage } from 'async_hooks';
import * as grpc from '@grpc/grpc-js';
import { EtcdCodec } from './codec';
import { EtcdErrors } from './errors';
import { etcdPackageDefinition } from './proto';

type ServiceName = 'KV' | 'Lease' | 'Cluster' | 'Maintenance' | 'Auth';

/**
 * The client call being served: its auth token, so a forwarded call keeps the caller's identity (the leader
 * checks it again), and the user the token named once checked (auth.ts), so the leader's proposal carries it;
 * without every handler passing them along.
 */
export interface CallIdentity {
  readonly token: string | undefined;
  /** Set by the permission check: the user the token names ('' for none). */
  caller?: string;
}

const currentCallStorage = new AsyncLocalStorage<CallIdentity>();

/**
 * Runs `fn` with `token` as the caller's token for any call it forwards. Without a token there is nothing to
 * carry: `fn` runs as is, so a cluster whose clients send no tokens never turns on async context tracking
 * (on Node 20 it hooks every promise in the process).
 */
export function withCallerToken<T>(token: string | undefined, fn: () => T): T {
  return token === undefined ? fn() : currentCallStorage.run({ token }, fn);
}

/** The client call being served, if any (undefined for the member's own work, e.g. lease expiry). */
export function currentCall(): CallIdentity | undefined {
  return currentCallStorage.getStore();
}
type GrpcClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/** The member's own client-port TLS material, read at dial time so rotated files are used by new channels. */
export interface ForwarderTls { readonly cert: Buffer; readonly key: Buffer; readonly ca?: Buffer }

/** Forwards calls to the leader's advertised client URL. */
export class Forwarder {
  private readonly services = grpc.loadPackageDefinition(etcdPackageDefinition()).etcdserverpb as grpc.GrpcObject;
  private readonly clients = new Map<string, GrpcClient>();
  private readonly codec = new EtcdCodec();

  constructor(private readonly leaderUrl: () => string | undefined, readonly timeoutMs: number,
    private readonly tls: () => ForwarderTls | undefined = () => undefined) {}

  /**
   * Calls `method` on the leader; rejects with etcd's "no leader" when none is known. A KV or Lease answer comes back
   * in the store's form (int64 as numbers), as the leader's own handler returns it, so callers on a follower (Lock,
   * Election, the APIs' encoders) see one form wherever the write ran.
   */
  unary<T>(service: ServiceName, method: string, request: unknown): Promise<T> {
    const client = this.client(service);
    const metadata = new grpc.Metadata();
    const token = currentCallStorage.getStore()?.token;
    if (token !== undefined) metadata.set('token', token);
    return new Promise((resolve, reject) => {
      client[method](request, metadata, { deadline: Date.now() + this.timeoutMs }, (err: grpc.ServiceError | null, resp: T) => {
        if (err) reject(err);
        else resolve(service === 'KV' || service === 'Lease' ? this.storeForm(service, method, resp) : resp);
      });
    });
  }

  private storeForm<T>(service: ServiceName, method: string, resp: T): T {
    const rpc = this.codec.root.lookupService(`etcdserverpb.${service}`).methods[method];
    return this.codec.responseFromGrpc<T>(rpc.responseType, resp);
  }

  /** A LeaseKeepAlive stream to the leader. */
  keepAliveStream(): grpc.ClientDuplexStream<unknown, unknown> {
    return this.client('Lease').LeaseKeepAlive() as grpc.ClientDuplexStream<unknown, unknown>;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private client(service: ServiceName): GrpcClient {
    const url = this.leaderUrl();
    if (!url) throw EtcdErrors.noLeader();
    const key = `${service} ${url}`;
    let c = this.clients.get(key);
    if (!c) {
      const Ctor = this.services[service] as grpc.ServiceClientConstructor;
      c = new Ctor(url.replace(/^https?:\/\//, ''), this.credentials(url), { 'grpc.enable_channelz': 0 }) as unknown as GrpcClient;
      this.clients.set(key, c);
    }
    return c;
  }

  private credentials(url: string): grpc.ChannelCredentials {
    if (!url.startsWith('https://')) return grpc.credentials.createInsecure();
    const tls = this.tls();
    return grpc.credentials.createSsl(tls?.ca ?? null, tls?.key ?? null, tls?.cert ?? null);
  }
}
