/** The state machine: commands round-trip, undecodable entries are rejected identically, snapshots restore. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CompareResult, CompareTarget, decodeCommand, encodeCommand, GrpcCode, MvccCommand, MvccStateMachine, snapshotBytes,
} from '../../src/mvcc';

const b = (s: string): Buffer => Buffer.from(s);

const commands: MvccCommand[] = [
  { op: 'put', requestId: 7, request: { key: b('a'), value: Buffer.from([0, 255, 10]), lease: 0, prev_kv: true, ignore_value: false, ignore_lease: false } },
  { op: 'delete_range', requestId: -3, request: { key: b('a'), range_end: b('b'), prev_kv: true } },
  {
    op: 'txn',
    requestId: 2 ** 52,
    request: {
      compare: [
        { key: b('a'), range_end: b(''), target: CompareTarget.VALUE, result: CompareResult.NOT_EQUAL, value: b('x') },
        { key: b('a'), range_end: b('c'), target: CompareTarget.MOD, result: CompareResult.LESS, mod_revision: 99 },
        { key: b('a'), range_end: b(''), target: CompareTarget.VERSION, result: CompareResult.EQUAL },
      ],
      success: [
        { request_range: { key: b('a'), range_end: b('z'), limit: 3, revision: -1, sort_order: 2, sort_target: 4, serializable: false, keys_only: true, count_only: false, min_mod_revision: 1, max_mod_revision: 2, min_create_revision: 3, max_create_revision: 4 } },
        { request_txn: { compare: [], success: [{ request_put: { key: b('n'), value: b(''), lease: 0, prev_kv: false, ignore_value: false, ignore_lease: false } }], failure: [] } },
        {},
      ],
      failure: [{ request_delete_range: { key: b('d'), range_end: b(''), prev_kv: false } }],
    },
  },
  { op: 'compaction', requestId: 1, request: { revision: 5, physical: true } },
  { op: 'lease_grant', requestId: 1, request: { TTL: 10, ID: 0 } },
  { op: 'lease_revoke', requestId: 1, request: { ID: 12 } },
  { op: 'lease_checkpoint', requestId: 1, request: { checkpoints: [{ ID: 1, remaining_TTL: 4 }, { ID: 2, remaining_TTL: 0 }] } },
];

void describe('MvccStateMachine', () => {
  void it('every command round-trips through its encoding', () => {
    for (const cmd of commands) assert.deepEqual(decodeCommand(encodeCommand(cmd)), cmd);
  });

  void it('an entry that cannot be decoded is rejected, identically on every member, and the next entry applies', () => {
    const members = [new MvccStateMachine(), new MvccStateMachine()];
    const garbage = [Buffer.from([1, 99, 5]), Buffer.from([]), Buffer.from([2, 1, 0]), encodeCommand(commands[0]).subarray(0, 5),
      Buffer.concat([encodeCommand(commands[0]), Buffer.from([0])])];
    const results = members.map((m) => garbage.map((g, i) => m.apply(i + 1, g)));
    for (const r of results[0]) {
      assert.equal(r.error?.code, GrpcCode.INTERNAL);
      assert.match(r.error!.message, /^mvcc: undecodable command: /);
    }
    assert.deepEqual(results[0].map((r) => r.error!.message), results[1].map((r) => r.error!.message));
    const ok = members[0].apply(6, encodeCommand({ op: 'put', requestId: 1, request: { key: b('k'), value: b('v') } }));
    assert.equal(ok.error, undefined);
    assert.equal(ok.revision, 2);
    assert.equal(ok.events.length, 1);
  });

  void it('a rejected request is an error result with etcd\'s code, not an exception', () => {
    const m = new MvccStateMachine();
    const r = m.apply(1, encodeCommand({ op: 'lease_revoke', requestId: 9, request: { ID: 42 } }));
    assert.equal(r.requestId, 9);
    assert.equal(r.error?.code, GrpcCode.NOT_FOUND);
    assert.throws(() => m.apply(3, encodeCommand(commands[0])), /entry 3 applied after 1/);
  });

  void it('snapshot and restore keep keys, history, compaction, leases and the applied index', () => {
    const m = new MvccStateMachine({ minLeaseTtl: 1 });
    let i = 0;
    const run = (cmd: MvccCommand): void => { m.apply(++i, encodeCommand(cmd)); };
    run({ op: 'lease_grant', requestId: 0, request: { TTL: 30 } });
    for (let n = 0; n < 20; n++) run({ op: 'put', requestId: 0, request: { key: b(`k${n % 4}`), value: b(`v${n}`), lease: n % 5 === 0 ? 1 : 0 } });
    run({ op: 'txn', requestId: 0, request: { success: [{ request_put: { key: b('t2') } }, { request_put: { key: b('t1') } }, { request_delete_range: { key: b('k3') } }] } });
    run({ op: 'compaction', requestId: 0, request: { revision: 10 } });
    run({ op: 'lease_checkpoint', requestId: 0, request: { checkpoints: [{ ID: 1, remaining_TTL: 7 }] } });
    const whole = snapshotBytes(m.store.view(), m.appliedIndex);
    const snap = m.snapshot(64);
    const chunks = [...snap.chunks];
    assert.ok(chunks.length > 3, 'small chunks were asked for');
    run({ op: 'put', requestId: 0, request: { key: b('after'), value: b('snapshot') } }); // not in the snapshot
    const restored = new MvccStateMachine({ minLeaseTtl: 1 });
    const restorer = restored.restorer();
    const all = Buffer.concat(chunks);
    for (let off = 0; off < all.length; off += 7) restorer.write(all.subarray(off, off + 7)); // any split
    restored.finishRestore(restorer);
    assert.equal(restored.appliedIndex, snap.appliedIndex);
    assert.equal(restored.store.revision, snap.revision);
    const original = new MvccStateMachine({ minLeaseTtl: 1 });
    original.restore(all);
    // The restored store serializes to the same bytes as the original did at the snapshot.
    assert.deepEqual(snapshotBytes(restored.store.view(), restored.appliedIndex), whole);
    assert.equal(restored.store.leaseTimeToLive({ ID: 1 }).TTL, 7);
    assert.deepEqual(restored.store.history({ start: '', end: null }, 10).events.map((e) => e.kv.key),
      original.store.history({ start: '', end: null }, 10).events.map((e) => e.kv.key));
    assert.throws(() => new MvccStateMachine().restore(all.subarray(0, all.length - 3)), /incomplete/);
  });
});
