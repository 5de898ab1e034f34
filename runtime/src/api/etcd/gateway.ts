/**
 * etcd's JSON gateway (grpc-gateway semantics, etcd 3.4 paths; the 3.3 `/v3beta` and 3.2 `/v3alpha` prefixes
 * too) plus etcd's `/health` and `/version`, on the client port's HTTP/1.1 side. Bodies and answers are the
 * gRPC messages in grpc-gateway's JSON (codec.ts); streams answer newline-delimited `{"result": ...}` objects.
 * Anything else goes to `fallback` (the /v1 API, probes, /metrics).
 */
import { IncomingMessage, ServerResponse } from 'http';
import { TLSSocket } from 'tls';
import { AUTH_METHODS, authorize, permitWatch, tokenOf } from './auth';
import { EtcdCodec } from './codec';
import { campaign, leader, observe, proclaim, resign } from './election';
import { httpStatus, toMvccError } from './errors';
import { withCallerToken } from './forwarder';
import { KeepAliveSession } from './lease-stream';
import { lock, unlock } from './lock';
import { ETCD_API_VERSION, EtcdService } from './service';
import { WatchSession, WatchSessionOptions } from './watch-stream';
import { MvccError } from '../../mvcc';

type Obj = Record<string, unknown>;
type Route = { req: string; resp: string; call: (r: Obj, token?: string, signal?: AbortSignal) => Obj | Promise<Obj>; checked?: [string, string] };

/** Largest accepted body: etcd's 1.5 MiB request limit, base64-inflated, plus room for the JSON. */
const MAX_BODY_BYTES = 3 * 1024 * 1024;

function routes(s: EtcdService): Map<string, Route> {
  const r = (req: string, resp: string, call: Route['call']): Route => ({ req, resp, call });
  // The gateway twins of the gRPC RPCs whose permissions auth.ts checks.
  const kv = (method: string, call: Route['call']): Route => ({ req: `${method}Request`, resp: `${method}Response`, call, checked: ['KV', method] });
  const auth: [string, Route][] = Object.entries(AUTH_METHODS).map(([, [req, resp, path, h]]) => [path, { req, resp, call: (q, t) => h(s, q, t) }]);
  const revoke = r('LeaseRevokeRequest', 'LeaseRevokeResponse', (q) => s.leaseRevoke(q as never));
  const ttl = r('LeaseTimeToLiveRequest', 'LeaseTimeToLiveResponse', (q) => s.leaseTimeToLive(q as never));
  const leases = r('LeaseLeasesRequest', 'LeaseLeasesResponse', () => s.leaseLeases());
  return new Map([
    ['/kv/range', kv('Range', (q) => s.range(q as never))],
    ['/kv/put', kv('Put', (q) => s.put(q as never))],
    ['/kv/deleterange', kv('DeleteRange', (q) => s.deleteRange(q as never))],
    ['/kv/txn', kv('Txn', (q) => s.txn(q as never))],
    ['/kv/compaction', { ...r('CompactionRequest', 'CompactionResponse', (q) => s.compact(q as never)), checked: ['KV', 'Compact'] }],
    ['/lease/grant', { ...r('LeaseGrantRequest', 'LeaseGrantResponse', (q) => s.leaseGrant(q as never)), checked: ['Lease', 'LeaseGrant'] }],
    ['/lease/revoke', revoke],
    ['/kv/lease/revoke', revoke],
    ['/lease/timetolive', ttl],
    ['/kv/lease/timetolive', ttl],
    ['/lease/leases', leases],
    ['/kv/lease/leases', leases],
    ['/cluster/member/list', r('MemberListRequest', 'MemberListResponse', () => s.memberList())],
    ['/cluster/member/add', { ...r('MemberAddRequest', 'MemberAddResponse', (q) => s.memberAdd(q)), checked: ['Cluster', 'MemberAdd'] }],
    ['/cluster/member/remove', { ...r('MemberRemoveRequest', 'MemberRemoveResponse', (q) => s.memberRemove(q)), checked: ['Cluster', 'MemberRemove'] }],
    ['/cluster/member/update', { ...r('MemberUpdateRequest', 'MemberUpdateResponse', (q) => s.memberUpdate(q)), checked: ['Cluster', 'MemberUpdate'] }],
    ['/cluster/member/promote', { ...r('MemberPromoteRequest', 'MemberPromoteResponse', (q) => s.memberPromote(q)), checked: ['Cluster', 'MemberPromote'] }],
    ['/maintenance/status', r('StatusRequest', 'StatusResponse', () => s.status())],
    ['/maintenance/alarm', r('AlarmRequest', 'AlarmResponse', (q) => s.alarm(q))],
    ['/lock/lock', r('v3lockpb.LockRequest', 'v3lockpb.LockResponse', (q, t, signal) => lock(s, q, t, signal))],
    ['/lock/unlock', r('v3lockpb.UnlockRequest', 'v3lockpb.UnlockResponse', (q, t) => unlock(s, q, t))],
    ['/election/campaign', r('v3electionpb.CampaignRequest', 'v3electionpb.CampaignResponse', (q, t, signal) => campaign(s, q, t, signal))],
    ['/election/proclaim', r('v3electionpb.ProclaimRequest', 'v3electionpb.ProclaimResponse', (q, t) => proclaim(s, q, t))],
    ['/election/leader', r('v3electionpb.LeaderRequest', 'v3electionpb.LeaderResponse', (q, t) => leader(s, q, t))],
    ['/election/resign', r('v3electionpb.ResignRequest', 'v3electionpb.ResignResponse', (q, t) => resign(s, q, t))],
    ['/maintenance/defragment', { ...r('DefragmentRequest', 'DefragmentResponse', () => s.defragment()), checked: ['Maintenance', 'Defragment'] }],
    ...auth,
  ]);
}

