/**
 * etcd's authentication on the etcd v3 API, shared by gRPC and the JSON gateway: the Auth service's RPCs, and
 * the permission check every other RPC passes before its handler ({@link authorize}), as etcd 3.4 checks them
 * (etcdserver/apply_auth.go, v3rpc/maintenance.go, v3rpc/watch.go).
 *
 * - A token arrives as gRPC metadata `token` (clientv3) or `authorization` (the gateway's `Authorization`
 *   header). A token this member does not know is "invalid auth token", whether auth is on or not, as in etcd.
 * - Checks read this member's applied auth state. A follower's may lag: a check that fails is repeated once
 *   after a ReadIndex barrier, so a grant or a token just applied on the leader is never refused on a follower;
 *   a linearizable read is checked after the barrier, so a revoked permission is never honoured; writes are
 *   checked again when applied (the 'checked' command).
 * - Writes (auth changes, Authenticate) run on the leader; a follower forwards them with the caller's token
 *   (forwarder.ts) and waits for its own state to include the result before answering.
 * - Passwords: scrypt (node:crypto) with a random salt, hashed by the member that proposes, so apply stays
 *   deterministic and the log never holds a password.
 */
import { randomBytes, randomInt, scrypt, timingSafeEqual } from 'crypto';
import { toMvccError } from './errors';
import { currentCall, Forwarder, withCallerToken } from './forwarder';
import type { EtcdService } from './service';
import { KvError } from '../../errors';
import { EtcdErrors } from '../../errors/etcd';
import {
  AuthInfo, AuthRequest, AuthStore, GrpcCode, isTxnReadOnly, MvccCommand, MvccError, Permission, TxnRequest,
} from '../../mvcc';
import { MvccWrite } from '../../server/mvcc-host';
import type { V1Access } from '../http-v1';

type Obj = Record<string, unknown>;

/** What a checked RPC asks of the auth store. */
type Check = (auth: AuthStore, caller: AuthInfo | undefined, req: Obj, svc: EtcdService) => void;

const none: Check = () => undefined;
const admin: Check = (auth, caller) => auth.checkAdmin(caller);

/** The RPCs that resolve the caller's token, with their check. RPCs not listed ignore tokens, as in etcd 3.4. */
const CHECKS: Record<string, Check> = {
  'KV.Range': (a, c, r) => a.checkRead(c, buf(r.key), buf(r.range_end)),
  'KV.Put': (a, c, r, svc) => {
    a.checkWrite(c, buf(r.key));
    if (r.prev_kv) a.checkRead(c, buf(r.key));
    checkLeaseKeys(a, c, Number(r.lease ?? 0), svc);
  },
  'KV.DeleteRange': (a, c, r) => {
    a.checkWrite(c, buf(r.key), buf(r.range_end));
    if (r.prev_kv) a.checkRead(c, buf(r.key), buf(r.range_end));
  },
  'KV.Txn': (a, c, r) => a.checkTxn(c, r as unknown as TxnRequest),
  'KV.Compact': none,
  'Lease.LeaseGrant': none,
  // Revoking deletes the lease's keys: the caller must be allowed to write every one of them.
  'Lease.LeaseRevoke': (a, c, r, svc) => checkLeaseKeys(a, c, Number(r.ID ?? 0), svc),
  // Membership changes need the root role (etcd's checkMembershipOperationPermission).
  'Cluster.MemberAdd': admin,
  'Cluster.MemberRemove': admin,
  'Cluster.MemberUpdate': admin,
  'Cluster.MemberPromote': admin,
  'Maintenance.Defragment': admin,
  'Maintenance.Hash': admin,
  'Maintenance.HashKV': admin,
  'Maintenance.MoveLeader': admin,
  'Maintenance.Snapshot': admin,
  'Watch.Watch': (a, c, r) => a.checkRead(c, buf(r.key), buf(r.range_end)),
};

/** A key attached to `leaseId` that the caller may not write makes the lease off limits (etcd's checkLeasePuts). */
function checkLeaseKeys(auth: AuthStore, caller: AuthInfo | undefined, leaseId: number, svc: EtcdService): void {
  if (!auth.enabled || leaseId === 0) return;
  for (const k of svc.backend.mvcc.store.leases.get(leaseId)?.keys ?? []) auth.checkWrite(caller, Buffer.from(k, 'latin1'));
}

