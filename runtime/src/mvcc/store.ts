/**
 * The MVCC key-value store with etcd's data model: a store revision bumped once per write transaction; per
 * key create_revision, mod_revision and version; reads at past revisions until compaction; leases attached
 * to keys. Pure and deterministic: no clock, no I/O, no randomness, so every member applying the same
 * commands holds the same state (the Raft simulator depends on it).
 *
 * Layout (memory per key matters: see docs/benchmarks.md): an ordered index (sorted-btree) from key to an
 * immutable {@link KeyRecord} holding the key's revisions; keys and values are latin1 strings (keys.ts);
 * `revKeys` lists the keys each revision wrote, in op order, for watch replay and compaction.
 */
import BTree from 'sorted-btree';
import { Errors } from './errors';
import { ByteString, inSpan, isSingleKey, KeySpan, keySpan, toByteString, toBytes } from './keys';
import { LeaseTable } from './lease';
import { entryBytes, LEASE_BYTES, recordBytes } from './quota';
import { compacted, entryAt, indexAtOrBefore, KeyRecord, KvView, modAt, newest, visibleAt, withEntry } from './record';
import {
  CompactionRequest, CompactionResponse, Compare, CompareResult, CompareTarget, DeleteRangeRequest,
  DeleteRangeResponse, EventType, KeyValue, LeaseCheckpointRequest, LeaseCheckpointResponse, LeaseGrantRequest,
  LeaseGrantResponse, LeaseLeasesResponse, LeaseRevokeRequest, LeaseRevokeResponse, LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse, PutRequest, PutResponse, RangeRequest, RangeResponse, RequestOp, ResponseOp, SortOrder,
  SortTarget, TxnRequest, TxnResponse,
} from './types';
import { checkRange, checkTxn, DEFAULT_MAX_TXN_OPS, int, isTxnReadOnly } from './validate';

/** Store limits and rules; every member must use the same values (they decide what applies). */
export interface MvccStoreOptions {
  /** Leases granted with a shorter TTL get this one (etcd: 1.5 election timeouts, at least 2 s). @default 2 */
  readonly minLeaseTtl?: number;
  /** etcd's --max-txn-ops. @default 128 */
  readonly maxTxnOps?: number;
  /** Revisions' history a compaction frees at once; later writes free min(100, this) each. @default 10000 */
  readonly compactionStepRevisions?: number;
}

/** A change a write made, in revision then op order: the internal form of an mvccpb.Event (see {@link toEvent}). */
export interface StoreEvent {
  readonly type: EventType;
  readonly kv: KvView;
  /** The key's previous live state, when it had one still in history. */
  readonly prev?: KvView;
}

const EMPTY = Buffer.alloc(0);
/** Revisions a compaction frees at once (~10 ms), and with each later write. */
const COMPACT_STEP_REVISIONS = 10_000;
const COMPACT_STEP_PER_WRITE = 100;

/** A view as an mvccpb.KeyValue (fresh Buffers). */
export function toKeyValue(v: KvView, keysOnly = false): KeyValue {
  return {
    key: toBytes(v.key),
    create_revision: v.create,
    mod_revision: v.mod,
    version: v.ver,
    value: keysOnly || v.value === null || v.value.length === 0 ? EMPTY : toBytes(v.value),
    lease: v.lease,
  };
}

/** A store event as an mvccpb.Event; `prev_kv` only when asked for. */
export function toEvent(e: StoreEvent, withPrev: boolean): { type: EventType; kv: KeyValue; prev_kv?: KeyValue } {
  const out: { type: EventType; kv: KeyValue; prev_kv?: KeyValue } = { type: e.type, kv: toKeyValue(e.kv) };
  if (withPrev && e.prev) out.prev_kv = toKeyValue(e.prev);
  return out;
}

/** The scalar part of a snapshot (snapshot.ts). */
export interface SnapshotHeader {
  readonly revision: number;
  readonly compactRevision: number;
  readonly revBase: number;
  readonly leaseIdCounter: number;
  readonly leases: readonly { id: number; ttl: number; remaining: number }[];
}

/** A consistent, immutable view of the whole store (for snapshots); cheap to take (copy-on-write index). */
export interface StoreView extends SnapshotHeader {
  readonly index: BTree<ByteString, KeyRecord>;
  readonly revKeys: readonly (ByteString | ByteString[])[];
  /** revKeys entries that belong to the view (the array may have grown since). */
  readonly revCount: number;
}

