/**
 * The etcd v3 API's error vocabulary: a gRPC status code and etcd's exact message
 * (etcdserver/api/v3rpc/rpctypes/error.go), so clients that match on either behave as against etcd, and the
 * HTTP status and body etcd's JSON gateway answers with (checked against etcd 3.4's gateway).
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

/** The HTTP status etcd 3.4's JSON gateway (grpc-gateway v1) gives each code. */
const HTTP_STATUS: Record<GrpcCode, number> = {
  [GrpcCode.OK]: 200,
  [GrpcCode.CANCELLED]: 408,
  [GrpcCode.UNKNOWN]: 500,
  [GrpcCode.INVALID_ARGUMENT]: 400,
  [GrpcCode.DEADLINE_EXCEEDED]: 504,
  [GrpcCode.NOT_FOUND]: 404,
  [GrpcCode.ALREADY_EXISTS]: 409,
  [GrpcCode.PERMISSION_DENIED]: 403,
  [GrpcCode.RESOURCE_EXHAUSTED]: 429,
  [GrpcCode.FAILED_PRECONDITION]: 412,
  [GrpcCode.ABORTED]: 409,
  [GrpcCode.OUT_OF_RANGE]: 400,
  [GrpcCode.UNIMPLEMENTED]: 501,
  [GrpcCode.INTERNAL]: 500,
  [GrpcCode.UNAVAILABLE]: 503,
  [GrpcCode.DATA_LOSS]: 500,
  [GrpcCode.UNAUTHENTICATED]: 401,
};

/** An etcd API error. Thrown by the MVCC store for rejected requests (nothing of them was applied). */
export class EtcdError extends Error {
  constructor(readonly code: GrpcCode, message: string) {
    super(message);
    this.name = 'EtcdError';
  }

  /** The JSON gateway's HTTP status for this error. */
  get httpStatus(): number { return HTTP_STATUS[this.code] ?? 500; }

  /** The JSON gateway's error body: `{"error", "message", "code"}`. */
  gatewayBody(): { error: string; message: string; code: number } {
    return { error: this.message, message: this.message, code: this.code };
  }
}

const make = (code: GrpcCode, message: string) => (): EtcdError => new EtcdError(code, message);

