/**
 * Writes the golden placement tables to runtime/test/ring/fixtures/. Placement is a
 * compatibility promise: regenerate only for a deliberate change, and say so in the changelog.
 * Run: node runtime/.build-test/test/ring/generate-golden.js
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GOLDEN_CASES, goldenTable } from './golden';

const dir = join(__dirname, '..', '..', '..', 'test', 'ring', 'fixtures');
for (const c of GOLDEN_CASES) {
  const path = join(dir, `golden-${c.name}.json`);
  writeFileSync(path, JSON.stringify(goldenTable(c), null, 1) + '\n');
  console.log(`wrote ${path}`);
}
