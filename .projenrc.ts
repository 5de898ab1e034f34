import { cdk8s, javascript, release } from 'projen';

// Keeps jsii offline-clean: it otherwise fetches a release list, and warns on Node 20.
const offlineEnv = {
  JSII_SILENCE_SUPPORT_WARNING: '1',
  JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20',
};

const project = new cdk8s.ConstructLibraryCdk8s({
  name: 'cdk8s-ha',
  description: 'Highly-available microservice patterns for cdk8s: replicated services, Raft quorum clusters, sharded stores, an HA audit and an availability model.',
  author: 'cdk8s-ha maintainers',
  authorAddress: 'maintainers@cdk8s-ha.dev',
  repositoryUrl: 'https://github.com/cdk8s-ha/cdk8s-ha.git',
  keywords: ['cdk8s', 'kubernetes', 'high-availability', 'raft', 'pdb', 'consistent-hashing'],
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  jsiiVersion: '~6.0.0',
  cdk8sVersion: '2.68.12',
  constructsVersion: '10.5.0',
  // jsii modules are peers: listed in deps, jsii rewrites package.json and fights projen.
  peerDeps: ['cdk8s-plus-28@^2.5.6'],
  devDeps: [
    'cdk8s-plus-28@2.5.6',
    '@types/node@^20',
    'typescript@^6.0.3',
    // Anchor for the hash-ring benchmark (issue 7); never shipped.
    'hashring@^3.2.0',
    // Reference implementation of MurmurHash3 x86_32 for the ring's cross-check test.
    'imurmurhash@^0.1.4',
    // The runtime's dependencies (also listed in runtime/package.json, which the image installs):
    // gRPC for etcd's v3 API, protobufjs for its JSON gateway, an ordered map for the MVCC key index.
    '@grpc/grpc-js@^1.14.7',
    '@grpc/proto-loader@^0.8.1',
    'protobufjs@^7.5.5',
    'sorted-btree@^2.1.0',
    // Property-based tests (constructs and runtime).
    'fast-check@^4.11.0',
    // The recommended etcd client, tested against the runtime's etcd API.
    'etcd3@^1.1.2',
  ],
  bin: { 'cdk8s-ha': 'bin/cdk8s-ha' },
  jestOptions: {
    // CI runs jest with --ci: a wrong snapshot fails instead of rewriting itself.
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      testPathIgnorePatterns: ['/node_modules/', '/runtime/', '/dist/'],
      coveragePathIgnorePatterns: ['/node_modules/', '/test/'],
    },
  },
  tsconfigDev: { compilerOptions: {}, exclude: ['runtime'] },
  gitignore: ['/node_modules', '/dist/', '/runtime/lib/', '/runtime/.build-test/', '/.sim-failures/', '*.bench.json'],
  githubOptions: { mergify: false },
  buildWorkflow: false,
  // Versions come from releases: a maintainer runs the release workflow (Actions -> release -> Run workflow); projen
  // bumps from the last v* tag and the conventional commits since (0.x while majorVersion is 0), builds, tags and
  // publishes every language below. package.json stays 0.0.0 in git: the bump happens only inside the release.
  release: true,
  releaseTrigger: release.ReleaseTrigger.workflowDispatch(),
  majorVersion: 0,
  releaseToNpm: true,
  // the release builds and tests like .ci/run does, so the runner needs the same system packages
  releaseWorkflowSetupSteps: [{
    name: 'Install the system packages the tests use',
    run: 'sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server etcd-client podman runc iproute2 nginx strace openssl python3 patroni postgresql && (for s in etcd nginx postgresql patroni; do sudo service $s stop || true; done)',
  }],
  // jsii language targets, built and published by the release workflow (each in its own job with its toolchain).
  // Here, offline, CI builds the js package only and checks the Python code generation (check:python).
  publishToPypi: { distName: 'cdk8s-ha', module: 'cdk8s_ha' },
  publishToMaven: { javaPackage: 'dev.cdk8sha', mavenGroupId: 'dev.cdk8s-ha', mavenArtifactId: 'cdk8s-ha' },
  publishToNuget: { dotNetNamespace: 'Cdk8sHa', packageId: 'Cdk8sHa' },
  publishToGo: { moduleName: 'github.com/cdk8s-ha/cdk8s-ha-go', packageName: 'cdk8sha' },
  depsUpgrade: false,
  pullRequestTemplate: false,
  eslintOptions: { dirs: ['src'], commandOptions: { fix: false } },
});