const PREFIX = /^\/v3(?:beta|alpha)?(\/[a-z/]+)$/;

/** The HTTP/1.1 handler: gateway routes, /health, /version, else `fallback`. */
export function createEtcdHttpHandler(
  service: EtcdService, codec: EtcdCodec, fallback: (req: IncomingMessage, res: ServerResponse) => void,
  access: { requireClientCert?: boolean } = {}, watchOptions: WatchSessionOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const table = routes(service);
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const etcdPath = path === '/version' || path === '/health' || PREFIX.test(path);
    // --client-cert-auth: every etcd route needs a certificate the TLS layer verified (as etcd's client port).
    if (etcdPath && access.requireClientCert && (req.socket as Partial<TLSSocket>).authorized !== true) {
      const message = 'etcdserver: a client certificate signed by the trusted CA is required (--client-cert-auth)';
      return sendJson(res, 401, { error: message, message, code: 16 });
    }
    if (path === '/version') return sendJson(res, 200, { etcdserver: ETCD_API_VERSION, etcdcluster: ETCD_API_VERSION });
    if (path === '/health') return health(service, res);
    const m = PREFIX.exec(path);
    if (!m) return fallback(req, res);
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'Method Not Allowed', message: 'Method Not Allowed', code: 12 }, { allow: 'POST' });
    const route = table.get(m[1]);
    // etcd's gateway passes the Authorization header to gRPC as the auth token.
    const token = tokenOf(req.headers.authorization);
    if (m[1] === '/watch') return void readJson(req).then((b) => watchStream(service, codec, b, req, res, watchOptions, token), (e) => sendError(res, e));
    if (m[1] === '/election/observe') return void readJson(req).then((b) => observeStream(service, codec, b, req, res, token), (e) => sendError(res, e));
    if (m[1] === '/lease/keepalive') return void readJson(req).then((b) => keepAlive(service, codec, b, res), (e) => sendError(res, e));
    if (!route) return sendJson(res, 404, { error: 'Not Found', message: 'Not Found', code: 5 });
    // A client that goes away cancels its call (a Lock stops waiting), as the gateway cancels the gRPC context.
    const abort = new AbortController();
    res.on('close', () => { if (!res.writableFinished) abort.abort(); });
    readJson(req)
      .then((body) => withCallerToken(token, () => callRoute(service, route, codec.fromJson<Obj>(route.req, body), token, abort.signal)))
      .then((resp) => sendJson(res, 200, codec.toJson(route.resp, resp)), (e) => sendError(res, e));
  };
}

