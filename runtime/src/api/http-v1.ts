/**
 * The client HTTP/1.1 API (`/v1/kv/...`) and the operations endpoints (`/livez`, `/readyz`,
 * `/metrics`, `/v1/status`). It knows HTTP, not Raft: everything consistent goes through
 * {@link KvBackend}. Every status code and error body is documented in docs/api.md.
 */
import { IncomingMessage, ServerResponse } from 'http';
import type { TLSSocket } from 'tls';
import { internalError, KvError, NotLeaderError, sendError, sendJson, SlotFrozenError, WrongShardError } from '../errors';
import { KvCommand, KvOp, KvRejection } from '../kv/state-machine';
import { prefixEnd } from '../mvcc';
import { KvBackend, MembershipBackend } from '../server/backend';
import { KvLimits } from '../server/config';
import { decodeRecord, isReserved, RECORD_KEY, RESERVED_PREFIX, SLOT_COUNT, SlotGuard, slotOf } from '../shardmap';

const KV_PREFIX = '/v1/kv/';

/**
 * Percent-decodes to raw bytes (so values with any bytes can be compared in CAS);
 * rejects a `%` not followed by two hex digits. `+` stays `+`.
 */
export function percentDecodeBytes(s: string, what: string): Buffer {
  if (!s.includes('%')) return Buffer.from(s, 'utf8');
  const out: number[] = [];
  const raw = Buffer.from(s, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== 0x25) { out.push(c); continue; }
    const hex = raw.toString('latin1', i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
      throw new KvError(400, 'bad_encoding', `${what}: '%${hex}' at byte ${i} is not a percent-encoded byte (%XX)`);
    }
    out.push(parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(out);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a key from its URL path form; enforces UTF-8 and the length limit. */
export function decodeKey(raw: string, limits: KvLimits): string {
  const bytes = percentDecodeBytes(raw, 'key');
  if (bytes.length === 0) throw new KvError(400, 'bad_key', 'the key is empty: use /v1/kv/<key>, or /v1/kv/?prefix=P to list');
  if (bytes.length > limits.maxKeyBytes) {
    throw new KvError(400, 'key_too_long', `the key is ${bytes.length} bytes; the limit is ${limits.maxKeyBytes} (--max-key-bytes)`);
  }
  return decodeUtf8(bytes, 'the key');
}

/** Strict UTF-8 (a lone surrogate or overlong form is refused, not replaced) or a 400 bad_encoding. */
function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new KvError(400, 'bad_encoding', `${what} is not valid UTF-8 after percent-decoding`);
  }
}

/** Splits a raw query string into name -> raw (still percent-encoded) value; repeated names are rejected. */
function parseQuery(raw: string): Map<string, string> {
  const q = new Map<string, string>();
  if (!raw) return q;
  for (const part of raw.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = eq >= 0 ? part.slice(0, eq) : part;
    if (q.has(name)) throw new KvError(400, 'bad_query', `query parameter '${name}' is given twice`);
    q.set(name, eq >= 0 ? part.slice(eq + 1) : '');
  }
  return q;
}

/** Every query name and value is UTF-8 text except `prev`, which compares raw value bytes. */
function checkQueryEncoding(query: Map<string, string>): void {
  for (const [name, value] of query) {
    decodeUtf8(percentDecodeBytes(name, 'query parameter name'), 'a query parameter name');
    if (name !== 'prev') decodeUtf8(percentDecodeBytes(value, `query parameter '${name}'`), `query parameter '${name}'`);
  }
}

const KNOWN_PARAMS: Record<string, readonly string[]> = {
  GET: ['consistency', 'prefix', 'limit', 'after', 'slot'],
  PUT: ['prev', 'prev_exist'],
  DELETE: ['prev'],
};

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) {
    return Promise.reject(new KvError(413, 'value_too_large', `the value is ${declared} bytes; the limit is ${max} (--max-value-bytes)`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > max) {
        failed = true;
        reject(new KvError(413, 'value_too_large', `the value exceeds the limit of ${max} bytes (--max-value-bytes)`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => { if (!failed) resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)); });
    req.on('error', (e) => { if (!failed) { failed = true; reject(e); } });
  });
}

