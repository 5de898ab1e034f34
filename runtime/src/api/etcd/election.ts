/**
 * etcd's Election service (v3electionpb), as etcd 3.4 serves it (etcdserver/api/v3election): the member runs
 * clientv3's concurrency.Election for the caller (concurrency.ts). A candidate's key is `<name>/<lease in hex>` holding
 * its value; the oldest key under `<name>/` is the leader. Campaign waits until the caller leads; Proclaim changes the
 * leader's value and Resign gives leadership up, both only while the LeaderKey's key still has its creation revision;
 * Leader reads the current leader and Observe streams it, then every change of its value, then the next leader.
 */
import {
  asEtcdServerError, checkedRange, checkedTxn, Header, keyOf, Kv, Obj, oldestUnder, prefixOf, sessionLease, waitForOlderKeys, watchUntil,
} from './concurrency';
import type { EtcdService } from './service';
import { EventType, GrpcCode, MvccError, prefixEnd, SortOrder } from '../../mvcc';

/** The LeaderKey a Campaign returns and Proclaim and Resign take. */
interface LeaderKey { name?: Buffer; key?: Buffer; rev?: number; lease?: number }

const notLeader = (): MvccError => new MvccError(GrpcCode.UNKNOWN, 'election: not leader');
const noLeader = (): MvccError => new MvccError(GrpcCode.UNKNOWN, 'election: no leader');
const missingLeaderKey = (): MvccError => new MvccError(GrpcCode.UNKNOWN, '"leader" field must be provided');

/** Campaign: resolves once the caller leads `name`, with its LeaderKey. A cancelled campaign resigns. */
export async function campaign(svc: EtcdService, r: { name?: Buffer; lease?: number; value?: Buffer }, token: string | undefined,
  signal?: AbortSignal): Promise<Obj> {
  const lease = await sessionLease(svc, r.lease);
  const prefix = prefixOf(r.name);
  const key = keyOf(prefix, lease);
  const value = r.value ?? Buffer.alloc(0);
  const resp = await checkedTxn(svc, {
    compare: [{ result: 0 /* EQUAL */, target: 1 /* CREATE */, key, create_revision: 0 }],
    success: [{ request_put: { key, value, lease } }],
    failure: [{ request_range: { key } }],
  }, token).catch((e: unknown) => { throw asEtcdServerError(e); });
  const header = resp.header as Header;
  const mine: LeaderKey = { name: r.name ?? Buffer.alloc(0), key, rev: header.revision, lease };
  if (!resp.succeeded) {
    // This lease campaigned before: keep its place, and its new value.
    const kv = (resp.responses as Array<{ response_range: { kvs: Kv[] } }>)[0].response_range.kvs[0];
    mine.rev = kv.create_revision;
    if (!kv.value.equals(value)) {
      await proclaim(svc, { leader: mine, value }, token).catch(async (e: unknown) => {
        await resign(svc, { leader: mine }, token).catch(() => undefined);
        throw e;
      });
    }
  }
  try {
    await waitForOlderKeys(svc, prefix, mine.rev! - 1, token, signal);
  } catch (e) {
    if (signal?.aborted) await resign(svc, { leader: mine }, token).catch(() => undefined);
    throw e;
  }
  return { header, leader: mine };
}

/** Proclaim: the leader's new value; "election: not leader" once its key is gone or was recreated. */
export async function proclaim(svc: EtcdService, r: { leader?: LeaderKey; value?: Buffer }, token: string | undefined): Promise<Obj> {
  const held = r.leader ?? raise(missingLeaderKey());
  const key = held.key ?? Buffer.alloc(0);
  const resp = await checkedTxn(svc, {
    compare: [{ result: 0 /* EQUAL */, target: 1 /* CREATE */, key, create_revision: held.rev ?? 0 }],
    success: [{ request_put: { key, value: r.value ?? Buffer.alloc(0), lease: held.lease ?? 0 } }],
    failure: [],
  }, token).catch((e: unknown) => { throw asEtcdServerError(e); });
  if (!resp.succeeded) throw notLeader();
  return { header: resp.header };
}

/** Resign: deletes the leader's key if it is still that LeaderKey's (and answers OK either way, as etcd). */
export async function resign(svc: EtcdService, r: { leader?: LeaderKey }, token: string | undefined): Promise<Obj> {
  const held = r.leader ?? raise(missingLeaderKey());
  const key = held.key ?? Buffer.alloc(0);
  const resp = await checkedTxn(svc, {
    compare: [{ result: 0 /* EQUAL */, target: 1 /* CREATE */, key, create_revision: held.rev ?? 0 }],
    success: [{ request_delete_range: { key } }],
    failure: [],
  }, token);
  return { header: resp.header };
}

/** Leader: the current leader's key-value; "election: no leader" when nobody campaigns. */
export async function leader(svc: EtcdService, r: { name?: Buffer }, token: string | undefined): Promise<Obj> {
  const resp = await checkedRange(svc, oldestUnder(prefixOf(r.name), SortOrder.ASCEND), token);
  const kvs = resp.kvs as Kv[];
  if (kvs.length === 0) throw noLeader();
  return { header: resp.header, kv: kvs[0] };
}

/**
 * Observe: sends the current leader (or waits for the first candidate), then every new value of the leader's key, and
 * when that key goes, the next leader; until `signal` aborts. etcd's Election.observe, on this member's watches.
 */
export async function observe(svc: EtcdService, r: { name?: Buffer }, token: string | undefined,
  send: (resp: Obj) => Promise<void>, signal: AbortSignal): Promise<void> {
  const prefix = prefixOf(r.name);
  while (!signal.aborted) {
    const resp = await checkedRange(svc, oldestUnder(prefix, SortOrder.ASCEND), token);
    let header = resp.header as Header;
    let kv = (resp.kvs as Kv[])[0];
    if (!kv) {
      // Nobody campaigns: the first key put under the prefix leads.
      kv = await watchUntil(svc, { key: prefix, range_end: prefixEnd(prefix), start_revision: header.revision }, signal,
        (events) => events.find((e) => e.type === EventType.PUT)?.kv as unknown as Kv | undefined);
      header = svc.header(kv.mod_revision);
    }
    await send({ header, kv });
    await followLeader(svc, kv, header.revision + 1, send, signal);
  }
}

/** Sends each new value of the leader's key until it is deleted. */
async function followLeader(svc: EtcdService, kv: Kv, from: number, send: (resp: Obj) => Promise<void>, signal: AbortSignal): Promise<void> {
  let next = from;
  for (;;) {
    const [events, revision] = await watchUntil(svc, { key: kv.key, start_revision: next }, signal, (evs, rev) => [evs, rev] as const);
    for (const e of events) {
      if (e.type === EventType.DELETE) return;
      await send({ header: svc.header(revision), kv: e.kv });
    }
    next = events[events.length - 1].kv.mod_revision + 1;
  }
}

function raise(e: Error): never {
  throw e;
}
