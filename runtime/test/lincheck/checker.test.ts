import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fail, info, inv, ok } from './helpers';
import { checkHistory, CheckResult, HistoryEvent } from '../../src/lincheck';

function assertLinearizable(events: HistoryEvent[]): void {
  const r = checkHistory(events);
  assert.equal(r.ok, true, r.ok === true ? '' : r.explanation);
}
function assertNotLinearizable(events: HistoryEvent[], key = 'r'): CheckResult & { ok: false } {
  const r = checkHistory(events);
  assert.equal(r.ok, false, `expected a violation, got ${r.status}`);
  if (r.ok !== false) throw new Error('unreachable');
  assert.equal(r.key, key);
  assert.ok(r.operations.length > 0);
  return r;
}

describe('linearizable histories', () => {
  it('accepts the empty history', () => assertLinearizable([]));

  it('accepts sequential put, get, delete, get', () => assertLinearizable([
    inv(1, 'put', 'r', '5'), ok(1, 'put', 'r'),
    inv(1, 'get', 'r'), ok(1, 'get', 'r', '5'),
    inv(2, 'delete', 'r'), ok(2, 'delete', 'r'),
    inv(2, 'get', 'r'), ok(2, 'get', 'r', null),
  ]));

  it('lets a read concurrent with a write see the old or the new value', () => {
    for (const seen of [null, '5']) {
      assertLinearizable([
        inv(1, 'put', 'r', '5'), inv(2, 'get', 'r'), ok(2, 'get', 'r', seen), ok(1, 'put', 'r'),
      ]);
    }
  });

  it('orders overlapping writes by what later reads saw', () => assertLinearizable([
    inv(1, 'put', 'r', 'a'), inv(2, 'put', 'r', 'b'), ok(2, 'put', 'r'), ok(1, 'put', 'r'),
    inv(3, 'get', 'r'), ok(3, 'get', 'r', 'a'),
  ]));

  it('accepts a cas that swapped and ignores one that failed', () => assertLinearizable([
    inv(1, 'put', 'r', 'a'), ok(1, 'put', 'r', 'a'),
    inv(2, 'cas', 'r', ['a', 'b']), ok(2, 'cas', 'r'),
    inv(3, 'cas', 'r', ['a', 'c']), fail(3, 'cas', 'r'),
    inv(3, 'get', 'r'), ok(3, 'get', 'r', 'b'),
  ]));

  it('lets an info write take effect long after its invocation', () => assertLinearizable([
    inv(1, 'put', 'r', 'late'), info(1, 'put', 'r'),
    inv(2, 'put', 'r', 'x'), ok(2, 'put', 'r'),
    inv(3, 'get', 'r'), ok(3, 'get', 'r', 'x'),
    inv(3, 'get', 'r'), ok(3, 'get', 'r', 'late'),
  ]));

  it('lets an info write never take effect', () => assertLinearizable([
    inv(1, 'put', 'r', 'lost'), info(1, 'put', 'r'),
    inv(2, 'get', 'r'), ok(2, 'get', 'r', null),
    inv(2, 'get', 'r'), ok(2, 'get', 'r', null),
  ]));

  it('treats an operation still in flight at the end as info', () => assertLinearizable([
    inv(1, 'put', 'r', 'p'),
    inv(2, 'get', 'r'), ok(2, 'get', 'r', 'p'),
  ]));

  it('lets an info cas take effect later, when its expected value is current', () => assertLinearizable([
    inv(1, 'put', 'r', 'a'), ok(1, 'put', 'r'),
    inv(2, 'cas', 'r', ['b', 'c']), info(2, 'cas', 'r'),
    inv(3, 'put', 'r', 'b'), ok(3, 'put', 'r'),
    inv(4, 'get', 'r'), ok(4, 'get', 'r', 'c'),
  ]));

  it('checks keys independently', () => assertLinearizable([
    inv(1, 'put', 'a', '1'), inv(2, 'put', 'b', '2'), ok(1, 'put', 'a'), ok(2, 'put', 'b'),
    inv(1, 'get', 'b'), ok(1, 'get', 'b', '2'), inv(2, 'get', 'a'), ok(2, 'get', 'a', '1'),
  ]));
});

