/**
 * The store's size and a write's cost, for the space quota (etcd's --quota-backend-bytes). The store is in memory, so
 * its size counts what holds memory: every retained entry (the newest state of each key and its history since the
 * last compaction, tombstones included) as its key and value bytes plus a fixed overhead for the record, its index
 * slot and its revision (calibrated against the heap in docs/benchmarks.md), and each lease. Deterministic: every member computes the
 * same size from the same log.
 */
import type { MvccCommand } from './command';
import type { ByteString } from './keys';
import { KeyRecord, SLOTS } from './record';
import type { RequestOp, TxnRequest } from './types';

/** A command with or without its request id. */
type Write = MvccCommand extends infer C ? C extends { requestId: number } ? Omit<C, 'requestId'> : never : never;

/** Heap bytes one entry takes besides its key and value (V8 strings, the record or packed slots, the B+ tree slot). */
export const ENTRY_OVERHEAD_BYTES = 150;

/** Heap bytes one lease takes: its record, its empty set of keys and its slot in the table (243 measured). */
export const LEASE_BYTES = 250;

/** One entry: its key, its value (none for a tombstone) and the overhead. */
export function entryBytes(key: ByteString, value: ByteString | null | undefined): number {
  return key.length + (value?.length ?? 0) + ENTRY_OVERHEAD_BYTES;
}

/** Every entry of one key's record. */
export function recordBytes(key: ByteString, rec: KeyRecord): number {
  let bytes = entryBytes(key, rec.value);
  for (let i = 0; i < rec.oldLen; i += SLOTS) bytes += entryBytes(key, rec.old![i + SLOTS - 1] as ByteString | null);
  return bytes;
}

/**
 * What a write may add to the store: its puts' keys and values (both branches of a txn, as either may run), an
 * overhead for a lease grant; 0 for writes that only delete, compact or change auth, which the quota never refuses
 * (they are how an operator gets back under it).
 */
export function writeCost(cmd: Write): number {
  switch (cmd.op) {
    case 'put': return (cmd.request.key?.length ?? 0) + (cmd.request.value?.length ?? 0) + ENTRY_OVERHEAD_BYTES;
    case 'txn': return txnCost(cmd.request);
    case 'lease_grant': return LEASE_BYTES;
    case 'checked': return writeCost(cmd.request.inner);
    default: return 0;
  }
}

function txnCost(t: TxnRequest): number {
  return opsCost(t.success) + opsCost(t.failure);
}

function opsCost(ops: readonly RequestOp[] | undefined): number {
  let cost = 0;
  for (const op of ops ?? []) {
    if (op.request_put) cost += writeCost({ op: 'put', request: op.request_put });
    else if (op.request_txn) cost += txnCost(op.request_txn);
  }
  return cost;
}
