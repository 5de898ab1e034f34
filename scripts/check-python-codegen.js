#!/usr/bin/env node
// Generates the Python bindings the way a release does (jsii-pacmak), without packaging them (that needs PyPI, which
// CI here cannot reach), and checks them: every type the jsii assembly exports has its Python class, and every
// generated file compiles. Needs a compiled assembly (.jsii): run after `npx projen compile`.
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');
function fail(message) {
  process.stderr.write(`check:python: ${message}\n`);
  process.exit(1);
}

const assemblyFile = path.join(root, '.jsii');
if (!fs.existsSync(assemblyFile)) fail('no .jsii assembly: run `npx projen compile` first');
const assembly = JSON.parse(fs.readFileSync(assemblyFile, 'utf-8'));
const target = assembly.targets && assembly.targets.python;
if (!target) fail('the assembly has no python target: set publishToPypi in .projenrc.ts, run `npx projen`, then compile');

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk8s-ha-python-'));
try {
  execFileSync(path.join(root, 'node_modules', '.bin', 'jsii-pacmak'), ['--target', 'python', '--code-only', '--outdir', out, '--force'], {
    cwd: root, stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000,
    env: { ...process.env, JSII_SILENCE_SUPPORT_WARNING: '1', JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20' },
  });
  const moduleDir = path.join(out, 'python', 'src', ...target.module.split('.'));
  const init = path.join(moduleDir, '__init__.py');
  if (!fs.existsSync(init)) fail(`jsii-pacmak wrote no ${path.relative(out, init)}`);
  const code = fs.readFileSync(init, 'utf-8');
  // Top-level types (no submodule) are classes of the module itself; interfaces of structs become classes too.
  const types = Object.values(assembly.types).filter((t) => t.namespace === undefined);
  const missing = types.filter((t) => !new RegExp(`^class ${t.name}\\b`, 'm').test(code)).map((t) => t.fqn);
  if (types.length === 0) fail('the assembly exports no type');
  if (missing.length > 0) fail(`no Python class for ${missing.join(', ')}`);
  const setup = fs.readFileSync(path.join(out, 'python', 'setup.py'), 'utf-8');
  if (!setup.includes(`"name": "${target.distName}"`)) fail(`setup.py does not name the distribution ${target.distName}`);
  // Syntax of every generated file (importing needs the jsii runtime from PyPI).
  execFileSync('python3', ['-m', 'compileall', '-q', path.join(out, 'python', 'src')], { stdio: 'inherit', timeout: 120_000 });
  process.stdout.write(`check:python: ${types.length} types of ${assembly.name} generated as Python module ${target.module} (dist ${target.distName}); all files compile\n`);
} catch (e) {
  fail(e.message);
} finally {
  fs.rmSync(out, { recursive: true, force: true });
}
