/**
 * `ha-runtime backup` (what a RaftCluster's backup CronJob runs) against a real three-member
 * cluster: each run writes one whole, valid snapshot, retention deletes the oldest, bad input is
 * refused without leaving a file, and the newest backup restores into a new cluster holding every
 * write acknowledged before it. Ports 23600-23699.
 */
import { spawnSync } from 'child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { tmpdir } from 'os';
import { join } from 'path';
import { decodeSnapshotFile } from '../../src/storage';
import { keyUrl, kvRequest } from '../support/kv-client';
import { KvCluster, sleep } from '../support/kv-cluster';

const MAIN_JS = join(__dirname, '..', '..', 'src', 'main.js');

function haRuntime(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['-e', `require(${JSON.stringify(MAIN_JS)}).main(process.argv.slice(1))`, ...args],
    { encoding: 'utf8', timeout: 60_000 });
}
const snapshots = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('snapshot-')).sort();

test('backup writes valid snapshots with retention, refuses bad input, and its newest file restores', { timeout: 150_000 }, async () => {
  const original = await KvCluster.start({ size: 3, basePort: 23600 });
  const dir = mkdtempSync(join(tmpdir(), 'backup-cli-'));
  let restored: KvCluster | undefined;
  try {
    const leader = await original.waitForLeader(10_000);
    const follower = original.members.find((m) => m !== leader)!;
    const url = `${follower.url}/v1/snapshot`;
    // Files the command must leave alone, and a partial file a crashed run left behind.
    writeFileSync(join(dir, 'notes.txt'), 'keep me');
    writeFileSync(join(dir, '.snapshot-20200101T000000000Z.snap.partial'), 'half');

    const acked: string[] = [];
    for (let run = 0; run < 3; run++) {
      for (let i = 0; i < 20; i++) {
        const key = `run${run}-k${i}`;
        const r = await kvRequest(keyUrl(leader.url, key), { method: 'PUT', body: key, timeoutMs: 5000 });
        if (r.status === 200) acked.push(key);
      }
      const r = haRuntime('backup', '--url', url, '--dir', dir, '--keep', '2');
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.ok(out.bytes > 0 && out.index > 0, r.stdout);
      await sleep(5); // distinct millisecond timestamps in the names
    }
    const kept = snapshots(dir);
    assert.equal(kept.length, 2, `retention 2 kept ${kept.join(', ')}`);
    assert.deepEqual(readdirSync(dir).filter((n) => !n.startsWith('snapshot-')), ['notes.txt'], 'the stale partial file is deleted, other files kept');
    const indexes = kept.map((n) => decodeSnapshotFile(readFileSync(join(dir, n))));
    for (const s of indexes) assert.notEqual(typeof s, 'string', `not a valid snapshot: ${String(s)}`);

    // Bad input: exit 2 for flags, 1 for a failed fetch or a non-snapshot answer; never a new file.
    assert.equal(haRuntime('backup', '--url', url, '--dir', dir, '--keep', '0').status, 2);
    assert.equal(haRuntime('backup', '--url', 'kv:7379', '--dir', dir).status, 2);
    assert.equal(haRuntime('backup', '--dir', dir).status, 2);
    const notSnapshot = haRuntime('backup', '--url', keyUrl(leader.url, 'run0-k0'), '--dir', dir);
    assert.equal(notSnapshot.status, 1);
    assert.match(notSnapshot.stderr, /not a valid snapshot/);
    assert.equal(haRuntime('backup', '--url', 'http://127.0.0.1:1/v1/snapshot', '--dir', dir).status, 1);
    assert.match(haRuntime('backup', '--url', url, '--dir', join(dir, 'missing')).stderr, /not a directory/);
    assert.deepEqual(snapshots(dir), kept);
    assert.equal(readdirSync(dir).filter((n) => n.endsWith('.partial')).length, 0);
    await original.close();

    // The newest backup restores into a new cluster holding every write acknowledged before it.
    const newest = join(dir, kept[kept.length - 1]);
    const basePort = 23640;
    const initialCluster = Array.from({ length: 3 }, (_, i) => `kv-${i}=127.0.0.1:${basePort + 2 * i + 1}`).join(',');
    restored = await KvCluster.start({
      size: 3,
      basePort,
      prepareDataDir: (name, dataDir) => {
        const r = haRuntime('restore', '--snapshot', newest, '--data-dir', dataDir, '--name', name, '--initial-cluster', initialCluster);
        assert.equal(r.status, 0, r.stderr);
      },
    });
    const newLeader = await restored.waitForLeader(15_000);
    const missing: string[] = [];
    for (const key of acked) {
      const r = await kvRequest(keyUrl(newLeader.url, key), { timeoutMs: 5000 });
      if (r.status !== 200 || !r.body.toString().includes(key)) missing.push(key);
    }
    assert.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged writes missing from the restored backup`);
  } finally {
    await original.close();
    await restored?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
