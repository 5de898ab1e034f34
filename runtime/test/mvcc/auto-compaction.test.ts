/** AutoCompactor: etcd's periodic and revision retention decisions. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AutoCompactor } from '../../src/mvcc';

void describe('AutoCompactor', () => {
  void it('periodic: compacts to the revision of one retention ago, checking every retention/10', () => {
    const c = new AutoCompactor('periodic', 100_000); // 100 s, checked every 10 s
    const out: [number, number][] = [];
    for (let t = 0; t <= 200_000; t += 5_000) {
      const rev = c.observe(t, 1 + t / 1000, 0);
      if (rev !== undefined) out.push([t, rev]);
    }
    assert.deepEqual(out[0], [100_000, 1]);
    assert.deepEqual(out[out.length - 1], [200_000, 101]);
    assert.ok(out.every(([t, rev]) => rev === 1 + (t - 100_000) / 1000), 'always the revision of exactly one retention ago');
    assert.ok(out.every(([t], i) => i === 0 || t - out[i - 1][0] === 10_000));
  });

  void it('revision: keeps the last N revisions, every 5 minutes, never going backwards', () => {
    const c = new AutoCompactor('revision', 1000);
    assert.equal(c.observe(0, 5000, 0), undefined);
    assert.equal(c.observe(299_999, 5000, 0), undefined);
    assert.equal(c.observe(300_000, 5000, 0), 4000);
    assert.equal(c.observe(600_000, 5000, 4000), undefined, 'nothing new to compact');
    assert.equal(c.observe(900_000, 4500, 0), undefined);
    assert.throws(() => new AutoCompactor('revision', 0), /positive integer/);
  });
});
