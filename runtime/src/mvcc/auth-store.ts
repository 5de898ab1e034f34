/**
 * etcd's auth state as part of the replicated state machine: users (with password hashes made by the proposer,
 * so apply stays deterministic), roles with key-range permissions, the enabled flag and the auth revision
 * (bumped by every change). Raft applies {@link AuthCommand}s; the API layer asks the permission questions
 * (`check*`). Behaviour follows etcd 3.4's auth store (auth/store.go): the `root` role may do anything and
 * needs no role object, `root` cannot be deleted or lose its role while auth is on, admin operations need the
 * root role once auth is on, and a range is permitted only when the union of the user's ranges covers it.
 * Tokens are not state: an applied Authenticate names the token, and each member keeps it in memory
 * ({@link AuthEffect}), as etcd's simple tokens.
 */
import { ByteReader, ByteWriter, DecodeError } from './codec';
import type { MvccCommand } from './command';
import { Errors } from './errors';
import { ByteString, keySpan, KeySpan } from './keys';
import { RequestOp, TxnRequest } from './types';

/** authpb.Permission.Type. */
export enum PermType {
  READ = 0,
  WRITE = 1,
  READWRITE = 2,
}

/** authpb.Permission: `range_end` as in a RangeRequest (empty = the key alone, "\0" = every key >= key). */
export interface Permission {
  permType: PermType;
  key: Buffer;
  range_end: Buffer;
}

/** A user as the store keeps it. `password` is the proposer's KDF output ('' for a no-password user). */
export interface AuthUser {
  readonly name: string;
  readonly password: string;
  readonly noPassword: boolean;
  /** Sorted, unique. */
  readonly roles: readonly string[];
}

/** The caller of a request: the user a token (or a client certificate) names. */
export interface AuthInfo {
  readonly name: string;
}

/** The replicated auth writes. `caller` ('' = none) is checked for the root role at apply, as etcd does. */
export type AuthRequest =
  | { kind: 'enable' }
  | { kind: 'disable' }
  | { kind: 'authenticate'; name: string; tokenPrefix: string; checkedRevision: number }
  | { kind: 'user_add'; name: string; password: string; noPassword: boolean }
  | { kind: 'user_delete'; name: string }
  | { kind: 'user_change_password'; name: string; password: string }
  | { kind: 'user_grant_role'; user: string; role: string }
  | { kind: 'user_revoke_role'; name: string; role: string }
  | { kind: 'role_add'; name: string }
  | { kind: 'role_delete'; role: string }
  | { kind: 'role_grant_permission'; name: string; perm: Permission }
  | { kind: 'role_revoke_permission'; role: string; key: Buffer; range_end: Buffer };

export type AuthCommand = AuthRequest & { caller: string };

/** What a member does with its in-memory tokens after applying an auth write. */
export type AuthEffect =
  | { assign: { token: string; user: string } }
  | { invalidateUser: string }
  | { clearTokens: true };

/** The result of an applied auth write (the API adds the header's member fields). */
export interface AuthResponse {
  header: { revision: number };
  token?: string;
  /** For the member's token keeper; removed before the response leaves the member. */
  effect?: AuthEffect;
}

const KINDS = [
  'enable', 'disable', 'authenticate', 'user_add', 'user_delete', 'user_change_password', 'user_grant_role',
  'user_revoke_role', 'role_add', 'role_delete', 'role_grant_permission', 'role_revoke_permission',
] as const;

export const ROOT_USER = 'root';
export const ROOT_ROLE = 'root';

interface Spans { read: KeySpan[]; write: KeySpan[] }

/** See the file comment. */
export class AuthStore {
  /** Reads what {@link encode} wrote. Throws DecodeError. */
  static decode(r: ByteReader): AuthStore {
    const s = new AuthStore();
    s.on = r.bool();
    s.rev = r.count();
    const nUsers = r.count(1 << 24);
    for (let i = 0; i < nUsers; i++) {
      const name = readUtf8(r);
      const password = readUtf8(r);
      const noPassword = r.bool();
      const nRoles = r.count(1 << 20);
      const roles: string[] = [];
      for (let j = 0; j < nRoles; j++) roles.push(readUtf8(r));
      s.users.set(name, { name, password, noPassword, roles });
    }
    const nRoles = r.count(1 << 24);
    for (let i = 0; i < nRoles; i++) {
      const name = readUtf8(r);
      const n = r.count(1 << 24);
      const perms: Permission[] = [];
      for (let j = 0; j < n; j++) perms.push({ permType: readPermType(r), key: r.bytes(), range_end: r.bytes() });
      s.roles.set(name, perms);
    }
    return s;
  }
  private on = false;
  /** etcd starts its auth revision at 1; 0 would mean "no user" in a request. */
  private rev = 1;
  private readonly users = new Map<string, AuthUser>();
  private readonly roles = new Map<string, Permission[]>();
  /** Merged permitted spans per user, rebuilt lazily after any change. */
  private spans = new Map<string, Spans>();

