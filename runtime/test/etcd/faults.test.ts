/**
 * Fault tests through the etcd v3 gRPC API: a concurrent workload of Range, Put, DeleteRange and compare-then-put
 * Txn calls (runtime/test/support/etcd-workload.ts), sent to every member (followers forward writes to the leader),
 * while the leader is killed and restarted, paused, and partitioned away. Every history must be linearizable and
 * ends with a read of every key, so a lost acknowledged write fails the test.
 * Ports 23800-23999 (the fault proxy of a cluster on base B listens on B+100...).
 */
import { test } from 'node:test';
import { etcdGrpcOps } from '../support/etcd-workload';
import { killLeaderThenFollower, underWorkload, waitForLeaderOtherThan, withCluster } from '../support/fault-run';
import { KvMember, sleep } from '../support/kv-cluster';

const GRPC = { url: (m: KvMember) => `127.0.0.1:${m.clientPort}`, ops: etcdGrpcOps };

test('etcd API: SIGKILL and restart of the leader, then of a follower', { timeout: 90_000 }, async () => {
  await withCluster(23800, {}, async (cluster) => {
    await underWorkload(cluster, 21, () => killLeaderThenFollower(cluster), GRPC);
  });
});

test('etcd API: SIGSTOP pause of the leader long enough for an election, then resume', { timeout: 90_000 }, async () => {
  await withCluster(23820, {}, async (cluster) => {
    await underWorkload(cluster, 22, async () => {
      const leader = await cluster.waitForLeader(10_000);
      await leader.signal('SIGSTOP');
      try {
        await waitForLeaderOtherThan(cluster, leader);
        await sleep(1000);
      } finally {
        await leader.signal('SIGCONT');
      }
      await cluster.waitForLeader(10_000, cluster.members);
    }, GRPC);
  });
});

test('etcd API: the leader partitioned from both followers, then healed', { timeout: 90_000 }, async () => {
  await withCluster(23840, { proxy: true }, async (cluster) => {
    await underWorkload(cluster, 23, async () => {
      const leader = await cluster.waitForLeader(10_000);
      await cluster.proxy!.isolate(leader.id);
      await waitForLeaderOtherThan(cluster, leader);
      await sleep(1000);
      await cluster.proxy!.heal();
      await cluster.waitForLeader(10_000, cluster.members);
    }, GRPC);
  });
});