/** Rebuilds a store from a snapshot's parts; see {@link MvccStore.builder}. Multi-key revisions go first. */
export interface StoreBuilder {
  addMultiKeyRevision(rev: number, keys: ByteString[]): void;
  addRecord(k: ByteString, rec: KeyRecord): void;
  finish(): MvccStore;
}

/** See the file comment. Methods throw {@link MvccError} for requests etcd rejects; a rejected write changes nothing. */
export class MvccStore {
  /**
   * Starts rebuilding a store from snapshot parts (snapshot.ts): records must be added in key order;
   * `finish` rebuilds the lease key sets and the per-revision key list.
   */
  static builder(options: MvccStoreOptions, h: SnapshotHeader): StoreBuilder {
    const s = new MvccStore(options);
    s.rev = h.revision;
    s.compactRev = h.compactRevision;
    s.revBase = h.revBase;
    for (const l of h.leases) s.leaseTable.restore(l.id, l.ttl, l.remaining);
    s.leaseTable.idCounter = h.leaseIdCounter;
    s.revKeys = new Array(Math.max(0, s.rev - s.revBase + 1));
    const multi = new Set<number>();
    return {
      addRecord(k: ByteString, stored: KeyRecord): void {
        // A snapshot may hold history a compaction had not freed yet: free it now (no trim job survives).
        const rec = h.compactRevision > 0 ? compacted(stored, h.compactRevision) : stored;
        if (rec === undefined) return;
        s.index.set(k, rec);
        s.bytes += recordBytes(k, rec);
        if (rec.live) s.live++;
        if (rec.live && rec.lease !== 0) s.leaseTable.attach(rec.lease, k);
        for (let i = 0; i < rec.entries; i++) {
          const slot = modAt(rec, i) - s.revBase;
          if (slot >= 0 && !multi.has(slot + s.revBase)) s.revKeys[slot] = k;
        }
      },
      addMultiKeyRevision(rev: number, keys: ByteString[]): void {
        multi.add(rev);
        s.revKeys[rev - s.revBase] = keys;
      },
      finish(): MvccStore {
        // Revisions without keys (only before the first write of a compacted store) stay well-typed.
        for (let i = 0; i < s.revKeys.length; i++) if (s.revKeys[i] === undefined) s.revKeys[i] = [];
        return s;
      },
    };
  }

  private index = new BTree<ByteString, KeyRecord>();
  private rev = 1;
  private compactRev = 0;
  /** Live keys (tombstones not counted). */
  private live = 0;
  /** The retained entries' size (quota.ts). */
  private bytes = 0;
  /** revKeys[i] = the key(s) written at revision revBase + i, in op order. */
  private revKeys: (ByteString | ByteString[])[] = [];
  private revBase = 2;
  private leaseTable = new LeaseTable();
  /** Compactions whose history is not freed yet: revisions pos..end of `keys`, trimmed at `rev`. */
  private readonly trimQueue: { keys: readonly (ByteString | ByteString[])[]; pos: number; end: number; rev: number }[] = [];
  /** Events of the write in progress. */
  private changes: StoreEvent[] = [];
  private last: StoreEvent[] = [];
  private readonly minLeaseTtl: number;
  private readonly maxTxnOps: number;
  private readonly compactionStep: number;

  constructor(options: MvccStoreOptions = {}) {
    this.minLeaseTtl = options.minLeaseTtl ?? 2;
    this.maxTxnOps = options.maxTxnOps ?? DEFAULT_MAX_TXN_OPS;
    this.compactionStep = options.compactionStepRevisions ?? COMPACT_STEP_REVISIONS;
  }

  /** The current store revision (1 for an empty store: the first write is revision 2, as in etcd). */
  get revision(): number { return this.rev; }

  /** The last compaction's revision (0 = never compacted); reads and watches below it fail with ErrCompacted. */
  get compactRevision(): number { return this.compactRev; }

  /** Live keys (without tombstones). */
  get keyCount(): number { return this.live; }

  /**
   * Bytes the retained entries (keys, values and a fixed overhead each) and the leases take (quota.ts): what the space
   * quota compares with, and etcd's dbSize in Status. Falls as compaction frees history.
   */
  get sizeBytes(): number { return this.bytes + this.leaseTable.size * LEASE_BYTES; }

