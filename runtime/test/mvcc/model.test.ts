/**
 * Property test: MvccStore against a deliberately simple reference model (a list of every change ever made,
 * folded on each read) for random puts, delete-ranges, txns, ranges at past revisions and compactions; then
 * snapshot -> restore must give a store that answers every read and replay the same, and the same size (quota.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
// fast-check is a root devDependency; runtime/package.json lists only what the image ships.
// eslint-disable-next-line import/no-extraneous-dependencies
import * as fc from 'fast-check';
import {
  CompareResult, CompareTarget, ENTRY_OVERHEAD_BYTES, MvccError, MvccStateMachine, MvccStore, RequestOp, snapshotBytes,
} from '../../src/mvcc';

interface Kv { create: number; mod: number; ver: number; value: string }
interface Change { rev: number; key: string; value: string | null }

/** Every change in order; state at a revision is a fold. Slow and obviously right. */
class Model {
  rev = 1;
  compactRev = 0;
  changes: Change[] = [];

  stateAt(rev: number): Map<string, Kv> {
    const m = new Map<string, Kv>();
    for (const c of this.changes) {
      if (c.rev > rev) break;
      if (c.value === null) { m.delete(c.key); continue; }
      const cur = m.get(c.key);
      m.set(c.key, { create: cur ? cur.create : c.rev, mod: c.rev, ver: cur ? cur.ver + 1 : 1, value: c.value });
    }
    return m;
  }

  keysIn(state: Map<string, Kv>, start: string, end: string | null): string[] {
    return [...state.keys()].filter((k) => (end === null ? k === start : k >= start && (end === '\0' || k < end))).sort();
  }

  range(start: string, end: string | null, revision: number, limit: number): { kvs: [string, Kv][]; count: number; more: boolean } | string {
    if (revision > this.rev) return 'future';
    if (revision > 0 && revision < this.compactRev) return 'compacted';
    const state = this.stateAt(revision > 0 ? revision : this.rev);
    const keys = this.keysIn(state, start, end);
    const shown = limit > 0 ? keys.slice(0, limit) : keys;
    return { kvs: shown.map((k) => [k, state.get(k)!]), count: keys.length, more: shown.length < keys.length };
  }

  /** Applies one write txn of puts and single deletes; returns false when nothing changed. */
  write(puts: [string, string][], deletes: { start: string; end: string | null }[]): void {
    const state = this.stateAt(this.rev);
    const next = this.rev + 1;
    const out: Change[] = [];
    const live = new Set(state.keys());
    for (const [k, v] of puts) { out.push({ rev: next, key: k, value: v }); live.add(k); }
    for (const d of deletes) {
      for (const k of [...live].filter((x) => (d.end === null ? x === d.start : x >= d.start && (d.end === '\0' || x < d.end))).sort()) {
        out.push({ rev: next, key: k, value: null });
        live.delete(k);
      }
    }
    if (out.length === 0) return;
    this.changes.push(...out);
    this.rev = next;
  }

  /**
   * The space quota's size (mvcc/quota.ts) of what a compaction at compactRev leaves: per key, its changes from the
   * newest at or below compactRev on (without it when that is a deletion older than compactRev).
   */
  sizeBytes(): number {
    const byKey = new Map<string, Change[]>();
    for (const c of this.changes) byKey.set(c.key, [...(byKey.get(c.key) ?? []), c]);
    let size = 0;
    for (const [k, cs] of byKey) {
      let keep = -1;
      cs.forEach((c, i) => { if (c.rev <= this.compactRev) keep = i; });
      if (keep >= 0 && cs[keep].value === null && cs[keep].rev < this.compactRev) keep++;
      for (const c of cs.slice(Math.max(keep, 0))) size += k.length + (c.value?.length ?? 0) + ENTRY_OVERHEAD_BYTES;
    }
    return size;
  }
}

const KEYS = ['a', 'ab', 'b', 'b\0', 'c', '\xff'];
const key = fc.constantFrom(...KEYS);
const end = fc.option(fc.constantFrom('b', 'c', '\0', 'a', 'zz'), { nil: null });
const value = fc.constantFrom('', 'x', 'y', 'zzz');
const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

type Op =
  | { t: 'put'; k: string; v: string }
  | { t: 'del'; k: string; end: string | null }
  | { t: 'txn'; k: string; ver: number; puts: [string, string][]; dels: string[]; elsePut: [string, string] }
  | { t: 'range'; k: string; end: string | null; back: number; limit: number }
  | { t: 'compact'; back: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('put' as const), k: key, v: value }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('del' as const), k: key, end }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('txn' as const),
      k: key,
      ver: fc.integer({ min: 0, max: 3 }),
      puts: fc.array(fc.tuple(key, value), { maxLength: 3 }),
      dels: fc.array(key, { maxLength: 2 }),
      elsePut: fc.tuple(key, value),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('range' as const), k: key, end, back: fc.integer({ min: -1, max: 8 }), limit: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('compact' as const), back: fc.integer({ min: -1, max: 6 }) }) },
);

const rangeEnd = (e: string | null): Buffer | undefined => (e === null ? undefined : e === '\0' ? Buffer.from([0]) : bytes(e));

function errorKind(e: unknown): string {
  if (!(e instanceof MvccError)) throw e;
  if (e.message.includes('compacted')) return 'compacted';
  if (e.message.includes('future')) return 'future';
  if (e.message.includes('duplicate')) return 'duplicate';
  return e.message;
}

