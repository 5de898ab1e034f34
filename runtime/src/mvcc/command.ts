/**
 * The MVCC commands that travel in Raft log entries, in a compact binary encoding (a put of a 256-byte value
 * is ~270 bytes; no JSON or base64 on the hot path). Layout: version u8, op u8, requestId varint, then the
 * request's fields in a fixed order (codec.ts). Decoding checks every bound; see {@link decodeCommand}.
 */
import { AuthCommand, readAuthCommand, writeAuthCommand } from './auth-store';
import { ByteReader, ByteWriter, DecodeError } from './codec';
import { Errors } from './errors';
import {
  CompactionRequest, Compare, DeleteRangeRequest, LeaseCheckpointRequest, LeaseGrantRequest,
  LeaseRevokeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest,
} from './types';

/** A write the store applies through the log. `requestId` lets the proposer match the result to its waiter. */
export type MvccCommand =
  | { readonly op: 'put'; readonly requestId: number; readonly request: PutRequest }
  | { readonly op: 'delete_range'; readonly requestId: number; readonly request: DeleteRangeRequest }
  | { readonly op: 'txn'; readonly requestId: number; readonly request: TxnRequest }
  | { readonly op: 'compaction'; readonly requestId: number; readonly request: CompactionRequest }
  | { readonly op: 'lease_grant'; readonly requestId: number; readonly request: LeaseGrantRequest }
  | { readonly op: 'lease_revoke'; readonly requestId: number; readonly request: LeaseRevokeRequest }
  | { readonly op: 'lease_checkpoint'; readonly requestId: number; readonly request: LeaseCheckpointRequest }
  | { readonly op: 'auth'; readonly requestId: number; readonly request: AuthCommand }
  /**
   * A client's write with the caller it was checked for: apply checks its permissions again against the auth
   * state of that moment (a role revoked since the proposal refuses it), as etcd's auth applier does.
   */
  | { readonly op: 'checked'; readonly requestId: number; readonly request: CheckedWrite };

/** The write inside a 'checked' command (never an auth or checked command itself). */
export interface CheckedWrite {
  readonly caller: string;
  readonly inner: MvccCommand;
}

const VERSION = 1;
const OPS = ['put', 'delete_range', 'txn', 'compaction', 'lease_grant', 'lease_revoke', 'lease_checkpoint', 'auth', 'checked'] as const;
/** Deeper nesting than etcd would ever accept in 128 ops is garbage; bounds decoder recursion. */
const MAX_TXN_DEPTH = 64;
const MAX_LIST = 1_048_576;

/**
 * Encodes a command. Throws INVALID_ARGUMENT when a field cannot be encoded (an integer beyond ±2^53):
 * validate requests with the check* functions before proposing so etcd's errors come first.
 */
export function encodeCommand(cmd: MvccCommand): Buffer {
  const w = new ByteWriter(64);
  try {
    w.u8(VERSION).u8(OPS.indexOf(cmd.op) + 1).int(cmd.requestId);
    switch (cmd.op) {
      case 'put': writePut(w, cmd.request); break;
      case 'delete_range': writeDelete(w, cmd.request); break;
      case 'txn': writeTxn(w, cmd.request); break;
      case 'compaction': w.int(cmd.request.revision ?? 0).bool(cmd.request.physical); break;
      case 'lease_grant': w.int(cmd.request.TTL ?? 0).int(cmd.request.ID ?? 0); break;
      case 'lease_revoke': w.int(cmd.request.ID ?? 0); break;
      case 'lease_checkpoint':
        w.int(cmd.request.checkpoints.length);
        for (const c of cmd.request.checkpoints) w.int(c.ID ?? 0).int(c.remaining_TTL ?? 0);
        break;
      case 'auth': writeAuthCommand(w, cmd.request); break;
      case 'checked': w.bytes(Buffer.from(cmd.request.caller, 'utf8')).bytes(encodeCommand(cmd.request.inner)); break;
    }
  } catch (e) {
    if (e instanceof RangeError) throw Errors.invalid(e.message);
    throw e;
  }
  return w.take();
}