/** Who may use which routes (docs/api.md, "Authentication"). */
export interface AccessPolicy {
  /**
   * Every route except /livez and /readyz (kubelet probes carry no certificate) needs a client
   * certificate the TLS layer verified (`--client-cert-auth`).
   */
  readonly requireClientCert?: boolean;
  /** /metrics and /v1/status need no certificate even then (`--metrics-public`). */
  readonly metricsPublic?: boolean;
  /** Serve only /livez, /readyz, /metrics and /v1/status (the `--listen-metrics` listener). */
  readonly opsOnly?: boolean;
  /**
   * etcd's key permissions on /v1/kv (the same keys): called with the request's `Authorization` token before a key
   * is read or written; rejects with a KvError (401, 403) to refuse it, resolves with the user it checked (undefined
   * while auth is off and no token came), whose permissions a write's apply checks again. Absent: no key permissions.
   */
  readonly kvPermission?: KvPermissionCheck;
}

/** What a /v1/kv request needs: read (GET, listings), write (PUT, DELETE), or both (a compare-and-swap reads `prev`). */
export type V1Access = 'read' | 'write' | 'read-write';

/** See {@link AccessPolicy.kvPermission}: `[key, rangeEnd)` as etcd ranges (a listing's prefix range). */
export type KvPermissionCheck = (token: string | undefined, access: V1Access, key: Buffer, rangeEnd: Buffer | undefined,
  linearizable: boolean) => Promise<string | undefined>;

const PROBES = new Set(['/livez', '/readyz']);
const OPS = new Set(['/livez', '/readyz', '/metrics', '/v1/status']);

/** Why `path` may not be served to this request, or undefined. */
function accessRefusal(req: IncomingMessage, path: string, access: AccessPolicy): KvError | undefined {
  if (access.opsOnly && !OPS.has(path)) {
    return new KvError(404, 'not_found', `this listener (--listen-metrics) serves only ${[...OPS].join(', ')}`);
  }
  if (!access.requireClientCert || PROBES.has(path)) return undefined;
  if (access.metricsPublic && OPS.has(path)) return undefined;
  const socket = req.socket as Partial<TLSSocket>;
  if (socket.authorized === true) return undefined;
  const why = socket.authorizationError ? ` (${String(socket.authorizationError)})` : '';
  return new KvError(401, 'unauthenticated', `a client certificate signed by the trusted CA is required (--client-cert-auth)${why}`);
}

/**
 * Requests carrying this header come from the resharding migrator: they read and write keys of
 * any slot (docs/resharding.md). The router never forwards it.
 */
export const MIGRATION_HEADER = 'x-ha-migration';

function rejection(r: KvRejection): KvError {
  return r.code === 'wrong_shard' ? new WrongShardError(r.slot, r.epoch, r.owner) : new SlotFrozenError(r.slot, r.epoch);
}

/**
 * Creates the request handler for `http.createServer`. With a `guard`, keys of slots this shard
 * does not own are refused (`wrong_shard`), as are client writes to a frozen slot. `access` says
 * who may use which routes. With `members`, the membership routes (/v1/members) and the backup
 * (/v1/snapshot) are served.
 */
