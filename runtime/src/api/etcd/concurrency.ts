/**
 * The parts of clientv3/concurrency that etcd's Lock and Election servers run for their callers (lock.ts,
 * election.ts): the caller's session lease, keys `<name>/<lease in hex>` ordered by creation, waiting for the keys
 * created before one's own to go, and watches on this member's applied state. Every KV step is checked against the
 * caller's permissions when etcd auth is on, as etcd's servers act with the caller's credentials.
 */
import { authorize } from './auth';
import type { EtcdService } from './service';
import {
  Errors, Event, EventType, GrpcCode, MvccError, prefixEnd, RangeRequest, SortOrder, SortTarget, TxnRequest, WatchCreateRequest,
} from '../../mvcc';

export type Obj = Record<string, unknown>;
export interface Kv { key: Buffer; value: Buffer; create_revision: number; mod_revision: number }
export interface Header { revision: number }

/** The TTL concurrency.NewSession grants when the caller names no lease (etcd's default session TTL). */
const SESSION_TTL_SECONDS = 60;

/** The caller's lease, or a new session lease when it names none (0). */
export async function sessionLease(svc: EtcdService, lease: number | undefined): Promise<number> {
  if (lease) return lease;
  return Number((await svc.leaseGrant({ TTL: SESSION_TTL_SECONDS, ID: 0 })).ID);
}

/** `<name>/`, under which each participant's key is `<name>/<lease in hex>`. */
export function prefixOf(name: Buffer | undefined): Buffer {
  return Buffer.concat([name ?? Buffer.alloc(0), Buffer.from('/')]);
}

export function keyOf(prefix: Buffer, lease: number): Buffer {
  return Buffer.concat([prefix, Buffer.from(lease.toString(16))]);
}

/**
 * etcd's lock and election servers reach their KV through an in-process client that drops the status code: a missing
 * lease, for one, arrives as UNKNOWN with the usual message. Answer as etcd does.
 */
export function asEtcdServerError(e: unknown): unknown {
  return e instanceof MvccError && e.code === GrpcCode.NOT_FOUND ? new MvccError(GrpcCode.UNKNOWN, e.message) : e;
}

export async function checkedTxn(svc: EtcdService, txn: TxnRequest, token: string | undefined): Promise<Obj> {
  await authorize(svc, 'KV', 'Txn', txn as unknown as Obj, token);
  return svc.txn(txn);
}

export async function checkedRange(svc: EtcdService, req: RangeRequest, token: string | undefined): Promise<Obj> {
  await authorize(svc, 'KV', 'Range', req as unknown as Obj, token);
  return svc.range(req);
}

/** The key under `prefix` created first (ASCEND) or last (DESCEND), at most at `maxCreateRevision`. */
export function oldestUnder(prefix: Buffer, order: SortOrder, maxCreateRevision?: number): RangeRequest {
  const range = { key: prefix, range_end: prefixEnd(prefix), limit: 1 };
  return { ...range, sort_order: order, sort_target: SortTarget.CREATE, max_create_revision: maxCreateRevision };
}

/** etcd's waitDeletes: until no key under `prefix` was created at or before `maxCreateRevision`. */
export async function waitForOlderKeys(svc: EtcdService, prefix: Buffer, maxCreateRevision: number, token: string | undefined,
  signal?: AbortSignal): Promise<Header> {
  for (;;) {
    const resp = await checkedRange(svc, oldestUnder(prefix, SortOrder.DESCEND, maxCreateRevision), token);
    const kvs = resp.kvs as Kv[];
    if (kvs.length === 0) return resp.header as Header;
    await watchUntil(svc, { key: kvs[0].key, start_revision: (resp.header as Header).revision }, signal,
      (events) => (events.some((e) => e.type === EventType.DELETE) ? true : undefined));
  }
}

/**
 * Watches `req` on this member until `done` returns something for a batch of events, and resolves with it. Rejects
 * with CANCELLED when `signal` aborts, and with etcd's compacted error when the watch cannot start that far back.
 */
export function watchUntil<T>(svc: EtcdService, req: WatchCreateRequest, signal: AbortSignal | undefined,
  done: (events: Event[], revision: number) => T | undefined): Promise<T> {
  const hub = svc.backend.mvcc.watchHub;
  const watcher = hub.create(req);
  return new Promise<T>((resolve, reject) => {
    const finish = (error: Error | undefined, value?: T): void => {
      hub.remove(watcher);
      signal?.removeEventListener('abort', aborted);
      if (error) reject(error); else resolve(value as T);
    };
    const aborted = (): void => finish(new MvccError(GrpcCode.CANCELLED, 'context canceled'));
    const check = (): void => {
      for (let batch = hub.poll(watcher); batch; batch = batch.more ? hub.poll(watcher) : undefined) {
        if (batch.canceled) return finish(Errors.compacted());
        const value = batch.events.length > 0 ? done(batch.events, batch.revision) : undefined;
        if (value !== undefined) return finish(undefined, value);
      }
    };
    if (signal?.aborted) return aborted();
    signal?.addEventListener('abort', aborted);
    watcher.onReady = check;
    check();
  });
}
