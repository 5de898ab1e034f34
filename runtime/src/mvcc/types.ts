/**
 * The request and response messages of the MVCC store, shaped 1:1 like etcd's `etcdserverpb` (rpc.proto) and
 * `mvccpb` (kv.proto) messages so the gRPC layer (proto-loader with `keepCase`) maps them field by field:
 * snake_case names as in the .proto, bytes as `Uint8Array` (responses hand out `Buffer`), int64 as `number`
 * (the store rejects values that are not safe integers), enums as the .proto's numbers.
 * Request fields are optional where proto3 has a zero default; response fields are always set.
 */

/** mvccpb.KeyValue. A DELETE event's `kv` carries only `key` and `mod_revision` (the other fields are 0), as in etcd. */
export interface KeyValue {
  key: Buffer;
  create_revision: number;
  mod_revision: number;
  /** Writes since the key's creation (1 after the first put); a delete ends the generation. */
  version: number;
  value: Buffer;
  /** The attached lease's ID, 0 for none. */
  lease: number;
}

/** mvccpb.Event.EventType. */
export enum EventType {
  PUT = 0,
  DELETE = 1,
}

/** mvccpb.Event. `prev_kv` is the key's value before the event, when it is still in the store's history. */
export interface Event {
  type: EventType;
  kv: KeyValue;
  prev_kv?: KeyValue;
}

/** etcdserverpb.ResponseHeader. The store sets `revision`; the API layer fills the member's identity and term. */
export interface ResponseHeader {
  cluster_id?: number | string;
  member_id?: number | string;
  revision: number;
  raft_term?: number | string;
}

/** RangeRequest.SortOrder. */
export enum SortOrder {
  NONE = 0,
  ASCEND = 1,
  DESCEND = 2,
}

/** RangeRequest.SortTarget. */
export enum SortTarget {
  KEY = 0,
  VERSION = 1,
  CREATE = 2,
  MOD = 3,
  VALUE = 4,
}

/**
 * etcdserverpb.RangeRequest. `range_end`: empty = the single `key`; `"\0"` = every key >= `key`; otherwise
 * `[key, range_end)` in byte order ({@link prefixEnd} gives the end of a prefix).
 */
export interface RangeRequest {
  key: Uint8Array;
  range_end?: Uint8Array;
  /** 0 = no limit. */
  limit?: number;
  /** <= 0 = the current revision. */
  revision?: number;
  sort_order?: SortOrder;
  sort_target?: SortTarget;
  /** Served by the API layer (read from local state without ReadIndex); the store ignores it. */
  serializable?: boolean;
  keys_only?: boolean;
  count_only?: boolean;
  min_mod_revision?: number;
  max_mod_revision?: number;
  min_create_revision?: number;
  max_create_revision?: number;
}

