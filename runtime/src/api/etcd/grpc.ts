/**
 * The etcd v3 gRPC services on grpc-js. The server never binds a port itself: the client-port front
 * (listener.ts) hands it the connections that open with the HTTP/2 preface.
 */
import * as grpc from '@grpc/grpc-js';
import { AUTH_METHODS, authorize, isChecked, permitWatch, tokenOf } from './auth';
import { EtcdCodec } from './codec';
import { campaign, leader, observe, proclaim, resign } from './election';
import { EtcdErrors, toMvccError } from './errors';
import { withCallerToken } from './forwarder';
import { GrpcMetrics } from './grpc-metrics';
import { healthService } from './health';
import { KeepAliveSession } from './lease-stream';
import { lock, unlock } from './lock';
import { etcdPackageDefinition } from './proto';
import { guardService, LeaderMonitor } from './require-leader';
import { EtcdService } from './service';
import { WatchSession, WatchSessionOptions } from './watch-stream';

type Obj = Record<string, unknown>;
type Handler = (req: Obj, token?: string, signal?: AbortSignal) => Obj | Promise<Obj>;

/** Unary RPCs: method -> [request type, handler]. */
function unaryTable(current: () => EtcdService): Record<string, Record<string, [string, Handler]>> {
  // The member behind the port may be replaced (an in-process restart): every call asks for the current one.
  const s = new Proxy({} as EtcdService, {
    get: (_t, prop) => {
      const svc = current();
      const v: unknown = Reflect.get(svc, prop);
      return typeof v === 'function' ? v.bind(svc) : v;
    },
  });
  return {
    KV: {
      Range: ['RangeRequest', (r) => s.range(r as never)],
      Put: ['PutRequest', (r) => s.put(r as never)],
      DeleteRange: ['DeleteRangeRequest', (r) => s.deleteRange(r as never)],
      Txn: ['TxnRequest', (r) => s.txn(r as never)],
      Compact: ['CompactionRequest', (r) => s.compact(r as never)],
    },
    Lease: {
      LeaseGrant: ['LeaseGrantRequest', (r) => s.leaseGrant(r as never)],
      LeaseRevoke: ['LeaseRevokeRequest', (r) => s.leaseRevoke(r as never)],
      LeaseTimeToLive: ['LeaseTimeToLiveRequest', (r) => s.leaseTimeToLive(r as never)],
      LeaseLeases: ['LeaseLeasesRequest', () => s.leaseLeases()],
    },
    Cluster: {
      MemberList: ['MemberListRequest', () => s.memberList()],
      MemberAdd: ['MemberAddRequest', (r) => s.memberAdd(r)],
      MemberRemove: ['MemberRemoveRequest', (r) => s.memberRemove(r)],
      MemberUpdate: ['MemberUpdateRequest', (r) => s.memberUpdate(r)],
      MemberPromote: ['MemberPromoteRequest', (r) => s.memberPromote(r)],
    },
    Maintenance: {
      Status: ['StatusRequest', () => s.status()],
      Alarm: ['AlarmRequest', (r) => s.alarm(r)],
      Defragment: ['DefragmentRequest', () => s.defragment()],
      Hash: ['HashRequest', async () => { const { header, hash } = await s.hashKV({}); return { header, hash }; }],
      HashKV: ['HashKVRequest', (r) => s.hashKV(r)],
      MoveLeader: ['MoveLeaderRequest', (r) => s.moveLeader(r)],
    },
  };
}

/** How the gRPC server runs besides its services. */
export interface EtcdGrpcOptions {
  readonly watch?: WatchSessionOptions;
  /** Counts every call (etcd's grpc_server_* metrics). */
  readonly metrics?: GrpcMetrics;
  /** The member's election timeout: how often require-leader streams check for a leader (require-leader.ts). @default 1000 */
  readonly electionTimeoutMs?: number;
}

