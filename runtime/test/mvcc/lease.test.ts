/** Leases: the replicated table (grant, revoke, attach, checkpoints) and the leader's clock (expiry, renewals). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeCommand, EventType, GrpcCode, LeaseClock, MAX_LEASE_TTL, MvccError, MvccStateMachine, MvccStore } from '../../src/mvcc';

const b = (s: string): Buffer => Buffer.from(s);
const rejects = (fn: () => unknown, code: GrpcCode, message: string): void => {
  assert.throws(fn, (e: unknown) => e instanceof MvccError && e.code === code && e.message === message);
};

void describe('leases', () => {
  void it('grant picks deterministic IDs, raises short TTLs to the minimum, refuses duplicates and huge TTLs', () => {
    const a = new MvccStore({ minLeaseTtl: 5 });
    const other = new MvccStore({ minLeaseTtl: 5 });
    const ids = [a.leaseGrant({ TTL: 1 }), a.leaseGrant({ TTL: 30, ID: 2 }), a.leaseGrant({ TTL: 30 })].map((r) => r.ID);
    const same = [other.leaseGrant({ TTL: 1 }), other.leaseGrant({ TTL: 30, ID: 2 }), other.leaseGrant({ TTL: 30 })].map((r) => r.ID);
    assert.deepEqual(ids, [1, 2, 3]);
    assert.deepEqual(same, ids);
    assert.equal(a.leaseTimeToLive({ ID: 1 }).grantedTTL, 5);
    rejects(() => a.leaseGrant({ TTL: 10, ID: 2 }), GrpcCode.FAILED_PRECONDITION, 'etcdserver: lease already exists');
    rejects(() => a.leaseGrant({ TTL: MAX_LEASE_TTL + 1 }), GrpcCode.OUT_OF_RANGE, 'etcdserver: too large lease TTL');
    assert.deepEqual(a.leaseLeases().leases.map((l) => l.ID), [1, 2, 3]);
    assert.equal(a.revision, 1, 'grants do not bump the revision');
  });

  void it('never hands out a revoked lease ID again, across a snapshot too (a holder of an expired lease cannot renew another)', () => {
    const m = new MvccStateMachine();
    let index = 0;
    const grant = (machine: MvccStateMachine): number =>
      (machine.apply(++index, encodeCommand({ op: 'lease_grant', requestId: 0, request: { TTL: 60 } })).response as { ID: number }).ID;
    const revoke = (machine: MvccStateMachine, ID: number): void => {
      assert.equal(machine.apply(++index, encodeCommand({ op: 'lease_revoke', requestId: 0, request: { ID } })).error, undefined);
    };
    const [first, second] = [grant(m), grant(m)];
    revoke(m, first);
    revoke(m, second);
    const third = grant(m);
    assert.deepEqual([first, second, third], [1, 2, 3]);
    revoke(m, third);
    const restored = new MvccStateMachine();
    restored.restore(Buffer.concat([...m.snapshot().chunks]));
    assert.equal(grant(restored), 4, 'the counter is part of the snapshot');
  });

  void it('revoke deletes the attached keys in one revision; an unknown lease is NOT_FOUND', () => {
    const s = new MvccStore();
    const id = s.leaseGrant({ TTL: 60 }).ID;
    s.put({ key: b('a'), lease: id });
    s.put({ key: b('b'), lease: id });
    s.put({ key: b('c') });
    assert.deepEqual(s.leaseTimeToLive({ ID: id, keys: true }).keys.map(String), ['a', 'b']);
    const rev = s.leaseRevoke({ ID: id }).header.revision;
    assert.equal(rev, 5);
    assert.deepEqual(s.lastEvents.map((e) => [e.type, e.kv.key, e.kv.mod]), [[EventType.DELETE, 'a', 5], [EventType.DELETE, 'b', 5]]);
    assert.equal(s.range({ key: b('a'), range_end: b('z') }).count, 1);
    assert.equal(s.leaseTimeToLive({ ID: id }).TTL, -1);
    rejects(() => s.leaseRevoke({ ID: id }), GrpcCode.NOT_FOUND, 'etcdserver: requested lease not found');
    const empty = s.leaseGrant({ TTL: 60 }).ID;
    s.leaseRevoke({ ID: empty });
    assert.equal(s.revision, 5, 'revoking a lease without keys writes nothing');
  });

  void it('deleting a key detaches it from its lease', () => {
    const s = new MvccStore();
    const id = s.leaseGrant({ TTL: 60 }).ID;
    s.put({ key: b('a'), lease: id });
    s.deleteRange({ key: b('a') });
    s.put({ key: b('a') });
    s.leaseRevoke({ ID: id });
    assert.equal(s.range({ key: b('a') }).count, 1, 'the re-created key no longer belongs to the lease');
  });

  void it('the clock expires leases at their deadline and offers each again only after the retry interval', () => {
    const s = new MvccStore({ minLeaseTtl: 1 });
    const short = s.leaseGrant({ TTL: 2 }).ID;
    const long = s.leaseGrant({ TTL: 10 }).ID;
    const clock = new LeaseClock(() => s.leases, 3000);
    assert.deepEqual(clock.expired(0), []);
    assert.equal(clock.remainingSeconds(short, 500), 1);
    assert.deepEqual(clock.expired(1999), []);
    assert.deepEqual(clock.expired(2000), [short]);
    assert.deepEqual(clock.expired(2500), [], 'a revoke in flight is not offered again at once');
    assert.deepEqual(clock.expired(5000), [short], 'offered again when its revoke did not apply');
    assert.deepEqual(clock.renew(long, 5000), { TTL: 10, checkpointReset: false });
    assert.deepEqual(clock.expired(10_000), [short]);
    assert.deepEqual(clock.expired(15_000).includes(long), true);
    rejects(() => clock.renew(99, 0), GrpcCode.NOT_FOUND, 'etcdserver: requested lease not found');
  });

  void it('checkpoints carry the remaining TTL to a new leader instead of restarting it', () => {
    const s = new MvccStore({ minLeaseTtl: 1 });
    const id = s.leaseGrant({ TTL: 100 }).ID;
    const oldLeader = new LeaseClock(() => s.leases);
    oldLeader.expired(0); // the old leader starts counting at t=0
    const cps = oldLeader.checkpoints(60_000); // 40 s left at t=60 s
    assert.deepEqual(cps, [{ ID: id, remaining_TTL: 40 }]);
    s.leaseCheckpoint({ checkpoints: cps });
    assert.equal(s.leaseTimeToLive({ ID: id }).TTL, 40);
    const newLeader = new LeaseClock(() => s.leases); // elected at its own t=1000 s
    assert.deepEqual(newLeader.expired(1_000_000), []);
    assert.equal(newLeader.remainingSeconds(id, 1_000_000), 40);
    assert.deepEqual(newLeader.expired(1_040_000), [id]);
    // A keep-alive restores the full TTL; the stale checkpoint must be reset through the log.
    assert.deepEqual(newLeader.renew(id, 1_040_000), { TTL: 100, checkpointReset: true });
    s.leaseCheckpoint({ checkpoints: [{ ID: id, remaining_TTL: 0 }] });
    assert.equal(s.leaseTimeToLive({ ID: id }).TTL, 100);
  });
});