describe('histories that are not linearizable', () => {
  it('rejects a stale read', () => {
    const r = assertNotLinearizable([
      inv(1, 'put', 'r', '5'), ok(1, 'put', 'r'),
      inv(2, 'put', 'r', '6'), ok(2, 'put', 'r'),
      inv(3, 'get', 'r'), ok(3, 'get', 'r', '5'),
    ]);
    assert.match(r.explanation, /p3 get "r" -> "5" \(lines 5-6\)/);
    assert.match(r.explanation, /the value is then "6"/);
  });

  it('rejects a lost write', () => void assertNotLinearizable([
    inv(1, 'put', 'r', '5'), ok(1, 'put', 'r'),
    inv(2, 'get', 'r'), ok(2, 'get', 'r', null),
  ]));

  it('rejects a cas that swapped although the value differed', () => void assertNotLinearizable([
    inv(1, 'put', 'r', 'a'), ok(1, 'put', 'r'),
    inv(2, 'cas', 'r', ['b', 'c']), ok(2, 'cas', 'r'),
  ]));

  it('rejects a read that misses a successful cas', () => void assertNotLinearizable([
    inv(1, 'put', 'r', 'a'), ok(1, 'put', 'r'),
    inv(2, 'cas', 'r', ['a', 'c']), ok(2, 'cas', 'r'),
    inv(3, 'get', 'r'), ok(3, 'get', 'r', 'a'),
  ]));

  it('rejects a read of a value never written, naming it', () => {
    const r = assertNotLinearizable([
      inv(1, 'put', 'r', '5'), ok(1, 'put', 'r'),
      inv(2, 'get', 'r'), ok(2, 'get', 'r', 'ghost'),
    ]);
    assert.match(r.explanation, /"ghost", a value no operation on this key ever wrote/);
    assert.equal(r.operations.length, 1);
    assert.equal(r.operations[0].invokeLine, 3);
  });

  it('rejects a write seen and then unseen', () => void assertNotLinearizable([
    inv(1, 'put', 'r', 'x'),
    inv(2, 'get', 'r'), ok(2, 'get', 'r', 'x'),
    inv(3, 'get', 'r'), ok(3, 'get', 'r', null),
    ok(1, 'put', 'r'),
  ]));

  it('does not let an info write take effect before its invocation', () => void assertNotLinearizable([
    inv(2, 'put', 'r', 'early'), ok(2, 'put', 'r'),
    inv(3, 'get', 'r'), ok(3, 'get', 'r', 'x'),
    inv(1, 'put', 'r', 'x'), info(1, 'put', 'r'),
  ]));

  it('does not let a failed write take effect', () => void assertNotLinearizable([
    inv(1, 'put', 'r', 'x'), fail(1, 'put', 'r'),
    inv(2, 'get', 'r'), ok(2, 'get', 'r', 'x'),
  ]));

  it('does not let an info write take effect twice', () => void assertNotLinearizable([
    inv(1, 'put', 'r', 'x'), info(1, 'put', 'r'),
    inv(2, 'get', 'r'), ok(2, 'get', 'r', 'x'),
    inv(2, 'put', 'r', 'y'), ok(2, 'put', 'r'),
    inv(3, 'get', 'r'), ok(3, 'get', 'r', 'x'),
  ]));

  it('names the broken key when others are fine', () => {
    const r = assertNotLinearizable([
      inv(1, 'put', 'a', '1'), ok(1, 'put', 'a'),
      inv(1, 'put', 'b', '1'), ok(1, 'put', 'b'),
      inv(2, 'put', 'b', '2'), ok(2, 'put', 'b'),
      inv(3, 'get', 'a'), ok(3, 'get', 'a', '1'),
      inv(3, 'get', 'b'), ok(3, 'get', 'b', '1'),
    ], 'b');
    assert.ok(r.operations.every((op) => op.key === 'b'));
  });
});

describe('options', () => {
  it('rejects a non-positive time budget', () => {
    assert.throws(() => checkHistory([], { timeoutMs: 0 }), /timeoutMs must be a positive number of milliseconds, got 0/);
  });
});
