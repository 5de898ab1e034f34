import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HashRing, RingNode } from '../../src/ring';

const named = (n: number, name = (i: number) => `node-${i}`): RingNode[] => Array.from({ length: n }, (_, i) => ({ id: name(i) }));
const KEYS = Array.from({ length: 200_000 }, (_, i) => `user:${i}:${(Math.imul(i, 2654435761) >>> 0).toString(36)}`);

function place(ring: HashRing, keys = KEYS): string[] {
  return keys.map((k) => ring.get(k));
}
function counts(owners: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const o of owners) m.set(o, (m.get(o) ?? 0) + 1);
  return m;
}

describe('HashRing balance', () => {
  const schemes: Record<string, (i: number) => string> = {
    names: (i) => `node-${i}`,
    addresses: (i) => `10.0.${i >> 8}.${i & 255}:8080`,
    pods: (i) => `kv-${i}.kv-headless.default.svc.cluster.local`,
    hex: (i) => (Math.imul(i + 1, 2654435761) >>> 0).toString(16).padStart(8, '0'),
  };
  for (const [scheme, name] of Object.entries(schemes)) {
    it(`keeps the structural max/mean at or below 1.05 with 100 nodes (${scheme})`, () => {
      const ring = new HashRing(named(100, name));
      const shares = [...ring.shares().values()];
      assert.equal(shares.length, 100);
      assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-9, 'shares sum to 1');
      const maxOverMean = Math.max(...shares) * 100;
      assert.ok(maxOverMean <= 1.05, `max/mean ${maxOverMean.toFixed(4)}`);
    });
  }

  it('spreads real keys close to the structural shares', () => {
    const ring = new HashRing(named(100));
    const c = counts(place(ring));
    const mean = KEYS.length / 100;
    // 2,000 keys per node: sampling noise adds about 2.2% standard deviation on top.
    assert.ok(Math.max(...c.values()) / mean <= 1.12, `keys max/mean ${(Math.max(...c.values()) / mean).toFixed(3)}`);
    for (const [id, share] of ring.shares()) {
      const observed = (c.get(id) ?? 0) / KEYS.length;
      assert.ok(Math.abs(observed - share) < 0.004, `${id}: ${observed} of keys vs share ${share}`);
    }
  });

  it('gives weighted nodes their exact share', () => {
    const ring = new HashRing([...named(10), { id: 'triple', weight: 3 }, { id: 'half', weight: 0.5 }]);
    const shares = ring.shares();
    const total = 13.5;
    assert.ok(Math.abs((shares.get('triple') as number) / (3 / total) - 1) < 0.03, `triple ${shares.get('triple')}`);
    assert.ok(Math.abs((shares.get('half') as number) / (0.5 / total) - 1) < 0.05, `half ${shares.get('half')}`);
  });
});

describe('HashRing movement', () => {
  it('moves only keys to an added node, about its fair share', () => {
    const ring = new HashRing(named(100));
    const before = place(ring);
    ring.add({ id: 'new' });
    const after = place(ring);
    let moved = 0;
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] === after[i]) continue;
      assert.equal(after[i], 'new', `key ${KEYS[i]} moved from ${before[i]} to ${after[i]}, not to the new node`);
      moved++;
    }
    const ideal = KEYS.length / 101;
    assert.ok(Math.abs(moved / ideal - 1) <= 0.1, `moved ${moved}, ideal ${ideal.toFixed(0)}`);
  });

  it('moves only the keys of a removed node, about its share', () => {
    const ring = new HashRing(named(100));
    const before = place(ring);
    ring.remove('node-17');
    const after = place(ring);
    let moved = 0;
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] === after[i]) continue;
      assert.equal(before[i], 'node-17', `key ${KEYS[i]} moved between unaffected nodes ${before[i]} -> ${after[i]}`);
      moved++;
    }
    assert.equal(moved, before.filter((o) => o === 'node-17').length);
    const ideal = KEYS.length / 100;
    assert.ok(Math.abs(moved / ideal - 1) <= 0.1, `moved ${moved}, ideal ${ideal}`);
  });

  it('gives a weighted node added later its weighted share, not more', () => {
    const ring = new HashRing(named(20));
    const before = place(ring);
    ring.add({ id: 'heavy', weight: 4 });
    const after = place(ring);
    const moved = after.filter((o, i) => o !== before[i]).length;
    const ideal = (KEYS.length * 4) / 24;
    assert.ok(Math.abs(moved / ideal - 1) <= 0.1, `moved ${moved}, ideal ${ideal.toFixed(0)}`);
  });

  it('places keys the same whatever the order of construction, adds and removes', () => {
    const nodes = [...named(30), { id: 'w', weight: 2.5 }];
    const direct = new HashRing(nodes, { virtualNodes: 256 });
    const incremental = new HashRing([], { virtualNodes: 256 });
    for (const node of [...nodes].reverse()) incremental.add(node);
    incremental.add({ id: 'temporary' });
    incremental.remove('temporary');
    incremental.remove('node-3');
    incremental.add({ id: 'node-3' });
    const keys = KEYS.slice(0, 20_000);
    assert.deepEqual(place(incremental, keys), place(direct, keys));
    assert.deepEqual([...incremental.shares()].sort(), [...direct.shares()].sort());
  });

  it('breaks hash ties between points by node id, independent of insertion order', () => {
    // With 2^32 hash values and ~1M points, some points collide; placement must not depend on
    // which node came first.
    const a = new HashRing(named(200), { virtualNodes: 4096 });
    const b = new HashRing([], { virtualNodes: 4096 });
    for (const node of named(200).reverse()) b.add(node);
    const keys = KEYS.slice(0, 50_000);
    assert.deepEqual(place(b, keys), place(a, keys));
  });
});

