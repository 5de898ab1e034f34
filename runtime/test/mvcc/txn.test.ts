/** Txn semantics as etcd 3.4 applies them (etcdserver/apply.go), checked against etcdctl where noted. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompareResult, CompareTarget, GrpcCode, MvccError, MvccStore, RequestOp } from '../../src/mvcc';

const b = (s: string): Buffer => Buffer.from(s);
const str = (x: Uint8Array): string => Buffer.from(x).toString();
const put = (k: string, v = 'v', extra = {}): RequestOp => ({ request_put: { key: b(k), value: b(v), ...extra } });
const get = (k: string): RequestOp => ({ request_range: { key: b(k) } });
const del = (k: string, end?: string): RequestOp => ({ request_delete_range: { key: b(k), range_end: end ? b(end) : undefined } });
const rejects = (fn: () => unknown, code: GrpcCode, message: string): void => {
  assert.throws(fn, (e: unknown) => e instanceof MvccError && e.code === code && e.message === message);
};

void describe('Txn', () => {
  void it('compares on every target with every operator and picks the branch', () => {
    const s = new MvccStore();
    s.put({ key: b('k'), value: b('m') }); // rev 2, version 1
    const cases: [CompareTarget, CompareResult, Partial<Record<string, unknown>>, boolean][] = [
      [CompareTarget.VALUE, CompareResult.EQUAL, { value: b('m') }, true],
      [CompareTarget.VALUE, CompareResult.GREATER, { value: b('a') }, true],
      [CompareTarget.VALUE, CompareResult.LESS, { value: b('a') }, false],
      [CompareTarget.VALUE, CompareResult.NOT_EQUAL, { value: b('m') }, false],
      [CompareTarget.VERSION, CompareResult.EQUAL, { version: 1 }, true],
      [CompareTarget.CREATE, CompareResult.EQUAL, { create_revision: 2 }, true],
      [CompareTarget.MOD, CompareResult.LESS, { mod_revision: 3 }, true],
      [CompareTarget.MOD, CompareResult.GREATER, { mod_revision: 2 }, false],
      [CompareTarget.LEASE, CompareResult.EQUAL, { lease: 0 }, true],
    ];
    for (const [target, result, union, expected] of cases) {
      const r = s.txn({ compare: [{ key: b('k'), target, result, ...union }], success: [get('k')], failure: [] });
      assert.equal(r.succeeded, expected, `${CompareTarget[target]} ${CompareResult[result]}`);
      assert.equal(r.responses.length, expected ? 1 : 0);
    }
    assert.equal(s.revision, 2, 'read-only txns do not bump the revision');
  });

  void it('a missing key compares as a zero KeyValue, except VALUE which always fails (etcd)', () => {
    const s = new MvccStore();
    const cmp = (target: CompareTarget, extra = {}): boolean => s.txn({ compare: [{ key: b('nope'), target, result: CompareResult.EQUAL, ...extra }] }).succeeded;
    assert.equal(cmp(CompareTarget.CREATE, { create_revision: 0 }), true);
    assert.equal(cmp(CompareTarget.VERSION, { version: 0 }), true);
    assert.equal(cmp(CompareTarget.VALUE, { value: b('') }), false);
  });

  void it('compares over a range require every key to match', () => {
    const s = new MvccStore();
    s.put({ key: b('p/a'), value: b('1') });
    s.put({ key: b('p/b'), value: b('1') });
    const all1 = { key: b('p/'), range_end: b('p0'), target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: b('1') };
    assert.equal(s.txn({ compare: [all1] }).succeeded, true);
    s.put({ key: b('p/c'), value: b('2') });
    assert.equal(s.txn({ compare: [all1] }).succeeded, false);
  });

  void it('applies a branch atomically at one revision, reads see earlier writes of the same txn', () => {
    const s = new MvccStore();
    s.put({ key: b('x'), value: b('0') }); // 2
    const r = s.txn({ success: [get('x'), put('a', '1'), put('b', '2'), get('a'), del('x'), { request_range: { key: b('x'), revision: 2 } }] });
    assert.equal(r.header.revision, 3);
    assert.equal(s.revision, 3);
    const [r0, p1, p2, r3, d4, r5] = r.responses;
    assert.equal(r0.response_range!.header.revision, 2); // before any write of the txn
    assert.equal(p1.response_put!.header.revision, 3);
    assert.equal(p2.response_put!.header.revision, 3);
    assert.equal(str(r3.response_range!.kvs[0].value), '1');
    assert.equal(r3.response_range!.header.revision, 3);
    assert.equal(d4.response_delete_range!.deleted, 1);
    assert.equal(str(r5.response_range!.kvs[0].value), '0');
    for (const k of ['a', 'b']) assert.equal(s.range({ key: b(k) }).kvs[0].mod_revision, 3);
    assert.deepEqual(s.lastEvents.map((e) => e.kv.key), ['a', 'b', 'x']);
  });

  void it('nested txns decide on the state before the outer txn', () => {
    const s = new MvccStore();
    const nested = { request_txn: { compare: [{ key: b('a'), target: CompareTarget.VERSION, result: CompareResult.EQUAL, version: 0 }], success: [put('seen-absent')], failure: [put('seen-present')] } };
    const r = s.txn({ success: [put('a'), nested] });
    assert.equal(r.responses[1].response_txn!.succeeded, true);
    assert.equal(s.range({ key: b('seen-absent') }).count, 1);
    assert.equal(s.range({ key: b('seen-present') }).count, 0);
  });

  void it('rejects etcd\'s duplicate keys: two puts, a put inside a delete range, across nested txns', () => {
    const s = new MvccStore();
    const dup = 'etcdserver: duplicate key given in txn request';
    rejects(() => s.txn({ success: [put('a'), put('a')] }), GrpcCode.INVALID_ARGUMENT, dup);
    rejects(() => s.txn({ success: [del('a', 'c'), put('b')] }), GrpcCode.INVALID_ARGUMENT, dup);
    rejects(() => s.txn({ success: [put('a'), { request_txn: { success: [put('a')] } }] }), GrpcCode.INVALID_ARGUMENT, dup);
    rejects(() => s.txn({ success: [del('a'), { request_txn: { failure: [put('a')] } }] }), GrpcCode.INVALID_ARGUMENT, dup);
    // Allowed: the same key in a nested txn's two branches (only one runs), and overlapping deletes.
    s.txn({ success: [{ request_txn: { success: [put('a')], failure: [put('a')] } }] });
    s.txn({ success: [del('a', 'z'), del('a')] });
    // The failure branch is checked too.
    rejects(() => s.txn({ failure: [put('q'), put('q')] }), GrpcCode.INVALID_ARGUMENT, dup);
  });

  void it('limits ops per txn level (default 128) with etcd\'s message', () => {
    const s = new MvccStore();
    const ops = Array.from({ length: 129 }, (_, i) => put(`k${i}`));
    rejects(() => s.txn({ success: ops }), GrpcCode.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request');
    s.txn({ success: ops.slice(0, 128) });
    assert.equal(s.revision, 2);
    const small = new MvccStore({ maxTxnOps: 2 });
    rejects(() => small.txn({ compare: [{ key: b('a') }, { key: b('b') }, { key: b('c') }] }), GrpcCode.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request');
  });

  void it('put options: prev_kv, ignore_value, ignore_lease, unknown lease, empty op', () => {
    const s = new MvccStore();
    rejects(() => s.put({ key: b('k'), ignore_value: true }), GrpcCode.INVALID_ARGUMENT, 'etcdserver: key not found');
    rejects(() => s.put({ key: b('k'), value: b('x'), ignore_value: true }), GrpcCode.INVALID_ARGUMENT, 'etcdserver: value is provided');
    rejects(() => s.put({ key: b('k'), lease: 5, ignore_lease: true }), GrpcCode.INVALID_ARGUMENT, 'etcdserver: lease is provided');
    rejects(() => s.put({ key: b('k'), lease: 5 }), GrpcCode.NOT_FOUND, 'etcdserver: requested lease not found');
    rejects(() => s.txn({ success: [{}] }), GrpcCode.INVALID_ARGUMENT, 'etcdserver: key not found');
    const lease = s.leaseGrant({ TTL: 60 }).ID;
    s.put({ key: b('k'), value: b('v1'), lease });
    const r = s.put({ key: b('k'), ignore_value: true, ignore_lease: true, prev_kv: true });
    assert.equal(str(r.prev_kv!.value), 'v1');
    const kv = s.range({ key: b('k') }).kvs[0];
    assert.deepEqual([str(kv.value), kv.lease, kv.version], ['v1', lease, 2]);
    s.put({ key: b('k'), value: b('v2') }); // no lease: detaches
    assert.equal(s.range({ key: b('k') }).kvs[0].lease, 0);
    assert.deepEqual(s.leaseTimeToLive({ ID: lease, keys: true }).keys, []);
    assert.equal(s.revision, 4, 'rejected requests changed nothing');
  });

  void it('a rejected txn (range at a future revision in the taken branch) writes nothing', () => {
    const s = new MvccStore();
    rejects(() => s.txn({ success: [put('a'), { request_range: { key: b('a'), revision: 9 } }] }), GrpcCode.OUT_OF_RANGE,
      'etcdserver: mvcc: required revision is a future revision');
    assert.equal(s.revision, 1);
    assert.equal(s.range({ key: b('a') }).count, 0);
    // The branch not taken is not checked (etcd).
    s.txn({ compare: [{ key: b('a'), target: CompareTarget.VERSION, result: CompareResult.GREATER, version: 5 }], success: [{ request_range: { key: b('a'), revision: 9 } }], failure: [put('a')] });
    assert.equal(s.revision, 2);
  });
});