function buf(v: unknown): Buffer | undefined {
  return Buffer.isBuffer(v) ? v : v instanceof Uint8Array ? Buffer.from(v) : undefined;
}

/** The token a gRPC call or gateway request carries ('' and absent alike mean none). */
export function tokenOf(values: readonly unknown[] | string | undefined): string | undefined {
  const v = Array.isArray(values) ? values[0] : values;
  const s = Buffer.isBuffer(v) ? v.toString() : typeof v === 'string' ? v : undefined;
  return s ? s : undefined;
}

/** Whether `service.method` resolves tokens and checks permissions. */
export function isChecked(service: string, method: string): boolean {
  return CHECKS[`${service}.${method}`] !== undefined;
}

/**
 * Resolves the caller from `token` and checks `req` against `service.method`'s permissions. Resolves with the
 * caller (undefined without a token); rejects with etcd's error.
 */
export async function authorize(
  svc: EtcdService, service: string, method: string, req: Obj, token: string | undefined,
): Promise<AuthInfo | undefined> {
  const check = CHECKS[`${service}.${method}`];
  if (!check) return undefined;
  // A linearizable read must see every permission change that completed before it: check after the barrier.
  // (Writes need not wait: apply checks them again.)
  if (svc.backend.mvcc.machine.auth.enabled && isLinearizableRead(service, method, req)) await barrier(svc);
  const attempt = (): AuthInfo | undefined => {
    const caller = callerOf(svc, token);
    check(svc.backend.mvcc.machine.auth, caller, req, svc);
    const call = currentCall();
    if (call) call.caller = caller?.name ?? '';
    return caller;
  };
  try {
    return attempt();
  } catch (e) {
    if (!(e instanceof MvccError)) throw e;
    await barrier(svc);
    return attempt();
  }
}

/**
 * etcd's permissions on /v1/kv, which serves the same keys: a token (the `Authorization` header, as the gateway takes
 * it) is resolved and checked as an etcd Range (GET, listings: read on the key or the prefix's range) or DeleteRange
 * (PUT, DELETE: write on the key) would be; a compare-and-swap needs both. Rejects with a KvError: 401 without a
 * valid token, 403 outside the user's ranges. With auth off and no token, everything passes. Resolves with the user
 * a write's apply checks again (while auth is on), else undefined.
 */
export async function authorizeV1(svc: EtcdService, token: string | undefined, access: V1Access,
  key: Buffer, rangeEnd: Buffer | undefined, linearizable: boolean): Promise<string | undefined> {
  if (token === undefined && !svc.backend.mvcc.machine.auth.enabled) return undefined;
  try {
    let caller: AuthInfo | undefined;
    if (access !== 'write') caller = await authorize(svc, 'KV', 'Range', { key, range_end: rangeEnd, serializable: !linearizable }, token);
    if (access !== 'read') caller = await authorize(svc, 'KV', 'DeleteRange', { key }, token);
    // With auth off a token's user is not checked at apply either (as the etcd API's writes).
    return svc.backend.mvcc.machine.auth.enabled ? caller?.name ?? '' : undefined;
  } catch (e) {
    const err = toMvccError(e);
    if (err.code === GrpcCode.PERMISSION_DENIED) throw new KvError(403, 'permission_denied', `${err.message}: the user's roles do not grant ${access} on this key`);
    if (err.code === GrpcCode.INVALID_ARGUMENT || err.code === GrpcCode.UNAUTHENTICATED) {
      throw new KvError(401, 'unauthenticated', `${err.message}: etcd auth is enabled; send a token from /v3/auth/authenticate in the Authorization header`);
    }
    throw e;
  }
}

function isLinearizableRead(service: string, method: string, req: Obj): boolean {
  if (service !== 'KV') return false;
  if (method === 'Range') return !req.serializable;
  return method === 'Txn' && isTxnReadOnly(req as unknown as TxnRequest);
}

/**
 * The user `token` names on this member; throws "invalid auth token" for an unknown one. A JWT token (`--auth-token
 * jwt`) issued before the last auth change is "revision of auth store is old", as etcd answers: clients authenticate
 * again.
 */
