import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeCommand, encodeCommand, KvOp, KvStateMachine } from '../../src/kv/state-machine';

const b = (s: string): Buffer => Buffer.from(s);

test('commands round-trip through the binary encoding, including empty and binary values', () => {
  const cases = [
    { op: KvOp.PUT, requestId: 3 * 2 ** 32 + 7, key: 'k/ü', value: b('v') },
    { op: KvOp.PUT, requestId: 1, key: 'empty', value: new Uint8Array(0) },
    { op: KvOp.DELETE, requestId: 0, key: 'd' },
    { op: KvOp.CAS, requestId: 9, key: 'c', value: Buffer.from([0, 255, 10]), prev: Buffer.from([1, 2]) },
    { op: KvOp.CAS, requestId: 9, key: 'c', value: b('x'), prevAbsent: true },
    { op: KvOp.CAS_DELETE, requestId: 2, key: 'c', prev: b('') },
  ];
  for (const c of cases) {
    const d = decodeCommand(encodeCommand(c));
    assert.equal(d.op, c.op);
    assert.equal(d.requestId, c.requestId);
    assert.equal(d.key, c.key);
    assert.deepEqual(d.value && Buffer.from(d.value), c.value && Buffer.from(c.value));
    assert.deepEqual(d.prev && Buffer.from(d.prev), c.prev && Buffer.from(c.prev));
    assert.equal(d.prevAbsent, c.prevAbsent ?? false);
  }
});

test('a truncated command is rejected, not misread', () => {
  const enc = encodeCommand({ op: KvOp.PUT, requestId: 1, key: 'k', value: b('value') });
  assert.throws(() => decodeCommand(enc.subarray(0, enc.length - 1)), /length does not match/);
  assert.throws(() => decodeCommand(enc.subarray(0, 5)), /shorter than/);
});

test('put, get, delete and compare-and-swap follow the documented semantics', () => {
  const sm = new KvStateMachine();
  assert.equal(sm.apply(1, { op: KvOp.PUT, requestId: 0, key: 'a', value: b('1') }).existed, false);
  assert.equal(Buffer.from(sm.get('a')!).toString(), '1');
  // CAS with the wrong expected value fails and reports the current value.
  const miss = sm.apply(2, { op: KvOp.CAS, requestId: 0, key: 'a', value: b('2'), prev: b('0') });
  assert.equal(miss.succeeded, false);
  assert.equal(Buffer.from(miss.current!).toString(), '1');
  assert.ok(sm.apply(3, { op: KvOp.CAS, requestId: 0, key: 'a', value: b('2'), prev: b('1') }).succeeded);
  assert.equal(Buffer.from(sm.get('a')!).toString(), '2');
  // put-if-absent
  assert.equal(sm.apply(4, { op: KvOp.CAS, requestId: 0, key: 'a', value: b('3'), prevAbsent: true }).succeeded, false);
  assert.ok(sm.apply(5, { op: KvOp.CAS, requestId: 0, key: 'new', value: b('n'), prevAbsent: true }).succeeded);
  // compare-and-delete
  assert.equal(sm.apply(6, { op: KvOp.CAS_DELETE, requestId: 0, key: 'a', prev: b('x') }).succeeded, false);
  assert.ok(sm.apply(7, { op: KvOp.CAS_DELETE, requestId: 0, key: 'a', prev: b('2') }).succeeded);
  assert.equal(sm.get('a'), undefined);
  assert.equal(sm.apply(8, { op: KvOp.DELETE, requestId: 0, key: 'a' }).existed, false);
  assert.equal(sm.appliedIndex, 8);
});

test('entries must be applied in order, exactly once', () => {
  const sm = new KvStateMachine();
  sm.skip(1);
  assert.throws(() => sm.apply(3, { op: KvOp.PUT, requestId: 0, key: 'a', value: b('') }), /without gaps/);
  assert.throws(() => sm.skip(1), /applied twice/);
});

test('the applied value is a copy: reusing the log buffer cannot change the state', () => {
  const sm = new KvStateMachine();
  const value = Buffer.from('abc');
  sm.apply(1, { op: KvOp.PUT, requestId: 0, key: 'k', value });
  value.fill(0x7a);
  assert.equal(Buffer.from(sm.get('k')!).toString(), 'abc');
});

test('listing by prefix is sorted, bounded and says when more remain', () => {
  const sm = new KvStateMachine();
  ['b/2', 'a/1', 'b/1', 'b/3', 'c'].forEach((k, i) => sm.apply(i + 1, { op: KvOp.PUT, requestId: 0, key: k, value: b(k) }));
  const { items, more } = sm.list('b/', 2);
  assert.deepEqual(items.map((i) => i.key), ['b/1', 'b/2']);
  assert.equal(more, true);
  assert.equal(sm.list('b/', 3).more, false);
});

test('a snapshot restores exactly the same map and applied index', () => {
  const sm = new KvStateMachine();
  for (let i = 1; i <= 100; i++) sm.apply(i, { op: KvOp.PUT, requestId: 0, key: `k${i % 37}`, value: Buffer.from([i, 0, i]) });
  const copy = new KvStateMachine();
  copy.restore(100, sm.snapshot());
  assert.equal(copy.appliedIndex, 100);
  assert.equal(copy.size, sm.size);
  for (let k = 0; k < 37; k++) assert.deepEqual(Buffer.from(copy.get(`k${k}`)!), Buffer.from(sm.get(`k${k}`)!));
  assert.throws(() => copy.restore(5, sm.snapshot().subarray(0, 20)), /truncated/);
});