export function createKvHandler(backend: KvBackend, limits: KvLimits, guard?: SlotGuard,
  access: AccessPolicy = {}, members?: MembershipBackend): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    let route = 'other';
    res.on('finish', () => backend.countRequest(route, res.statusCode));
    const url = req.url ?? '/';
    const qpos = url.indexOf('?');
    const path = qpos >= 0 ? url.slice(0, qpos) : url;
    const rawQuery = qpos >= 0 ? url.slice(qpos + 1) : '';
    const method = req.method ?? 'GET';

    const fail = (err: unknown): void => {
      const e = internalError(err);
      if (res.headersSent) { res.destroy(); return; }
      const headers: Record<string, string> = {};
      if (e instanceof NotLeaderError && e.leaderUrl) headers.Location = e.leaderUrl + url;
      // The rest of a refused body is read and dropped (lingering, as nginx does): closing at once would reset a client
      // still sending it, which then sees EPIPE instead of this 413. Node's request timeout bounds a sender that never stops.
      if (e.status === 413) req.resume();
      sendError(res, e, headers);
    };

    try {
      const refusal = accessRefusal(req, path, access);
      if (refusal) {
        req.resume();
        throw refusal;
      }
      if (path === '/livez' || path === '/readyz') {
        route = path.slice(1);
        if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(method, ['GET', 'HEAD']);
        const r = path === '/livez' ? backend.liveness() : backend.readiness();
        const ok = 'live' in r ? r.live : r.ready;
        sendJson(res, ok ? 200 : 503, { ok, reason: r.reason });
        return;
      }
      if (path === '/metrics') {
        route = 'metrics';
        if (method !== 'GET') throw methodNotAllowed(method, ['GET']);
        const text = backend.metricsText();
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      if (path === '/v1/status') {
        route = 'status';
        if (method !== 'GET') throw methodNotAllowed(method, ['GET']);
        sendJson(res, 200, backend.status());
        return;
      }
      if (members && path === '/v1/snapshot') {
        route = 'snapshot';
        if (method !== 'GET') throw methodNotAllowed(method, ['GET']);
        sendBackup(members, res).catch(fail);
        return;
      }
      if (members && (path === MEMBERS_PATH || path.startsWith(MEMBERS_PATH + '/'))) {
        route = 'members';
        handleMembers(members, method, path, req, res).catch(fail);
        return;
      }
      if (path !== '/v1/kv' && !path.startsWith(KV_PREFIX)) {
        throw new KvError(404, 'not_found', `no route for ${method} ${path}; the API is under /v1/kv/<key> (see docs/api.md)`);
      }
      const query = parseQuery(rawQuery);
      checkQueryEncoding(query);
      const known = KNOWN_PARAMS[method];
      if (!known) throw methodNotAllowed(method, ['GET', 'PUT', 'DELETE']);
      for (const name of query.keys()) {
        if (!known.includes(name)) {
          throw new KvError(400, 'bad_query', `unknown query parameter '${name}' for ${method}; allowed: ${known.join(', ') || 'none'}`);
        }
      }
      const rawKey = path === '/v1/kv' ? '' : path.slice(KV_PREFIX.length);
      if (method === 'GET') {
        route = rawKey === '' ? 'list' : 'get';
        handleRead(backend, limits, rawKey, query, req, res, slotScope(guard, req), access).catch(fail);
      } else {
        route = method === 'PUT' ? 'put' : 'delete';
        handleWrite(backend, limits, method, rawKey, query, req, res, slotScope(guard, req), access).catch(fail);
      }
    } catch (err) {
      fail(err);
    }
  };
}

/** How a request is slot-checked: by the guard (clients), or not at all (the migrator, or an unsharded member). */
interface SlotScope {
  readonly guard: SlotGuard | undefined;
  readonly migration: boolean;
}

function slotScope(guard: SlotGuard | undefined, req: IncomingMessage): SlotScope {
  return { guard, migration: req.headers[MIGRATION_HEADER] === '1' };
}

/**
 * Checks the caller's key permissions (etcd auth) before `key` (or a listing's `prefix`) is touched. Reads of the
 * reserved keys (`__ha/`, the shard map every router and member reads) are not checked.
 */
async function checkPermission(access: AccessPolicy, req: IncomingMessage, kind: V1Access, key: string,
  listing: boolean, linearizable: boolean): Promise<string | undefined> {
  if (!access.kvPermission || (kind === 'read' && isReserved(key))) return undefined;
  const bytes = Buffer.from(key, 'utf8');
  const token = req.headers.authorization || undefined;
  if (!listing) return access.kvPermission(token, kind, bytes, undefined, linearizable);
  // etcd's "every key" is key "\0" with range_end "\0" (an empty prefix).
  return access.kvPermission(token, kind, bytes.length ? bytes : Buffer.from([0]), prefixEnd(bytes), linearizable);
}

