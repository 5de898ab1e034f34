/**
 * Fault tests: a concurrent client workload runs against a real three-process cluster while we
 * SIGKILL and restart members, SIGSTOP them, partition them (FaultProxy between peers), fill a
 * member's disk and SIGTERM the leader. Every history must be linearizable (runtime/src/lincheck),
 * which also proves no acknowledged write was lost: the workload ends with a read of every key.
 * Ports 22200-22599. Each test bounds its time and closes its cluster even when it fails.
 */
import { spawnSync } from 'child_process';
import { mkdirSync, rmSync, writeFileSync } from 'fs';
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'path';
import { etcdctl } from '../etcd/etcd-clients';
import { killLeaderThenFollower, underWorkload, waitForLeaderOtherThan, withCluster } from '../support/fault-run';
import { keyUrl, kvRequest } from '../support/kv-client';
import { sleep } from '../support/kv-cluster';
import { skipUnlessCi } from '../support/prerequisite';

test('SIGKILL and restart of the leader, then of a follower', { timeout: 60_000 }, async () => {
  await withCluster(22200, {}, async (cluster) => {
    await underWorkload(cluster, 11, () => killLeaderThenFollower(cluster));
  });
});

test('SIGSTOP pauses of the leader and of a follower', { timeout: 60_000 }, async () => {
  await withCluster(22220, {}, async (cluster) => {
    await underWorkload(cluster, 12, async () => {
      const leader = await cluster.waitForLeader(10_000);
      await leader.signal('SIGSTOP');
      await sleep(2000); // longer than the election timeout: the others elect a new leader
      await leader.signal('SIGCONT');
      const next = await cluster.waitForLeader(10_000, cluster.members);
      const follower = cluster.members.find((m) => m !== next)!;
      await follower.signal('SIGSTOP');
      await sleep(1500);
      await follower.signal('SIGCONT');
      await cluster.waitForLeader(10_000, cluster.members);
    });
  });
});

test('partitions: the leader isolated (its pending writes fail fast), then a one-way cut', { timeout: 60_000 }, async () => {
  await withCluster(22240, { proxy: true }, async (cluster) => {
    await underWorkload(cluster, 13, async () => {
      const leader = await cluster.waitForLeader(10_000);
      await cluster.proxy!.isolate(leader.id);
      // A write to the isolated leader cannot commit; it must fail as soon as leadership is lost
      // (CheckQuorum: one election timeout), well before --request-timeout-ms (5 s).
      const started = Date.now();
      const r = await kvRequest(keyUrl(leader.url, 'isolated'), { method: 'PUT', body: 'x', maxRedirects: 0, timeoutMs: 8000 });
      const elapsed = Date.now() - started;
      assert.equal(r.status, 503, r.body.toString());
      assert.ok(['leadership_lost', 'no_leader', 'proposal_dropped'].includes(JSON.parse(r.body.toString()).error), r.body.toString());
      assert.ok(elapsed < 3000, `the pending write took ${elapsed} ms to fail`);
      const others = cluster.members.filter((m) => m !== leader);
      const next = await cluster.waitForLeader(10_000, others);
      await sleep(500);
      await cluster.proxy!.heal();
      await cluster.waitForLeader(10_000, cluster.members);
      // One-way: the new leader's messages to one follower are dropped; that follower still talks to it.
      const follower = cluster.members.find((m) => m !== next)!;
      await cluster.proxy!.partition([next.id], [follower.id], { oneWay: true });
      await sleep(1500);
      await cluster.proxy!.heal();
      await cluster.waitForLeader(10_000, cluster.members);
    });
  });
});

test('SIGTERM of the leader transfers leadership, drains and exits 0', { timeout: 60_000 }, async () => {
  await withCluster(22260, {}, async (cluster) => {
    await underWorkload(cluster, 14, async () => {
      const leader = await cluster.waitForLeader(10_000);
      const started = Date.now();
      await leader.signal('SIGTERM', 8000);
      assert.equal(leader.exitCode, 0, leader.log().split('\n').slice(-10).join('\n'));
      assert.ok(Date.now() - started < 6000);
      assert.match(leader.log(), /"msg":"leadership transferred"/);
      const next = await cluster.waitForLeader(5000);
      assert.notEqual(next, leader);
      leader.start();
      await cluster.waitForLeader(10_000, cluster.members);
    });
  });
});

function canMountTmpfs(dir: string): boolean {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
  if (r.status !== 0) return false;
  spawnSync('umount', [dir]);
  return true;
}

