/** WatchHub: history replay, live delivery, filters, prev_kv, compaction, bounded buffers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventType, MvccStore, prefixEnd, WatchBatch, Watcher, WatchFilterType, WatchHub, WatchHubOptions } from '../../src/mvcc';

const b = (s: string): Buffer => Buffer.from(s);

/** A store whose writes are routed to the hub as the server does: notify right after each write. */
function setup(options?: WatchHubOptions): { s: MvccStore; hub: WatchHub; put: (k: string, v?: string) => void; del: (k: string) => void } {
  const s = new MvccStore();
  const hub = new WatchHub(() => s, options);
  return {
    s,
    hub,
    put: (k, v = 'v') => { s.put({ key: b(k), value: b(v) }); hub.notify(s.lastEvents); },
    del: (k) => { s.deleteRange({ key: b(k) }); hub.notify(s.lastEvents); },
  };
}

function drain(hub: WatchHub, w: Watcher, max = 1000): WatchBatch[] {
  const out: WatchBatch[] = [];
  for (let i = 0; i < 10_000; i++) {
    const batch = hub.poll(w, max);
    if (!batch) break;
    out.push(batch);
  }
  return out;
}

const summary = (batches: WatchBatch[]): string[] => batches.flatMap((x) => x.events.map((e) =>
  `${e.type === EventType.PUT ? 'PUT' : 'DEL'} ${e.kv.key.toString()}@${e.kv.mod_revision}${e.prev_kv ? ` prev=${e.prev_kv.value.toString()}` : ''}`));

void describe('WatchHub', () => {
  void it('delivers live events for a key and a prefix, in order, with prev_kv when asked', () => {
    const { hub, put, del } = setup();
    const one = hub.create({ key: b('a') });
    const pre = hub.create({ key: b('p/'), range_end: prefixEnd(b('p/')), prev_kv: true });
    let readied = 0;
    pre.onReady = () => { readied++; };
    put('a', '1');
    put('p/x', '1');
    put('p/x', '2');
    put('q', '1');
    del('p/x');
    assert.deepEqual(summary(drain(hub, one)), ['PUT a@2']);
    assert.equal(readied, 1, 'onReady fires when the watcher goes from idle to ready');
    assert.deepEqual(summary(drain(hub, pre)), ['PUT p/x@3', 'PUT p/x@4 prev=1', 'DEL p/x@6 prev=2']);
  });

  void it('replays history from a past revision, then continues live without gap or duplicate', () => {
    const { hub, put } = setup({ maxScanRevisions: 3 });
    for (let i = 0; i < 10; i++) put(`k${i % 3}`, String(i)); // revisions 2..11
    const w = hub.create({ key: b('k'), range_end: b('l'), start_revision: 4 });
    const first = hub.poll(w, 2)!;
    assert.ok(first.more);
    put('k0', 'live'); // revision 12, while the watcher is still replaying
    const all = [first, ...drain(hub, w, 2)];
    put('k1', 'live'); // 13, after it synced
    all.push(...drain(hub, w));
    const revs = summary(all).map((e) => Number(e.split('@')[1]));
    assert.deepEqual(revs, [4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  });

  void it('filters NOPUT and NODELETE', () => {
    const { hub, put, del } = setup();
    const noPut = hub.create({ key: b('a'), filters: [WatchFilterType.NOPUT] });
    const noDel = hub.create({ key: b('a'), filters: [WatchFilterType.NODELETE], start_revision: 1 });
    put('a');
    del('a');
    assert.deepEqual(summary(drain(hub, noPut)), ['DEL a@3']);
    assert.deepEqual(summary(drain(hub, noDel)), ['PUT a@2']);
  });

  void it('a watch below the compaction is cancelled with compact_revision', () => {
    const { s, hub, put } = setup();
    for (let i = 0; i < 5; i++) put('a', String(i));
    s.compact({ revision: 4 });
    const w = hub.create({ key: b('a'), start_revision: 3 });
    const batch = hub.poll(w)!;
    assert.equal(batch.canceled, true);
    assert.equal(batch.compact_revision, 4);
    assert.equal(batch.cancel_reason, 'etcdserver: mvcc: required revision has been compacted');
    assert.equal(hub.poll(w), undefined);
    assert.equal(hub.size, 0);
    const ok = hub.create({ key: b('a'), start_revision: 4 });
    assert.deepEqual(summary(drain(hub, ok)).map((e) => e.split(' ')[1]), ['a@4', 'a@5', 'a@6']);
  });

  void it('a slow watcher never buffers more than the limit: it replays from history, losing nothing', () => {
    const { hub, put } = setup({ maxPendingEvents: 5 });
    const w = hub.create({ key: b('a') });
    for (let i = 0; i < 50; i++) {
      put('a', String(i));
      assert.ok(w.pending.length <= 5);
    }
    const revs = summary(drain(hub, w, 7)).map((e) => Number(e.split('@')[1]));
    assert.deepEqual(revs, Array.from({ length: 50 }, (_, i) => i + 2));
  });

  void it('with onOverflow cancel, a slow watcher is cancelled with a reason', () => {
    const { hub, put } = setup({ maxPendingEvents: 3, onOverflow: 'cancel' });
    const w = hub.create({ key: b('a') });
    for (let i = 0; i < 5; i++) put('a');
    const batch = hub.poll(w)!;
    assert.equal(batch.canceled, true);
    assert.match(batch.cancel_reason!, /fell more than 3 events behind/);
  });

  void it('progress revision only for synced, idle watchers', () => {
    const { hub, put } = setup();
    const w = hub.create({ key: b('a') });
    assert.equal(hub.progressRevision(w), 1);
    put('a');
    assert.equal(hub.progressRevision(w), undefined);
    drain(hub, w);
    assert.equal(hub.progressRevision(w), 2);
    put('b');
    assert.equal(hub.progressRevision(w), 3, 'events of other keys move progress on');
  });

  void it('a multi-key txn is one batch, in op order', () => {
    const { s, hub } = setup();
    const w = hub.create({ key: b('\0'), range_end: b('\0') });
    s.txn({ success: [{ request_put: { key: b('z') } }, { request_put: { key: b('a') } }] });
    hub.notify(s.lastEvents);
    const batches = drain(hub, w, 1);
    assert.equal(batches.length, 1);
    assert.deepEqual(summary(batches), ['PUT z@2', 'PUT a@2']);
    const replay = hub.create({ key: b('\0'), range_end: b('\0'), start_revision: 2 });
    assert.deepEqual(summary(drain(hub, replay, 1)), ['PUT z@2', 'PUT a@2']);
  });
});
