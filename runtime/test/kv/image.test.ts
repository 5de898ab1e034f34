/**
 * Builds the runtime image with podman (runtime/scripts/build-image.sh, base assembled from this
 * machine's node) and runs a three-member cluster of it (runc, host network, read-only root
 * filesystem, uid 65532, only the data volume writable), writing and reading through it.
 * Ports 22600-22605. Outside CI a missing podman is a skip; in CI (CI=true) a failure.
 */
import { spawnSync } from 'child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { tmpdir } from 'os';
import { join } from 'path';
import { keyUrl, kvRequest } from '../support/kv-client';
import { sleep } from '../support/kv-cluster';
import { skipUnlessCi } from '../support/prerequisite';

const RUNTIME_DIR = join(__dirname, '..', '..', '..');
const BASE_PORT = 22600;
const TAG = 'localhost/ha-runtime:test';

test('the image runs a three-member cluster that serves writes and reads', { timeout: 240_000 }, async (t) => {
  if (spawnSync('podman', ['--version']).status !== 0) {
    skipUnlessCi(t, 'podman is not installed: image test skipped');
    return;
  }
  const build = spawnSync(join(RUNTIME_DIR, 'scripts', 'build-image.sh'), [TAG], { encoding: 'utf8', timeout: 180_000 });
  assert.equal(build.status, 0, `build-image.sh failed:\n${build.stdout}\n${build.stderr}`);

  const dir = mkdtempSync(join(tmpdir(), 'ha-kv-image-'));
  const conf = join(dir, 'containers.conf');
  // crun fails on this machine's rlimits and hybrid cgroups: runc, no default ulimits (see NOTES.md).
  writeFileSync(conf, '[containers]\ndefault_ulimits = []\n');
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const names = [0, 1, 2].map((i) => `ha-kv-image-test-${process.pid}-${i}`);
  const cluster = [0, 1, 2].map((i) => `kv-${i}=127.0.0.1:${BASE_PORT + 2 * i + 1}`).join(',');
  try {
    for (let i = 0; i < 3; i++) {
      const data = join(dir, `kv-${i}`);
      mkdirSync(data);
      chownSync(data, 65532, 65532);
      const run = spawnSync('podman', ['run', '-d', '--rm', '--name', names[i], '--runtime', 'runc', '--network', 'host',
        '--read-only', '--user', '65532:65532', '-v', `${data}:/var/lib/ha-runtime`,
        '-e', `HA_RAFT_ID=kv-${i}`, '-e', `HA_RAFT_INITIAL_CLUSTER=${cluster}`,
        '-e', `HA_RAFT_LISTEN_CLIENT=127.0.0.1:${BASE_PORT + 2 * i}`, '-e', `HA_RAFT_LISTEN_PEER=127.0.0.1:${BASE_PORT + 2 * i + 1}`,
        '-e', `HA_RAFT_ADVERTISE_CLIENT=http://127.0.0.1:${BASE_PORT + 2 * i}`,
        TAG, 'raft'], { encoding: 'utf8', env, timeout: 60_000 });
      assert.equal(run.status, 0, `podman run failed: ${run.stderr}`);
    }
    const urls = [0, 1, 2].map((i) => `http://127.0.0.1:${BASE_PORT + 2 * i}`);
    // Wait for every member to be ready (a leader, applied up to commit).
    const deadline = Date.now() + 30_000;
    for (const url of urls) {
      for (;;) {
        const r = await kvRequest(`${url}/readyz`, { timeoutMs: 1000 }).catch(() => undefined);
        if (r?.status === 200) break;
        if (Date.now() > deadline) {
          const logs = names.map((n) => spawnSync('podman', ['logs', n], { encoding: 'utf8', env }).stderr).join('\n---\n');
          assert.fail(`member ${url} not ready within 30 s\n${logs}`);
        }
        await sleep(200);
      }
    }
    for (let i = 0; i < 20; i++) {
      const r = await kvRequest(keyUrl(urls[i % 3], `img-${i}`), { method: 'PUT', body: `value-${i}` });
      assert.equal(r.status, 200, r.body.toString());
    }
    for (const url of urls) {
      for (let i = 0; i < 20; i++) {
        const r = await kvRequest(keyUrl(url, `img-${i}`));
        assert.equal(r.status, 200);
        assert.equal(r.body.toString(), `value-${i}`);
      }
    }
    // The etcd v3 API ships too (its gRPC and protobuf dependencies are in the image): the JSON gateway.
    const b64 = (v: string): string => Buffer.from(v).toString('base64');
    const put = await kvRequest(`${urls[1]}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key: b64('etcd-img'), value: b64('v3') }) });
    assert.equal(put.status, 200, put.body.toString());
    const range = await kvRequest(`${urls[2]}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: b64('etcd-img') }) });
    assert.equal(JSON.parse(range.body.toString()).kvs?.[0]?.value, b64('v3'), range.body.toString());
    // The container's root filesystem is read-only and the process is not root.
    const id = spawnSync('podman', ['exec', names[0], 'node', '-e', 'process.stdout.write(String(process.getuid()));try{require("fs").writeFileSync("/app/x","")}catch(e){process.stdout.write(" "+e.code)}'],
      { encoding: 'utf8', env });
    assert.equal(id.stdout, '65532 EROFS', id.stderr);
  } finally {
    // `--rm` and `rm -f` can race on a container that is exiting: retry until none is left.
    for (let attempt = 0; attempt < 5; attempt++) {
      spawnSync('podman', ['rm', '-f', '-t', '2', ...names], { env });
      const left = spawnSync('podman', ['ps', '-a', '--format', '{{.Names}}'], { encoding: 'utf8', env }).stdout
        .split('\n').filter((n) => names.includes(n));
      if (left.length === 0) break;
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
