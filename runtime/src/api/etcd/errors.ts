/**
 * The etcd API's error vocabulary: every failure leaves as an {@link MvccError} (gRPC code + etcd's message),
 * and the gateway maps the code to the HTTP status grpc-gateway uses.
 */
import { KvError, NotLeaderError, OutcomeUnknownError } from '../../errors';
import { Errors, GrpcCode, MvccError } from '../../mvcc';

/** etcd's messages for the member's own failures (rpctypes/error.go). */
export const EtcdErrors = {
  noLeader: (): MvccError => new MvccError(GrpcCode.UNAVAILABLE, 'etcdserver: no leader'),
  timeout: (): MvccError => new MvccError(GrpcCode.UNAVAILABLE, 'etcdserver: request timed out'),
  leaderChanged: (): MvccError => new MvccError(GrpcCode.UNAVAILABLE, 'etcdserver: leader changed'),
  stopped: (): MvccError => new MvccError(GrpcCode.UNAVAILABLE, 'etcdserver: server stopped'),
  unimplemented: (what: string): MvccError => new MvccError(GrpcCode.UNIMPLEMENTED, `etcdserver: ${what} is not supported by this runtime`),
};

/** Any error -> an MvccError a client can act on (never leaks a stack). */
export function toMvccError(e: unknown): MvccError {
  if (e instanceof MvccError) return e;
  if (e instanceof NotLeaderError) return EtcdErrors.noLeader();
  if (e instanceof OutcomeUnknownError) {
    if (e.code === 'leadership_lost') return EtcdErrors.leaderChanged();
    if (e.code === 'stopping') return EtcdErrors.stopped();
    if (e.code === 'timeout') return EtcdErrors.timeout();
    return new MvccError(GrpcCode.UNAVAILABLE, `etcdserver: ${e.message}`);
  }
  if (e instanceof KvError) {
    if (e.code === 'quota_exceeded') return Errors.noSpace();
    if (e.code === 'timeout') return EtcdErrors.timeout();
    if (e.code === 'stopping') return EtcdErrors.stopped();
    return new MvccError(e.retryable || e.status === 503 ? GrpcCode.UNAVAILABLE : GrpcCode.INTERNAL, `etcdserver: ${e.message}`);
  }
  const grpc = e as { code?: unknown; details?: unknown };
  // An error from the leader we forwarded to: keep its code and message.
  if (typeof grpc?.code === 'number' && typeof grpc.details === 'string') return new MvccError(grpc.code, grpc.details);
  return new MvccError(GrpcCode.INTERNAL, `etcdserver: internal error: ${(e as Error)?.message ?? String(e)}`);
}

const HTTP_STATUS: Partial<Record<GrpcCode, number>> = {
  [GrpcCode.CANCELLED]: 408,
  [GrpcCode.INVALID_ARGUMENT]: 400,
  [GrpcCode.DEADLINE_EXCEEDED]: 504,
  [GrpcCode.NOT_FOUND]: 404,
  [GrpcCode.ALREADY_EXISTS]: 409,
  [GrpcCode.PERMISSION_DENIED]: 403,
  [GrpcCode.UNAUTHENTICATED]: 401,
  [GrpcCode.RESOURCE_EXHAUSTED]: 429,
  [GrpcCode.FAILED_PRECONDITION]: 412,
  [GrpcCode.ABORTED]: 409,
  [GrpcCode.OUT_OF_RANGE]: 400,
  [GrpcCode.UNIMPLEMENTED]: 501,
  [GrpcCode.UNAVAILABLE]: 503,
};

/** grpc-gateway's HTTP status for a gRPC code. */
export function httpStatus(code: GrpcCode): number {
  return HTTP_STATUS[code] ?? 500;
}