function methodNotAllowed(method: string, allowed: string[]): KvError {
  return new KvError(405, 'method_not_allowed', `${method} is not allowed here; use ${allowed.join(' or ')}`, false, { allow: allowed });
}

async function handleRead(backend: KvBackend, limits: KvLimits, rawKey: string, query: Map<string, string>,
  req: IncomingMessage, res: ServerResponse, scope: SlotScope, access: AccessPolicy): Promise<void> {
  const consistency = query.get('consistency') ?? 'linearizable';
  if (consistency !== 'linearizable' && consistency !== 'serializable') {
    throw new KvError(400, 'bad_query', `consistency='${consistency}' must be linearizable (default) or serializable`);
  }
  let listing: { prefix: string; limit: number; after?: string; slots?: Set<number> } | undefined;
  if (rawKey === '') {
    if (!query.has('prefix')) throw new KvError(400, 'bad_key', 'the key is empty: use /v1/kv/<key>, or /v1/kv/?prefix=P to list');
    const prefix = decodeUtf8(percentDecodeBytes(query.get('prefix')!, 'prefix'), 'the prefix');
    const rawLimit = query.get('limit') ?? String(limits.maxListItems);
    const limit = Number(rawLimit);
    if (!/^\d+$/.test(rawLimit) || limit < 1 || limit > limits.maxListItems) {
      throw new KvError(400, 'bad_query', `limit='${rawLimit}' must be an integer in 1..${limits.maxListItems} (--max-list-items)`);
    }
    const after = query.has('after') ? utf8.decode(percentDecodeBytes(query.get('after')!, 'after')) : undefined;
    listing = { prefix, limit, after, slots: query.has('slot') ? parseSlots(query.get('slot')!, scope) : undefined };
  } else if (query.has('prefix') || query.has('limit') || query.has('after') || query.has('slot')) {
    throw new KvError(400, 'bad_query', 'prefix, limit, after and slot apply to listings: GET /v1/kv/?prefix=P');
  }
  const key = listing ? '' : decodeKey(rawKey, limits);
  await checkPermission(access, req, 'read', listing ? listing.prefix : key, listing !== undefined, consistency === 'linearizable');
  if (consistency === 'linearizable') await backend.linearizableBarrier();
  const sm = backend.v1;
  const read = (k: string): Uint8Array | undefined => sm.get(k);
  const headers = { 'X-Raft-Applied-Index': String(sm.appliedIndex) };
  if (listing) {
    const { items, more } = sm.list(listing.prefix, listing.limit, listing.after, listingFilter(listing, scope, read));
    const epoch = scope.guard?.record(read)?.map.epoch;
    sendJson(res, 200, {
      items: items.map((i) => ({ key: i.key, value: Buffer.from(i.value.buffer, i.value.byteOffset, i.value.byteLength).toString('base64') })),
      more,
      index: sm.appliedIndex,
      ...(epoch !== undefined ? { epoch } : {}),
    }, headers);
    return;
  }
  const refused = scope.migration ? undefined : scope.guard?.checkRead(key, read);
  if (refused) throw rejection(refused);
  const value = sm.get(key);
  if (value === undefined) {
    sendJson(res, 404, { error: 'key_not_found', message: `key '${key}' does not exist`, retryable: false }, headers);
    return;
  }
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': value.length, ...headers });
  res.end(value);
}

/** `slot=N[,N...]`: the migrator's listing of given slots. */
function parseSlots(raw: string, scope: SlotScope): Set<number> {
  if (!scope.migration) throw new KvError(400, 'bad_query', `slot= listings are for the resharding migrator (header ${MIGRATION_HEADER}: 1)`);
  const slots = raw.split(/,|%2C/i).map(Number);
  if (slots.some((n) => !Number.isInteger(n) || n < 0 || n >= SLOT_COUNT)) throw new KvError(400, 'bad_query', `slot='${raw}' must be integers in 0..${SLOT_COUNT - 1}`);
  return new Set(slots);
}

