/**
 * The unary etcd v3 RPCs, shared by gRPC and the JSON gateway: requests and responses in the store's form
 * (codec.ts converts). Writes go through Raft on the leader (a follower forwards them); linearizable reads
 * pass the ReadIndex barrier, serializable ones read local state. Every failure is an MvccError.
 */
import { createHash } from 'crypto';
import { asCaller } from './auth';
import { EtcdErrors, toMvccError } from './errors';
import { Forwarder } from './forwarder';
import { peerUrlOf, toEtcdMember, toEtcdMemberError } from './members';
import { NotLeaderError } from '../../errors';
import {
  checkDeleteRange, checkPut, checkRange, checkTxn, CompactionRequest, DeleteRangeRequest, GrpcCode, isTxnReadOnly,
  LeaseGrantRequest, LeaseRevokeRequest, LeaseTimeToLiveRequest, MvccError, PutRequest, RangeRequest, RequestOp,
  TxnRequest,
} from '../../mvcc';
import { EtcdBackend, MembershipBackend } from '../../server/backend';
import { MvccWrite } from '../../server/mvcc-host';
import { etcdSnapshotPadding } from '../../storage';

/** etcd's snapshot message size (v3rpc snapshotSendBufferSize). */
const SNAPSHOT_BLOB_BYTES = 32 * 1024;

/** The etcd version this API is compatible with (what /version and Status report). */
export const ETCD_API_VERSION = '3.4.0';

/** etcdserverpb.AlarmType.NOSPACE. */
const ALARM_NOSPACE = 1;

type Obj = Record<string, unknown>;
type Header = { cluster_id: string; member_id: string; revision: number; raft_term: string };

/** See the file comment. */
export class EtcdService {
  constructor(readonly backend: EtcdBackend & MembershipBackend, readonly forwarder: Forwarder) {}

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

  // ---- Cluster: the membership registry (membership/), changed by Raft conf changes on the leader ----

  /**
   * Every voter and learner from the replicated registry. A follower may not know other members' client URLs
   * (peers only talk to the leader): then it asks the leader, and answers with what it knows if that fails.
   * A member that does not find itself in its registry (joined, log not caught up) always asks the leader.
   */
  async memberList(): Promise<Obj> {
    const { members } = this.backend.listMembers();
    // A member that just joined lists nobody (not even itself) until its log catches up: only the leader knows.
    const unknown = !members.some((m) => String(m.id) === this.backend.header().member_id);
    if (!this.backend.isLeader() && (unknown || members.some((m) => m.clientUrl === '' && m.name !== ''))) {
      if (unknown) return this.forward('Cluster', 'MemberList', {});
      if (this.backend.leaderClientUrl()) {
        try { return await this.forwarder.unary<Obj>('Cluster', 'MemberList', {}); } catch { /* answer with what we know */ }
      }
    }
    return { header: this.header(), members: members.map(toEtcdMember) };
  }

  /**
   * Adds a member as a learner: unnamed until its process joins with this peer URL (as etcd's "unstarted").
   * Without `isLearner` etcd adds a voter at once; we never let an empty log count toward a quorum, so it is
   * a learner the leader promotes by itself once caught up.
   */
  async memberAdd(r: { peerURLs?: string[]; isLearner?: boolean }): Promise<Obj> {
    const peerUrl = peerUrlOf(r.peerURLs);
    if (!this.backend.isLeader()) return this.forward('Cluster', 'MemberAdd', r);
    const added = await this.membershipCall(() => this.backend.addMember({ name: '', peerUrl }, !r.isLearner));
    const members = this.backend.listMembers().members.map(toEtcdMember);
    return { header: this.header(), member: members.find((m) => m.ID === added.id), members };
  }

  /** Removes a member; the leader removing itself hands leadership over first, then the new leader removes it. */
  async memberRemove(r: { ID?: number }): Promise<Obj> {
    if (this.backend.isLeader()) {
      try {
        await this.backend.removeMember(r.ID ?? 0);
        return this.memberChanged();
      } catch (e) {
        if (!(e instanceof NotLeaderError)) throw toMvccError(toEtcdMemberError(e));
        await this.waitForLeaderUrl();
      }
    }
    return this.forward('Cluster', 'MemberRemove', r);
  }