  get enabled(): boolean { return this.on; }
  get revision(): number { return this.rev; }

  /** Whether any auth state exists (an empty store is left out of snapshots). */
  get isEmpty(): boolean { return !this.on && this.rev === 1 && this.users.size === 0 && this.roles.size === 0; }

  user(name: string): AuthUser | undefined { return this.users.get(name); }

  /** Applies one replicated auth write at log `index`; throws MvccError for a rejected one (nothing changed). */
  apply(index: number, cmd: AuthCommand): AuthResponse {
    // As etcd: every auth write but Authenticate needs the root role once auth is on (checkAdmin passes while off).
    if (cmd.kind !== 'authenticate') this.checkAdmin(cmd.caller ? { name: cmd.caller } : undefined);
    const effect = this.run(index, cmd);
    const resp: AuthResponse = { header: { revision: 0 } };
    if (effect && 'assign' in effect) resp.token = effect.assign.token;
    if (effect) resp.effect = effect;
    return resp;
  }

  // ---- reads (the API serves them from applied state) ----

  userGet(caller: AuthInfo | undefined, name: string): { roles: string[] } {
    if (!(this.on && caller?.name === name)) this.checkAdmin(caller);
    const u = this.users.get(name);
    if (!u) throw Errors.userNotFound();
    return { roles: [...u.roles] };
  }

  userList(caller: AuthInfo | undefined): { users: string[] } {
    this.checkAdmin(caller);
    return { users: sortedNames(this.users.keys()) };
  }

  roleGet(caller: AuthInfo | undefined, role: string): { perm: Permission[] } {
    const own = caller !== undefined && (this.users.get(caller.name)?.roles.includes(role) ?? false);
    if (!own) this.checkAdmin(caller);
    const perms = this.roles.get(role);
    if (!perms) throw Errors.roleNotFound();
    return { perm: perms.map((p) => ({ ...p })) };
  }

  roleList(caller: AuthInfo | undefined): { roles: string[] } {
    this.checkAdmin(caller);
    return { roles: sortedNames(this.roles.keys()) };
  }

  // ---- permission checks (no-ops while auth is disabled) ----

  /** etcd's IsAdminPermitted: the caller must hold the root role. */
  checkAdmin(caller: AuthInfo | undefined): void {
    if (!this.on) return;
    if (!caller || caller.name === '') throw Errors.userEmpty();
    const u = this.users.get(caller.name);
    if (!u) throw Errors.userNotFound();
    if (!u.roles.includes(ROOT_ROLE)) throw Errors.permissionDenied();
  }

  checkRead(caller: AuthInfo | undefined, key: Uint8Array | undefined, rangeEnd?: Uint8Array): void {
    this.checkOp(caller, key, rangeEnd, 'read');
  }

  checkWrite(caller: AuthInfo | undefined, key: Uint8Array | undefined, rangeEnd?: Uint8Array): void {
    this.checkOp(caller, key, rangeEnd, 'write');
  }

  /**
   * A txn: read on every compare, then each op of both branches by its kind. Nested txns are checked too
   * (etcd 3.4 skips them, which lets a nested txn escape the permissions; we do not copy that).
   */
  checkTxn(caller: AuthInfo | undefined, t: TxnRequest): void {
    if (!this.on) return;
    for (const c of t.compare ?? []) this.checkRead(caller, c.key, c.range_end);
    for (const op of [...(t.success ?? []), ...(t.failure ?? [])]) this.checkRequestOp(caller, op);
  }

  private checkRequestOp(caller: AuthInfo | undefined, op: RequestOp): void {
    if (op.request_range) {
      this.checkRead(caller, op.request_range.key, op.request_range.range_end);
    } else if (op.request_put) {
      this.checkWrite(caller, op.request_put.key);
      if (op.request_put.prev_kv) this.checkRead(caller, op.request_put.key);
    } else if (op.request_delete_range) {
      const d = op.request_delete_range;
      if (d.prev_kv) this.checkRead(caller, d.key, d.range_end);
      this.checkWrite(caller, d.key, d.range_end);
    } else if (op.request_txn) {
      this.checkTxn(caller, op.request_txn);
    }
  }