test('a member whose disk fills up raises NOSPACE, stays up serving reads, refuses writes, and resumes when space returns', { timeout: 90_000 }, async (t) => {
  const probe = join('/tmp', `ha-kv-mount-probe-${process.pid}`);
  mkdirSync(probe, { recursive: true });
  const mountable = canMountTmpfs(probe);
  spawnSync('rmdir', [probe]);
  if (!mountable) {
    skipUnlessCi(t, 'mount -t tmpfs is not permitted here (needs root): disk-full test skipped');
    return;
  }
  let mounted: string | undefined;
  try {
    await withCluster(22280, {
      args: ['--wal-segment-bytes', '65536'],
      prepare: (name, dir) => {
        if (name !== 'kv-2') return;
        const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]);
        assert.equal(r.status, 0, r.stderr?.toString());
        mounted = dir;
      },
      afterClose: () => { if (mounted) spawnSync('umount', ['-l', mounted]); mounted = undefined; },
    }, async (cluster) => {
      const victim = cluster.members.find((m) => m.name === 'kv-2')!;
      await underWorkload(cluster, 15, async () => {
        // Leave ~48 KiB free, then write ~300 KiB through the leader: kv-2's WAL hits ENOSPC.
        const df = spawnSync('df', ['-B1', '--output=avail', mounted!]).stdout.toString().trim().split('\n').pop()!;
        const filler = join(mounted!, 'filler');
        writeFileSync(filler, Buffer.alloc(Math.max(0, Number(df) - 48 * 1024)));
        const value = Buffer.alloc(1024, 0x66);
        const deadline = Date.now() + 20_000;
        const alarmed = async (): Promise<boolean> => ((await victim.status())?.alarms ?? []).includes('NOSPACE');
        for (let i = 0; !(await alarmed()) && Date.now() < deadline; i++) {
          const leader = await cluster.waitForLeader(10_000);
          await kvRequest(keyUrl(leader.url, `fill-${i % 50}`), { method: 'PUT', body: value, timeoutMs: 3000 }).catch(() => undefined);
        }
        // Deliberate change (issue 12): the member no longer exits on a full disk (a restart cannot
        // free space, and a crash loop serves nothing). It stays up with the NOSPACE alarm.
        assert.ok(await alarmed(), `no NOSPACE alarm; ${victim.log().split('\n').slice(-10).join('\n')}`);
        assert.ok(victim.running, 'the member exited on a full disk');
        // The log reaches its file through a pipe, a moment after /v1/status shows the alarm.
        for (const end = Date.now() + 5000; !/NOSPACE alarm raised/.test(victim.log()) && Date.now() < end;) await sleep(100);
        assert.match(victim.log(), /NOSPACE alarm raised/);
        const metrics = (await kvRequest(`${victim.url}/metrics`, { timeoutMs: 3000 })).body.toString();
        assert.match(metrics, /ha_alarm_nospace 1/);
        // etcd's view of the same alarm: etcdctl alarm list (Maintenance.Alarm) names it.
        const victimEndpoint = [`127.0.0.1:${victim.clientPort}`];
        const listed = await etcdctl(victimEndpoint, ['alarm', 'list']);
        assert.match(listed.stdout, /^memberID:\d+ alarm:NOSPACE *$/m, `${listed.stdout}${listed.stderr}`);
        const refused = await kvRequest(keyUrl(victim.url, 'on-full-disk'), { method: 'PUT', body: 'x', timeoutMs: 3000, maxRedirects: 0 });
        assert.equal(refused.status, 503, refused.body.toString());
        assert.equal(JSON.parse(refused.body.toString()).error, 'no_space');
        const read = await kvRequest(keyUrl(victim.url, 'fill-0', 'consistency=serializable'), { timeoutMs: 3000 });
        assert.equal(read.status, 200, 'a member with a full disk still serves (serializable) reads');
        assert.equal((await kvRequest(`${victim.url}/livez`, { timeoutMs: 3000 })).status, 200);
        const leader = await waitForLeaderOtherThan(cluster, victim);
        const r = await kvRequest(keyUrl(leader.url, 'after-disk-full'), { method: 'PUT', body: 'ok', timeoutMs: 5000 });
        assert.equal(r.status, 200, `${r.body.toString()} from ${leader.name}; victim: ${JSON.stringify(await victim.status())}`);
        // Space returns: the member restarts itself in-process, clears the alarm and catches up.
        rmSync(filler);
        const resumeBy = Date.now() + 20_000;
        while (Date.now() < resumeBy && (await alarmed() || !(await victim.status())?.leader)) await sleep(200);
        assert.ok(!(await alarmed()), 'the NOSPACE alarm did not clear after space returned');
        assert.equal((await etcdctl(victimEndpoint, ['alarm', 'list'])).stdout.trim(), '', 'etcdctl alarm list is empty again');
        await cluster.waitForLeader(10_000, cluster.members);
        const caughtUp = await kvRequest(keyUrl(victim.url, 'after-disk-full'), { timeoutMs: 5000 });
        assert.equal(caughtUp.body.toString(), 'ok');
      });
    });
  } finally {
    if (mounted) spawnSync('umount', ['-l', mounted]);
  }
});
