/**
 * Watchers on the store's events, pure: no streams, no timers. The server calls {@link WatchHub.notify} after
 * each applied write; the stream layer creates watchers, polls batches and sends them. Every watcher delivers
 * its events in revision order, each exactly once, with no gap:
 * - a watcher from a past revision ("unsynced") replays the store's history in bounded steps, then switches
 *   to live events ("synced");
 * - live events wait in a per-watcher buffer of at most `maxPendingEvents`; a watcher whose consumer falls
 *   behind drops its buffer and replays from history again (memory stays bounded, as etcd's victim watchers),
 *   or is cancelled with a reason when `onOverflow` is 'cancel';
 * - a watcher that needs a compacted revision is cancelled with `compact_revision` (etcd's ErrCompacted).
 */
import { Errors, MvccError } from './errors';
import { ByteString, inSpan, isSingleKey, KeySpan, keySpan } from './keys';
import { MvccStore, StoreEvent, toEvent } from './store';
import { Event, EventType, WatchCreateRequest, WatchFilterType } from './types';
import { int } from './validate';

/** Hub limits. */
export interface WatchHubOptions {
  /** Live events buffered per watcher before it falls back to history (or is cancelled). @default 10000 */
  readonly maxPendingEvents?: number;
  /** What happens to a watcher whose buffer overflows. @default 'resync' */
  readonly onOverflow?: 'resync' | 'cancel';
  /** Revisions a history replay scans per {@link WatchHub.poll} (bounds the event-loop time of one poll). @default 10000 */
  readonly maxScanRevisions?: number;
}

/** What one poll hands to the stream: a WatchResponse's body for one watcher. */
export interface WatchBatch {
  /** Events in revision order; a revision is never split across batches. */
  readonly events: Event[];
  /** The header revision to send (the store's revision when the batch was taken). */
  readonly revision: number;
  /** Set once, on the batch that cancels the watcher. */
  readonly canceled?: boolean;
  readonly cancel_reason?: string;
  /** Set when the watcher was cancelled because the revision it needs was compacted. */
  readonly compact_revision?: number;
  /** True when more is ready right now (poll again before waiting for {@link Watcher.onReady}). */
  readonly more: boolean;
}

/** One watcher. Owned by the stream that created it. */
export class Watcher {
  /** Called (synchronously, from notify) when the watcher goes from nothing-to-send to something-to-send. */
  onReady?: (w: Watcher) => void;
  /** @internal the next revision this watcher has not handed out yet. */
  nextRev: number;
  /** @internal true once history is replayed: new events arrive through notify. */
  synced: boolean;
  /** @internal */
  pending: StoreEvent[] = [];
  /** @internal */
  cancel?: { reason: string; compactRevision?: number; sent: boolean };

  constructor(
    readonly id: number,
    readonly span: KeySpan,
    readonly prevKv: boolean,
    readonly noPut: boolean,
    readonly noDelete: boolean,
    readonly progressNotify: boolean,
    nextRev: number,
    synced: boolean,
  ) {
    this.nextRev = nextRev;
    this.synced = synced;
  }

  /** True when a poll would return something. */
  get ready(): boolean {
    return (this.cancel !== undefined && !this.cancel.sent) || !this.synced || this.pending.length > 0;
  }

  /** True once the cancelling batch was handed out. */
  get closed(): boolean { return this.cancel?.sent === true; }

  /** @internal whether an event passes the key range and filters. */
  wants(e: StoreEvent): boolean {
    if (e.type === EventType.PUT ? this.noPut : this.noDelete) return false;
    return inSpan(this.span, e.kv.key);
  }
}

/** See the file comment. */
export class WatchHub {
  private readonly byKey = new Map<ByteString, Set<Watcher>>();
  private readonly ranged = new Set<Watcher>();
  private nextId = 1;
  private readonly maxPending: number;
  private readonly overflow: 'resync' | 'cancel';
  private readonly maxScan: number;

  /** `store` is a getter: a snapshot restore replaces the store object. */
  constructor(private readonly store: () => MvccStore, options: WatchHubOptions = {}) {
    this.maxPending = options.maxPendingEvents ?? 10_000;
    this.overflow = options.onOverflow ?? 'resync';
    this.maxScan = options.maxScanRevisions ?? 10_000;
  }

  /** Number of watchers. */
  get size(): number {
    let n = this.ranged.size;
    for (const s of this.byKey.values()) n += s.size;
    return n;
  }

  /**
   * Creates a watcher. `start_revision` <= 0 watches from the next revision; a past one replays history from
   * it (inclusive). Below the compaction, the watcher is created already cancelled with `compact_revision`,
   * as etcd answers. Throws INVALID_ARGUMENT for malformed fields.
   */
  create(r: WatchCreateRequest): Watcher {
    const start = int(r.start_revision, 'start_revision');
    const filters = r.filters ?? [];
    for (const f of filters) if (f !== WatchFilterType.NOPUT && f !== WatchFilterType.NODELETE) throw Errors.invalid(`filters (${String(f)}) is not a known value`);
    if (r.key !== undefined && !(r.key instanceof Uint8Array)) throw Errors.invalid('key must be bytes');
    const s = this.store();
    const next = start > 0 ? start : s.revision + 1;
    const w = new Watcher(this.nextId++, keySpan(r.key, r.range_end), !!r.prev_kv, filters.includes(WatchFilterType.NOPUT),
      filters.includes(WatchFilterType.NODELETE), !!r.progress_notify, next, next > s.revision);
    if (next < s.compactRevision) this.compactedCancel(w);
    this.add(w);
    return w;
  }