  private checkOp(caller: AuthInfo | undefined, key: Uint8Array | undefined, rangeEnd: Uint8Array | undefined, kind: 'read' | 'write'): void {
    if (!this.on) return;
    if (!caller || caller.name === '') throw Errors.userEmpty();
    const u = this.users.get(caller.name);
    if (!u) throw Errors.permissionDenied();
    if (u.roles.includes(ROOT_ROLE)) return;
    if (!covers(this.spansOf(u)[kind], keySpan(key, rangeEnd))) throw Errors.permissionDenied();
  }

  private spansOf(u: AuthUser): Spans {
    let s = this.spans.get(u.name);
    if (!s) {
      s = { read: [], write: [] };
      for (const role of u.roles) {
        for (const p of this.roles.get(role) ?? []) {
          const span = keySpan(p.key, p.range_end);
          if (p.permType !== PermType.WRITE) s.read.push(span);
          if (p.permType !== PermType.READ) s.write.push(span);
        }
      }
      this.spans.set(u.name, s);
    }
    return s;
  }

  // ---- writes ----

  private run(index: number, c: AuthCommand): AuthEffect | undefined {
    switch (c.kind) {
      case 'enable': return this.enable();
      case 'disable': return this.disable();
      case 'authenticate': return this.authenticate(index, c);
      case 'user_add': return this.userAdd(c);
      case 'user_delete': return this.userDelete(c.name);
      case 'user_change_password': return this.userChangePassword(c.name, c.password);
      case 'user_grant_role': return this.userGrantRole(c.user, c.role);
      case 'user_revoke_role': return this.userRevokeRole(c.name, c.role);
      case 'role_add': return this.roleAdd(c.name);
      case 'role_delete': return this.roleDelete(c.role);
      case 'role_grant_permission': return this.roleGrantPermission(c.name, c.perm);
      case 'role_revoke_permission': return this.roleRevokePermission(c.role, c.key, c.range_end);
    }
  }

  private enable(): AuthEffect | undefined {
    if (this.on) return undefined; // etcd ignores enabling twice
    const root = this.users.get(ROOT_USER);
    if (!root) throw Errors.rootUserNotExist();
    if (!root.roles.includes(ROOT_ROLE)) throw Errors.rootRoleNotExist();
    this.on = true;
    this.changed();
    return undefined;
  }

  private disable(): AuthEffect | undefined {
    if (!this.on) return undefined;
    this.on = false;
    this.changed();
    return { clearTokens: true };
  }

  /** The password was checked by the proposer at `checkedRevision`; a change since then means check again. */
  private authenticate(index: number, c: { name: string; tokenPrefix: string; checkedRevision: number }): AuthEffect {
    if (!this.on) throw Errors.authNotEnabled();
    const u = this.users.get(c.name);
    if (!u || u.noPassword) throw Errors.authFailed();
    if (c.checkedRevision !== this.rev) throw Errors.authOldRevision();
    return { assign: { token: `${c.tokenPrefix}.${index}`, user: c.name } };
  }

  private userAdd(c: { name: string; password: string; noPassword: boolean }): undefined {
    if (c.name === '') throw Errors.userEmpty();
    if (this.users.has(c.name)) throw Errors.userAlreadyExist();
    this.users.set(c.name, { name: c.name, password: c.noPassword ? '' : c.password, noPassword: c.noPassword, roles: [] });
    this.changed();
    return undefined;
  }

  private userDelete(name: string): AuthEffect {
    if (this.on && name === ROOT_USER) throw Errors.invalidAuthMgmt();
    if (!this.users.delete(name)) throw Errors.userNotFound();
    this.changed();
    return { invalidateUser: name };
  }

  private userChangePassword(name: string, password: string): AuthEffect {
    const u = this.users.get(name);
    if (!u) throw Errors.userNotFound();
    this.users.set(name, { ...u, password });
    this.changed();
    return { invalidateUser: name };
  }

