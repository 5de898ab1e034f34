/**
 * The /v1 API on the MVCC store answers exactly as the map-based KvStateMachine it replaces: random /v1
 * command sequences applied to both give the same results, gets and listings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
// fast-check is a root devDependency; runtime/package.json lists only what the image ships.
// eslint-disable-next-line import/no-extraneous-dependencies
import * as fc from 'fast-check';
import { KvOp, KvStateMachine } from '../../src/kv/state-machine';
import { encodeCommand, MvccStateMachine, V1_OP, v1Get, v1List, v1Result, v1ToMvcc, v1WriteCost, writeCost } from '../../src/mvcc';

const keys = ['a', 'a/b', 'a/c', 'b', 'é', 'a/é'];
const value = fc.constantFrom('', 'x', 'y').map((s) => Buffer.from(s));
const cmd = fc.record({
  op: fc.constantFrom(KvOp.PUT, KvOp.DELETE, KvOp.CAS, KvOp.CAS_DELETE),
  key: fc.constantFrom(...keys),
  value,
  prev: fc.option(value, { nil: undefined }),
  prevAbsent: fc.boolean(),
});

void describe('/v1 on the MVCC store', () => {
  void it('uses kv/state-machine.ts\'s op numbers', () => {
    assert.deepEqual(V1_OP, { PUT: KvOp.PUT, DELETE: KvOp.DELETE, CAS: KvOp.CAS, CAS_DELETE: KvOp.CAS_DELETE });
  });

  void it('counts a command\'s space-quota cost as its MVCC form does, without building it', () => {
    fc.assert(fc.property(cmd, (c) => {
      const v1 = { ...c, requestId: 1 };
      assert.equal(v1WriteCost(v1), writeCost(v1ToMvcc(v1)), JSON.stringify(v1));
    }));
  });

  void it('answers every command, get and list as KvStateMachine does', () => {
    fc.assert(fc.property(fc.array(cmd, { maxLength: 40 }), (cmds) => {
      const kv = new KvStateMachine();
      const mvcc = new MvccStateMachine();
      cmds.forEach((c, i) => {
        const v1 = { ...c, requestId: i + 1, prevAbsent: c.op === KvOp.CAS && c.prev === undefined && c.prevAbsent };
        const want = kv.apply(i + 1, v1);
        const got = v1Result(v1, mvcc.apply(i + 1, encodeCommand(v1ToMvcc(v1))));
        assert.deepEqual({ ...got, current: got.current && Buffer.from(got.current) },
          { ...want, current: want.current && Buffer.from(want.current) }, JSON.stringify(v1));
        for (const k of keys) assert.deepEqual(v1Get(mvcc.store, k), kv.get(k));
        assert.equal(mvcc.store.keyCount, kv.size);
        for (const [prefix, limit, after] of [['', 10, undefined], ['a/', 1, undefined], ['a', 2, 'a/b']] as const) {
          const a = v1List(mvcc.store, prefix, limit, after);
          const b = kv.list(prefix, limit, after);
          assert.deepEqual(a.items.map((x) => [x.key, Buffer.from(x.value)]), b.items.map((x) => [x.key, Buffer.from(x.value)]));
          assert.equal(a.more, b.more);
        }
      });
      // The count survives a snapshot (the restorer counts the live keys it loads).
      const restored = new MvccStateMachine();
      restored.restore(Buffer.concat([...mvcc.snapshot().chunks]));
      assert.equal(restored.store.keyCount, kv.size);
    }), { numRuns: 200 });
  });
});