/** etcd's errors, one factory each (a fresh instance per use, so stacks stay meaningful). */
export const EtcdErrors = {
  emptyKey: make(GrpcCode.INVALID_ARGUMENT, 'etcdserver: key is not provided'),
  keyNotFound: make(GrpcCode.INVALID_ARGUMENT, 'etcdserver: key not found'),
  valueProvided: make(GrpcCode.INVALID_ARGUMENT, 'etcdserver: value is provided'),
  leaseProvided: make(GrpcCode.INVALID_ARGUMENT, 'etcdserver: lease is provided'),
  tooManyOps: make(GrpcCode.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'),
  duplicateKey: make(GrpcCode.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request'),
  compacted: make(GrpcCode.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'),
  futureRev: make(GrpcCode.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'),
  noSpace: make(GrpcCode.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded'),
  leaseNotFound: make(GrpcCode.NOT_FOUND, 'etcdserver: requested lease not found'),
  leaseExists: make(GrpcCode.FAILED_PRECONDITION, 'etcdserver: lease already exists'),
  leaseTtlTooLarge: make(GrpcCode.OUT_OF_RANGE, 'etcdserver: too large lease TTL'),
  watchCanceled: make(GrpcCode.CANCELLED, 'etcdserver: watch canceled'),
  memberNotFound: make(GrpcCode.NOT_FOUND, 'etcdserver: member not found'),
  memberExist: make(GrpcCode.FAILED_PRECONDITION, 'etcdserver: member ID already exist'),
  peerURLExist: make(GrpcCode.FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists'),
  memberNotEnoughStarted: make(GrpcCode.FAILED_PRECONDITION, 'etcdserver: re-configuration failed due to not enough started members'),
  memberBadURLs: make(GrpcCode.INVALID_ARGUMENT, 'etcdserver: given member URLs are invalid'),
  memberNotLearner: make(GrpcCode.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member'),
  learnerNotReady: make(GrpcCode.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member which is in sync with leader'),
  requestTooLarge: make(GrpcCode.INVALID_ARGUMENT, 'etcdserver: request is too large'),
  tooManyRequests: make(GrpcCode.RESOURCE_EXHAUSTED, 'etcdserver: too many requests'),
  noLeader: make(GrpcCode.UNAVAILABLE, 'etcdserver: no leader'),
  notLeader: make(GrpcCode.FAILED_PRECONDITION, 'etcdserver: not leader'),
  leaderChanged: make(GrpcCode.UNAVAILABLE, 'etcdserver: leader changed'),
  stopped: make(GrpcCode.UNAVAILABLE, 'etcdserver: server stopped'),
  timeout: make(GrpcCode.UNAVAILABLE, 'etcdserver: request timed out'),
  timeoutDueToLeaderFail: make(GrpcCode.UNAVAILABLE, 'etcdserver: request timed out, possibly due to previous leader failure'),
  unhealthy: make(GrpcCode.UNAVAILABLE, 'etcdserver: unhealthy cluster'),
  corrupt: make(GrpcCode.DATA_LOSS, 'etcdserver: corrupt cluster'),
  /** A field that is not what the .proto allows (a non-integer revision, an unknown enum value). */
  invalid: (what: string): EtcdError => new EtcdError(GrpcCode.INVALID_ARGUMENT, `etcdserver: invalid request: ${what}`),
  // Auth (etcd's rpctypes messages and codes for the auth store's errors).
  rootUserNotExist: make(GrpcCode.FAILED_PRECONDITION, 'etcdserver: root user does not exist'),
  rootRoleNotExist: make(GrpcCode.FAILED_PRECONDITION, 'etcdserver: root user does not have root role'),
  userAlreadyExist: make(GrpcCode.FAILED_PRECONDITION, 'etcdserver: user name already exists'),
  userEmpty: make(GrpcCode.INVALID_ARGUMENT, 'etcdserver: user name is empty'),
  userNotFound: make(GrpcCode.FAILED_PRECONDITION, 'etcdserver: user name not found'),
  roleAlreadyExist: make(GrpcCode.FAILED_PRECONDITION, 'etcdserver: role name already exists'),
  roleNotFound: make(GrpcCode.FAILED_PRECONDITION, 'etcdserver: role name not found'),
  roleEmpty: make(GrpcCode.INVALID_ARGUMENT, 'etcdserver: role name is empty'),
  authFailed: make(GrpcCode.INVALID_ARGUMENT, 'etcdserver: authentication failed, invalid user ID or password'),
  permissionDenied: make(GrpcCode.PERMISSION_DENIED, 'etcdserver: permission denied'),
  roleNotGranted: make(GrpcCode.FAILED_PRECONDITION, 'etcdserver: role is not granted to the user'),
  permissionNotGranted: make(GrpcCode.FAILED_PRECONDITION, 'etcdserver: permission is not granted to the role'),
  authNotEnabled: make(GrpcCode.FAILED_PRECONDITION, 'etcdserver: authentication is not enabled'),
  invalidAuthToken: make(GrpcCode.UNAUTHENTICATED, 'etcdserver: invalid auth token'),
  invalidAuthMgmt: make(GrpcCode.INVALID_ARGUMENT, 'etcdserver: invalid auth management'),
  authOldRevision: make(GrpcCode.INVALID_ARGUMENT, 'etcdserver: revision of auth store is old'),
  /** Authenticate on a member given only the JWT public key (`--auth-token jwt` without priv-key), as etcd says it. */
  jwtVerifyOnly: make(GrpcCode.UNKNOWN, 'auth: token signing attempted with verify-only key'),
  /** A log entry this member cannot decode: rejected identically on every member instead of crashing apply. */
  undecodable: (why: string): EtcdError => new EtcdError(GrpcCode.INTERNAL, `mvcc: undecodable command: ${why}`),
};
