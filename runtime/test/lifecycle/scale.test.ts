/**
 * Scaling a running cluster through the membership API under load (issue 12): 3 -> 5 (new
 * processes join as learners and are promoted when caught up) -> 3 (DELETE /v1/members/{id}, the
 * leader first when it is among the removed), and replacing a member (remove it, wipe it, start it
 * again: it comes back under a new id). Histories are checked by runtime/src/lincheck; every
 * acknowledged write is read back. Ports 23100-23199.
 */
import { spawnSync } from 'child_process';
import { rmSync, writeFileSync } from 'fs';
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { tmpdir } from 'os';
import { join } from 'path';
import { addJoiningMember, initialClusterOf, membersOf, waitFullMembership } from './support';
import { checkHistory } from '../../src/lincheck';
import { kvRequest } from '../support/kv-client';
import { KvCluster, KvMember, sleep } from '../support/kv-cluster';
import { runWorkload, WorkloadResult } from '../support/kv-workload';

async function underLoad(cluster: KvCluster, seed: number, body: () => Promise<void>): Promise<WorkloadResult> {
  let release!: () => void;
  const until = new Promise<void>((r) => { release = r; });
  const workload = runWorkload({ urls: () => cluster.members.filter((m) => m.running).map((m) => m.url), keys: ['a', 'b', 'c'], clients: 6, until, seed });
  try {
    await sleep(800);
    await body();
    await sleep(800);
  } finally {
    release();
  }
  const result = await workload;
  const verdict = checkHistory(result.events, { timeoutMs: 30_000 });
  assert.ok(verdict.ok, `not linearizable: ${JSON.stringify(verdict).slice(0, 1500)}`);
  assert.ok(result.acknowledgedWrites >= 20, JSON.stringify(result.counts));
  process.stderr.write(`workload: ${result.events.length} events, ${JSON.stringify(result.counts)}: linearizable\n`);
  return result;
}

/** DELETE /v1/members/{id} through `via` (redirects followed, retried while a change is pending). */
async function removeMember(via: () => string, id: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  let last = '';
  while (Date.now() < deadline) {
    const r = await kvRequest(`${via()}/v1/members/${id}`, { method: 'DELETE', timeoutMs: 12_000 }).catch((e: Error) => ({ status: 0, body: Buffer.from(e.message) }));
    if (r.status === 200) return;
    last = `${r.status} ${r.body.toString()}`;
    if (r.status === 404) return; // already gone (a retry after an unknown outcome)
    await sleep(200);
  }
  throw new Error(`removing member ${id} failed: ${last}`);
}

test('3 -> 5 -> 3 under load: joiners promoted when caught up, removals (leader included) keep serving', { timeout: 150_000 }, async () => {
  const basePort = 23100;
  const cluster = await KvCluster.start({ size: 3, basePort, keepDir: true });
  let failed = true;
  try {
    await underLoad(cluster, 31, async () => {
      const seeds = initialClusterOf(basePort, 3);
      const started = Date.now();
      const joiners = [addJoiningMember(cluster, 'kv-3', basePort + 20, seeds), addJoiningMember(cluster, 'kv-4', basePort + 22, seeds)];
      const up = await waitFullMembership(cluster, ['kv-0', 'kv-1', 'kv-2', 'kv-3', 'kv-4'], 40_000);
      process.stderr.write(`3 -> 5: ${Date.now() - started} ms until both joiners were voters\n`);
      // Back to 3: remove the leader and one joiner (the leader hands leadership over first).
      const leader = await cluster.waitForLeader(10_000);
      const victims: KvMember[] = [leader, joiners[0]];
      for (const v of victims) {
        const id = up.ids.get(v.name)!;
        await removeMember(() => cluster.members.filter((m) => m.running && !victims.includes(m))[0].url, id);
        await v.signal('SIGTERM');
      }
      const remaining = cluster.members.filter((m) => !victims.includes(m)).map((m) => m.name);
      const down = await waitFullMembership(cluster, remaining, 20_000);
      assert.equal(down.ids.size, 3);
      const list = await membersOf((await cluster.waitForLeader(10_000)));
      assert.deepEqual(list!.members.map((m) => m.role), ['voter', 'voter', 'voter']);
    });
    failed = false;
  } finally {
    await cluster.close();
    if (failed) process.stderr.write(`cluster files kept in ${cluster.dir}\n${cluster.logTails(20)}\n`);
    else spawnSync('rm', ['-rf', cluster.dir]);
  }
});