/** Builds the grpc-js server with every etcd service registered. */
export function createEtcdGrpcServer(service: () => EtcdService, codec: EtcdCodec, options: EtcdGrpcOptions = {}): grpc.Server {
  const { metrics, watch: watchOptions = {} } = options;
  // No channelz: nothing reads it, and its per-call bookkeeping cost about 4% of a unary call's server CPU.
  const grpcServer = new grpc.Server({
    'grpc.max_receive_message_length': 2 * 1024 * 1024 + 512 * 1024,
    'grpc.enable_channelz': 0,
    'interceptors': metrics ? [metrics.interceptor] : [],
  });
  const leaders = new LeaderMonitor(() => service().backend.raftProgress().leader !== 0, options.electionTimeoutMs ?? 1000);
  const noLeader = (): Partial<grpc.StatusObject> & Error => grpcError(EtcdErrors.noLeader());
  const server = {
    addService: (def: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation): void => {
      const leaderAware = guardService(def, impl, leaders, noLeader);
      grpcServer.addService(def, metrics ? metrics.instrument(def, leaderAware) : leaderAware);
    },
  };
  const packages = grpc.loadPackageDefinition(etcdPackageDefinition());
  const pkg = packages.etcdserverpb as grpc.GrpcObject;
  const table = unaryTable(service);
  table.Auth = Object.fromEntries(Object.entries(AUTH_METHODS).map(([m, [reqType, , , h]]) => [m, [reqType, (r, t) => h(service(), r, t)]]));
  for (const [svcName, methods] of Object.entries(table)) {
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [method, [reqType, handler]] of Object.entries(methods)) {
      impl[method] = unary(codec, reqType, guarded(service, svcName, method, handler));
    }
    if (svcName === 'Lease') impl.LeaseKeepAlive = keepAlive(service, codec);
    if (svcName === 'Maintenance') impl.Snapshot = snapshot(service);
    server.addService((pkg[svcName] as grpc.ServiceClientConstructor).service, impl);
  }
  server.addService((pkg.Watch as grpc.ServiceClientConstructor).service, { Watch: watch(service, codec, watchOptions) });
  server.addService(((packages.v3lockpb as grpc.GrpcObject).Lock as grpc.ServiceClientConstructor).service, {
    // A Lock waits until the lock is free: a cancelled call (deadline, client gone) stops waiting and gives its key up.
    Lock: unary(codec, 'v3lockpb.LockRequest', (r, t, signal) => lock(service(), r, t, signal), true),
    Unlock: unary(codec, 'v3lockpb.UnlockRequest', (r, t) => unlock(service(), r, t)),
  });
  server.addService(((packages.v3electionpb as grpc.GrpcObject).Election as grpc.ServiceClientConstructor).service, {
    Campaign: unary(codec, 'v3electionpb.CampaignRequest', (r, t, signal) => campaign(service(), r, t, signal), true),
    Proclaim: unary(codec, 'v3electionpb.ProclaimRequest', (r, t) => proclaim(service(), r, t)),
    Leader: unary(codec, 'v3electionpb.LeaderRequest', (r, t) => leader(service(), r, t)),
    Resign: unary(codec, 'v3electionpb.ResignRequest', (r, t) => resign(service(), r, t)),
    Observe: observeLeader(service, codec),
  });
  const health = ((packages.grpc as grpc.GrpcObject).health as grpc.GrpcObject).v1 as grpc.GrpcObject;
  server.addService((health.Health as grpc.ServiceClientConstructor).service, healthService(() => service().backend.liveness().live));
  return grpcServer;
}

function grpcError(e: unknown): Partial<grpc.StatusObject> & Error {
  const err = toMvccError(e);
  return Object.assign(new Error(err.message), { code: err.code as number, details: err.message });
}

/** With auth: the caller's token is resolved and the RPC's permissions checked before the handler runs. */
function guarded(service: () => EtcdService, svcName: string, method: string, handler: Handler): Handler {
  if (!isChecked(svcName, method)) return handler;
  return (req, token) => {
    // Auth off and no token: nothing to check (the common case stays synchronous).
    if (token === undefined && !service().backend.mvcc.machine.auth.enabled) return handler(req, token);
    return checkedCall(service(), svcName, method, handler, req, token);
  };
}

async function checkedCall(svc: EtcdService, svcName: string, method: string, handler: Handler, req: Obj, token: string | undefined): Promise<Obj> {
  await authorize(svc, svcName, method, req, token);
  return handler(req, token);
}

function unary(codec: EtcdCodec, reqType: string, handler: Handler, cancellable = false): grpc.handleUnaryCall<Obj, Obj> {
  return (call, callback) => {
    let result: Obj | Promise<Obj>;
    try {
      const req = codec.fromGrpc<Obj>(reqType, call.request);
      const token = callToken(call.metadata);
      let signal: AbortSignal | undefined;
      if (cancellable) {
        const abort = new AbortController();
        call.on('cancelled', () => abort.abort());
        signal = abort.signal;
      }
      result = withCallerToken(token, () => handler(req, token, signal));
    } catch (e) {
      callback(grpcError(e));
      return;
    }
    Promise.resolve(result).then((resp) => callback(null, resp), (e) => callback(grpcError(e)));
  };
}

