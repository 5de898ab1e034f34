/** MvccStore against etcd 3.4's semantics (revisions, versions, ranges, compaction), checked with etcdctl where noted. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GrpcCode, MvccError, MvccStore, prefixEnd, SortOrder, SortTarget } from '../../src/mvcc';

const b = (s: string): Buffer => Buffer.from(s);
const str = (x: Uint8Array): string => Buffer.from(x).toString();
const rejects = (fn: () => unknown, code: GrpcCode, message: string): void => {
  assert.throws(fn, (e: unknown) => e instanceof MvccError && e.code === code && e.message === message);
};

void describe('MvccStore', () => {
  void it('an empty store is at revision 1 and the first put is revision 2 (etcd)', () => {
    const s = new MvccStore();
    assert.equal(s.revision, 1);
    const put = s.put({ key: b('a'), value: b('1') });
    assert.equal(put.header.revision, 2);
    const got = s.range({ key: b('a') });
    assert.equal(got.kvs.length, 1);
    assert.deepEqual({ ...got.kvs[0], key: str(got.kvs[0].key), value: str(got.kvs[0].value) },
      { key: 'a', value: '1', create_revision: 2, mod_revision: 2, version: 1, lease: 0 });
  });

  void it('version counts writes in a generation; a delete ends it and a re-put starts a new one', () => {
    const s = new MvccStore();
    s.put({ key: b('k'), value: b('1') }); // rev 2
    s.put({ key: b('k'), value: b('2') }); // rev 3
    assert.deepEqual(pick(s.range({ key: b('k') }).kvs[0]), { c: 2, m: 3, v: 2 });
    const del = s.deleteRange({ key: b('k'), prev_kv: true }); // rev 4
    assert.equal(del.deleted, 1);
    assert.equal(str(del.prev_kvs[0].value), '2');
    assert.equal(s.range({ key: b('k') }).kvs.length, 0);
    s.put({ key: b('k'), value: b('3') }); // rev 5
    assert.deepEqual(pick(s.range({ key: b('k') }).kvs[0]), { c: 5, m: 5, v: 1 });
    // Past revisions stay readable until compaction.
    assert.equal(str(s.range({ key: b('k'), revision: 2 }).kvs[0].value), '1');
    assert.equal(s.range({ key: b('k'), revision: 4 }).kvs.length, 0);
  });

  void it('deleting nothing does not bump the revision', () => {
    const s = new MvccStore();
    s.put({ key: b('a') });
    const del = s.deleteRange({ key: b('zz') });
    assert.equal(del.deleted, 0);
    assert.equal(del.header.revision, 2);
    assert.equal(s.revision, 2);
  });

  void it('ranges: single key, [key, end), prefix, "\\0" = all keys >= key, limit/more/count, keys_only, count_only', () => {
    const s = new MvccStore();
    for (const k of ['a', 'ab', 'abc', 'b', 'c\xff', 'd']) s.put({ key: Buffer.from(k, 'latin1'), value: b(`v-${k}`) });
    const keys = (r: { kvs: { key: Uint8Array }[] }): string[] => r.kvs.map((kv) => Buffer.from(kv.key).toString('latin1'));
    assert.deepEqual(keys(s.range({ key: b('ab') })), ['ab']);
    assert.deepEqual(keys(s.range({ key: b('a'), range_end: b('b') })), ['a', 'ab', 'abc']);
    assert.deepEqual(keys(s.range({ key: b('ab'), range_end: prefixEnd(b('ab')) })), ['ab', 'abc']);
    assert.deepEqual(keys(s.range({ key: b('b'), range_end: Buffer.from([0]) })), ['b', 'c\xff', 'd']);
    assert.deepEqual(keys(s.range({ key: Buffer.from([0]), range_end: Buffer.from([0]) })), ['a', 'ab', 'abc', 'b', 'c\xff', 'd']);
    assert.deepEqual(prefixEnd(Buffer.from('c\xff', 'latin1')), b('d'));
    assert.deepEqual(prefixEnd(Buffer.from([0xff, 0xff])), Buffer.from([0]));
    const limited = s.range({ key: b('a'), range_end: Buffer.from([0]), limit: 2 });
    assert.deepEqual(keys(limited), ['a', 'ab']);
    assert.equal(limited.more, true);
    assert.equal(limited.count, 6);
    const only = s.range({ key: b('a'), range_end: b('b'), keys_only: true });
    assert.ok(only.kvs.every((kv) => kv.value.length === 0));
    const counted = s.range({ key: b('a'), range_end: b('b'), count_only: true });
    assert.deepEqual([counted.kvs.length, counted.count, counted.more], [0, 3, false]);
    assert.equal(s.range({ key: b('b'), range_end: b('a') }).count, 0);
  });

  void it('sort and revision filters fetch everything first, then cut at the limit (etcd)', () => {
    const s = new MvccStore();
    s.put({ key: b('x1'), value: b('c') }); // 2
    s.put({ key: b('x2'), value: b('a') }); // 3
    s.put({ key: b('x3'), value: b('b') }); // 4
    s.put({ key: b('x1'), value: b('d') }); // 5
    const all = { key: b('x'), range_end: prefixEnd(b('x')) };
    const keys = (r: { kvs: { key: Uint8Array }[] }): string[] => r.kvs.map((kv) => str(kv.key));
    assert.deepEqual(keys(s.range({ ...all, sort_order: SortOrder.DESCEND, sort_target: SortTarget.MOD, limit: 2 })), ['x1', 'x3']);
    assert.deepEqual(keys(s.range({ ...all, sort_target: SortTarget.VALUE })), ['x2', 'x3', 'x1']); // NONE + VALUE = ASCEND
    assert.deepEqual(keys(s.range({ ...all, min_mod_revision: 3, max_mod_revision: 4 })), ['x2', 'x3']);
    assert.deepEqual(keys(s.range({ ...all, min_create_revision: 3 })), ['x2', 'x3']);
    const r = s.range({ ...all, max_create_revision: 2, limit: 1 });
    assert.deepEqual([keys(r), r.count, r.more], [['x1'], 3, false]);
  });

  void it('future and compacted revisions are refused with etcd\'s codes and messages', () => {
    const s = new MvccStore();
    for (let i = 0; i < 5; i++) s.put({ key: b('k'), value: b(String(i)) }); // revs 2..6
    rejects(() => s.range({ key: b('k'), revision: 7 }), GrpcCode.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision');
    s.compact({ revision: 4 });
    rejects(() => s.range({ key: b('k'), revision: 3 }), GrpcCode.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted');
    assert.equal(str(s.range({ key: b('k'), revision: 4 }).kvs[0].value), '2');
    assert.equal(str(s.range({ key: b('k'), revision: 5 }).kvs[0].value), '3');
    rejects(() => s.compact({ revision: 4 }), GrpcCode.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted');
    rejects(() => s.compact({ revision: 9 }), GrpcCode.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision');
  });

  void it('compaction removes keys deleted before it and keeps the state at its revision', () => {
    const s = new MvccStore();
    s.put({ key: b('gone'), value: b('1') }); // 2
    s.put({ key: b('kept'), value: b('1') }); // 3
    s.deleteRange({ key: b('gone') }); // 4
    s.put({ key: b('kept'), value: b('2') }); // 5
    s.compact({ revision: 5 });
    assert.equal(s.indexSize, 1);
    assert.equal(s.range({ key: b('gone'), revision: 5 }).kvs.length, 0);
    assert.equal(str(s.range({ key: b('kept'), revision: 5 }).kvs[0].value), '2');
    assert.deepEqual(pick(s.range({ key: b('kept') }).kvs[0]), { c: 3, m: 5, v: 2 });
  });

  void it('rangeSteps answers from the state when it was called, whatever is written between steps', () => {
    const s = new MvccStore();
    for (let i = 0; i < 10; i++) s.put({ key: b(`k${i}`), value: b('old') });
    const req = { key: b('k'), range_end: prefixEnd(b('k')), limit: 4 };
    const want = s.range(req);
    const stepper = s.rangeSteps(req, 2);
    let steps = 0;
    let n = stepper.next();
    for (; !n.done; n = stepper.next()) {
      steps++;
      s.put({ key: b(`k${steps}`), value: b('new') });
      s.deleteRange({ key: b('k9') });
    }
    assert.ok(steps >= 4);
    assert.deepEqual(n.value, want);
    rejects(() => s.rangeSteps({ key: b('k'), revision: 99 }), GrpcCode.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision');
  });

  void it('a large compaction frees its history in bounded steps; reads are right throughout', () => {
    const s = new MvccStore({ compactionStepRevisions: 100 });
    for (let i = 0; i < 1000; i++) s.put({ key: b(`k${i % 10}`), value: b(String(i)) }); // revs 2..1001
    s.put({ key: b('late') }); // 1002
    s.deleteRange({ key: b('late') }); // 1003
    s.put({ key: b('k1'), value: b('last') }); // 1004
    s.compact({ revision: 1004 });
    assert.equal(s.indexSize, 11, 'only 100 revisions freed so far: the deleted key is still there');
    rejects(() => s.range({ key: b('k1'), revision: 1000 }), GrpcCode.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted');
    assert.equal(str(s.range({ key: b('k1') }).kvs[0].value), 'last');
    assert.equal(str(s.range({ key: b('k2'), revision: 1004 }).kvs[0].value), '992');
    let steps = 0;
    while (s.compactStep()) steps++;
    assert.equal(steps, 9);
    assert.equal(s.indexSize, 10, 'the key deleted before the compaction is gone');
    assert.equal(s.range({ key: b('late'), revision: 1004 }).count, 0);
    assert.equal(str(s.range({ key: b('k2'), revision: 1004 }).kvs[0].value), '992');
  });

  void it('bad requests: empty key, non-integer revision, unknown enum', () => {
    const s = new MvccStore();
    rejects(() => s.put({ key: b('') }), GrpcCode.INVALID_ARGUMENT, 'etcdserver: key is not provided');
    rejects(() => s.range({ key: b('') }), GrpcCode.INVALID_ARGUMENT, 'etcdserver: key is not provided');
    assert.throws(() => s.range({ key: b('a'), revision: 1.5 }), (e: unknown) => e instanceof MvccError && e.code === GrpcCode.INVALID_ARGUMENT);
    assert.throws(() => s.range({ key: b('a'), sort_order: 7 as SortOrder }), (e: unknown) => e instanceof MvccError && e.code === GrpcCode.INVALID_ARGUMENT);
    assert.equal(s.revision, 1);
  });
});

function pick(kv: { create_revision: number; mod_revision: number; version: number }): { c: number; m: number; v: number } {
  return { c: kv.create_revision, m: kv.mod_revision, v: kv.version };
}