// eslint covers the runtime too, with the same rules, and never rewrites files during a test run
// (`npm run eslint -- --fix` fixes on request). Two documented exceptions for runtime/: hashes, CRCs,
// wire formats and bitsets are bitwise by nature; node:test's test()/describe() return promises that
// the runner awaits, so they are not floating.
for (const dir of ['runtime/src', 'runtime/test', 'runtime/bench']) project.eslint!.addLintPattern(dir);
project.eslint!.addOverride({ files: ['runtime/**/*.ts'], rules: { 'no-bitwise': 'off' } });
project.eslint!.addOverride({
  files: ['runtime/test/**/*.ts', 'runtime/bench/**/*.ts'],
  rules: {
    // Tests and benchmarks may use the root package's devDependencies (runtime/package.json lists what the image ships).
    'import/no-extraneous-dependencies': ['error', { devDependencies: true, packageDir: ['.'] }],
    '@typescript-eslint/no-floating-promises': ['error', {
      allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'before', 'after', 'beforeEach', 'afterEach', 'suite'] }],
    }],
  },
});

// Each part of the project adds its own section: merge them side by side.
project.gitattributes.addAttributes('/docs/benchmarks.md', 'merge=union');
// The release's version bump runs `npx commit-and-tag-version` on the release machine (projen falls back to npx when
// it is not installed), so it need not be a dev dependency: package.json and the lock file stay as CI installs them.
project.deps.removeDependency('commit-and-tag-version');

// docs/ ships: the README links to docs/*.md, which must resolve in node_modules/cdk8s-ha too (test: check:package).
project.npmignore?.exclude('/runtime/', '/examples/', '/.ci/', '/scripts/', '/bench/');

// `package` builds the js package only, in CI or not: the other targets need PyPI, Maven, NuGet and Go toolchains,
// which the release workflow's per-language jobs have and this machine does not (package-all still builds them all).
project.packageTask.reset();
project.packageTask.spawn(project.tasks.tryFind('package:js')!);
// Python bindings are generated (not packaged: that needs PyPI) and checked against the assembly, offline.
const checkPython = project.addTask('check:python', {
  description: 'Generate the Python bindings with jsii-pacmak --code-only and check they cover the public API',
  exec: 'node scripts/check-python-codegen.js',
});
// The npm package: every relative link of the README resolves to a file in it, and the bin runs from it.
const checkPackage = project.addTask('check:package', {
  description: 'npm pack: README links resolve inside the package, the bin and docs ship',
  exec: 'node scripts/check-package.js',
});

for (const [k, v] of Object.entries(offlineEnv)) project.tasks.addEnvironment(k, v);

// --- runtime (Raft KV server, router, ring): its own tsconfig, outside the jsii build ---
// Both start from an empty output folder: tsc never deletes, so a removed source or test would live on.
project.addTask('runtime:build', {
  description: 'Compile the runtime image sources (runtime/src -> runtime/lib)',
  steps: [{ exec: 'node -e "require(\'fs\').rmSync(\'runtime/lib\',{recursive:true,force:true})"' }, { exec: 'tsc -p runtime/tsconfig.json' }],
});
project.addTask('runtime:build-test', {
  description: 'Compile the runtime tests (runtime/{src,test} -> runtime/.build-test)',
  steps: [{ exec: 'node -e "require(\'fs\').rmSync(\'runtime/.build-test\',{recursive:true,force:true})"' }, { exec: 'tsc -p runtime/tsconfig.test.json' }],
});
const runtimeTest = project.addTask('runtime:test', {
  description: 'Run the runtime unit, simulation and multi-process tests',
});
runtimeTest.spawn(project.tasks.tryFind('runtime:build')!);
runtimeTest.spawn(project.tasks.tryFind('runtime:build-test')!);
runtimeTest.exec('node scripts/run-runtime-tests.js', { receiveArgs: true });