/** Which keys a listing may show: the migrator's slots, or what this shard serves (never the record, unless asked for by prefix). */
function listingFilter(listing: { prefix: string; slots?: Set<number> }, scope: SlotScope,
  read: (k: string) => Uint8Array | undefined): ((k: string) => boolean) | undefined {
  const slots = listing.slots;
  if (slots) return (k) => !isReserved(k) && slots.has(slotOf(k));
  const guard = scope.guard;
  if (scope.migration || !guard?.record(read)) return undefined;
  const wantReserved = listing.prefix.startsWith(RESERVED_PREFIX);
  return (k) => (isReserved(k) ? wantReserved : guard.checkRead(k, read) === undefined);
}

async function handleWrite(backend: KvBackend, limits: KvLimits, method: string, rawKey: string,
  query: Map<string, string>, req: IncomingMessage, res: ServerResponse, scope: SlotScope, access: AccessPolicy): Promise<void> {
  const key = decodeKey(rawKey, limits);
  // Refuse early what the apply-time check would refuse anyway (it, not this, is what keeps moves safe).
  const early = scope.migration ? undefined : scope.guard?.admit({ op: KvOp.PUT, key, requestId: 0 }, (k) => backend.v1.get(k));
  if (early) {
    req.resume();
    throw rejection(early);
  }
  const prevRaw = query.get('prev');
  const prevExist = query.get('prev_exist');
  if (prevExist !== undefined && prevExist !== 'false') {
    throw new KvError(400, 'bad_query', `prev_exist='${prevExist}' is not supported: only prev_exist=false (create if absent); use prev=VALUE to compare`);
  }
  if (prevExist !== undefined && prevRaw !== undefined) throw new KvError(400, 'bad_query', 'give prev or prev_exist=false, not both');
  const prev = prevRaw !== undefined ? percentDecodeBytes(prevRaw, 'prev') : undefined;
  if (prev && prev.length > limits.maxValueBytes) throw new KvError(413, 'value_too_large', `prev exceeds --max-value-bytes (${limits.maxValueBytes})`);
  let caller: string | undefined;
  try {
    caller = await checkPermission(access, req, prev || prevExist !== undefined ? 'read-write' : 'write', key, false, false);
  } catch (e) {
    req.resume();
    throw e;
  }
  const blocked = backend.writeBlocked?.();
  if (blocked) {
    req.resume();
    throw blocked;
  }
  // Redirect before reading the body: a follower never buffers a value it will not replicate.
  if (!backend.isLeader()) {
    req.resume();
    throw new NotLeaderError(backend.leaderClientUrl());
  }
  let cmd: Omit<KvCommand, 'requestId'>;
  if (method === 'PUT') {
    const value = await readBody(req, limits.maxValueBytes);
    if (key === RECORD_KEY) checkRecord(value);
    if (prevExist === 'false') cmd = { op: KvOp.CAS, key, value, prevAbsent: true };
    else if (prev) cmd = { op: KvOp.CAS, key, value, prev };
    else cmd = { op: KvOp.PUT, key, value };
  } else {
    req.resume();
    cmd = prev ? { op: KvOp.CAS_DELETE, key, prev } : { op: KvOp.DELETE, key };
  }
  const result = await backend.propose(scope.migration ? { ...cmd, migration: true } : cmd, caller);
  if (result.rejected) throw rejection(result.rejected);
  if (result.denied) {
    throw new KvError(403, 'permission_denied', `${result.denied}: the user's roles no longer grant write on this key ` +
      '(a role was revoked while the write was in flight); grant it again, or write as a user whose roles do');
  }
  const headers = { 'X-Raft-Index': String(result.index) };
  if (!result.succeeded) {
    const current = result.current ? Buffer.from(result.current.buffer, result.current.byteOffset, result.current.byteLength).toString('base64') : null;
    sendJson(res, 412, { error: 'precondition_failed', message: `compare-and-swap on '${key}' failed: the current value differs`, retryable: false, current, index: result.index }, headers);
    return;
  }
  sendJson(res, 200, method === 'PUT' ? { index: result.index, existed: result.existed } : { index: result.index, deleted: result.existed }, headers);
}