  /** Keys in the index, tombstones (deleted keys with history) included. */
  get indexSize(): number { return this.index.size; }

  /** The replicated lease table (read-only use; writes go through the lease requests). */
  get leases(): LeaseTable { return this.leaseTable; }

  /** The events of the last write (put, delete, txn, lease revoke), in op order; empty after a read or a rejection. */
  get lastEvents(): readonly StoreEvent[] { return this.last; }

  // ---- reads ----

  /** Range at the current or a past revision. */
  range(r: RangeRequest): RangeResponse {
    checkRange(r);
    const rev = int(r.revision, 'revision');
    if (rev > this.rev) throw Errors.futureRev();
    if (rev > 0 && rev < this.compactRev) throw Errors.compacted();
    return this.rangeAt(r, this.rev);
  }

  /**
   * Range over many keys without blocking the event loop: checks the request and takes an immutable view
   * now (O(1), copy-on-write), then each `next()` of the returned generator visits at most `entriesPerStep`
   * index entries; its return value is the response, as {@link range} would have answered now. Drive it
   * with a yield to the event loop between steps (a count over 1M keys costs ~100 ms of CPU).
   */
  rangeSteps(r: RangeRequest, entriesPerStep = 10_000): Generator<void, RangeResponse, void> {
    checkRange(r);
    const rev = int(r.revision, 'revision');
    if (rev > this.rev) throw Errors.futureRev();
    if (rev > 0 && rev < this.compactRev) throw Errors.compacted();
    return stepRange(this.index.clone(), r, this.rev, entriesPerStep);
  }

  /** The current value of `key`, or undefined when it has none: one index lookup (a /v1 GET; {@link range} builds a response). */
  valueOf(key: ByteString): ByteString | undefined {
    return this.index.get(key)?.value;
  }

  /** Live keys and values in [start, end) (`end` null = unbounded) at the current revision, in key order, lazily. */
  *liveEntries(start: ByteString, end: ByteString | null): Generator<[ByteString, ByteString]> {
    for (const [k, rec] of this.index.entries(start)) {
      if (end !== null && k >= end) return;
      if (rec.value !== undefined) yield [k, rec.value];
    }
  }

  /** Lease time-to-live from the replicated state (the leader answers with {@link LeaseClock} instead). */
  leaseTimeToLive(r: LeaseTimeToLiveRequest): LeaseTimeToLiveResponse {
    const id = int(r.ID, 'ID');
    const lease = this.leaseTable.get(id);
    const header = { revision: this.rev };
    if (!lease) return { header, ID: id, TTL: -1, grantedTTL: 0, keys: [] };
    return {
      header,
      ID: id,
      TTL: lease.remaining || lease.ttl,
      grantedTTL: lease.ttl,
      keys: r.keys ? [...lease.keys].sort().map(toBytes) : [],
    };
  }

  /** Every lease. */
  leaseLeases(): LeaseLeasesResponse {
    return { header: { revision: this.rev }, leases: this.leaseTable.list().map((l) => ({ ID: l.id })) };
  }

  /**
   * Events of revisions `from`..current whose key lies in `span`, in revision then op order, scanning at most
   * `maxRevisions` revisions and stopping after the revision at which `maxEvents` is reached; `next` is the
   * first revision not scanned. Throws ErrCompacted when `from` is below the compaction (watch replay).
   */
  history(span: KeySpan, from: number, maxEvents = Infinity, maxRevisions = Infinity): { events: StoreEvent[]; next: number } {
    if (from < this.compactRev) throw Errors.compacted();
    const events: StoreEvent[] = [];
    let rev = Math.max(from, this.revBase);
    const end = Math.min(this.rev, rev + maxRevisions - 1);
    for (; rev <= end && events.length < maxEvents; rev++) {
      const keys = this.revKeys[rev - this.revBase];
      if (typeof keys === 'string') this.eventAt(span, keys, rev, events);
      else for (const k of keys) this.eventAt(span, k, rev, events);
    }
    return { events, next: Math.max(rev, from) };
  }