/** The requestId of an encoded command, or 0 when it cannot be read (so a rejection still finds its waiter). */
export function peekRequestId(data: Uint8Array): number {
  try {
    const r = new ByteReader(data);
    r.u8();
    r.u8();
    return r.int();
  } catch {
    return 0;
  }
}

/** Decodes what {@link encodeCommand} produced. Throws {@link DecodeError} for anything else. */
export function decodeCommand(data: Uint8Array): MvccCommand {
  const r = new ByteReader(data);
  const version = r.u8();
  if (version !== VERSION) throw new DecodeError(`unknown command version ${version}`);
  const opByte = r.u8();
  const op = OPS[opByte - 1];
  if (op === undefined) throw new DecodeError(`unknown command op ${opByte}`);
  const requestId = r.int();
  const cmd = readBody(r, op, requestId);
  if (!r.done) throw new DecodeError(`${data.length - r.offset} bytes after the command`);
  return cmd;
}

function readBody(r: ByteReader, op: typeof OPS[number], requestId: number): MvccCommand {
  switch (op) {
    case 'put': return { op, requestId, request: readPut(r) };
    case 'delete_range': return { op, requestId, request: readDelete(r) };
    case 'txn': return { op, requestId, request: readTxn(r, 0) };
    case 'compaction': return { op, requestId, request: { revision: r.int(), physical: r.bool() } };
    case 'lease_grant': return { op, requestId, request: { TTL: r.int(), ID: r.int() } };
    case 'lease_revoke': return { op, requestId, request: { ID: r.int() } };
    case 'lease_checkpoint': {
      const n = r.count(MAX_LIST);
      const checkpoints = [];
      for (let i = 0; i < n; i++) checkpoints.push({ ID: r.int(), remaining_TTL: r.int() });
      return { op, requestId, request: { checkpoints } };
    }
    case 'auth': return { op, requestId, request: readAuthCommand(r) };
    case 'checked': {
      const caller = r.bytes().toString('utf8');
      const inner = decodeCommand(r.bytes());
      if (inner.op === 'checked' || inner.op === 'auth') throw new DecodeError(`a checked command cannot hold ${inner.op}`);
      return { op, requestId, request: { caller, inner } };
    }
  }
}

/** Whether the flag worth `value` (a power of two) is set. */
const bit = (flags: number, value: number): boolean => Math.floor(flags / value) % 2 === 1;

function writePut(w: ByteWriter, p: PutRequest): void {
  w.bytes(p.key).bytes(p.value).int(p.lease ?? 0)
    .u8((p.prev_kv ? 1 : 0) + (p.ignore_value ? 2 : 0) + (p.ignore_lease ? 4 : 0));
}

function readPut(r: ByteReader): PutRequest {
  const key = r.bytes();
  const value = r.bytes();
  const lease = r.int();
  const flags = r.u8();
  if (flags > 7) throw new DecodeError(`put flags ${flags}`);
  return { key, value, lease, prev_kv: bit(flags, 1), ignore_value: bit(flags, 2), ignore_lease: bit(flags, 4) };
}

function writeDelete(w: ByteWriter, d: DeleteRangeRequest): void {
  w.bytes(d.key).bytes(d.range_end).bool(d.prev_kv);
}

function readDelete(r: ByteReader): DeleteRangeRequest {
  return { key: r.bytes(), range_end: r.bytes(), prev_kv: r.bool() };
}

function writeRange(w: ByteWriter, q: RangeRequest): void {
  w.bytes(q.key).bytes(q.range_end).int(q.limit ?? 0).int(q.revision ?? 0).int(q.sort_order ?? 0).int(q.sort_target ?? 0)
    .u8((q.serializable ? 1 : 0) + (q.keys_only ? 2 : 0) + (q.count_only ? 4 : 0))
    .int(q.min_mod_revision ?? 0).int(q.max_mod_revision ?? 0).int(q.min_create_revision ?? 0).int(q.max_create_revision ?? 0);
}