function callerOf(svc: EtcdService, token: string | undefined): AuthInfo | undefined {
  if (token === undefined) return undefined;
  const jwt = svc.backend.mvcc.jwt;
  if (jwt) {
    const claims = jwt.verify(token);
    if (!claims) throw EtcdErrors.invalidAuthToken();
    if (claims.revision < svc.backend.mvcc.machine.auth.revision) throw EtcdErrors.authOldRevision();
    return { name: claims.username };
  }
  const name = svc.backend.mvcc.tokens.user(token);
  if (name === undefined) throw EtcdErrors.invalidAuthToken();
  return { name };
}

async function callerAfterBarrier(svc: EtcdService, token: string | undefined): Promise<AuthInfo | undefined> {
  try {
    return callerOf(svc, token);
  } catch {
    await barrier(svc);
    return callerOf(svc, token);
  }
}

async function barrier(svc: EtcdService): Promise<void> {
  try {
    await svc.backend.linearizableBarrier();
  } catch (e) {
    throw toMvccError(e);
  }
}

/**
 * The write the leader proposes for the client call being served: with auth on (or a caller known), wrapped with
 * the caller so apply checks it again against the auth state of that moment (MvccStateMachine, 'checked').
 */
export function asCaller(svc: EtcdService, cmd: MvccWrite): MvccWrite {
  if (cmd.op !== 'put' && cmd.op !== 'delete_range' && cmd.op !== 'txn' && cmd.op !== 'lease_revoke') return cmd;
  const call = currentCall();
  if (!call || (!svc.backend.mvcc.machine.auth.enabled && !call.caller)) return cmd;
  return { op: 'checked', request: { caller: call.caller ?? '', inner: { ...cmd, requestId: 0 } as MvccCommand } };
}

// ---- the Auth service ----