  /** A consistent view of the whole store for a snapshot; O(leases), the index is shared copy-on-write. */
  view(): StoreView {
    return {
      index: this.index.clone(),
      revision: this.rev,
      compactRevision: this.compactRev,
      revBase: this.revBase,
      revKeys: this.revKeys,
      revCount: this.revKeys.length,
      leaseIdCounter: this.leaseTable.idCounter,
      leases: this.leaseTable.list().map((l) => ({ id: l.id, ttl: l.ttl, remaining: l.remaining })),
    };
  }

  // ---- writes ----

  /** etcd Put (a write txn of one op). */
  put(r: PutRequest): PutResponse {
    return this.txn({ success: [{ request_put: r }] }).responses[0].response_put!;
  }

  /** etcd DeleteRange (a write txn of one op; no revision when nothing was deleted). */
  deleteRange(r: DeleteRangeRequest): DeleteRangeResponse {
    return this.txn({ success: [{ request_delete_range: r }] }).responses[0].response_delete_range!;
  }

  /** etcd Txn: compares against the state before the txn, then one branch applied atomically at one revision. */
  txn(r: TxnRequest): TxnResponse {
    this.last = [];
    this.changes = [];
    checkTxn(r, this.maxTxnOps);
    const path = new Map<TxnRequest, boolean>();
    this.decide(r, path);
    this.checkBranch(r, path, !isTxnReadOnly(r));
    const begin = this.rev;
    const responses = this.execOps(path.get(r) ? r.success ?? [] : r.failure ?? [], path, begin);
    this.commit();
    return { header: { revision: this.rev }, succeeded: path.get(r)!, responses };
  }

  /**
   * etcd Compact: reads and watches below `revision` fail from now on (the newest state at or below it stays
   * readable). The history it drops is freed in bounded steps ({@link compactStep}: some now, more with each
   * later write, or when the server calls it) — unobservable, since nothing below `revision` is read again.
   */
  compact(r: CompactionRequest): CompactionResponse {
    this.last = [];
    const rev = int(r.revision, 'revision');
    if (rev <= this.compactRev) throw Errors.compacted();
    if (rev > this.rev) throw Errors.futureRev();
    // The keys written at revBase..rev are the only ones that can hold history made obsolete by `rev`.
    this.trimQueue.push({ keys: this.revKeys, pos: 0, end: Math.min(rev - this.revBase, this.revKeys.length - 1), rev });
    // A new array, never spliced in place: a snapshot view or the trim queue may still hold the old one.
    if (rev > this.revBase) {
      this.revKeys = this.revKeys.slice(rev - this.revBase);
      this.revBase = rev;
    }
    this.compactRev = rev;
    this.compactStep(this.compactionStep);
    return { header: { revision: this.rev } };
  }

  /** Frees compacted history of at most `maxRevisions` revisions' keys; true while some remains. */
  compactStep(maxRevisions = this.compactionStep): boolean {
    let budget = maxRevisions;
    while (this.trimQueue.length > 0 && budget > 0) {
      const job = this.trimQueue[0];
      for (; job.pos <= job.end && budget > 0; job.pos++, budget--) {
        const keys = job.keys[job.pos];
        // Trimming is idempotent and cheap once a key's history is short: no set of seen keys needed.
        if (typeof keys === 'string') this.trim(keys, job.rev);
        else for (const k of keys) this.trim(k, job.rev);
      }
      if (job.pos > job.end) this.trimQueue.shift();
    }
    return this.trimQueue.length > 0;
  }

  /** etcd LeaseGrant (no revision). */
  leaseGrant(r: LeaseGrantRequest): LeaseGrantResponse {
    this.last = [];
    const id = int(r.ID, 'ID');
    const ttl = int(r.TTL, 'TTL');
    if (id < 0) throw Errors.invalid(`ID (${id}) must not be negative`);
    const lease = this.leaseTable.grant(id, ttl, this.minLeaseTtl);
    return { header: { revision: this.rev }, ID: lease.id, TTL: lease.ttl, error: '' };
  }

  /** etcd LeaseRevoke: deletes the lease's keys in one revision (none when it had no keys). */
  leaseRevoke(r: LeaseRevokeRequest): LeaseRevokeResponse {
    this.last = [];
    const keys = this.leaseTable.remove(int(r.ID, 'ID'));
    for (const k of keys) this.deleteSpan({ start: k, end: k + '\0' });
    this.commit();
    return { header: { revision: this.rev } };
  }