function readRange(r: ByteReader): RangeRequest {
  const key = r.bytes();
  const range_end = r.bytes();
  const limit = r.int();
  const revision = r.int();
  const sort_order = r.int();
  const sort_target = r.int();
  const flags = r.u8();
  if (flags > 7) throw new DecodeError(`range flags ${flags}`);
  return {
    key,
    range_end,
    limit,
    revision,
    sort_order,
    sort_target,
    serializable: bit(flags, 1),
    keys_only: bit(flags, 2),
    count_only: bit(flags, 4),
    min_mod_revision: r.int(),
    max_mod_revision: r.int(),
    min_create_revision: r.int(),
    max_create_revision: r.int(),
  };
}

/** Compare's target_union member: tag 0 = unset. */
const UNION: (keyof Compare)[] = ['version', 'create_revision', 'mod_revision', 'value', 'lease'];

function writeCompare(w: ByteWriter, c: Compare): void {
  w.int(c.result ?? 0).int(c.target ?? 0).bytes(c.key).bytes(c.range_end);
  const tag = UNION.findIndex((f) => c[f] !== undefined && c[f] !== null);
  w.u8(tag + 1);
  if (tag < 0) return;
  if (UNION[tag] === 'value') w.bytes(c.value);
  else w.int(c[UNION[tag]] as number);
}

function readCompare(r: ByteReader): Compare {
  const c: Compare = { result: r.int(), target: r.int(), key: r.bytes(), range_end: r.bytes() };
  const tag = r.u8();
  if (tag > UNION.length) throw new DecodeError(`compare union tag ${tag}`);
  if (tag === 0) return c;
  const field = UNION[tag - 1];
  if (field === 'value') c.value = r.bytes();
  else (c as unknown as Record<string, number>)[field] = r.int();
  return c;
}

function writeOps(w: ByteWriter, ops: RequestOp[] | undefined): void {
  w.int(ops?.length ?? 0);
  for (const op of ops ?? []) {
    if (op.request_range) writeRange(w.u8(1), op.request_range);
    else if (op.request_put) writePut(w.u8(2), op.request_put);
    else if (op.request_delete_range) writeDelete(w.u8(3), op.request_delete_range);
    else if (op.request_txn) writeTxn(w.u8(4), op.request_txn);
    else w.u8(0); // an empty RequestOp: the store answers it as etcd does
  }
}

function readOps(r: ByteReader, depth: number): RequestOp[] {
  const n = r.count(MAX_LIST);
  const ops: RequestOp[] = [];
  for (let i = 0; i < n; i++) {
    const tag = r.u8();
    switch (tag) {
      case 0: ops.push({}); break;
      case 1: ops.push({ request_range: readRange(r) }); break;
      case 2: ops.push({ request_put: readPut(r) }); break;
      case 3: ops.push({ request_delete_range: readDelete(r) }); break;
      case 4: ops.push({ request_txn: readTxn(r, depth + 1) }); break;
      default: throw new DecodeError(`request op tag ${tag}`);
    }
  }
  return ops;
}

function writeTxn(w: ByteWriter, t: TxnRequest): void {
  w.int(t.compare?.length ?? 0);
  for (const c of t.compare ?? []) writeCompare(w, c);
  writeOps(w, t.success);
  writeOps(w, t.failure);
}

function readTxn(r: ByteReader, depth: number): TxnRequest {
  if (depth > MAX_TXN_DEPTH) throw new DecodeError(`txn nested deeper than ${MAX_TXN_DEPTH}`);
  const n = r.count(MAX_LIST);
  const compare: Compare[] = [];
  for (let i = 0; i < n; i++) compare.push(readCompare(r));
  return { compare, success: readOps(r, depth), failure: readOps(r, depth) };
}