  private userGrantRole(name: string, role: string): undefined {
    const u = this.users.get(name);
    if (!u) throw Errors.userNotFound();
    if (role !== ROOT_ROLE && !this.roles.has(role)) throw Errors.roleNotFound();
    if (u.roles.includes(role)) return undefined; // etcd ignores a repeated grant
    this.users.set(name, { ...u, roles: sortedNames([...u.roles, role]) });
    this.changed();
    return undefined;
  }

  private userRevokeRole(name: string, role: string): undefined {
    if (this.on && name === ROOT_USER && role === ROOT_ROLE) throw Errors.invalidAuthMgmt();
    const u = this.users.get(name);
    if (!u) throw Errors.userNotFound();
    if (!u.roles.includes(role)) throw Errors.roleNotGranted();
    this.users.set(name, { ...u, roles: u.roles.filter((r) => r !== role) });
    this.changed();
    return undefined;
  }

  private roleAdd(name: string): undefined {
    if (name === '') throw Errors.roleEmpty();
    if (this.roles.has(name)) throw Errors.roleAlreadyExist();
    this.roles.set(name, []);
    this.changed();
    return undefined;
  }

  /** Deleting a role also takes it from every user that held it. */
  private roleDelete(role: string): undefined {
    if (this.on && role === ROOT_ROLE) throw Errors.invalidAuthMgmt();
    if (!this.roles.delete(role)) throw Errors.roleNotFound();
    for (const u of [...this.users.values()]) {
      if (u.roles.includes(role)) this.users.set(u.name, { ...u, roles: u.roles.filter((r) => r !== role) });
    }
    this.changed();
    return undefined;
  }

  /** Same key and range_end: the type is updated; otherwise added, kept sorted by key as etcd lists them. */
  private roleGrantPermission(name: string, perm: Permission): undefined {
    const perms = this.roles.get(name);
    if (!perms) throw Errors.roleNotFound();
    if (perm.permType !== PermType.READ && perm.permType !== PermType.WRITE && perm.permType !== PermType.READWRITE) {
      throw Errors.invalid(`perm.permType ${String(perm.permType)} is not READ, WRITE or READWRITE`);
    }
    const same = perms.find((p) => p.key.equals(perm.key) && p.range_end.equals(perm.range_end));
    if (same) {
      same.permType = perm.permType;
    } else {
      perms.push({ permType: perm.permType, key: Buffer.from(perm.key), range_end: Buffer.from(perm.range_end) });
      perms.sort((a, b) => Buffer.compare(a.key, b.key));
    }
    this.changed();
    return undefined;
  }

  private roleRevokePermission(role: string, key: Buffer, rangeEnd: Buffer): undefined {
    const perms = this.roles.get(role);
    if (!perms) throw Errors.roleNotFound();
    const kept = perms.filter((p) => !(p.key.equals(key) && p.range_end.equals(rangeEnd)));
    if (kept.length === perms.length) throw Errors.permissionNotGranted();
    this.roles.set(role, kept);
    this.changed();
    return undefined;
  }

  private changed(): void {
    this.rev++;
    this.spans = new Map();
  }

  // ---- snapshot ----

  /** The whole state, in sorted order (the same bytes on every member for the same state). */
  encode(w: ByteWriter): void {
    w.bool(this.on).int(this.rev).int(this.users.size);
    for (const name of sortedNames(this.users.keys())) {
      const u = this.users.get(name)!;
      utf8(w, u.name);
      utf8(w, u.password);
      w.bool(u.noPassword).int(u.roles.length);
      for (const r of u.roles) utf8(w, r);
    }
    w.int(this.roles.size);
    for (const name of sortedNames(this.roles.keys())) {
      const perms = this.roles.get(name)!;
      utf8(w, name);
      w.int(perms.length);
      for (const p of perms) w.u8(p.permType).bytes(p.key).bytes(p.range_end);
    }
  }

}

/**
 * A client write's permissions at apply (etcd's auth applier): Put (write; read with prev_kv; write on the keys of
 * the lease it attaches), DeleteRange (write; read with prev_kv), Txn, LeaseRevoke (write on the lease's keys).
 * Throws etcd's error; nothing to check while auth is off.
 */