  /** etcd LeaseCheckpoint: records remaining TTLs the leader saw (no revision). */
  leaseCheckpoint(r: LeaseCheckpointRequest): LeaseCheckpointResponse {
    this.last = [];
    const cps = (r.checkpoints ?? []).map((c) => [int(c.ID, 'ID'), int(c.remaining_TTL, 'remaining_TTL')]);
    for (const [id, remaining] of cps) this.leaseTable.checkpoint(id, remaining);
    return { header: { revision: this.rev } };
  }

  // ---- internals ----

  private rangeAt(r: RangeRequest, current: number): RangeResponse {
    const acc = rangeAccumulator(r, current);
    this.scan(keySpan(r.key, r.range_end), acc.visit);
    return acc.finish();
  }

  /** Calls `fn` for each index entry in `span`, in key order. */
  private scan(span: KeySpan, fn: (k: ByteString, rec: KeyRecord) => void): void {
    if (isSingleKey(span)) {
      const rec = this.index.get(span.start);
      if (rec) fn(span.start, rec);
      return;
    }
    if (span.end !== null && span.end <= span.start) return;
    const high = span.end ?? this.index.maxKey();
    if (high === undefined) return;
    this.index.forRange(span.start, high, span.end === null, (k, rec) => { fn(k, rec); });
  }

  /** The live state of `k` now (in a txn: including the txn's own writes). */
  private current(k: ByteString): KvView | undefined {
    const rec = this.index.get(k);
    return rec && rec.live ? newest(k, rec) : undefined;
  }

  private decide(r: TxnRequest, path: Map<TxnRequest, boolean>): void {
    const ok = (r.compare ?? []).every((c) => this.compare(c));
    path.set(r, ok);
    for (const op of (ok ? r.success : r.failure) ?? []) if (op.request_txn) this.decide(op.request_txn, path);
  }

  /** etcd's applyCompare: every key of the range satisfies it; no key compares a zero KeyValue (VALUE fails). */
  private compare(c: Compare): boolean {
    const views: KvView[] = [];
    this.scan(keySpan(c.key, c.range_end), (k, rec) => { if (rec.live) views.push(newest(k, rec)); });
    if (views.length === 0) {
      if ((c.target ?? CompareTarget.VERSION) === CompareTarget.VALUE) return false;
      return compareView(c, new KvView('', 0, 0, 0, 0, ''));
    }
    return views.every((v) => compareView(c, v));
  }

  /** etcd's checkRequests on the branch that will run: puts' leases and ignore_* keys exist, ranges' revisions. */
  private checkBranch(r: TxnRequest, path: Map<TxnRequest, boolean>, write: boolean): void {
    for (const op of (path.get(r) ? r.success : r.failure) ?? []) {
      if (op.request_txn) {this.checkBranch(op.request_txn, path, write);} else if (op.request_put && write) {
        const p = op.request_put;
        if ((p.ignore_value || p.ignore_lease) && !this.current(toByteString(p.key))) throw Errors.keyNotFound();
        const lease = int(p.lease, 'lease');
        if (lease !== 0 && !this.leaseTable.get(lease)) throw Errors.leaseNotFound();
      } else if (op.request_range) {
        const rev = int(op.request_range.revision, 'revision');
        if (rev > this.rev) throw Errors.futureRev();
        if (rev > 0 && rev < this.compactRev) throw Errors.compacted();
      }
    }
  }

  private execOps(ops: RequestOp[], path: Map<TxnRequest, boolean>, begin: number): ResponseOp[] {
    return ops.map((op): ResponseOp => {
      if (op.request_range) return { response_range: this.rangeAt(op.request_range, begin + (this.changes.length > 0 ? 1 : 0)) };
      if (op.request_put) return { response_put: this.execPut(op.request_put, begin) };
      if (op.request_delete_range) return { response_delete_range: this.execDelete(op.request_delete_range, begin) };
      const t = op.request_txn!;
      const ok = path.get(t)!;
      // etcd leaves a nested txn's header revision at 0; only the outer response carries the revision.
      return { response_txn: { header: { revision: 0 }, succeeded: ok, responses: this.execOps((ok ? t.success : t.failure) ?? [], path, begin) } };
    });
  }

