/**
 * The MVCC replicated state machine (issue 11): etcd's data model — revisions, ranges, txn, leases, watch
 * events — as a pure, deterministic store that Raft applies. The API layer (api/etcd/) maps etcd's gRPC and
 * JSON gateway messages 1:1 onto the types here.
 */
export * from './types';
export * from './errors';
export { prefixEnd, keySpan, KeySpan } from './keys';
export { MvccStore, MvccStoreOptions, StoreEvent, StoreView, toKeyValue, toEvent } from './store';
export { LeaseClock, LeaseTable, Lease, Renewal, MAX_LEASE_TTL } from './lease';
export { checkRange, checkPut, checkDeleteRange, checkTxn, isTxnReadOnly, DEFAULT_MAX_TXN_OPS } from './validate';
export { WatchHub, WatchHubOptions, Watcher, WatchBatch } from './watch';
export { MvccCommand, CheckedWrite, encodeCommand, decodeCommand, peekRequestId } from './command';
export { MvccStateMachine, ApplyResult, MvccResponse } from './state-machine';
export { snapshotChunks, snapshotBytes, authSnapshot, SnapshotRestorer } from './snapshot';
export {
  AuthStore, checkWritePermission, AuthInfo, AuthUser, AuthRequest, AuthCommand, AuthEffect, AuthResponse, Permission, PermType, ROOT_USER, ROOT_ROLE,
} from './auth-store';
export { DecodeError } from './codec';
export { AutoCompactor, AutoCompactionMode } from './auto-compaction';
export { ENTRY_OVERHEAD_BYTES, writeCost } from './quota';
export { V1_OP, V1Command, V1Result, v1ToMvcc, v1Result, v1Get, v1List, v1WriteCost } from './v1';