/** etcdserverpb.RangeResponse. `count` is the number of keys in the range before the revision filters, as in etcd. */
export interface RangeResponse {
  header: ResponseHeader;
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

/** etcdserverpb.PutRequest. */
export interface PutRequest {
  key: Uint8Array;
  value?: Uint8Array;
  /** 0 = no lease (and detaches a lease the key had). */
  lease?: number;
  prev_kv?: boolean;
  /** Keep the key's current value; the key must exist. */
  ignore_value?: boolean;
  /** Keep the key's current lease; the key must exist. */
  ignore_lease?: boolean;
}

/** etcdserverpb.PutResponse. */
export interface PutResponse {
  header: ResponseHeader;
  prev_kv?: KeyValue;
}

/** etcdserverpb.DeleteRangeRequest (`range_end` as in {@link RangeRequest}). */
export interface DeleteRangeRequest {
  key: Uint8Array;
  range_end?: Uint8Array;
  prev_kv?: boolean;
}

/** etcdserverpb.DeleteRangeResponse. */
export interface DeleteRangeResponse {
  header: ResponseHeader;
  deleted: number;
  prev_kvs: KeyValue[];
}

/** Compare.CompareResult. */
export enum CompareResult {
  EQUAL = 0,
  GREATER = 1,
  LESS = 2,
  NOT_EQUAL = 3,
}

/** Compare.CompareTarget. */
export enum CompareTarget {
  VERSION = 0,
  CREATE = 1,
  MOD = 2,
  VALUE = 3,
  LEASE = 4,
}

/**
 * etcdserverpb.Compare. `target` selects which member of the `target_union` oneof is read (an unset one counts as
 * 0 / empty, as in etcd). With `range_end`, every key of the range must satisfy the comparison; an empty range
 * compares a zero KeyValue (and always fails on VALUE).
 */
export interface Compare {
  result?: CompareResult;
  target?: CompareTarget;
  key: Uint8Array;
  version?: number;
  create_revision?: number;
  mod_revision?: number;
  value?: Uint8Array;
  lease?: number;
  range_end?: Uint8Array;
}

/** etcdserverpb.RequestOp: exactly one member is set (the `request` oneof). */
export interface RequestOp {
  request_range?: RangeRequest;
  request_put?: PutRequest;
  request_delete_range?: DeleteRangeRequest;
  request_txn?: TxnRequest;
}

/** etcdserverpb.ResponseOp: the member matching the request's is set. */
export interface ResponseOp {
  response_range?: RangeResponse;
  response_put?: PutResponse;
  response_delete_range?: DeleteRangeResponse;
  response_txn?: TxnResponse;
}

/** etcdserverpb.TxnRequest. */
export interface TxnRequest {
  compare?: Compare[];
  success?: RequestOp[];
  failure?: RequestOp[];
}

/** etcdserverpb.TxnResponse. `header.revision` is the txn's revision (unchanged when it wrote nothing). */
export interface TxnResponse {
  header: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}

/** etcdserverpb.CompactionRequest. `physical` is accepted; compaction is always physical once applied. */
export interface CompactionRequest {
  revision: number;
  physical?: boolean;
}

/** etcdserverpb.CompactionResponse. */
export interface CompactionResponse {
  header: ResponseHeader;
}

/** etcdserverpb.LeaseGrantRequest. `ID` 0 = the store picks one (deterministically). */
export interface LeaseGrantRequest {
  TTL: number;
  ID?: number;
}

/** etcdserverpb.LeaseGrantResponse. */
export interface LeaseGrantResponse {
  header: ResponseHeader;
  ID: number;
  TTL: number;
  error: string;
}

/** etcdserverpb.LeaseRevokeRequest. */
export interface LeaseRevokeRequest {
  ID: number;
}

/** etcdserverpb.LeaseRevokeResponse. */
export interface LeaseRevokeResponse {
  header: ResponseHeader;
}

/** etcdserverpb.LeaseCheckpoint: the remaining TTL (seconds) the leader saw, so a new leader resumes from it. */
export interface LeaseCheckpoint {
  ID: number;
  remaining_TTL: number;
}

/** etcdserverpb.LeaseCheckpointRequest. */
export interface LeaseCheckpointRequest {
  checkpoints: LeaseCheckpoint[];
}

/** etcdserverpb.LeaseCheckpointResponse. */
export interface LeaseCheckpointResponse {
  header: ResponseHeader;
}

/** etcdserverpb.LeaseTimeToLiveRequest. */
export interface LeaseTimeToLiveRequest {
  ID: number;
  keys?: boolean;
}

/** etcdserverpb.LeaseTimeToLiveResponse (`TTL` -1 for an unknown or expired lease, as in etcd). */
export interface LeaseTimeToLiveResponse {
  header: ResponseHeader;
  ID: number;
  TTL: number;
  grantedTTL: number;
  keys: Buffer[];
}

/** etcdserverpb.LeaseStatus. */
export interface LeaseStatus {
  ID: number;
}

/** etcdserverpb.LeaseLeasesResponse. */
export interface LeaseLeasesResponse {
  header: ResponseHeader;
  leases: LeaseStatus[];
}

/** WatchCreateRequest.FilterType. */
export enum WatchFilterType {
  NOPUT = 0,
  NODELETE = 1,
}

/** etcdserverpb.WatchCreateRequest (the fields the store's {@link WatchHub} uses; `fragment` is the stream's). */
export interface WatchCreateRequest {
  key: Uint8Array;
  range_end?: Uint8Array;
  /** <= 0 = from the next revision ("now"). */
  start_revision?: number;
  progress_notify?: boolean;
  filters?: WatchFilterType[];
  prev_kv?: boolean;
  watch_id?: number;
  fragment?: boolean;
}
