/**
 * Request validation as etcd's gRPC layer does it before proposing (etcdserver/api/v3rpc/key.go), plus the
 * field checks a typed language gets from the .proto (safe integers, enum ranges). The store runs the same
 * checks again when it applies a command, so a bad command is rejected identically on every member.
 */
import { Errors } from './errors';
import { inSpan, KeySpan, keySpan, toByteString } from './keys';
import {
  Compare, CompareResult, CompareTarget, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, SortOrder,
  SortTarget, TxnRequest,
} from './types';

/** etcd's default `--max-txn-ops`. */
export const DEFAULT_MAX_TXN_OPS = 128;

/** `v` (absent = 0) as a safe integer, or INVALID_ARGUMENT naming the field. */
export function int(v: number | undefined, field: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw Errors.invalid(`${field} (${String(v)}) must be an integer within ±2^53`);
  return v;
}

function enumValue(v: number | undefined, values: object, field: string): number {
  const n = int(v, field);
  if (!(n in values)) throw Errors.invalid(`${field} (${n}) is not a known value`);
  return n;
}

function bytesField(v: Uint8Array | undefined, field: string): void {
  if (v !== undefined && v !== null && !(v instanceof Uint8Array)) throw Errors.invalid(`${field} must be bytes`);
}

/** etcd's checkRangeRequest plus field checks. */
export function checkRange(r: RangeRequest): void {
  bytesField(r.key, 'key');
  bytesField(r.range_end, 'range_end');
  if (!r.key || r.key.length === 0) throw Errors.emptyKey();
  for (const f of ['limit', 'revision', 'min_mod_revision', 'max_mod_revision', 'min_create_revision', 'max_create_revision'] as const) {
    int(r[f], f);
  }
  enumValue(r.sort_order, SortOrder, 'sort_order');
  enumValue(r.sort_target, SortTarget, 'sort_target');
}

/** etcd's checkPutRequest plus field checks. */
export function checkPut(r: PutRequest): void {
  bytesField(r.key, 'key');
  bytesField(r.value, 'value');
  if (!r.key || r.key.length === 0) throw Errors.emptyKey();
  const lease = int(r.lease, 'lease');
  if (lease < 0) throw Errors.invalid(`lease (${lease}) must not be negative`);
  if (r.ignore_value && r.value && r.value.length !== 0) throw Errors.valueProvided();
  if (r.ignore_lease && lease !== 0) throw Errors.leaseProvided();
}

/** etcd's checkDeleteRequest plus field checks. */
export function checkDeleteRange(r: DeleteRangeRequest): void {
  bytesField(r.key, 'key');
  bytesField(r.range_end, 'range_end');
  if (!r.key || r.key.length === 0) throw Errors.emptyKey();
}

function checkCompare(c: Compare): void {
  bytesField(c.key, 'compare.key');
  bytesField(c.range_end, 'compare.range_end');
  bytesField(c.value, 'compare.value');
  enumValue(c.result, CompareResult, 'compare.result');
  enumValue(c.target, CompareTarget, 'compare.target');
  for (const f of ['version', 'create_revision', 'mod_revision', 'lease'] as const) int(c[f], `compare.${f}`);
}

function checkOp(op: RequestOp, maxOps: number): void {
  if (op.request_range) checkRange(op.request_range);
  else if (op.request_put) checkPut(op.request_put);
  else if (op.request_delete_range) checkDeleteRange(op.request_delete_range);
  else if (op.request_txn) checkTxnOps(op.request_txn, maxOps);
  else throw Errors.keyNotFound(); // an empty RequestOp: etcd answers "key not found"
}

function checkTxnOps(r: TxnRequest, maxOps: number): void {
  const cmps = r.compare ?? [];
  const success = r.success ?? [];
  const failure = r.failure ?? [];
  if (cmps.length > maxOps || success.length > maxOps || failure.length > maxOps) throw Errors.tooManyOps();
  cmps.forEach(checkCompare);
  for (const op of success) checkOp(op, maxOps);
  for (const op of failure) checkOp(op, maxOps);
}

/** etcd's checkTxnRequest: op counts per level, every op, then no key written twice on one path. */
export function checkTxn(r: TxnRequest, maxOps = DEFAULT_MAX_TXN_OPS): void {
  checkTxnOps(r, maxOps);
  checkIntervals(r.success ?? []);
  checkIntervals(r.failure ?? []);
}

interface Writes { puts: Set<string>; dels: KeySpan[] }

const hits = (dels: KeySpan[], k: string): boolean => dels.some((d) => inSpan(d, k));

/**
 * etcd's checkIntervals: a put may not hit a key that another put or a delete-range of the same txn (nested
 * txns included) writes; puts in a nested txn's success and failure branches may share keys (one runs).
 */
function checkIntervals(reqs: RequestOp[]): Writes {
  const dels: KeySpan[] = [];
  for (const r of reqs) if (r.request_delete_range) dels.push(keySpan(r.request_delete_range.key, r.request_delete_range.range_end));
  const puts = new Set<string>();
  for (const r of reqs) {
    if (!r.request_txn) continue;
    const then = checkIntervals(r.request_txn.success ?? []);
    const otherwise = checkIntervals(r.request_txn.failure ?? []);
    for (const k of then.puts) {
      if (puts.has(k) || hits(dels, k)) throw Errors.duplicateKey();
      puts.add(k);
    }
    for (const k of otherwise.puts) {
      if ((puts.has(k) && !then.puts.has(k)) || hits(dels, k)) throw Errors.duplicateKey();
      puts.add(k);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const r of reqs) {
    if (!r.request_put) continue;
    const k = toByteString(r.request_put.key);
    if (puts.has(k) || hits(dels, k)) throw Errors.duplicateKey();
    puts.add(k);
  }
  return { puts, dels };
}

/** Whether a txn only reads (it then needs no log entry and bumps no revision), as etcd's isTxnReadonly. */
export function isTxnReadOnly(r: TxnRequest): boolean {
  const ops = [...(r.success ?? []), ...(r.failure ?? [])];
  return ops.every((op) => op.request_range !== undefined || (op.request_txn !== undefined && isTxnReadOnly(op.request_txn)));
}