  /** Removes a watcher (client cancel or stream end); idempotent. */
  remove(w: Watcher): void {
    if (isSingleKey(w.span)) {
      const set = this.byKey.get(w.span.start);
      set?.delete(w);
      if (set?.size === 0) this.byKey.delete(w.span.start);
    } else {
      this.ranged.delete(w);
    }
  }

  /** Routes the events of one applied write (`store.lastEvents`) to the synced watchers that want them. */
  notify(events: readonly StoreEvent[]): void {
    if (events.length === 0) return;
    const touched = new Set<Watcher>();
    for (const e of events) {
      const exact = this.byKey.get(e.kv.key);
      if (exact) for (const w of exact) this.offer(w, e, touched);
      for (const w of this.ranged) this.offer(w, e, touched);
    }
    for (const w of touched) this.settle(w);
  }

  /**
   * The watcher's next batch (at most about `maxEvents` events, whole revisions) or undefined when it has
   * nothing to send. Replays history for an unsynced watcher; a cancelled watcher yields its cancel batch once.
   */
  poll(w: Watcher, maxEvents = 1000): WatchBatch | undefined {
    const s = this.store();
    if (w.cancel) return this.cancelBatch(w, s.revision);
    if (!w.synced) return this.replay(w, s, maxEvents);
    if (w.pending.length === 0) return undefined;
    let n = Math.min(maxEvents, w.pending.length);
    while (n < w.pending.length && w.pending[n].kv.mod === w.pending[n - 1].kv.mod) n++;
    const taken = w.pending.splice(0, n);
    w.nextRev = taken[taken.length - 1].kv.mod + 1;
    return { events: taken.map((e) => toEvent(e, w.prevKv)), revision: s.revision, more: w.pending.length > 0 };
  }

  /**
   * The revision a progress notification may report for `w` (every later event has a higher revision), or
   * undefined while it still has events to deliver (etcd sends progress only to synced, idle watchers).
   */
  progressRevision(w: Watcher): number | undefined {
    return w.synced && w.pending.length === 0 && !w.cancel ? this.store().revision : undefined;
  }

  /**
   * After a snapshot restore replaced the store: every watcher whose next revision is compacted away is
   * cancelled; the others replay from where they were (history covers them).
   */
  resync(): void {
    const s = this.store();
    for (const w of this.all()) {
      if (w.cancel) continue;
      w.pending = [];
      w.synced = w.nextRev > s.revision;
      if (w.nextRev < s.compactRevision) this.compactedCancel(w);
      this.signal(w);
    }
  }

  private all(): Watcher[] {
    const out = [...this.ranged];
    for (const set of this.byKey.values()) out.push(...set);
    return out;
  }

  private add(w: Watcher): void {
    if (isSingleKey(w.span)) {
      let set = this.byKey.get(w.span.start);
      if (!set) this.byKey.set(w.span.start, set = new Set());
      set.add(w);
    } else {
      this.ranged.add(w);
    }
  }

  private offer(w: Watcher, e: StoreEvent, touched: Set<Watcher>): void {
    if (!w.synced || w.cancel || e.kv.mod < w.nextRev || !w.wants(e)) return;
    if (w.pending.length === 0) touched.add(w);
    w.pending.push(e);
    if (w.pending.length > this.maxPending) this.overflowed(w);
  }

  private settle(w: Watcher): void {
    if (w.ready) this.signal(w);
  }

  private signal(w: Watcher): void {
    if (w.ready) w.onReady?.(w);
  }

  private overflowed(w: Watcher): void {
    if (this.overflow === 'cancel') {
      w.pending = [];
      w.cancel = { reason: `watcher fell more than ${this.maxPending} events behind`, sent: false };
      return;
    }
    // Replay from the first undelivered event: the store's history has everything the buffer had.
    w.nextRev = w.pending[0].kv.mod;
    w.pending = [];
    w.synced = false;
  }

  private replay(w: Watcher, s: MvccStore, maxEvents: number): WatchBatch | undefined {
    let got: { events: StoreEvent[]; next: number };
    try {
      got = s.history(w.span, w.nextRev, maxEvents, this.maxScan);
    } catch (e) {
      if (!(e instanceof MvccError)) throw e;
      this.compactedCancel(w);
      return this.cancelBatch(w, s.revision);
    }
    w.nextRev = got.next;
    if (w.nextRev > s.revision) w.synced = true;
    const events = got.events.filter((e) => w.wants(e)).map((e) => toEvent(e, w.prevKv));
    return { events, revision: s.revision, more: !w.synced };
  }

  private compactedCancel(w: Watcher): void {
    const compactRevision = this.store().compactRevision;
    w.pending = [];
    w.cancel = { reason: Errors.compacted().message, compactRevision, sent: false };
  }

  private cancelBatch(w: Watcher, revision: number): WatchBatch | undefined {
    if (w.cancel!.sent) return undefined;
    w.cancel!.sent = true;
    this.remove(w);
    return {
      events: [],
      revision,
      canceled: true,
      cancel_reason: w.cancel!.reason,
      more: false,
      ...(w.cancel!.compactRevision !== undefined ? { compact_revision: w.cancel!.compactRevision } : {}),
    };
  }
}