test('replacing a member under load through the API: removed, wiped, back under a new id', { timeout: 120_000 }, async () => {
  const cluster = await KvCluster.start({ size: 3, basePort: 23140, keepDir: true });
  let failed = true;
  try {
    await underLoad(cluster, 32, async () => {
      const leader = await cluster.waitForLeader(10_000);
      const victim = cluster.members.find((m) => m !== leader)!;
      const before = await membersOf(leader);
      const oldId = before!.members.find((m) => m.name === victim.name)!.id;
      await removeMember(() => leader.url, oldId);
      await victim.kill();
      rmSync(victim.dataDir, { recursive: true, force: true });
      const started = Date.now();
      victim.start();
      const { ids } = await waitFullMembership(cluster, ['kv-0', 'kv-1', 'kv-2'], 30_000);
      assert.notEqual(ids.get(victim.name), oldId);
      process.stderr.write(`replacement back as a voter after ${Date.now() - started} ms\n`);
    });
    failed = false;
  } finally {
    await cluster.close();
    if (failed) process.stderr.write(`cluster files kept in ${cluster.dir}\n${cluster.logTails(20)}\n`);
    else spawnSync('rm', ['-rf', cluster.dir]);
  }
});

test('scale-down by the desired count (a ConfigMap file): the leader removes the highest ordinals by itself', { timeout: 150_000 }, async () => {
  const basePort = 23160;
  const file = join(tmpdir(), `ha-desired-${process.pid}`);
  writeFileSync(file, '5\n');
  const cluster = await KvCluster.start({ size: 3, basePort, keepDir: true, args: ['--desired-members-file', file] });
  let failed = true;
  try {
    await underLoad(cluster, 33, async () => {
      const seeds = initialClusterOf(basePort, 3);
      const extra = ['--desired-members-file', file];
      const joiners = [addJoiningMember(cluster, 'kv-3', basePort + 20, seeds, extra), addJoiningMember(cluster, 'kv-4', basePort + 22, seeds, extra)];
      await waitFullMembership(cluster, ['kv-0', 'kv-1', 'kv-2', 'kv-3', 'kv-4'], 40_000);
      const started = Date.now();
      writeFileSync(file, '3\n');
      await waitFullMembership(cluster, ['kv-0', 'kv-1', 'kv-2'], 30_000).catch(async (e) => {
        throw new Error(`${(e as Error).message}\n${JSON.stringify(await membersOf(cluster.members[0]))}`);
      });
      process.stderr.write(`5 -> 3 by the desired count: ${Date.now() - started} ms\n`);
      for (const j of joiners) await j.signal('SIGTERM');
      // A member beyond the desired count may not come back.
      rmSync(joiners[1].dataDir, { recursive: true, force: true });
      joiners[1].start();
      const refusedBy = Date.now() + 20_000;
      while (Date.now() < refusedBy && !/member_not_wanted/.test(joiners[1].log())) await sleep(200);
      const list = await membersOf(await cluster.waitForLeader(10_000, cluster.members.slice(0, 3)));
      assert.deepEqual(list!.members.map((m) => m.name).sort(), ['kv-0', 'kv-1', 'kv-2']);
      assert.match(joiners[1].log(), /member_not_wanted/);
      await joiners[1].kill();
    });
    failed = false;
  } finally {
    await cluster.close();
    rmSync(file, { force: true });
    if (failed) process.stderr.write(`cluster files kept in ${cluster.dir}\n${cluster.logTails(20)}\n`);
    else spawnSync('rm', ['-rf', cluster.dir]);
  }
});
