/**
 * The unary etcd v3 RPCs, shared by gRPC and the JSON gateway: requests and responses in the store's form
 * (codec.ts converts). Writes go through Raft on the leader (a follower forwards them); linearizable reads
 * pass the ReadIndex barrier, serializable ones read local state. Every failure is an MvccError.
 */
import { createHash } from 'crypto';
import { asCaller } from './auth';
import { EtcdErrors, toMvccError } from './errors';
import { Forwarder } from './forwarder';
import {
  checkDeleteRange, checkPut, checkRange, checkTxn, CompactionRequest, DeleteRangeRequest, GrpcCode, isTxnReadOnly,
  LeaseGrantRequest, LeaseRevokeRequest, LeaseTimeToLiveRequest, MvccError, PutRequest, RangeRequest, RequestOp,
  TxnRequest,
} from '../../mvcc';
import { EtcdBackend } from '../../server/backend';
import { MvccWrite } from '../../server/mvcc-host';

/** The etcd version this API is compatible with (what /version and Status report). */
export const ETCD_API_VERSION = '3.4.0';

type Obj = Record<string, unknown>;
type Header = { cluster_id: string; member_id: string; revision: number; raft_term: string };

/** See the file comment. */
export class EtcdService {
  constructor(readonly backend: EtcdBackend, readonly forwarder: Forwarder) {}

  /** The ResponseHeader for this member at `revision` (the store's current one by default). */
  header(revision = this.backend.mvcc.store.revision): Header {
    return { ...this.backend.header(), revision };
  }

  // ---- KV ----

