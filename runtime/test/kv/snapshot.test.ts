/**
 * Snapshots and compaction across processes (ports 22400-22405): a follower that was down while
 * the leader snapshotted and compacted past it catches up by InstallSnapshot, and members restart
 * from snapshot + WAL with every acknowledged write.
 */
import { readdirSync } from 'fs';
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { keepAliveAgent, keyUrl, kvRequest } from '../support/kv-client';
import { KvCluster, sleep } from '../support/kv-cluster';

test('a follower behind a compacted log catches up from a snapshot; restarts recover snapshot + WAL', { timeout: 90_000 }, async () => {
  const cluster = await KvCluster.start({ size: 3, basePort: 22400, args: ['--snapshot-entries', '100', '--snapshot-catchup-entries', '10'] });
  const agent = keepAliveAgent(16);
  try {
    const leader = await cluster.waitForLeader(10_000);
    const lagging = cluster.members.find((m) => m !== leader)!;
    await lagging.kill();
    const written = new Map<string, string>();
    for (let i = 0; i < 450; i++) {
      const key = `s-${i % 120}`;
      const value = `v-${i}`;
      const r = await kvRequest(keyUrl(leader.url, key), { method: 'PUT', body: value, agent });
      assert.equal(r.status, 200, r.body.toString());
      written.set(key, value);
    }
    const st = await leader.status();
    assert.ok(st!.snapshotIndex >= 400, `leader snapshot index ${st!.snapshotIndex}`);
    lagging.start();
    const deadline = Date.now() + 20_000;
    for (;;) {
      const s = await lagging.status();
      if (s && s.applied >= st!.commit) break;
      if (Date.now() > deadline) assert.fail(`follower did not catch up: ${JSON.stringify(s)}\n${cluster.logTails()}`);
      await sleep(100);
    }
    assert.match(lagging.log(), /installed snapshot from leader/);
    // The leader keeps no snapshot bytes in memory once they are durable: it read them back from its data dir.
    assert.match(leader.log(), /sent a snapshot read back from disk to a lagging follower/);
    for (const [key, value] of written) {
      const r = await kvRequest(keyUrl(lagging.url, key, 'consistency=serializable'), { agent });
      assert.equal(r.body.toString(), value, key);
    }
    // Whole-cluster restart: every member recovers from its newest snapshot plus the WAL after it.
    for (const m of cluster.members) await m.kill();
    assert.ok(readdirSync(leader.dataDir).some((f) => /snap/i.test(f)), `no snapshot file in ${readdirSync(leader.dataDir)}`);
    for (const m of cluster.members) m.start();
    const next = await cluster.waitForLeader(15_000);
    for (const [key, value] of written) {
      const r = await kvRequest(keyUrl(next.url, key), { agent });
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), value, key);
    }
  } finally {
    agent.destroy();
    await cluster.close();
  }
});
