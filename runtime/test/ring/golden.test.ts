import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { GOLDEN_CASES, goldenTable } from './golden';

const dir = join(__dirname, '..', '..', '..', 'test', 'ring', 'fixtures');

describe('golden placement (fixtures committed with the release)', () => {
  for (const c of GOLDEN_CASES) {
    it(`places every key of ${c.name} exactly as the fixture says`, () => {
      const expected = JSON.parse(readFileSync(join(dir, `golden-${c.name}.json`), 'utf8')) as Record<string, string>;
      const actual = goldenTable(c);
      assert.equal(Object.keys(expected).length, c.keys.length);
      const moved = Object.keys(expected).filter((k) => expected[k] !== actual[k]);
      assert.deepEqual(moved, [], `${moved.length} keys changed node, e.g. ${JSON.stringify(moved.slice(0, 3))}`);
    });
  }
});