  async range(r: RangeRequest): Promise<Obj> {
    checkRange(r);
    if (!r.serializable) await this.barrier();
    // Large ranges run in bounded steps over a copy-on-write view, yielding between them, so concurrent
    // listings of a big store cannot starve the Raft loop (heartbeats, elections).
    const steps = this.backend.mvcc.store.rangeSteps(r);
    for (;;) {
      const step = steps.next();
      if (step.done) return this.withHeader(step.value);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  put(r: PutRequest): Promise<Obj> {
    checkPut(r);
    return this.write({ op: 'put', request: r }, 'KV', 'Put', r);
  }

  deleteRange(r: DeleteRangeRequest): Promise<Obj> {
    checkDeleteRange(r);
    return this.write({ op: 'delete_range', request: r }, 'KV', 'DeleteRange', r);
  }

  async txn(r: TxnRequest): Promise<Obj> {
    checkTxn(r);
    if (!isTxnReadOnly(r)) return this.write({ op: 'txn', request: r }, 'KV', 'Txn', r);
    // A read-only txn changes nothing: serve it like a range (etcd does the same).
    if (!allSerializable(r)) await this.barrier();
    return this.withHeader(this.backend.mvcc.store.txn(r));
  }

  compact(r: CompactionRequest): Promise<Obj> {
    return this.write({ op: 'compaction', request: r }, 'KV', 'Compact', r);
  }

  // ---- Lease (the keep-alive stream is in lease-stream.ts) ----

  leaseGrant(r: LeaseGrantRequest): Promise<Obj> {
    return this.write({ op: 'lease_grant', request: r }, 'Lease', 'LeaseGrant', r);
  }

  leaseRevoke(r: LeaseRevokeRequest): Promise<Obj> {
    return this.write({ op: 'lease_revoke', request: r }, 'Lease', 'LeaseRevoke', r);
  }

  /** Answered by the leader, whose clock knows the remaining TTL. */
  async leaseTimeToLive(r: LeaseTimeToLiveRequest): Promise<Obj> {
    if (!this.backend.isLeader()) return this.forward('Lease', 'LeaseTimeToLive', r);
    const resp = this.backend.mvcc.store.leaseTimeToLive(r);
    // Whole seconds rounded up, as etcd reports them (a lease granted 30 s ago for 30 s has 1 s, not 0, until it expires).
    const ms = this.backend.mvcc.leaseClock.remainingMs(resp.ID, Date.now());
    if (resp.TTL !== -1 && ms !== undefined) resp.TTL = Math.max(0, Math.ceil(ms / 1000));
    return this.withHeader(resp);
  }

  async leaseLeases(): Promise<Obj> {
    await this.barrier();
    return this.withHeader(this.backend.mvcc.store.leaseLeases());
  }

  // ---- Cluster ----

  /** Followers do not learn each other's client URLs (peers talk to the leader only): ask the leader then. */
  async memberList(): Promise<Obj> {
    const members = this.backend.members();
    if (!this.backend.isLeader() && members.some((m) => m.clientUrls.length === 0) && this.backend.leaderClientUrl()) {
      try { return await this.forwarder.unary<Obj>('Cluster', 'MemberList', {}); } catch { /* answer with what we know */ }
    }
    return {
      header: this.header(),
      members: members.map((m) => ({
        ID: String(m.id), name: m.name, peerURLs: m.peerUrls, clientURLs: m.clientUrls, isLearner: false,
      })),
    };
  }

  memberChange(method: string): never {
    throw new MvccError(GrpcCode.UNIMPLEMENTED, `etcdserver: ${method} is not supported yet: membership is fixed by --initial-cluster`);
  }

  // ---- Maintenance ----

  status(): Obj {
    const p = this.backend.raftProgress();
    return {
      header: this.header(),
      version: ETCD_API_VERSION,
      dbSize: 0,
      leader: String(p.leader),
      raftIndex: String(p.commit),
      raftTerm: String(p.term),
      raftAppliedIndex: String(p.applied),
      errors: [],
      dbSizeInUse: 0,
      isLearner: false,
    };
  }

  /** Alarm GET (and DEACTIVATE, a no-op): this runtime raises no alarms (no space quota). */
  alarm(r: { action?: number }): Obj {
    if ((r.action ?? 0) === 1) throw EtcdErrors.unimplemented('activating an alarm');
    return { header: this.header(), alarms: [] };
  }

  /** Defragment: the store lives in memory and the log is compacted by snapshots, so there is nothing to reclaim. */
  defragment(): Obj {
    return { header: this.header() };
  }

  /**
   * HashKV (and Hash): a 32-bit digest of every live key at `revision` (key, value, create/mod revision, version,
   * lease), from this member's applied state, so `etcdctl endpoint hashkv` can compare members. etcd hashes its
   * backend's history instead: compare our members with each other, not with etcd.
   */
  async hashKV(r: { revision?: number }): Promise<Obj> {
    const store = this.backend.mvcc.store;
    const steps = store.rangeSteps({ key: Buffer.from([0]), range_end: Buffer.from([0]), revision: r.revision ?? 0 });
    let step = steps.next();
    while (!step.done) {
      await new Promise((resolve) => setImmediate(resolve));
      step = steps.next();
    }
    const h = createHash('sha256');
    for (const kv of step.value.kvs) {
      h.update(`${kv.key.length}:${kv.value.length}:${kv.create_revision}:${kv.mod_revision}:${kv.version}:${kv.lease}:`);
      h.update(kv.key);
      h.update(kv.value);
    }
    return { header: this.header(), hash: h.digest().readUInt32BE(0), compact_revision: store.compactRevision };
  }

  /** MoveLeader, answered by the leader as etcd does (etcdctl move-leader sends it to the leader). */
  async moveLeader(r: { targetID?: number }): Promise<Obj> {
    const outcome = await this.backend.moveLeader(Number(r.targetID ?? 0));
    if (outcome === 'not_leader') throw new MvccError(GrpcCode.FAILED_PRECONDITION, 'etcdserver: not leader');
    if (outcome === 'not_voter') throw new MvccError(GrpcCode.FAILED_PRECONDITION, 'etcdserver: bad leader transferee');
    if (outcome === 'timeout') throw new MvccError(GrpcCode.UNAVAILABLE, 'etcdserver: request timed out, leader transfer took too long');
    return { header: this.header() };
  }

  // ---- internals ----

  private async write(cmd: MvccWrite, service: 'KV' | 'Lease', method: string, r: unknown): Promise<Obj> {
    if (!this.backend.isLeader()) return this.forward(service, method, r);
    let outcome;
    try {
      outcome = await this.backend.proposeMvcc(asCaller(this, cmd));
    } catch (e) {
      throw toMvccError(e);
    }
    if (!outcome.ok) throw outcome.error;
    return this.withHeader(outcome.response as Obj);
  }

  private async forward(service: 'KV' | 'Lease', method: string, r: unknown): Promise<Obj> {
    try {
      return await this.forwarder.unary<Obj>(service, method, r);
    } catch (e) {
      throw toMvccError(e);
    }
  }

  private async barrier(): Promise<void> {
    try {
      await this.backend.linearizableBarrier();
    } catch (e) {
      throw toMvccError(e);
    }
  }

  /** The store's response with this member's full header (the store sets only the revision). */
  private withHeader(resp: object): Obj {
    const r = resp as { header: { revision: number } };
    r.header = this.header(r.header.revision);
    return r as unknown as Obj;
  }
}

function allSerializable(r: TxnRequest): boolean {
  const ops: RequestOp[] = [...(r.success ?? []), ...(r.failure ?? [])];
  return ops.every((op) => (op.request_range ? !!op.request_range.serializable : op.request_txn ? allSerializable(op.request_txn) : true));
}