/** A shard record must parse: every member reads it to decide what it serves. */
function checkRecord(value: Buffer): void {
  try {
    decodeRecord(value.toString('utf8'));
  } catch (e) {
    throw new KvError(400, 'bad_shard_record', `${RECORD_KEY} must hold a shard record (docs/resharding.md): ${(e as Error).message}`);
  }
}

const MEMBERS_PATH = '/v1/members';
/** Membership request bodies are small JSON objects. */
const MEMBER_BODY_MAX = 4096;

async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = await readBody(req, MEMBER_BODY_MAX);
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new KvError(400, 'bad_request', 'the body must be a JSON object, e.g. {"name": "kv-3", "peerUrl": "kv-3.kv-peers:7380"}');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new KvError(400, 'bad_request', 'the body must be a JSON object');
  return v as Record<string, unknown>;
}

function memberRequest(body: Record<string, unknown>): { name: string; peerUrl: string; clientUrl?: string } {
  return {
    name: body.name as string,
    peerUrl: body.peerUrl as string,
    ...(body.clientUrl !== undefined ? { clientUrl: body.clientUrl as string } : {}),
  };
}

/**
 * `/v1/members` (docs/api.md): GET lists; POST adds a learner; POST /join replaces a member that
 * lost its disk; POST /{id}/promote; PUT /{id} updates addresses; DELETE /{id} removes.
 */
async function handleMembers(m: MembershipBackend, method: string, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const rest = path.slice(MEMBERS_PATH.length).split('/').filter((p) => p !== '');
  if (rest.length === 0) {
    if (method === 'GET') { sendJson(res, 200, m.listMembers()); return; }
    if (method === 'POST') { sendJson(res, 201, { member: await m.addMember(memberRequest(await readJsonObject(req))) }); return; }
    throw methodNotAllowed(method, ['GET', 'POST']);
  }
  if (rest.length === 1 && rest[0] === 'join') {
    if (method !== 'POST') throw methodNotAllowed(method, ['POST']);
    const member = await m.joinMember(memberRequest(await readJsonObject(req)));
    const list = m.listMembers();
    sendJson(res, 200, { clusterId: list.clusterId, member, members: list.members });
    return;
  }
  const id = Number(rest[0]);
  if (!/^\d+$/.test(rest[0]) || !Number.isSafeInteger(id) || id <= 0) {
    throw new KvError(400, 'bad_member', `'${rest[0]}' is not a member id (a positive integer; GET /v1/members lists them)`);
  }
  if (rest.length === 2 && rest[1] === 'promote') {
    if (method !== 'POST') throw methodNotAllowed(method, ['POST']);
    sendJson(res, 200, { member: await m.promoteMember(id) });
    return;
  }
  if (rest.length !== 1) throw new KvError(404, 'not_found', `no route for ${method} ${path}; see docs/api.md`);
  if (method === 'DELETE') {
    req.resume();
    await m.removeMember(id);
    sendJson(res, 200, { removed: id });
    return;
  }
  if (method === 'PUT') {
    const body = await readJsonObject(req);
    sendJson(res, 200, { member: await m.updateMember(id, body.peerUrl as string, body.clientUrl as string | undefined) });
    return;
  }
  throw methodNotAllowed(method, ['PUT', 'DELETE']);
}

/** GET /v1/snapshot: streams a consistent snapshot file (docs/operations.md, backup). */
async function sendBackup(m: MembershipBackend, res: ServerResponse): Promise<void> {
  const { index, length, chunks } = await m.backupSnapshot();
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': length,
    'Content-Disposition': `attachment; filename="snapshot-${index}.snap"`,
    'X-Raft-Applied-Index': String(index),
  });
  for await (const c of chunks) {
    if (res.destroyed) return; // the client went away: stop serializing
    if (!res.write(c)) await new Promise<void>((r) => { res.once('drain', r); res.once('close', r); });
  }
  res.end();
}
