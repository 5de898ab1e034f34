/**
 * The /v1 key-value API (api/http-v1.ts) served from the MVCC store, so both APIs share one replicated state:
 * each /v1 command becomes an MVCC command (a put, a delete, or a txn for the compare-and-swaps) and the
 * applied MVCC result becomes the /v1 result. The op numbers are kv/state-machine.ts's KvOp (a test checks).
 * Differences from the map-based KvStateMachine: listings are in UTF-8 byte order (etcd's) instead of UTF-16
 * order, which differ only for keys mixing U+E000-U+FFFF with characters beyond U+FFFF.
 */
import { MvccCommand } from './command';
import { ByteString, prefixEnd, toByteString, toBytes } from './keys';
import { ENTRY_OVERHEAD_BYTES } from './quota';
import { ApplyResult } from './state-machine';
import { MvccStore } from './store';
import { Compare, CompareResult, CompareTarget, DeleteRangeResponse, PutResponse, RequestOp, TxnRequest, TxnResponse } from './types';

/** kv/state-machine.ts's KvOp values. */
export const V1_OP = { PUT: 1, DELETE: 2, CAS: 3, CAS_DELETE: 4 } as const;

/** A /v1 command (structurally kv/state-machine.ts's KvCommand). */
export interface V1Command {
  readonly op: number;
  readonly requestId: number;
  readonly key: string;
  readonly value?: Uint8Array;
  readonly prev?: Uint8Array;
  readonly prevAbsent?: boolean;
}

/** A /v1 result (structurally KvResult, without the shard-map rejection the server adds). */
export interface V1Result {
  readonly succeeded: boolean;
  readonly existed: boolean;
  readonly current?: Uint8Array;
  readonly index: number;
  readonly undecodable?: string;
}

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

/** The MVCC command that performs a /v1 command. Throws on an unknown op (a bug: /v1 validates its input). */
export function v1ToMvcc(cmd: V1Command): MvccCommand {
  const key = utf8(cmd.key);
  const requestId = cmd.requestId;
  switch (cmd.op) {
    case V1_OP.PUT: return { op: 'put', requestId, request: { key, value: cmd.value ?? Buffer.alloc(0), prev_kv: true } };
    case V1_OP.DELETE: return { op: 'delete_range', requestId, request: { key } };
    case V1_OP.CAS: return { op: 'txn', requestId, request: swap(key, holds(key, cmd), { request_put: { key, value: cmd.value ?? Buffer.alloc(0), prev_kv: true } }) };
    case V1_OP.CAS_DELETE: return { op: 'txn', requestId, request: swap(key, holds(key, cmd), { request_delete_range: { key } }) };
    default: throw new Error(`v1: unknown op ${cmd.op}`);
  }
}

/**
 * What a /v1 command may add to the store, as {@link writeCost} counts its MVCC form (a put or a CAS's put; deletes
 * nothing), without building that form: the leader checks it for every /v1 write.
 */
export function v1WriteCost(cmd: Omit<V1Command, 'requestId'>): number {
  if (cmd.op !== V1_OP.PUT && cmd.op !== V1_OP.CAS) return 0;
  return Buffer.byteLength(cmd.key, 'utf8') + (cmd.value?.length ?? 0) + ENTRY_OVERHEAD_BYTES;
}

/** The compare a CAS needs: absent (create_revision 0), equal to `prev`, or never (neither given, as /v1 does). */
function holds(key: Buffer, cmd: V1Command): Compare {
  if (cmd.prevAbsent) return { key, target: CompareTarget.CREATE, result: CompareResult.EQUAL, create_revision: 0 };
  if (cmd.prev !== undefined) return { key, target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: cmd.prev };
  return { key, target: CompareTarget.CREATE, result: CompareResult.LESS, create_revision: 0 };
}

function swap(key: Buffer, compare: Compare, write: RequestOp): TxnRequest {
  return { compare: [compare], success: [write], failure: [{ request_range: { key } }] };
}

/** The /v1 result of an applied /v1 command. */
export function v1Result(cmd: V1Command, applied: ApplyResult): V1Result {
  const index = applied.index;
  if (applied.error) return { succeeded: false, existed: false, index, undecodable: applied.error.message };
  switch (cmd.op) {
    case V1_OP.PUT: return { succeeded: true, existed: (applied.response as PutResponse).prev_kv !== undefined, index };
    case V1_OP.DELETE: return { succeeded: true, existed: (applied.response as DeleteRangeResponse).deleted > 0, index };
    default: {
      const txn = applied.response as TxnResponse;
      if (txn.succeeded) {
        const op = txn.responses[0];
        return { succeeded: true, existed: op.response_put ? op.response_put.prev_kv !== undefined : true, index };
      }
      const found = txn.responses[0].response_range!.kvs[0];
      return found ? { succeeded: false, existed: true, current: found.value, index } : { succeeded: false, existed: false, index };
    }
  }
}

/** GET /v1/kv/{key}: the value, or undefined when absent. */
export function v1Get(store: MvccStore, key: string): Uint8Array | undefined {
  // An ASCII key is its own byte string (keys.ts); others are encoded first.
  const value = store.valueOf(ASCII.test(key) ? key : toByteString(utf8(key)));
  return value === undefined ? undefined : toBytes(value);
}

const ASCII = /^[\x00-\x7f]*$/;

/**
 * GET /v1/kv?prefix=: keys with `prefix` after `after` that `filter` accepts, in key order, at most `limit`.
 * Reads through {@link MvccStore.liveEntries}: it stops at the limit instead of sorting every key.
 */
export function v1List(store: MvccStore, prefix: string, limit: number, after?: string, filter?: (key: string) => boolean):
{ items: { key: string; value: Uint8Array }[]; more: boolean } {
  const start: ByteString = after !== undefined && after >= prefix ? toByteString(utf8(after)) + '\0' : toByteString(utf8(prefix));
  const endBytes = prefixEnd(utf8(prefix));
  const end = endBytes.length === 1 && endBytes[0] === 0 ? null : toByteString(endBytes);
  const items: { key: string; value: Uint8Array }[] = [];
  for (const [k, v] of store.liveEntries(start, end)) {
    const key = toBytes(k).toString('utf8');
    if (filter && !filter(key)) continue;
    if (items.length === limit) return { items, more: true };
    items.push({ key, value: toBytes(v) });
  }
  return { items, more: false };
}
