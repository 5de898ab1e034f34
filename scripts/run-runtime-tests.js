#!/usr/bin/env node
// Runs the compiled runtime tests (runtime/.build-test/test/**/*.test.js) with node:test.
// Arguments are substrings that select test files: `npm run runtime:test -- ring raft`.
const { readdirSync, statSync } = require('fs');
const { join, relative } = require('path');
const { spawnSync } = require('child_process');

const root = join(__dirname, '..', 'runtime', '.build-test', 'test');
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.js') ? [p] : [];
  });
}
const files = walk(root).filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s))).sort();
if (files.length === 0) {
  console.error(`run-runtime-tests: no test files under ${root}${filters.length ? ` matching ${filters.join(', ')}` : ''}`);
  process.exit(filters.length ? 1 : 0);
}
// One file at a time: the multi-process tests each start clusters on their own ports and
// the machine has 2 cores; parallel files would make timing-bound tests flaky.
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