/** An Auth RPC: request in the store's form, the caller's token. */
export type AuthHandler = (svc: EtcdService, req: Obj, token: string | undefined) => Promise<Obj>;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Auth service method -> [request type, response type, gateway path, handler]. */
export const AUTH_METHODS: Record<string, [string, string, string, AuthHandler]> = {
  AuthEnable: ['AuthEnableRequest', 'AuthEnableResponse', '/auth/enable', (s, r, t) => write(s, 'AuthEnable', r, t, async () => ({ kind: 'enable' }))],
  AuthDisable: ['AuthDisableRequest', 'AuthDisableResponse', '/auth/disable', (s, r, t) => write(s, 'AuthDisable', r, t, async () => ({ kind: 'disable' }))],
  Authenticate: ['AuthenticateRequest', 'AuthenticateResponse', '/auth/authenticate', authenticate],
  UserAdd: ['AuthUserAddRequest', 'AuthUserAddResponse', '/auth/user/add', (s, r, t) => write(s, 'UserAdd', r, t, async (a, c) => {
    const noPassword = !!(r.options as Obj | undefined)?.no_password;
    // Checked before hashing, so a refused request costs no KDF time (apply checks again).
    a.checkAdmin(c);
    if (str(r.name) === '') throw EtcdErrors.userEmpty();
    return { kind: 'user_add', name: str(r.name), noPassword, password: noPassword ? '' : await hashPassword(str(r.password)) };
  })],
  UserGet: ['AuthUserGetRequest', 'AuthUserGetResponse', '/auth/user/get', (s, r, t) => read(s, t, (a, c) => a.userGet(c, str(r.name)))],
  UserList: ['AuthUserListRequest', 'AuthUserListResponse', '/auth/user/list', (s, _r, t) => read(s, t, (a, c) => a.userList(c))],
  UserDelete: ['AuthUserDeleteRequest', 'AuthUserDeleteResponse', '/auth/user/delete', (s, r, t) => write(s, 'UserDelete', r, t, async () => ({ kind: 'user_delete', name: str(r.name) }))],
  UserChangePassword: ['AuthUserChangePasswordRequest', 'AuthUserChangePasswordResponse', '/auth/user/changepw', (s, r, t) => write(s, 'UserChangePassword', r, t, async (a, c) => {
    a.checkAdmin(c);
    if (!a.user(str(r.name))) throw EtcdErrors.userNotFound();
    return { kind: 'user_change_password', name: str(r.name), password: await hashPassword(str(r.password)) };
  })],
  UserGrantRole: ['AuthUserGrantRoleRequest', 'AuthUserGrantRoleResponse', '/auth/user/grant', (s, r, t) => write(s, 'UserGrantRole', r, t, async () => ({ kind: 'user_grant_role', user: str(r.user), role: str(r.role) }))],
  UserRevokeRole: ['AuthUserRevokeRoleRequest', 'AuthUserRevokeRoleResponse', '/auth/user/revoke', (s, r, t) => write(s, 'UserRevokeRole', r, t, async () => ({ kind: 'user_revoke_role', name: str(r.name), role: str(r.role) }))],
  RoleAdd: ['AuthRoleAddRequest', 'AuthRoleAddResponse', '/auth/role/add', (s, r, t) => write(s, 'RoleAdd', r, t, async () => ({ kind: 'role_add', name: str(r.name) }))],
  RoleGet: ['AuthRoleGetRequest', 'AuthRoleGetResponse', '/auth/role/get', (s, r, t) => read(s, t, (a, c) => a.roleGet(c, str(r.role)))],
  RoleList: ['AuthRoleListRequest', 'AuthRoleListResponse', '/auth/role/list', (s, _r, t) => read(s, t, (a, c) => a.roleList(c))],
  RoleDelete: ['AuthRoleDeleteRequest', 'AuthRoleDeleteResponse', '/auth/role/delete', (s, r, t) => write(s, 'RoleDelete', r, t, async () => ({ kind: 'role_delete', role: str(r.role) }))],
  RoleGrantPermission: ['AuthRoleGrantPermissionRequest', 'AuthRoleGrantPermissionResponse', '/auth/role/grant', (s, r, t) => write(s, 'RoleGrantPermission', r, t, async () => ({
    kind: 'role_grant_permission', name: str(r.name), perm: permission(r.perm),
  }))],
  RoleRevokePermission: ['AuthRoleRevokePermissionRequest', 'AuthRoleRevokePermissionResponse', '/auth/role/revoke', (s, r, t) => write(s, 'RoleRevokePermission', r, t, async () => ({
    kind: 'role_revoke_permission', role: str(r.role), key: buf(r.key) ?? Buffer.alloc(0), range_end: buf(r.range_end) ?? Buffer.alloc(0),
  }))],
};

function permission(v: unknown): Permission {
  const p = (v ?? {}) as Obj;
  const permType = Number(p.permType ?? 0);
  if (!Number.isInteger(permType) || permType < 0 || permType > 2) throw EtcdErrors.invalid(`perm.permType ${String(p.permType)} is not READ, WRITE or READWRITE`);
  return { permType, key: buf(p.key) ?? Buffer.alloc(0), range_end: buf(p.range_end) ?? Buffer.alloc(0) };
}

/** User/role reads: linearizable (etcd sends them through Raft), answered from this member's applied state. */
async function read(svc: EtcdService, token: string | undefined, get: (auth: AuthStore, caller: AuthInfo | undefined) => Obj): Promise<Obj> {
  await barrier(svc);
  const caller = callerOf(svc, token);
  return { header: svc.header(), ...get(svc.backend.mvcc.machine.auth, caller) };
}

/** An auth write on the leader (a follower forwards it with the caller's token). */
async function write(
  svc: EtcdService, method: string, req: Obj, token: string | undefined,
  build: (auth: AuthStore, caller: AuthInfo | undefined) => Promise<AuthRequest>,
): Promise<Obj> {
  if (!svc.backend.isLeader()) return forward(svc.forwarder, svc, method, req, token);
  const caller = await callerAfterBarrier(svc, token);
  const request = await build(svc.backend.mvcc.machine.auth, caller);
  return propose(svc, request, caller);
}

async function propose(svc: EtcdService, request: AuthRequest, caller: AuthInfo | undefined): Promise<Obj> {
  let outcome;
  try {
    outcome = await svc.backend.proposeMvcc({ op: 'auth', request: { ...request, caller: caller?.name ?? '' } });
  } catch (e) {
    throw toMvccError(e);
  }
  if (!outcome.ok) throw outcome.error;
  const resp = outcome.response as { header: { revision: number }; token?: string };
  return { ...resp, header: svc.header(resp.header.revision) };
}

