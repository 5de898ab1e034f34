/**
 * One Watch stream (gRPC bidi or a gateway /v3/watch request): many watchers, each with a stream-local
 * watch_id as etcd assigns them (0, 1, ...), served from this member's applied state through the store's
 * WatchHub. Sending respects the transport's backpressure: while the consumer is slow, events stay in the
 * hub (bounded there: a watcher that falls too far behind replays from history or is cancelled).
 */
import { toMvccError } from './errors';
import { EtcdService } from './service';
import { Watcher, WatchHub } from '../../mvcc';

type Obj = Record<string, unknown>;

/** What the stream writes to: returns false when the consumer is full (then call {@link WatchSession.drained}). */
export type WatchSink = (resp: Obj) => boolean;

/** Stream limits. */
export interface WatchSessionOptions {
  /** Events per response before a watcher's batch is split (a revision is never split). @default 1000 */
  readonly maxEventsPerResponse?: number;
  /** With `fragment`, responses are split to stay under this many value bytes. @default 1.5 MiB (etcd's default request limit) */
  readonly fragmentBytes?: number;
  /** Period of progress notifications for watchers created with progress_notify (etcd: 10 min). @default 600000 */
  readonly progressNotifyMs?: number;
  /** Most watchers one stream may hold. @default 10000 */
  readonly maxWatchers?: number;
}

interface Entry {
  readonly watcher: Watcher;
  readonly fragment: boolean;
}

/** See the file comment. */
export class WatchSession {
  private readonly watchers = new Map<number, Entry>();
  private nextId = 0;
  private ready = new Set<number>();
  private blocked = false;
  private flushing = false;
  private closed = false;
  private readonly progressTimer: NodeJS.Timeout;
  private readonly maxEvents: number;
  private readonly fragmentBytes: number;
  private readonly maxWatchers: number;

  constructor(private readonly service: EtcdService, private readonly sink: WatchSink, options: WatchSessionOptions = {}) {
    this.maxEvents = options.maxEventsPerResponse ?? 1000;
    this.fragmentBytes = options.fragmentBytes ?? 1.5 * 1024 * 1024;
    this.maxWatchers = options.maxWatchers ?? 10_000;
    this.progressTimer = setInterval(() => this.notifyProgress(true), options.progressNotifyMs ?? 600_000);
    this.progressTimer.unref();
  }

  private get hub(): WatchHub { return this.service.backend.mvcc.watchHub; }

  /** Handles one WatchRequest (store form). */
  handle(req: Obj): void {
    if (this.closed) return;
    if (req.create_request) this.create(req.create_request as Obj);
    else if (req.cancel_request) this.cancel(Number((req.cancel_request as Obj).watch_id ?? 0));
    else if (req.progress_request) this.notifyProgress(false);
  }

  /** The consumer has room again. */
  drained(): void {
    this.blocked = false;
    this.scheduleFlush();
  }

  /** Stream ended: removes every watcher. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.progressTimer);
    for (const e of this.watchers.values()) this.hub.remove(e.watcher);
    this.watchers.clear();
  }

  private create(r: Obj): void {
    let id = Number(r.watch_id ?? 0);
    if (id !== 0 && this.watchers.has(id)) {
      // etcd 3.4 answers a duplicate ID with a created+canceled response.
      this.send({ header: this.service.header(), watch_id: id, created: true, canceled: true, cancel_reason: 'etcdserver: duplicate watch ID' });
      return;
    }
    if (this.watchers.size >= this.maxWatchers) {
      this.send({ header: this.service.header(), watch_id: -1, created: true, canceled: true, cancel_reason: `etcdserver: too many watchers on one stream (limit ${this.maxWatchers})` });
      return;
    }
    let watcher: Watcher;
    try {
      watcher = this.hub.create(r as never);
    } catch (e) {
      const err = toMvccError(e);
      this.send({ header: this.service.header(), watch_id: -1, created: true, canceled: true, cancel_reason: err.message });
      return;
    }
    if (id === 0) id = this.freeId(); // 0 asks the server to pick (clientv3.AutoWatchID)
    this.watchers.set(id, { watcher, fragment: !!r.fragment });
    watcher.onReady = () => { this.ready.add(id); this.scheduleFlush(); };
    this.send({ header: this.service.header(), watch_id: id, created: true });
    if (watcher.ready) watcher.onReady(watcher);
  }

  private freeId(): number {
    while (this.watchers.has(this.nextId)) this.nextId++;
    return this.nextId++;
  }

  private cancel(id: number): void {
    const e = this.watchers.get(id);
    if (!e) return; // etcd ignores a cancel for an unknown watch
    this.hub.remove(e.watcher);
    this.watchers.delete(id);
    this.ready.delete(id);
    this.send({ header: this.service.header(), watch_id: id, canceled: true });
  }

  /** etcd sends progress only to watchers that are caught up, with the revision they are known to be at. */
  private notifyProgress(periodic: boolean): void {
    for (const [id, e] of this.watchers) {
      if (periodic && !e.watcher.progressNotify) continue;
      const rev = this.hub.progressRevision(e.watcher);
      if (rev !== undefined) this.send({ header: this.service.header(rev), watch_id: id });
    }
  }

  private scheduleFlush(): void {
    if (this.flushing || this.blocked || this.closed) return;
    this.flushing = true;
    setImmediate(() => {
      this.flushing = false;
      this.flush();
    });
  }

  /** Sends one batch per ready watcher per turn, so one busy watcher cannot starve the event loop. */
  private flush(): void {
    if (this.closed) return;
    const ids = [...this.ready];
    this.ready.clear();
    for (const id of ids) {
      if (this.blocked) { this.ready.add(id); continue; }
      const e = this.watchers.get(id);
      if (!e) continue;
      const batch = this.hub.poll(e.watcher, this.maxEvents);
      if (batch) this.sendBatch(id, e, batch);
      if (batch?.canceled) this.watchers.delete(id);
      else if (e.watcher.ready) this.ready.add(id);
    }
    if (this.ready.size > 0) this.scheduleFlush();
  }

  private sendBatch(id: number, e: Entry, b: NonNullable<ReturnType<WatchHub['poll']>>): void {
    const header = this.service.header(b.revision);
    if (b.canceled) {
      this.send({ header, watch_id: id, canceled: true, cancel_reason: b.cancel_reason ?? '', compact_revision: b.compact_revision ?? 0 });
      return;
    }
    if (b.events.length === 0) return;
    const parts = e.fragment ? this.fragments(b.events) : [b.events];
    parts.forEach((events, i) => this.send({ header, watch_id: id, events, fragment: i < parts.length - 1 }));
  }

  private fragments<T extends { kv: { key: Buffer; value: Buffer } }>(events: T[]): T[][] {
    const out: T[][] = [[]];
    let bytes = 0;
    for (const ev of events) {
      const size = ev.kv.key.length + ev.kv.value.length;
      if (bytes + size > this.fragmentBytes && out[out.length - 1].length > 0) { out.push([]); bytes = 0; }
      out[out.length - 1].push(ev);
      bytes += size;
    }
    return out;
  }

  private send(resp: Obj): void {
    if (this.closed) return;
    if (!this.sink(resp)) this.blocked = true;
  }
}
