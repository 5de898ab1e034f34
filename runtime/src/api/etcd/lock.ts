/**
 * etcd's Lock service (v3lockpb), as etcd 3.4 serves it (etcdserver/api/v3lock): the member runs clientv3's
 * concurrency.Mutex for the caller (concurrency.ts). The lock key is `<name>/<lease in hex>` on the caller's lease (a
 * lease of 0 gets a new 60 s session lease); the oldest key under `<name>/` holds the lock, and a waiter watches for
 * the deletion of the newest key created before its own. A waiter whose call is cancelled (the client went away or
 * its deadline passed) deletes its key, so it never holds the lock for nobody.
 */
import { authorize } from './auth';
import { asEtcdServerError, checkedTxn, Header, keyOf, Kv, Obj, oldestUnder, prefixOf, sessionLease, waitForOlderKeys } from './concurrency';
import type { EtcdService } from './service';
import { SortOrder, TxnRequest } from '../../mvcc';

/** Lock: resolves once the caller holds `name`, with the header and the key that proves it (pass it to Unlock). */
export async function lock(svc: EtcdService, r: { name?: Buffer; lease?: number }, token: string | undefined, signal?: AbortSignal): Promise<Obj> {
  const lease = await sessionLease(svc, r.lease);
  const prefix = prefixOf(r.name);
  const key = keyOf(prefix, lease);
  const first = await queue(svc, prefix, key, lease, token).catch((e: unknown) => { throw asEtcdServerError(e); });
  if (first.holds) return { header: first.header, key };
  try {
    return { header: await waitForOlderKeys(svc, prefix, first.myRevision - 1, token, signal), key };
  } catch (e) {
    // Release the key if the wait failed (concurrency.Mutex does the same).
    await svc.deleteRange({ key }).catch(() => undefined);
    throw e;
  }
}

/** Unlock: deletes the key Lock returned. */
export async function unlock(svc: EtcdService, r: { key?: Buffer }, token: string | undefined): Promise<Obj> {
  const req = { key: r.key ?? Buffer.alloc(0) };
  await authorize(svc, 'KV', 'DeleteRange', req, token);
  const resp = await svc.deleteRange(req);
  return { header: resp.header };
}

interface Queued { holds: boolean; header: Header; myRevision: number }

/** One txn: create the key unless it exists (this lease queued already), and read who holds the lock. */
async function queue(svc: EtcdService, prefix: Buffer, key: Buffer, lease: number, token: string | undefined): Promise<Queued> {
  const owner = { request_range: oldestUnder(prefix, SortOrder.ASCEND) };
  const txn: TxnRequest = {
    compare: [{ result: 0 /* EQUAL */, target: 1 /* CREATE */, key, create_revision: 0 }],
    success: [{ request_put: { key, value: Buffer.alloc(0), lease } }, owner],
    failure: [{ request_range: { key } }, owner],
  };
  const resp = await checkedTxn(svc, txn, token);
  const header = resp.header as Header;
  const results = resp.responses as Array<{ response_range?: { kvs: Kv[] } }>;
  const myRevision = resp.succeeded ? header.revision : results[0].response_range!.kvs[0].create_revision;
  const holder = results[1].response_range!.kvs[0];
  return { holds: holder === undefined || holder.create_revision === myRevision, header, myRevision };
}