/** Forwards to the leader, then waits until this member applied it (its state and tokens include the write). */
async function forward(forwarder: Forwarder, svc: EtcdService, method: string, req: Obj, token: string | undefined): Promise<Obj> {
  let resp: Obj;
  try {
    resp = await withCallerToken(token, () => forwarder.unary<Obj>('Auth', method, req));
  } catch (e) {
    throw toMvccError(e);
  }
  await barrier(svc);
  return resp;
}

/**
 * Authenticate (etcd's flow): check the password against the applied state at auth revision R, then propose
 * the token; apply refuses it if the auth state changed since R (a password change in between), and we retry.
 */
async function authenticate(svc: EtcdService, req: Obj, token: string | undefined): Promise<Obj> {
  if (!svc.backend.isLeader()) return forward(svc.forwarder, svc, 'Authenticate', req, token);
  const name = str(req.name);
  const jwt = svc.backend.mvcc.jwt;
  if (jwt && !jwt.canSign) throw EtcdErrors.jwtVerifyOnly();
  for (let attempt = 0; ; attempt++) {
    await barrier(svc);
    const auth = svc.backend.mvcc.machine.auth;
    if (!auth.enabled) throw EtcdErrors.authNotEnabled();
    const checkedRevision = auth.revision;
    const user = auth.user(name);
    if (!user || user.noPassword || !(await verifyPassword(str(req.password), user.password))) throw EtcdErrors.authFailed();
    try {
      const resp = await propose(svc, { kind: 'authenticate', name, tokenPrefix: tokenPrefix(), checkedRevision }, undefined);
      // A JWT names the user and the auth revision the password was checked at (apply refused it if that moved).
      return jwt ? { ...resp, token: jwt.sign(name, checkedRevision) } : resp;
    } catch (e) {
      const stale = e instanceof MvccError && e.message === EtcdErrors.authOldRevision().message;
      if (!stale || attempt >= 4) throw e;
    }
  }
}

// ---- passwords and tokens ----

/** scrypt cost: N=2^14, r=8, p=1 (16 MiB, tens of ms here: in line with etcd's bcrypt cost 10). */
const SCRYPT = { N: 16384, r: 8, p: 1 };
const KEY_BYTES = 32;

export function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  return derive(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p).then((key) =>
    `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`);
}

/** Constant-time check of `password` against a stored hash; false for anything that is not one of ours. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (!m) return false;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Bounds keep a corrupt stored hash from asking for gigabytes.
  if (N < 2 || N > 1 << 17 || (N & (N - 1)) !== 0 || r < 1 || r > 16 || p < 1 || p > 4) return false;
  const expected = Buffer.from(m[5], 'base64');
  if (expected.length !== KEY_BYTES) return false;
  const key = await derive(password, Buffer.from(m[4], 'base64'), N, r, p);
  return timingSafeEqual(key, expected);
}

function derive(password: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_BYTES, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** 16 random letters, as etcd's simple token prefix; apply appends `.<log index>`. */
function tokenPrefix(): string {
  let s = '';
  for (let i = 0; i < 16; i++) s += LETTERS[randomInt(LETTERS.length)];
  return s;
}

/** etcd's answer to a watch create the caller may not make: created and canceled at once, with the reason. */
function watchRefusal(svc: EtcdService, e: unknown): Obj {
  const err = toMvccError(e);
  const reason = err.code === GrpcCode.INTERNAL ? EtcdErrors.permissionDenied().message : err.message;
  return { header: svc.header(), watch_id: -1, created: true, canceled: true, cancel_reason: reason };
}

/** A watch create the caller may not make is answered created+canceled with etcd's reason; false then. */
export async function permitWatch(svc: EtcdService, req: Obj, token: string | undefined, send: (resp: Obj) => unknown): Promise<boolean> {
  const create = req.create_request as Obj | undefined;
  if (!create) return true;
  try {
    await authorize(svc, 'Watch', 'Watch', create, token);
    return true;
  } catch (e) {
    send(watchRefusal(svc, e));
    return false;
  }
}