  private execPut(p: PutRequest, begin: number): PutResponse {
    const k = toByteString(p.key);
    const cur = this.current(k);
    if ((p.ignore_value || p.ignore_lease) && !cur) throw Errors.keyNotFound(); // checked before: unreachable
    const value = p.ignore_value ? cur!.value! : toByteString(p.value);
    const lease = p.ignore_lease ? cur!.lease : int(p.lease, 'lease');
    const rev = begin + 1;
    const rec = this.index.get(k);
    const next = withEntry(rec, rev, cur ? cur.create : rev, cur ? cur.ver + 1 : 1, lease, value);
    this.index.set(k, next);
    this.bytes += entryBytes(k, value);
    if (cur && cur.lease !== 0 && cur.lease !== lease) this.leaseTable.detach(cur.lease, k);
    if (lease !== 0) this.leaseTable.attach(lease, k);
    this.changes.push({ type: EventType.PUT, kv: newest(k, next), prev: cur });
    const resp: PutResponse = { header: { revision: rev } };
    if (p.prev_kv && cur) resp.prev_kv = toKeyValue(cur);
    return resp;
  }

  private execDelete(d: DeleteRangeRequest, begin: number): DeleteRangeResponse {
    const prevs = this.deleteSpan(keySpan(d.key, d.range_end));
    const revision = prevs.length > 0 || this.changes.length > 0 ? begin + 1 : begin;
    return { header: { revision }, deleted: prevs.length, prev_kvs: d.prev_kv ? prevs.map((v) => toKeyValue(v)) : [] };
  }

  /** Deletes the live keys of `span` at the next revision; returns their previous states. */
  private deleteSpan(span: KeySpan): KvView[] {
    const victims: [ByteString, KeyRecord][] = [];
    this.scan(span, (k, rec) => { if (rec.live) victims.push([k, rec]); });
    const rev = this.rev + 1;
    const prevs: KvView[] = [];
    for (const [k, rec] of victims) {
      const prev = newest(k, rec);
      this.index.set(k, withEntry(rec, rev, 0, 0, 0, undefined));
      this.bytes += entryBytes(k, undefined);
      if (rec.lease !== 0) this.leaseTable.detach(rec.lease, k);
      this.changes.push({ type: EventType.DELETE, kv: new KvView(k, rev, 0, 0, 0, null), prev });
      prevs.push(prev);
    }
    return prevs;
  }

  /** Ends a write: one revision for all its changes (none when it changed nothing). */
  private commit(): void {
    const changes = this.changes;
    this.changes = [];
    this.last = changes;
    if (changes.length === 0) return;
    for (const c of changes) {
      if (c.type === EventType.DELETE) this.live--;
      else if (!c.prev) this.live++;
    }
    this.rev++;
    this.revKeys.push(changes.length === 1 ? changes[0].kv.key : changes.map((c) => c.kv.key));
    if (this.trimQueue.length > 0) this.compactStep(Math.min(COMPACT_STEP_PER_WRITE, this.compactionStep));
  }

  private eventAt(span: KeySpan, k: ByteString, rev: number, out: StoreEvent[]): void {
    if (!inSpan(span, k)) return;
    const rec = this.index.get(k);
    if (!rec) return;
    const i = indexAtOrBefore(rec, rev);
    if (i < 0 || modAt(rec, i) !== rev) return;
    const kv = entryAt(k, rec, i);
    const before = i > 0 ? entryAt(k, rec, i - 1) : undefined;
    out.push({ type: kv.live ? EventType.PUT : EventType.DELETE, kv, prev: before?.live ? before : undefined });
  }

  private trim(k: ByteString, rev: number): void {
    const rec = this.index.get(k);
    if (!rec) return;
    const next = compacted(rec, rev);
    if (next === rec) return;
    this.bytes -= recordBytes(k, rec) - (next === undefined ? 0 : recordBytes(k, next));
    if (next === undefined) this.index.delete(k);
    else this.index.set(k, next);
  }
}

