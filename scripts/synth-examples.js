#!/usr/bin/env node
// Synthesizes every cdk8s app examples/<name>/main.ts into dist/examples/<name>/.
// Arguments select examples by name: `npm run synth -- my-service`.
const { readdirSync, existsSync, rmSync } = require('fs');
const { join } = require('path');
const { spawnSync } = require('child_process');

const root = join(__dirname, '..');
const only = process.argv.slice(2);
const names = readdirSync(join(root, 'examples'))
  .filter((n) => existsSync(join(root, 'examples', n, 'main.ts')))
  .filter((n) => only.length === 0 || only.includes(n))
  .sort();
if (names.length === 0) {
  console.error(`synth: no example matches ${only.join(', ')}`);
  process.exit(1);
}
// One ts-node process for all examples: each app synthesizes into its own CDK8S_OUTDIR.
const program = names.map((n) => `
  process.env.CDK8S_OUTDIR = ${JSON.stringify(join('dist', 'examples', n))};
  require(${JSON.stringify(join(root, 'examples', n, 'main.ts'))});
  console.log('synthesized examples/${n} -> dist/examples/${n}/');`).join('\n');
for (const n of names) rmSync(join(root, 'dist', 'examples', n), { recursive: true, force: true });
const r = spawnSync(process.execPath, ['-r', 'ts-node/register', '-e', program], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TS_NODE_PROJECT: join(root, 'test', 'tsconfig.json'), TS_NODE_TRANSPILE_ONLY: '1' },
});
process.exit(r.status === null ? 1 : r.status);
