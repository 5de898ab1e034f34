#!/usr/bin/env node
// Checks the npm package as users get it (npm pack, after `npx projen compile`): every relative link of the README
// and of the shipped docs resolves to a file in the package, and the packed bin runs the audit from lib/ alone.
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
class CheckFailed extends Error {}
function fail(message) {
  throw new CheckFailed(message);
}

if (!fs.existsSync(path.join(root, 'lib', 'cli', 'index.js'))) {
  process.stderr.write('check:package: lib/ is not built: run `npx projen compile` first\n');
  process.exit(1);
}
// the work dir is inside the repo so the unpacked package resolves its peers (cdk8s, ...) from our node_modules
const work = path.join(root, 'dist', 'check-package');
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
try {
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf-8', timeout: 120_000 }))[0];
  const files = new Set(packed.files.map((f) => f.path));
  for (const required of ['README.md', 'LICENSE', 'bin/cdk8s-ha', 'lib/index.js', 'lib/cli/index.js', '.jsii']) {
    if (!files.has(required)) fail(`${required} is not in the package`);
  }
  const docs = [...files].filter((f) => /^docs\/.*\.md$/.test(f));
  if (docs.length === 0) fail('no docs/*.md in the package');
  // relative links of the README and the docs it ships: [text](target) and <a href="target">
  const broken = [];
  for (const doc of ['README.md', ...docs]) {
    const text = fs.readFileSync(path.join(root, doc), 'utf-8');
    for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)|href="([^"]+)"/g)) {
      const target = (m[1] ?? m[2]).split('#')[0];
      if (!target || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // anchors, http(s):, mailto:
      const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(doc), target));
      if (!files.has(resolved)) broken.push(`${doc} -> ${target}`);
    }
  }
  if (broken.length > 0) fail(`links to files the package does not contain (ship them or link an absolute URL):\n  ${broken.join('\n  ')}`);
  execFileSync('tar', ['-xzf', path.join(work, packed.filename), '-C', work]);
  const fixture = path.join(root, 'test', 'audit', 'quorum-fixtures', 'raft-store.yaml');
  const run = spawnSync(process.execPath, [path.join(work, 'package', 'bin', 'cdk8s-ha'), 'audit', fixture], { encoding: 'utf-8', timeout: 60_000 });
  if (run.status !== 1 || !/error {3}HA004 PodDisruptionBudget\/data\/store/.test(run.stdout)) {
    fail(`the packed bin did not report the quorum fixture (exit ${run.status}):\n${run.stdout}${run.stderr}`);
  }
  process.stdout.write(`check:package: ${packed.filename} has ${files.size} files, ${docs.length} docs; README and docs links resolve; the packed bin audits\n`);
} catch (e) {
  process.stderr.write(`check:package: ${e.message}\n`);
  process.exitCode = 1;
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
