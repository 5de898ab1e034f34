/**
 * Backup and restore (issue 12): GET /v1/snapshot from a follower while writes keep flowing, then
 * `ha-runtime restore` builds a new three-member cluster from the file; every write acknowledged
 * before the backup began is there, and the new cluster has a new cluster id. Ports 23200-23299.
 */
import { spawnSync } from 'child_process';
import { writeFileSync } from 'fs';
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'path';
import { acknowledgedWrites, History, readBack } from './support';
import { keyUrl, kvRequest } from '../support/kv-client';
import { KvCluster, sleep } from '../support/kv-cluster';

const MAIN_JS = join(__dirname, '..', '..', 'src', 'main.js');

test('a backup taken under load restores into a new cluster holding every write acknowledged before it', { timeout: 150_000 }, async () => {
  const original = await KvCluster.start({ size: 3, basePort: 23200, keepDir: true });
  let restored: KvCluster | undefined;
  let failed = true;
  try {
    const history = new History();
    const leader = await original.waitForLeader(10_000);
    const before = await acknowledgedWrites(history, () => leader.url, 300, 'pre');

    // Load during the backup: its writes must keep being acknowledged while the snapshot streams.
    let loading = true;
    let duringBackup = 0;
    let backupRunning = false;
    const load = (async () => {
      for (let i = 0; loading; i++) {
        const r = await kvRequest(keyUrl(leader.url, `load-${i % 100}`), { method: 'PUT', body: `l${i}`, timeoutMs: 3000 }).catch(() => undefined);
        if (r?.status === 200 && backupRunning) duringBackup++;
      }
    })();
    await sleep(500);
    const follower = original.members.find((m) => m !== leader)!;
    backupRunning = true;
    const started = Date.now();
    const backup = await kvRequest(`${follower.url}/v1/snapshot`, { timeoutMs: 20_000 });
    const backupMs = Date.now() - started;
    await sleep(300);
    backupRunning = false;
    loading = false;
    await load;
    assert.equal(backup.status, 200, backup.body.toString().slice(0, 300));
    assert.ok(duringBackup > 0, 'no write was acknowledged while the backup ran: it stalled writes');
    process.stderr.write(`backup: ${backup.body.length} bytes in ${backupMs} ms from a follower, ${duringBackup} writes acknowledged meanwhile\n`);
    const file = join(original.dir, 'backup.snap');
    writeFileSync(file, backup.body);
    const originalClusterId = (await leader.status())!.clusterId;
    await original.close();

    const basePort = 23240;
    const initialCluster = Array.from({ length: 3 }, (_, i) => `kv-${i}=127.0.0.1:${basePort + 2 * i + 1}`).join(',');
    restored = await KvCluster.start({
      size: 3,
      basePort,
      keepDir: true,
      prepareDataDir: (name, dir) => {
        const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(MAIN_JS)}).main(process.argv.slice(1))`, 'restore',
          '--snapshot', file, '--data-dir', dir, '--name', name, '--initial-cluster', initialCluster], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
      },
    });
    const newLeader = await restored.waitForLeader(15_000);
    const status = (await newLeader.status())!;
    assert.notEqual(status.clusterId, originalClusterId, 'a restored cluster must have a new cluster id');
    const r = restored;
    const lost = await readBack(history, () => r.members[Math.floor(Math.random() * 3)].url, before);
    assert.deepEqual(lost, [], `${lost.length} writes acknowledged before the backup are missing`);
    history.check(restored);
    // The restored cluster takes writes.
    const w = await kvRequest(keyUrl(newLeader.url, 'after-restore'), { method: 'PUT', body: 'ok', timeoutMs: 5000 });
    assert.equal(w.status, 200);
    failed = false;
  } finally {
    await original.close();
    await restored?.close();
    if (failed) process.stderr.write(`cluster files kept in ${original.dir} ${restored?.dir ?? ''}\n${restored?.logTails(20) ?? original.logTails(20)}\n`);
    else spawnSync('rm', ['-rf', original.dir, ...(restored ? [restored.dir] : [])]);
  }
});