describe('HashRing input validation', () => {
  it('rejects duplicate ids', () => {
    assert.throws(() => new HashRing([{ id: 'a' }, { id: 'a' }]), /duplicate node id "a"/);
    const ring = new HashRing([{ id: 'a' }]);
    assert.throws(() => ring.add({ id: 'a' }), /node "a" is already on the ring/);
  });
  it('rejects weights that are not finite and positive', () => {
    for (const weight of [0, -1, NaN, Infinity]) {
      assert.throws(() => new HashRing([{ id: 'a', weight }]), new RegExp(`node "a": weight must be a finite number > 0, got ${String(weight)}`));
    }
  });
  it('rejects empty ids and bad options', () => {
    assert.throws(() => new HashRing([{ id: '' }]), /non-empty string id/);
    assert.throws(() => new HashRing([], { virtualNodes: 0 }), /virtualNodes must be an integer from 1/);
    assert.throws(() => new HashRing([], { loadFactor: 1 }), /loadFactor must be a number greater than 1/);
  });
  it('refuses lookups on an empty ring and removal of unknown nodes', () => {
    const ring = new HashRing();
    assert.throws(() => ring.get('k'), /cannot place key "k": the ring has no nodes/);
    assert.throws(() => ring.remove('x'), /node "x" is not on the ring \(members: none\)/);
    ring.add({ id: 'only' });
    assert.equal(ring.get('k'), 'only');
    ring.remove('only');
    assert.throws(() => ring.get('k'), /no nodes/);
  });
});

describe('HashRing bounded load', () => {
  it('caps every node at ceil(c x fair share) even when all requests hash to one key', () => {
    const ring = new HashRing(named(10), { loadFactor: 1.25, virtualNodes: 256 });
    const first = ring.get('hot');
    const got: string[] = [];
    for (let i = 0; i < 1000; i++) got.push(ring.acquire('hot'));
    for (const [id, n] of counts(got)) {
      assert.ok(n <= Math.ceil(1.25 * 100), `${id} holds ${n}`);
      assert.equal(ring.load(id), n);
    }
    assert.equal(got[0], first, 'an idle ring routes like get');
    for (const id of got) ring.release(id);
    assert.equal(ring.load(first), 0);
    assert.throws(() => ring.release(first), /without a matching acquire/);
  });

  it('respects weights in the caps', () => {
    const ring = new HashRing([{ id: 'a', weight: 3 }, { id: 'b' }], { loadFactor: 1.1, virtualNodes: 64 });
    const got = counts(Array.from({ length: 400 }, (_, i) => ring.acquire(`k${i % 3}`)));
    assert.ok((got.get('a') ?? 0) <= Math.ceil(1.1 * 400 * 0.75));
    assert.ok((got.get('b') ?? 0) <= Math.ceil(1.1 * 400 * 0.25));
  });
});