/** Collects a range's answer entry by entry (etcd's Range in apply.go: count, filters, sort, limit). */
function rangeAccumulator(r: RangeRequest, current: number): { visit: (k: ByteString, rec: KeyRecord) => void; finish: () => RangeResponse } {
  const rev = int(r.revision, 'revision') > 0 ? r.revision! : current;
  const limit = int(r.limit, 'limit');
  const order = r.sort_order ?? SortOrder.NONE;
  const target = r.sort_target ?? SortTarget.KEY;
  const minMod = int(r.min_mod_revision, 'min_mod_revision');
  const maxMod = int(r.max_mod_revision, 'max_mod_revision');
  const minCreate = int(r.min_create_revision, 'min_create_revision');
  const maxCreate = int(r.max_create_revision, 'max_create_revision');
  // As etcd: sorting or filtering needs every key; otherwise one past the limit tells `more`.
  const fetchAll = order !== SortOrder.NONE || minMod !== 0 || maxMod !== 0 || minCreate !== 0 || maxCreate !== 0;
  const fetch = fetchAll || limit <= 0 ? Infinity : limit + 1;
  let count = 0;
  let kvs: KvView[] = [];
  const visit = (k: ByteString, rec: KeyRecord): void => {
    const v = visibleAt(k, rec, rev);
    if (v === undefined) return;
    count++;
    if (!r.count_only && kvs.length < fetch) kvs.push(v);
  };
  const finish = (): RangeResponse => {
    if (maxMod !== 0) kvs = kvs.filter((v) => v.mod <= maxMod);
    if (minMod !== 0) kvs = kvs.filter((v) => v.mod >= minMod);
    if (maxCreate !== 0) kvs = kvs.filter((v) => v.create <= maxCreate);
    if (minCreate !== 0) kvs = kvs.filter((v) => v.create >= minCreate);
    sortViews(kvs, target !== SortTarget.KEY && order === SortOrder.NONE ? SortOrder.ASCEND : order, target);
    let more = false;
    if (limit > 0 && kvs.length > limit) {
      kvs = kvs.slice(0, limit);
      more = true;
    }
    return { header: { revision: current }, kvs: kvs.map((v) => toKeyValue(v, r.keys_only)), more, count };
  };
  return { visit, finish };
}

function* stepRange(index: BTree<ByteString, KeyRecord>, r: RangeRequest, current: number, perStep: number): Generator<void, RangeResponse, void> {
  const acc = rangeAccumulator(r, current);
  const span = keySpan(r.key, r.range_end);
  if (isSingleKey(span)) {
    const rec = index.get(span.start);
    if (rec) acc.visit(span.start, rec);
    return acc.finish();
  }
  if (span.end !== null && span.end <= span.start) return acc.finish();
  let n = 0;
  for (const [k, rec] of index.entries(span.start)) {
    if (span.end !== null && k >= span.end) break;
    acc.visit(k, rec);
    if (++n % perStep === 0) yield;
  }
  return acc.finish();
}

function compareView(c: Compare, v: KvView): boolean {
  let result: number;
  switch (c.target ?? CompareTarget.VERSION) {
    case CompareTarget.VALUE: {
      const want = toByteString(c.value);
      const have = v.value ?? '';
      result = have < want ? -1 : have > want ? 1 : 0;
      break;
    }
    case CompareTarget.CREATE: result = Math.sign(v.create - (c.create_revision ?? 0)); break;
    case CompareTarget.MOD: result = Math.sign(v.mod - (c.mod_revision ?? 0)); break;
    case CompareTarget.LEASE: result = Math.sign(v.lease - (c.lease ?? 0)); break;
    default: result = Math.sign(v.ver - (c.version ?? 0));
  }
  switch (c.result ?? CompareResult.EQUAL) {
    case CompareResult.NOT_EQUAL: return result !== 0;
    case CompareResult.GREATER: return result > 0;
    case CompareResult.LESS: return result < 0;
    default: return result === 0;
  }
}

const byTarget: Record<SortTarget, (a: KvView, b: KvView) => number> = {
  [SortTarget.KEY]: (a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  [SortTarget.VERSION]: (a, b) => a.ver - b.ver,
  [SortTarget.CREATE]: (a, b) => a.create - b.create,
  [SortTarget.MOD]: (a, b) => a.mod - b.mod,
  [SortTarget.VALUE]: (a, b) => ((a.value ?? '') < (b.value ?? '') ? -1 : (a.value ?? '') > (b.value ?? '') ? 1 : 0),
};

/** Sorts in place; stable, so ties keep key order (etcd's sort is unstable: any tie order is valid there). */
function sortViews(kvs: KvView[], order: SortOrder, target: SortTarget): void {
  if (order === SortOrder.NONE) return;
  const cmp = byTarget[target] ?? byTarget[SortTarget.KEY];
  kvs.sort(order === SortOrder.DESCEND ? (a, b) => cmp(b, a) : cmp);
}