async function callRoute(service: EtcdService, route: Route, q: Obj, token: string | undefined, signal: AbortSignal): Promise<Obj> {
  if (route.checked) await authorize(service, route.checked[0], route.checked[1], q, token);
  return route.call(q, token, signal);
}

function health(service: EtcdService, res: ServerResponse): void {
  const ok = service.backend.readiness().ready;
  sendJson(res, ok ? 200 : 503, { health: String(ok) });
}

/** One request in, one `{"result": ...}` line out, as the gateway answers a single-message bidi call. */
function keepAlive(service: EtcdService, codec: EtcdCodec, body: unknown, res: ServerResponse): void {
  let req: Obj;
  try { req = codec.fromJson<Obj>('LeaseKeepAliveRequest', body); } catch (e) { return sendError(res, e); }
  const session = new KeepAliveSession(service, (resp) => {
    session.close();
    sendJson(res, 200, { result: codec.toJson('LeaseKeepAliveResponse', resp) });
  }, (e) => { session.close(); sendError(res, e); });
  session.handle(req);
}

function watchStream(
  service: EtcdService, codec: EtcdCodec, body: unknown, req: IncomingMessage, res: ServerResponse, options: WatchSessionOptions,
  token: string | undefined,
): void {
  let first: Obj;
  try { first = codec.fromJson<Obj>('WatchRequest', body); } catch (e) { return sendError(res, e); }
  res.writeHead(200, { 'content-type': 'application/json' });
  const write = (resp: Obj): boolean => res.write(JSON.stringify({ result: codec.toJson('WatchResponse', resp) }) + '\n');
  const session = new WatchSession(service, write, options);
  res.on('drain', () => session.drained());
  res.on('close', () => session.close());
  req.socket.setTimeout(0);
  void permitWatch(service, first, token, write).then((ok) => { if (ok) session.handle(first); }, (e) => sendError(res, e));
}

/** Election.Observe as the gateway streams it: one `{"result": LeaderResponse}` line per leader and change. */
function observeStream(service: EtcdService, codec: EtcdCodec, body: unknown, req: IncomingMessage, res: ServerResponse,
  token: string | undefined): void {
  let request: Obj;
  try { request = codec.fromJson<Obj>('v3electionpb.LeaderRequest', body); } catch (e) { return sendError(res, e); }
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  req.socket.setTimeout(0);
  const send = async (resp: Obj): Promise<void> => {
    if (!res.headersSent) res.writeHead(200, { 'content-type': 'application/json' });
    if (!res.write(JSON.stringify({ result: codec.toJson('v3electionpb.LeaderResponse', resp) }) + '\n')) {
      // A client that goes away while we wait for room ends the wait (and, through `abort`, the observation).
      await new Promise<void>((resolve) => {
        const done = (): void => { res.off('drain', done); res.off('close', done); resolve(); };
        res.once('drain', done);
        res.once('close', done);
      });
    }
  };
  withCallerToken(token, () => observe(service, request, token, send, abort.signal)).then(() => res.end(), (e) => {
    if (!abort.signal.aborted) sendError(res, e);
  });
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new MvccError(3, 'etcdserver: request is too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') return resolve({});
      try { resolve(JSON.parse(text)); } catch (e) { reject(new MvccError(3, `etcdserver: invalid request: the body is not JSON: ${(e as Error).message}`)); }
    });
  });
}

function sendError(res: ServerResponse, e: unknown): void {
  const err = toMvccError(e);
  if (res.headersSent) {
    // Inside a stream: grpc-gateway's streaming error object.
    res.end(JSON.stringify({ error: { grpc_code: err.code, http_code: httpStatus(err.code), message: err.message, http_status: '' } }) + '\n');
    return;
  }
  sendJson(res, httpStatus(err.code), { error: err.message, message: err.message, code: err.code });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