  async memberUpdate(r: { ID?: number; peerURLs?: string[] }): Promise<Obj> {
    const peerUrl = peerUrlOf(r.peerURLs);
    if (!this.backend.isLeader()) return this.forward('Cluster', 'MemberUpdate', r);
    await this.membershipCall(() => this.backend.updateMember(r.ID ?? 0, peerUrl));
    return this.memberChanged();
  }

  /** Promotes a learner that is in sync with the leader (within --learner-catchup-entries of the commit index). */
  async memberPromote(r: { ID?: number }): Promise<Obj> {
    if (!this.backend.isLeader()) return this.forward('Cluster', 'MemberPromote', r);
    await this.membershipCall(() => this.backend.promoteMember(r.ID ?? 0));
    return this.memberChanged();
  }

  /**
   * Whether this member is a learner in the membership it has applied (etcd's Status.isLearner); a member that
   * does not find itself there yet joined and has not caught up: a learner too.
   */
  private isLearner(): boolean {
    const self = this.backend.header().member_id;
    const me = this.backend.listMembers().members.find((m) => String(m.id) === self);
    return me ? me.role === 'learner' : !this.backend.isLeader();
  }

  private memberChanged(): Obj {
    return { header: this.header(), members: this.backend.listMembers().members.map(toEtcdMember) };
  }

  private async membershipCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      throw toMvccError(toEtcdMemberError(e));
    }
  }

  /** After a leadership hand-over: wait (bounded) until the new leader's client URL is known, to forward to it. */
  private async waitForLeaderUrl(): Promise<void> {
    const deadline = Date.now() + this.forwarder.timeoutMs;
    while (!(this.backend.leaderClientUrl() && !this.backend.isLeader()) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  // ---- Maintenance ----

  status(): Obj {
    const p = this.backend.raftProgress();
    return {
      header: this.header(),
      version: ETCD_API_VERSION,
      dbSize: this.backend.mvcc.store.sizeBytes,
      leader: String(p.leader),
      raftIndex: String(p.commit),
      raftTerm: String(p.term),
      raftAppliedIndex: String(p.applied),
      errors: this.alarms().map((a) => `memberID:${a.memberID} alarm:NOSPACE`),
      dbSizeInUse: this.backend.mvcc.store.sizeBytes,
      isLearner: this.isLearner(),
    };
  }

  /**
   * Alarm GET (and DEACTIVATE, a no-op: the alarm clears by itself when space returns): this member's NOSPACE
   * alarm, raised when its disk filled up or its store reached the space quota. Unlike etcd's, the alarm is per
   * member, not replicated.
   */
  alarm(r: { action?: number }): Obj {
    if ((r.action ?? 0) === 1) throw EtcdErrors.unimplemented('activating an alarm');
    return { header: this.header(), alarms: this.alarms() };
  }

  private alarms(): { memberID: string; alarm: number }[] {
    const noSpace = this.backend.writeBlocked?.()?.code === 'no_space' || this.backend.quotaAlarm?.() === true;
    return noSpace ? [{ memberID: this.header().member_id, alarm: ALARM_NOSPACE }] : [];
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

  /**
   * Maintenance.Snapshot: a consistent backup (every write acknowledged before the call) as etcd streams its
   * database: blobs of at most 32 KiB with the bytes remaining, then one blob holding the sha256 of all before.
   * The content is our snapshot file padded as etcdctl expects (storage/etcd-snapshot-file.ts).
   */
  async snapshot(send: (resp: Obj) => Promise<void>): Promise<void> {
    let backup;
    try {
      backup = await this.backend.backupSnapshot();
    } catch (e) {
      throw toMvccError(e);
    }
    const padding = etcdSnapshotPadding(backup.length);
    let remaining = backup.length + padding.length;
    const sha = createHash('sha256');
    const sendPart = async (part: Uint8Array): Promise<void> => {
      const buf = Buffer.from(part.buffer, part.byteOffset, part.byteLength);
      for (let at = 0; at < buf.length; at += SNAPSHOT_BLOB_BYTES) {
        const blob = buf.subarray(at, at + SNAPSHOT_BLOB_BYTES);
        remaining -= blob.length;
        sha.update(blob);
        await send({ remaining_bytes: remaining, blob });
      }
    };
    for await (const part of backup.chunks) await sendPart(part);
    await sendPart(padding);
    await send({ remaining_bytes: 0, blob: sha.digest() });
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

  private async forward(service: 'KV' | 'Lease' | 'Cluster', method: string, r: unknown): Promise<Obj> {
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
