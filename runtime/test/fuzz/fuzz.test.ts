/**
 * The short fuzz run of every test run: each pinned seed of fixtures/seeds.json (seeds that once
 * found something stay here forever) against a live cluster. Longer runs: test/fuzz/cli.ts.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runFuzz } from './fuzz';

// Ports 24400-24499 belong to this file.
const BASE = 24400;
const FIXTURES = join(__dirname, '..', '..', '..', 'test', 'fuzz', 'fixtures', 'seeds.json');

interface PinnedSeed { seed: number; durationMs: number; found: string }

describe('fuzzer: pinned seeds', () => {
  const { seeds } = JSON.parse(readFileSync(FIXTURES, 'utf8')) as { seeds: PinnedSeed[] };
  seeds.forEach((pinned, i) => {
    it(`seed ${pinned.seed} (${pinned.found.split(';')[0]})`, { timeout: pinned.durationMs + 60_000 }, async () => {
      const report = await runFuzz({ seed: pinned.seed, durationMs: pinned.durationMs, basePort: BASE + 10 * i, inProcessCases: 1500 });
      assert.deepEqual(report.failures, [], `seed ${pinned.seed}: replay with node runtime/.build-test/test/fuzz/cli.js --seed ${pinned.seed}`);
      assert.ok(report.framesSent > 0 && report.httpRequests > 0 && report.http2Starts > 0, `the run did fuzz: ${JSON.stringify(report)}`);
    });
  });
});