function storeRange(s: MvccStore, k: string, e: string | null, revision: number, limit: number, steps = 0): unknown {
  try {
    const req = { key: bytes(k), range_end: rangeEnd(e), revision, limit };
    let r: ReturnType<MvccStore['range']> | undefined;
    if (steps === 0) {
      r = s.range(req);
    } else {
      const stepper = s.rangeSteps(req, steps);
      for (let n = stepper.next(); ; n = stepper.next()) if (n.done) { r = n.value; break; }
    }
    return {
      kvs: r!.kvs.map((kv) => [kv.key.toString('latin1'), { create: kv.create_revision, mod: kv.mod_revision, ver: kv.version, value: kv.value.toString('latin1') }]),
      count: r.count,
      more: r.more,
    };
  } catch (err) {
    return errorKind(err);
  }
}

function step(s: MvccStore, m: Model, o: Op): void {
  switch (o.t) {
    case 'put': {
      s.put({ key: bytes(o.k), value: bytes(o.v) });
      m.write([[o.k, o.v]], []);
      break;
    }
    case 'del': {
      const r = s.deleteRange({ key: bytes(o.k), range_end: rangeEnd(o.end) });
      const before = m.rev;
      m.write([], [{ start: o.k, end: o.end === null ? null : o.end }]);
      assert.equal(r.header.revision, m.rev);
      assert.equal(r.deleted > 0, m.rev > before);
      break;
    }
    case 'txn': {
      const dup = new Set(o.puts.map(([k]) => k)).size !== o.puts.length || o.puts.some(([k]) => o.dels.includes(k));
      const cur = m.stateAt(m.rev).get(o.k);
      const ok = (cur?.ver ?? 0) === o.ver;
      const success: RequestOp[] = [
        ...o.puts.map(([k, v]): RequestOp => ({ request_put: { key: bytes(k), value: bytes(v) } })),
        ...o.dels.map((k): RequestOp => ({ request_delete_range: { key: bytes(k) } })),
      ];
      let got: string;
      try {
        const r = s.txn({
          compare: [{ key: bytes(o.k), target: CompareTarget.VERSION, result: CompareResult.EQUAL, version: o.ver }],
          success,
          failure: [{ request_put: { key: bytes(o.elsePut[0]), value: bytes(o.elsePut[1]) } }],
        });
        got = String(r.succeeded);
      } catch (e) {
        got = errorKind(e);
      }
      assert.equal(got, dup ? 'duplicate' : String(ok));
      if (!dup) {
        if (ok) m.write(o.puts, o.dels.map((k) => ({ start: k, end: null })));
        else m.write([o.elsePut], []);
      }
      break;
    }
    case 'range': {
      const revision = o.back < 0 ? 0 : m.rev - o.back + (o.back === 8 ? 10 : 0);
      const want = m.range(o.k, o.end, revision, o.limit);
      assert.deepEqual(storeRange(s, o.k, o.end, revision, o.limit), want);
      assert.deepEqual(storeRange(s, o.k, o.end, revision, o.limit, 1), want, 'rangeSteps');
      break;
    }
    case 'compact': {
      const rev = m.rev - o.back;
      let got = 'ok';
      try { s.compact({ revision: rev }); } catch (e) { got = errorKind(e); }
      const want = rev <= m.compactRev ? 'compacted' : rev > m.rev ? 'future' : 'ok';
      assert.equal(got, want);
      if (want === 'ok') m.compactRev = rev;
      break;
    }
  }
  assert.equal(s.revision, m.rev);
}

/** Every read the model can answer, at every readable revision, plus the replayed history. */
function sameEverywhere(s: MvccStore, m: Model): void {
  for (let rev = Math.max(1, m.compactRev); rev <= m.rev; rev++) {
    assert.deepEqual(storeRange(s, '\0', '\0', rev, 0), m.range('\0', '\0', rev, 0), `all keys at ${rev}`);
  }
  const from = Math.max(m.compactRev, 1);
  const replay = s.history({ start: '', end: null }, from).events.map((e) => [e.kv.mod, e.kv.key, e.kv.live ? e.kv.value : null]);
  assert.deepEqual(replay, m.changes.filter((c) => c.rev >= from).map((c) => [c.rev, c.key, c.value]));
}

void describe('MvccStore against the reference model', () => {
  void it('random put / delete-range / txn / range / compact sequences, then snapshot -> restore', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      // History is freed one revision per step: compaction work stays pending across later ops.
      const sm = new MvccStateMachine({ compactionStepRevisions: 1 });
      const s = sm.store;
      const m = new Model();
      for (const o of ops) step(s, m, o);
      sameEverywhere(s, m);
      const restored = new MvccStateMachine();
      restored.restore(snapshotBytes(s.view(), 0));
      sameEverywhere(restored.store, m);
      // The restored store freed the compacted history at once; the original does once its steps finish.
      while (s.compactStep()) { /* drain */ }
      assert.deepEqual(snapshotBytes(restored.store.view(), 0), snapshotBytes(s.view(), 0));
      // The size kept write by write equals the one a restore sums, and the model's.
      assert.equal(s.sizeBytes, m.sizeBytes(), 'sizeBytes after writes and compactions');
      assert.equal(restored.store.sizeBytes, m.sizeBytes(), 'sizeBytes after a restore');
    }), { numRuns: 300 });
  });
});
