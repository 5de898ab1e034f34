/**
 * server/v1-store.ts: random logs of /v1 commands, etcd API writes, empty entries and fold entries. Every member
 * ends in the same state whichever snapshot it restarted from (snapshots before the fold are the older release's
 * format 2), and that state is the model's: two key spaces until the first fold, then one, where a key both held
 * keeps its /v1 value.
 */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as fc from 'fast-check';
import { encodeCommand, KvOp } from '../../src/kv/state-machine';
import { AuthCommand, AuthRequest, PermType } from '../../src/mvcc';
import { Logger } from '../../src/observability/logger';
import { MvccHost } from '../../src/server/mvcc-host';
import { encodeCheckedV1, V1_FOLD_ENTRY, V1Store } from '../../src/server/v1-store';

const KEYS = ['a', 'b', 'c/d'];
const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

type Op =
  | { kind: 'v1'; op: KvOp; key: string; value: string; prev?: string; prevAbsent?: boolean }
  | { kind: 'etcd-put' | 'etcd-del'; key: string; value: string }
  | { kind: 'empty' | 'fold' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('v1' as const),
    op: fc.constantFrom(KvOp.PUT, KvOp.DELETE, KvOp.CAS, KvOp.CAS_DELETE),
    key: fc.constantFrom(...KEYS),
    value: fc.constantFrom('1', '2'),
    prev: fc.option(fc.constantFrom('1', '2'), { nil: undefined }),
    prevAbsent: fc.boolean(),
  }).map((c): Op => (c.op === KvOp.CAS && c.prev === undefined ? { ...c, prevAbsent: c.prevAbsent } : { ...c, prevAbsent: false })),
  fc.record({ kind: fc.constantFrom('etcd-put' as const, 'etcd-del' as const), key: fc.constantFrom(...KEYS), value: fc.constantFrom('x', 'y') }),
  fc.constant({ kind: 'empty' as const }),
  fc.constant({ kind: 'fold' as const }),
);

function entry(o: Op): Uint8Array {
  switch (o.kind) {
    case 'v1': return encodeCommand({ op: o.op, requestId: 0, key: o.key, value: bytes(o.value), prev: o.prev === undefined ? undefined : bytes(o.prev), prevAbsent: o.prevAbsent });
    case 'etcd-put': return MvccHost.encodeEntry({ op: 'put', requestId: 0, request: { key: bytes(o.key), value: bytes(o.value) } });
    case 'etcd-del': return MvccHost.encodeEntry({ op: 'delete_range', requestId: 0, request: { key: bytes(o.key) } });
    case 'empty': return new Uint8Array(0);
    case 'fold': return V1_FOLD_ENTRY;
  }
}

const quiet = new Logger('error');

function member(): V1Store {
  return new V1Store(new MvccHost(quiet));
}

/** A member's whole state as bytes: its snapshot (the head and the MVCC store's chunks). */
function state(v1: V1Store, host: MvccHost): Buffer {
  return Buffer.concat([...v1.snapshotHead(), ...host.machine.snapshot().chunks]);
}

/** Two key spaces (v1, etcd) until the first fold, then one. */
function model(ops: readonly Op[]): Map<string, string> {
  let v1 = new Map<string, string>();
  const etcd = new Map<string, string>();
  let folded = false;
  for (const o of ops) {
    if (o.kind === 'fold') {
      if (!folded) for (const [k, v] of v1) etcd.set(k, v);
      folded = true;
      v1 = etcd;
    } else if (o.kind === 'etcd-put') {
      etcd.set(o.key, o.value);
    } else if (o.kind === 'etcd-del') {
      etcd.delete(o.key);
    } else if (o.kind === 'v1') {
      const cur = v1.get(o.key);
      const holds = o.op === KvOp.PUT || o.op === KvOp.DELETE ||
        (o.prevAbsent ? cur === undefined : o.prev !== undefined && cur === o.prev);
      if (holds && (o.op === KvOp.PUT || o.op === KvOp.CAS)) v1.set(o.key, o.value);
      if (holds && (o.op === KvOp.DELETE || o.op === KvOp.CAS_DELETE)) v1.delete(o.key);
    }
  }
  return folded ? etcd : v1;
}

