/**
 * The slot map and the members' ownership check, without processes: placement moves only the
 * ring's share, records round-trip, and the apply-time guard refuses (and every member alike)
 * what a shard does not own or has frozen, while the migrator's writes and reserved keys pass.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCommand, encodeCommand, KvOp, KvStateMachine } from '../../src/kv/state-machine';
import { decodeRecord, encodeRecord, placeSlots, RECORD_KEY, SLOT_COUNT, SlotGuard, slotMoves, slotOf } from '../../src/shardmap';

const enc = (s: string): Uint8Array => Buffer.from(s);

function member(shard: string, owners: string[], frozen: number[] = []): KvStateMachine {
  const sm = new KvStateMachine();
  sm.guard = new SlotGuard();
  const record = encodeRecord({ shard, frozen, map: { epoch: 7, owners, shards: { a: 'http://a', b: 'http://b' } } });
  sm.apply(1, { op: KvOp.PUT, requestId: 0, key: RECORD_KEY, value: enc(record) });
  return sm;
}

describe('slot map', () => {
  it('places slots with the ring: a new shard takes slots only from the others, about its fair share', () => {
    const two = placeSlots(['a', 'b']);
    const three = placeSlots(['c', 'b', 'a']);
    const moves = slotMoves(two, three);
    assert.ok(moves.every((m) => m.to === 'c'), 'slots move only to the new shard');
    assert.ok(Math.abs(moves.length / SLOT_COUNT / (1 / 3) - 1) < 0.1, `${moves.length} slots moved`);
    assert.deepEqual(slotMoves(three, two).map((m) => m.slot), moves.map((m) => m.slot), 'removing it moves the same slots back');
  });

  it('hashes keys to slots independently of order, and round-trips records', () => {
    assert.equal(slotOf('user/1'), slotOf('user/1'));
    const slots = new Set(Array.from({ length: 5000 }, (_, i) => slotOf(`k${i}`)));
    assert.ok(slots.size > 900, `5000 keys hit only ${slots.size} slots`);
    const map = { epoch: 2, owners: placeSlots(['a', 'b']), shards: { a: 'http://a:1', b: 'dns:b:2' }, target: { a: 'http://a:1' } };
    const record = { shard: 'a', frozen: [3], map };
    const text = encodeRecord(record);
    assert.ok(text.length < 2000, `record is ${text.length} bytes`);
    assert.deepEqual(decodeRecord(text), record);
    assert.throws(() => decodeRecord('{"v":1,"slots":16384}'), /16384 slots/);
  });

  it('refuses at apply time the writes of slots the shard does not own or has frozen; admits the migrator and reserved keys', () => {
    const owners = placeSlots(['a', 'b']);
    const mine = Array.from({ length: 200 }, (_, i) => `k${i}`).find((k) => owners[slotOf(k)] === 'a')!;
    const theirs = Array.from({ length: 200 }, (_, i) => `k${i}`).find((k) => owners[slotOf(k)] === 'b')!;
    const a = member('a', owners);
    assert.equal(a.apply(2, { op: KvOp.PUT, requestId: 0, key: mine, value: enc('1') }).rejected, undefined);
    assert.deepEqual(a.apply(3, { op: KvOp.PUT, requestId: 0, key: theirs, value: enc('1') }).rejected,
      { code: 'wrong_shard', slot: slotOf(theirs), epoch: 7, owner: 'b' });
    assert.equal(a.get(theirs), undefined, 'a refused write changes nothing');
    assert.equal(a.apply(4, { op: KvOp.PUT, requestId: 0, key: theirs, value: enc('copy'), migration: true }).rejected, undefined);
    assert.equal(a.get(theirs)?.toString(), 'copy');
    assert.equal(a.apply(5, { op: KvOp.PUT, requestId: 0, key: '__ha/other', value: enc('x') }).rejected, undefined);

    const frozen = member('a', owners, [slotOf(mine)]);
    assert.equal(frozen.apply(2, { op: KvOp.DELETE, requestId: 0, key: mine }).rejected?.code, 'slot_frozen');
    assert.equal((frozen.guard as SlotGuard).checkRead(mine, (k) => frozen.get(k)), undefined, 'a frozen slot is still readable');
    assert.equal((frozen.guard as SlotGuard).checkRead(theirs, (k) => frozen.get(k))?.code, 'wrong_shard');
  });

  it('serves every key without a record (an unsharded store), and the command flag survives encoding', () => {
    const sm = new KvStateMachine();
    sm.guard = new SlotGuard();
    assert.equal(sm.apply(1, { op: KvOp.PUT, requestId: 0, key: 'any', value: enc('v') }).rejected, undefined);
    assert.equal(decodeCommand(encodeCommand({ op: KvOp.DELETE, requestId: 5, key: 'k', migration: true })).migration, true);
    assert.equal(decodeCommand(encodeCommand({ op: KvOp.DELETE, requestId: 5, key: 'k' })).migration, undefined);
  });
});
