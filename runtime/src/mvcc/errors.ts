/**
 * The errors the MVCC store answers with: etcd's gRPC status code and etcd's exact message
 * (etcdserver/api/v3rpc/rpctypes/error.go), so clients that match on either behave as against etcd.
 */

/** gRPC status codes (grpc/codes), the numbers on the wire. */
export enum GrpcCode {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

/** A request the store rejected; nothing of it was applied. `code` is the gRPC status etcd answers with. */
export class MvccError extends Error {
  constructor(readonly code: GrpcCode, message: string) {
    super(message);
    this.name = 'MvccError';
  }
}

const err = (code: GrpcCode, message: string) => (): MvccError => new MvccError(code, message);

/** The store's errors, one factory per etcd error (a fresh instance each time: stacks stay meaningful). */
export const Errors = {
  emptyKey: err(GrpcCode.INVALID_ARGUMENT, 'etcdserver: key is not provided'),
  keyNotFound: err(GrpcCode.INVALID_ARGUMENT, 'etcdserver: key not found'),
  valueProvided: err(GrpcCode.INVALID_ARGUMENT, 'etcdserver: value is provided'),
  leaseProvided: err(GrpcCode.INVALID_ARGUMENT, 'etcdserver: lease is provided'),
  tooManyOps: err(GrpcCode.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'),
  duplicateKey: err(GrpcCode.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request'),
  compacted: err(GrpcCode.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'),
  futureRev: err(GrpcCode.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'),
  leaseNotFound: err(GrpcCode.NOT_FOUND, 'etcdserver: requested lease not found'),
  leaseExists: err(GrpcCode.FAILED_PRECONDITION, 'etcdserver: lease already exists'),
  leaseTtlTooLarge: err(GrpcCode.OUT_OF_RANGE, 'etcdserver: too large lease TTL'),
  requestTooLarge: err(GrpcCode.INVALID_ARGUMENT, 'etcdserver: request is too large'),
  /** A field that is not what the .proto allows (a non-integer revision, an unknown enum value). */
  invalid: (what: string): MvccError => new MvccError(GrpcCode.INVALID_ARGUMENT, `etcdserver: invalid request: ${what}`),
  /** A log entry this member cannot decode: rejected identically on every member instead of crashing apply. */
  undecodable: (why: string): MvccError => new MvccError(GrpcCode.INTERNAL, `mvcc: undecodable command: ${why}`),
};
