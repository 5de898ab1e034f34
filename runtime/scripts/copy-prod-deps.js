#!/usr/bin/env node
// Copies the runtime's production dependencies (runtime/package.json "dependencies" and everything they
// require, transitively) from the installed node_modules into DEST/node_modules, so the image ships exactly
// what `ha-runtime` loads, offline, at the versions the lockfile installed. No dev dependencies, no npm.
// usage: node runtime/scripts/copy-prod-deps.js DEST
const { cpSync, existsSync, readFileSync } = require('fs');
const { dirname, join } = require('path');

const dest = process.argv[2];
if (!dest) { console.error('usage: copy-prod-deps.js DEST'); process.exit(2); }
const runtimeDir = join(__dirname, '..');

/** The directory of package `name` as node would resolve it from `fromDir`. */
function packageDir(name, fromDir) {
  for (let d = fromDir; ; d = dirname(d)) {
    const candidate = join(d, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(d) === d) throw new Error(`copy-prod-deps: ${name} (needed from ${fromDir}) is not installed`);
  }
}

const seen = new Map();
(function visit(fromDir, deps) {
  for (const name of Object.keys(deps ?? {})) {
    const dir = packageDir(name, fromDir);
    if (seen.has(dir)) continue;
    seen.set(dir, name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    visit(dir, { ...pkg.dependencies, ...pkg.optionalDependencies });
  }
})(runtimeDir, JSON.parse(readFileSync(join(runtimeDir, 'package.json'), 'utf8')).dependencies);

for (const [dir, name] of seen) {
  // Nested copies (a package's own node_modules/x) keep their place relative to the top-level one.
  const rel = dir.slice(dir.indexOf('node_modules') + 'node_modules'.length + 1);
  cpSync(dir, join(dest, 'node_modules', rel), { recursive: true, dereference: true, filter: (p) => !p.endsWith('.map') && !p.includes(`${name}/node_modules`) || p === dir });
}
console.log(`copy-prod-deps: ${seen.size} packages`);