describe('V1Store', () => {
  void it('every member reaches the same state from any snapshot point, and it is the model\'s', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 30 }), fc.nat(), (ops, at) => {
      const log = ops.map(entry);
      const snapAt = log.length === 0 ? 0 : at % (log.length + 1);
      // A member that applies everything.
      const hostA = new MvccHost(quiet);
      const a = new V1Store(hostA);
      log.forEach((data, i) => a.applyEntry(i + 1, data));
      // One that snapshots at snapAt, and one that restarts from that snapshot and applies the rest.
      const hostB = new MvccHost(quiet);
      const b = new V1Store(hostB);
      log.slice(0, snapAt).forEach((data, i) => b.applyEntry(i + 1, data));
      const hostC = new MvccHost(quiet);
      const c = new V1Store(hostC);
      c.restore(snapAt, state(b, hostB));
      log.slice(snapAt).forEach((data, i) => c.applyEntry(snapAt + i + 1, data));
      assert.deepEqual(state(c, hostC), state(a, hostA));
      assert.equal(c.folded, a.folded);
      const want = model(ops);
      for (const k of KEYS) assert.deepEqual(a.get(k), want.has(k) ? bytes(want.get(k)!) : undefined, `key ${k}`);
      assert.equal(a.size, want.size);
      assert.deepEqual(a.list('', 10).items.map((i) => i.key), [...want.keys()].sort());
    }), { numRuns: 300 });
  });

  void it('answers /v1 results and the etcd outcome to their waiters; the fold answers nobody', () => {
    const v1 = member();
    assert.equal(v1.applyEntry(1, V1_FOLD_ENTRY).kind, 'fold');
    const put = v1.applyEntry(2, encodeCommand({ op: KvOp.PUT, requestId: 7, key: 'k', value: bytes('v') }));
    assert.deepEqual(put, { kind: 'v1', requestId: 7, result: { succeeded: true, existed: false, index: 2 } });
    const cas = v1.applyEntry(3, encodeCommand({ op: KvOp.CAS, requestId: 8, key: 'k', value: bytes('w'), prev: bytes('nope') }));
    assert.equal(cas.kind, 'v1');
    assert.deepEqual(cas.result && { ...cas.result, current: Buffer.from((cas.result as { current: Uint8Array }).current) },
      { succeeded: false, existed: true, current: bytes('v'), index: 3 });
    const garbage = v1.applyEntry(4, Buffer.from([9, 9, 9]));
    assert.equal(garbage.kind, 'v1');
    assert.match(String((garbage.result as { undecodable?: string }).undecodable), /shorter than its/);
    assert.equal(v1.appliedIndex, 4);
    assert.deepEqual(v1.get('k'), bytes('v'));
  });

  void it('refuses a write the guard rejects, after the fold too, and changes nothing', () => {
    const v1 = member();
    const rejection = { code: 'wrong_shard' as const, slot: 1, epoch: 2, owner: 's2' };
    v1.guard = { admit: (cmd) => (cmd.key === 'theirs' && !cmd.migration ? rejection : undefined) };
    for (const [i, data] of [V1_FOLD_ENTRY, encodeCommand({ op: KvOp.PUT, requestId: 1, key: 'theirs', value: bytes('v') })].entries()) {
      const r = v1.applyEntry(i + 1, data);
      if (r.kind === 'v1') assert.deepEqual(r.result.rejected, rejection);
    }
    assert.equal(v1.get('theirs'), undefined);
    const moved = v1.applyEntry(3, encodeCommand({ op: KvOp.PUT, requestId: 2, key: 'theirs', value: bytes('v'), migration: true }));
    assert.equal(moved.kind === 'v1' && moved.result.succeeded, true);
    assert.deepEqual(v1.get('theirs'), bytes('v'));
  });

  void it('applies a write with its etcd auth caller only while the caller may still write the key when it applies', () => {
    const host = new MvccHost(quiet);
    const v1 = new V1Store(host);
    let index = 0;
    const auth = (r: AuthRequest): void => {
      const applied = v1.applyEntry(++index, MvccHost.encodeEntry({ op: 'auth', requestId: 0, request: { ...r, caller: 'root' } as AuthCommand }));
      assert.equal(applied.kind === 'mvcc' && applied.result.ok, true, JSON.stringify(r));
    };
    v1.applyEntry(++index, V1_FOLD_ENTRY);
    auth({ kind: 'user_add', name: 'root', password: 'h', noPassword: false });
    auth({ kind: 'user_grant_role', user: 'root', role: 'root' });
    auth({ kind: 'user_add', name: 'bob', password: 'h', noPassword: false });
    auth({ kind: 'role_add', name: 'w' });
    auth({ kind: 'role_grant_permission', name: 'w', perm: { permType: PermType.READWRITE, key: bytes('k'), range_end: Buffer.alloc(0) } });
    auth({ kind: 'user_grant_role', user: 'bob', role: 'w' });
    auth({ kind: 'enable' });
    const put = (caller: string, value: string): ReturnType<V1Store['applyEntry']> =>
      v1.applyEntry(++index, encodeCheckedV1(caller, encodeCommand({ op: KvOp.PUT, requestId: 40 + index, key: 'k', value: bytes(value) })));

    assert.deepEqual(put('bob', 'granted').result, { succeeded: true, existed: false, index });
    const cas = v1.applyEntry(++index, encodeCheckedV1('bob', encodeCommand({ op: KvOp.CAS, requestId: 1, key: 'k', value: bytes('swapped'), prev: bytes('granted') })));
    assert.equal(cas.kind === 'v1' && cas.result.succeeded, true);
    // The role is revoked after the leader checked bob's next write and before that write applies.
    auth({ kind: 'user_revoke_role', name: 'bob', role: 'w' });
    const refused = put('bob', 'after-revoke');
    assert.deepEqual(refused, { kind: 'v1', requestId: 40 + index, result: { succeeded: false, existed: false, index, denied: 'etcdserver: permission denied' } });
    assert.equal((put('', 'nobody').result as { denied?: string }).denied, 'etcdserver: user name is empty');
    assert.deepEqual(v1.get('k'), bytes('swapped'));
    assert.equal(v1.appliedIndex, index);
    put('root', 'root-may');
    assert.equal(Buffer.from(v1.get('k')!).toString(), 'root-may');
    // Once auth is off, the caller no longer matters (as for the etcd API's writes).
    auth({ kind: 'disable' });
    put('bob', 'auth-off');
    assert.equal(Buffer.from(v1.get('k')!).toString(), 'auth-off');

    const truncated = v1.applyEntry(++index, Buffer.from([0xea, 0, 9, 0x62]));
    assert.match(String((truncated.result as { undecodable?: string }).undecodable), /user name \(9 bytes\) overruns/);
    assert.equal(v1.appliedIndex, index);
  });
});