/** clientv3 sends `token`; the gateway's `Authorization` header arrives as `authorization` (etcd reads both). */
function callToken(md: grpc.Metadata): string | undefined {
  return tokenOf(md.get('token')) ?? tokenOf(md.get('authorization'));
}

function watch(service: () => EtcdService, codec: EtcdCodec, options: WatchSessionOptions): grpc.handleBidiStreamingCall<Obj, Obj> {
  return (call) => {
    const session = new WatchSession(service(), (resp) => call.write(resp), options);
    const token = callToken(call.metadata);
    // Requests stay in order while a create waits for its permission check.
    let queue = Promise.resolve();
    call.on('drain', () => session.drained());
    call.on('data', (raw: Obj) => {
      queue = queue.then(async () => {
        try {
          const req = codec.fromGrpc<Obj>('WatchRequest', raw);
          if (!(await permitWatch(service(), req, token, (resp) => call.write(resp)))) return;
          session.handle(req);
        } catch (e) {
          failStream(call, e);
          session.close();
        }
      });
    });
    const end = (): void => { session.close(); call.end(); };
    call.on('end', end);
    call.on('error', () => session.close());
    call.on('cancelled', () => session.close());
  };
}

/** Writes one message of a server stream; waits for 'drain' when the client reads slower than we send. */
function sender(call: grpc.ServerWritableStream<Obj, Obj>): (msg: Obj) => Promise<void> {
  // A client gone meanwhile ends the wait.
  return (msg) => new Promise((resolve, reject) => {
    if (call.cancelled) { reject(new Error('cancelled')); return; }
    if (call.write(msg)) { resolve(); return; }
    const drained = (): void => { call.off('cancelled', cancelled); resolve(); };
    const cancelled = (): void => { call.off('drain', drained); reject(new Error('cancelled')); };
    call.once('drain', drained);
    call.once('cancelled', cancelled);
  });
}

/** Election.Observe: the leader, then its changes, until the client cancels. */
function observeLeader(service: () => EtcdService, codec: EtcdCodec): grpc.handleServerStreamingCall<Obj, Obj> {
  return (call) => {
    const abort = new AbortController();
    call.on('cancelled', () => abort.abort());
    const token = callToken(call.metadata);
    withCallerToken(token, async () => observe(service(), codec.fromGrpc<Obj>('v3electionpb.LeaderRequest', call.request), token, sender(call), abort.signal))
      .then(() => call.end(), (e) => failStream(call, e));
  };
}

/** Maintenance.Snapshot: the backup in 32 KiB messages (etcd's size) as the client reads them, then its sha256. */
function snapshot(service: () => EtcdService): grpc.handleServerStreamingCall<Obj, Obj> {
  return (call) => {
    const send = sender(call);
    // With auth on, only a root-role user may take a snapshot (etcd's authMaintenanceServer).
    authorize(service(), 'Maintenance', 'Snapshot', {}, callToken(call.metadata))
      .then(() => service().snapshot(send))
      // 'error' (not destroy) makes grpc-js end the call with this status; a destroyed stream sends none.
      .then(() => call.end(), (e) => failStream(call, e));
  };
}

/** Ends a stream with `e`'s gRPC status: grpc-js sends the status for an 'error' event, none for a destroyed stream. */
function failStream(call: grpc.ServerWritableStream<Obj, Obj> | grpc.ServerDuplexStream<Obj, Obj>, e: unknown): void {
  if (!call.cancelled) call.emit('error', grpcError(e));
}

function keepAlive(service: () => EtcdService, codec: EtcdCodec): grpc.handleBidiStreamingCall<Obj, Obj> {
  return (call) => {
    const session = new KeepAliveSession(service(), (resp) => call.write(resp), (e) => { failStream(call, e); session.close(); });
    call.on('data', (raw: Obj) => {
      try {
        session.handle(codec.fromGrpc<Obj>('LeaseKeepAliveRequest', raw));
      } catch (e) {
        failStream(call, e);
        session.close();
      }
    });
    call.on('end', () => { session.close(); call.end(); });
    call.on('error', () => session.close());
    call.on('cancelled', () => session.close());
  };
}