project.addTask('sim', {
  description: 'Explore the Raft simulator: npm run sim -- --seeds N [--from S] [--seed S]',
  steps: [{ spawn: 'runtime:build-test' }, { exec: 'node runtime/.build-test/test/sim/cli.js', receiveArgs: true }],
});
project.addTask('lincheck', {
  description: 'Check a JSON Lines history for linearizability',
  steps: [{ spawn: 'runtime:build' }, { exec: 'node runtime/bin/ha-runtime lincheck', receiveArgs: true }],
});
for (const [name, desc] of [
  ['ring', 'HashRing vs the hashring package (lookups/s, balance, movement, memory)'],
  ['raft', 'Our Raft KV vs etcd (puts at 1/8/64 clients, gets, leader-kill unavailability)'],
  ['router', 'Router added latency vs direct access, nginx consistent hash as reference'],
  ['lincheck', 'Linearizability checker speed on large histories'],
  ['storage', 'WAL group commit: durable saves/s and saves per fdatasync at 1-256 callers'],
  ['transport', 'TcpTransport message throughput between two peers on loopback'],
  ['mvcc', 'MVCC store: 1M keys (memory per key, apply rate, range latency, snapshot chunks, restore)'],
  ['etcd', 'etcd v3 gRPC API: ours vs etcd 3.4, same grpc-js client (puts 1/8/64, ranges, txn, watch latency, keep-alives)'],
  ['quota', 'Space quota: one member in a memory cgroup filled until refused (or dead with --no-quota), then restarted (root)'],
]) {
  project.addTask(`bench:${name}`, {
    description: desc,
    steps: [{ spawn: 'runtime:build' }, { spawn: 'runtime:build-test' }, { exec: `node runtime/.build-test/bench/${name}.js`, receiveArgs: true }],
  });
}
project.addTask('bench:audit', {
  description: 'What HaAudit adds to synthesis (1000 services in one chart, 200 in 20); --before REV compares a revision',
  env: { TS_NODE_PROJECT: 'test/tsconfig.json', TS_NODE_TRANSPILE_ONLY: '1' },
  exec: 'node --expose-gc -r ts-node/register bench/audit.ts',
  receiveArgs: true,
});
project.addTask('bench:synth', {
  description: 'Synthesis time of N HighlyAvailableServices',
  exec: 'ts-node --project test/tsconfig.json bench/synth.ts',
  receiveArgs: true,
});

// --- examples: every examples/<name>/main.ts is a cdk8s app synthesized to dist/examples/<name>/ ---
project.addTask('synth', {
  description: 'Synthesize every example to dist/examples/<name>/',
  exec: 'node scripts/synth-examples.js',
  receiveArgs: true,
});

// The constructs and the runtime meet: three runtime processes started with exactly what RaftCluster renders.
const e2e = project.addTask('test:e2e', {
  description: 'RaftCluster manifests drive real ha-runtime processes (env, args, probes, SIGTERM hand-over)',
  env: { TS_NODE_PROJECT: 'test/tsconfig.json', TS_NODE_TRANSPILE_ONLY: '1' },
  exec: 'node -r ts-node/register test/e2e/raft-cluster-runtime.ts',
});

// RaftRuntime.etcd's rendered flags and probes drive three real etcd 3.4 members with peer mTLS.
const e2eEtcd = project.addTask('test:e2e-etcd', {
  description: 'RaftCluster with RaftRuntime.etcd: the rendered etcd flags, peer TLS and probes against real etcd processes',
  env: { TS_NODE_PROJECT: 'test/tsconfig.json', TS_NODE_TRANSPILE_ONLY: '1' },
  exec: 'node -r ts-node/register test/e2e/etcd-runtime.ts',
});
// The seeded fuzzer of issue 14, for longer runs than the pinned seeds in npm test.
const fuzz = project.addTask('fuzz', { description: 'Seeded fuzzer against a live cluster: npm run fuzz -- --seed N [--duration-ms MS]' });
fuzz.spawn(project.tasks.tryFind('runtime:build-test')!);
fuzz.exec('node runtime/.build-test/test/fuzz/cli.js', { receiveArgs: true });

project.testTask.spawn(project.tasks.tryFind('runtime:test')!);
project.testTask.spawn(e2e);
project.testTask.spawn(e2eEtcd);
project.testTask.spawn(checkPython);
project.testTask.spawn(checkPackage);
// A test run must never rewrite a tracked file (snapshots, API.md) unnoticed.
project.testTask.exec('node scripts/check-clean-tree.js');

project.synth();
