#!/usr/bin/env node
// Fails a CI test run that rewrote a tracked file (a snapshot, API.md): in CI a changed
// tracked file means the committed artifact was stale, so the build must go red.
const { execFileSync } = require('child_process');
if (!process.env.CI) process.exit(0);
try {
  execFileSync('git', ['diff', '--exit-code', '--stat'], { stdio: 'inherit' });
} catch {
  console.error('check-clean-tree: the run changed tracked files (see above). Regenerate them locally, review and commit.');
  process.exit(1);
}