export function checkWritePermission(auth: AuthStore, caller: string, cmd: MvccCommand, leaseKeys: (id: number) => Iterable<ByteString>): void {
  if (!auth.enabled) return;
  const who = caller === '' ? undefined : { name: caller };
  const leaseWritable = (id: number | undefined): void => {
    for (const k of id ? leaseKeys(id) : []) auth.checkWrite(who, Buffer.from(k, 'latin1'));
  };
  switch (cmd.op) {
    case 'put':
      auth.checkWrite(who, cmd.request.key);
      if (cmd.request.prev_kv) auth.checkRead(who, cmd.request.key);
      leaseWritable(cmd.request.lease);
      break;
    case 'delete_range':
      auth.checkWrite(who, cmd.request.key, cmd.request.range_end);
      if (cmd.request.prev_kv) auth.checkRead(who, cmd.request.key, cmd.request.range_end);
      break;
    case 'txn': auth.checkTxn(who, cmd.request); break;
    case 'lease_revoke': leaseWritable(cmd.request.ID); break;
    default: break;
  }
}

/** Whether the union of `spans` covers `want` (etcd's interval-tree Contains). */
function covers(spans: readonly KeySpan[], want: KeySpan): boolean {
  if (want.end !== null && want.end <= want.start) return spans.some((s) => s.start <= want.start && (s.end === null || s.end > want.start));
  const sorted = [...spans].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  let at: ByteString = want.start;
  for (const s of sorted) {
    if (s.start > at) break;
    if (s.end === null) return true;
    if (s.end > at) at = s.end;
    if (want.end !== null && at >= want.end) return true;
  }
  return false;
}

/** Names in byte order (etcd lists users and roles in its backend's key order). */
function sortedNames(names: Iterable<string>): string[] {
  return [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

function utf8(w: ByteWriter, s: string): void {
  w.bytes(Buffer.from(s, 'utf8'));
}

function readUtf8(r: ByteReader): string {
  return r.bytes().toString('utf8');
}

function readPermType(r: ByteReader): PermType {
  const t = r.u8();
  if (t > PermType.READWRITE) throw new DecodeError(`permission type ${t}`);
  return t;
}

/** Encodes an auth command's body (command.ts writes the op and request id before it). */
export function writeAuthCommand(w: ByteWriter, c: AuthCommand): void {
  w.u8(KINDS.indexOf(c.kind) + 1);
  utf8(w, c.caller);
  switch (c.kind) {
    case 'enable': case 'disable': break;
    case 'authenticate': utf8(w, c.name); utf8(w, c.tokenPrefix); w.int(c.checkedRevision); break;
    case 'user_add': utf8(w, c.name); utf8(w, c.password); w.bool(c.noPassword); break;
    case 'user_delete': utf8(w, c.name); break;
    case 'user_change_password': utf8(w, c.name); utf8(w, c.password); break;
    case 'user_grant_role': utf8(w, c.user); utf8(w, c.role); break;
    case 'user_revoke_role': utf8(w, c.name); utf8(w, c.role); break;
    case 'role_add': utf8(w, c.name); break;
    case 'role_delete': utf8(w, c.role); break;
    case 'role_grant_permission': utf8(w, c.name); w.u8(c.perm.permType).bytes(c.perm.key).bytes(c.perm.range_end); break;
    case 'role_revoke_permission': utf8(w, c.role); w.bytes(c.key).bytes(c.range_end); break;
  }
}

/** Decodes what {@link writeAuthCommand} wrote. Throws DecodeError. */
export function readAuthCommand(r: ByteReader): AuthCommand {
  const tag = r.u8();
  const kind = KINDS[tag - 1];
  if (kind === undefined) throw new DecodeError(`auth command kind ${tag}`);
  const caller = readUtf8(r);
  const s = (): string => readUtf8(r);
  switch (kind) {
    case 'enable': case 'disable': return { kind, caller };
    case 'authenticate': return { kind, caller, name: s(), tokenPrefix: s(), checkedRevision: r.count() };
    case 'user_add': return { kind, caller, name: s(), password: s(), noPassword: r.bool() };
    case 'user_delete': return { kind, caller, name: s() };
    case 'user_change_password': return { kind, caller, name: s(), password: s() };
    case 'user_grant_role': return { kind, caller, user: s(), role: s() };
    case 'user_revoke_role': return { kind, caller, name: s(), role: s() };
    case 'role_add': return { kind, caller, name: s() };
    case 'role_delete': return { kind, caller, role: s() };
    case 'role_grant_permission': return { kind, caller, name: s(), perm: { permType: readPermType(r), key: r.bytes(), range_end: r.bytes() } };
    case 'role_revoke_permission': return { kind, caller, role: s(), key: r.bytes(), range_end: r.bytes() };
  }
}
