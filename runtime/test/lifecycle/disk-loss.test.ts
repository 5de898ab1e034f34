/**
 * Disk loss (issue 12): a member whose data directory is wiped must never bootstrap or vote with an
 * empty log; it rejoins as a new incarnation (learner with a new id, caught up, promoted) by itself.
 * Real `ha-runtime raft` processes on loopback; every history is checked by runtime/src/lincheck
 * and every acknowledged write is read back. Ports 23000-23099.
 */
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { acknowledgedWrites, assertNoLeaderFor, History, membersOf, readBack, waitFullMembership } from './support';
import { checkHistory } from '../../src/lincheck';
import { withCluster } from '../support/fault-run';
import { keyUrl, kvRequest } from '../support/kv-client';
import { sleep } from '../support/kv-cluster';
import { runWorkload } from '../support/kv-workload';

test('the issue 12 schedule: C lags, 200 writes, B wiped, A killed, C resumes: nothing lost, B back as a voter', { timeout: 120_000 }, async () => {
  await withCluster(23000, {}, async (cluster) => {
    const history = new History();
    const a = await cluster.waitForLeader(10_000);
    const [b, c] = cluster.members.filter((m) => m !== a);
    // C is down (killed, its disk intact) so it lags: a SIGSTOPped process would find the leader's
    // appends buffered in its sockets on SIGCONT and not lag at all.
    await c.kill();
    const acked = await acknowledgedWrites(history, () => a.url, 200, 'w');
    assert.equal(acked.size, 200);

    const bLogStart = b.log().length;
    await cluster.wipeAndRestart(b);
    await sleep(1500);
    await a.kill();
    c.start();
    // B holds nothing and C misses the 200 writes: electing them would lose every one. Neither may
    // lead: B never bootstraps (A does not answer) and never votes (it is not a member yet).
    await assertNoLeaderFor([b, c], 4000);
    // B found the cluster (A answered its probe before A died) and asks to join; nobody can add it.
    assert.match(b.log().slice(bLogStart), /not starting yet|joining as a new incarnation/);
    assert.doesNotMatch(b.log().slice(bLogStart), /bootstrapped a new member/);
    const w = await kvRequest(keyUrl(c.url, 'while-down'), { method: 'PUT', body: 'x', timeoutMs: 3000, maxRedirects: 0 }).catch(() => undefined);
    assert.notEqual(w?.status, 200, 'a write succeeded without A: the cluster ran without the data');

    const returned = Date.now();
    a.start();
    const { ms, ids } = await waitFullMembership(cluster, ['kv-0', 'kv-1', 'kv-2'], 30_000);
    assert.ok(ids.get(b.name)! > 3, `B must be a new incarnation (new id), got ${ids.get(b.name)}`);
    process.stderr.write(`wiped member back as a voter ${Date.now() - returned} ms after A returned (membership wait ${ms} ms)\n`);

    const lost = await readBack(history, () => cluster.members[Math.floor(Math.random() * 3)].url, acked);
    assert.deepEqual(lost, [], `${lost.length} of 200 acknowledged writes lost`);
    // Every member serves them, B included (serializable read = its own state machine).
    const fromB = await kvRequest(keyUrl(b.url, 'w-199', 'consistency=serializable'), { timeoutMs: 3000 });
    assert.equal(fromB.body.toString(), acked.get('w-199'));
    history.check(cluster);
  });
});

test('disk loss of the leader under load: it rejoins as a new learner, is promoted, nothing lost', { timeout: 90_000 }, async () => {
  await withCluster(23020, {}, async (cluster) => {
    let release!: () => void;
    const until = new Promise<void>((r) => { release = r; });
    const workload = runWorkload({ urls: () => cluster.members.filter((m) => m.running).map((m) => m.url), keys: ['a', 'b', 'c'], clients: 6, until, seed: 21 });
    try {
      await sleep(1000);
      const leader = await cluster.waitForLeader(10_000);
      const started = Date.now();
      await cluster.wipeAndRestart(leader);
      const { ids } = await waitFullMembership(cluster, ['kv-0', 'kv-1', 'kv-2'], 30_000);
      assert.ok(ids.get(leader.name)! > 3);
      process.stderr.write(`wiped leader back as a voter after ${Date.now() - started} ms\n`);
      await sleep(1000);
    } finally {
      release();
    }
    const result = await workload;
    const verdict = checkHistory(result.events, { timeoutMs: 30_000 });
    assert.ok(verdict.ok, JSON.stringify(verdict).slice(0, 1500));
    assert.ok(result.acknowledgedWrites >= 20, JSON.stringify(result.counts));
  });
});

test('two of three disks lost: the cluster stops (no leader, no writes) instead of losing data; --force-new-cluster recovers', { timeout: 120_000 }, async () => {
  await withCluster(23040, {}, async (cluster) => {
    const history = new History();
    const a = await cluster.waitForLeader(10_000);
    const acked = await acknowledgedWrites(history, () => a.url, 50, 'k');
    const [b, c] = cluster.members.filter((m) => m !== a);
    const logStart = new Map([b, c].map((m) => [m, m.log().length]));
    await cluster.wipeAndRestart(b);
    await cluster.wipeAndRestart(c);
    // A alone is one of three voters; the blank members find the cluster and ask to join, which
    // needs a quorum that no longer exists. Nobody leads, nobody bootstraps, writes are refused.
    await sleep(2000);
    await assertNoLeaderFor([a, b, c], 4000);
    for (const m of [b, c]) assert.doesNotMatch(m.log().slice(logStart.get(m)), /bootstrapped a new member/);
    const w = await kvRequest(keyUrl(a.url, 'k-0'), { method: 'PUT', body: 'overwrite', timeoutMs: 3000, maxRedirects: 0 });
    assert.equal(w.status, 503, w.body.toString());
    // A still holds every acknowledged write (serializable: its own state, no quorum needed).
    for (const [key, value] of acked) {
      const r = await kvRequest(keyUrl(a.url, key, 'consistency=serializable'), { timeoutMs: 3000 });
      assert.equal(r.body.toString(), value, key);
    }
    const list = await membersOf(a);
    assert.deepEqual(list?.members.map((m) => m.id), [1, 2, 3], 'membership must be unchanged (no change can commit)');

    // The operator's way out (docs/operations.md): force a new cluster from the survivor, knowingly.
    await a.kill();
    process.env.HA_RAFT_FORCE_NEW_CLUSTER = 'true';
    try {
      a.start();
      await sleep(500);
    } finally {
      delete process.env.HA_RAFT_FORCE_NEW_CLUSTER;
    }
    const { ids } = await waitFullMembership(cluster, ['kv-0', 'kv-1', 'kv-2'], 40_000);
    assert.ok(ids.get(b.name)! > 3 && ids.get(c.name)! > 3, JSON.stringify([...ids]));
    const lost = await readBack(history, () => cluster.members[Math.floor(Math.random() * 3)].url, acked);
    assert.deepEqual(lost, [], 'the survivor held every acknowledged write');
    history.check(cluster);
  });
});
