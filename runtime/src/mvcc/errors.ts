/**
 * The MVCC store's errors are the etcd API's (errors/etcd.ts: gRPC code, etcd's message, gateway status).
 * `MvccError` and `Errors` are the names this module's callers use for them.
 */
export { GrpcCode, EtcdError, EtcdError as MvccError, EtcdErrors, EtcdErrors as Errors } from '../errors/etcd';
