/**
 * Require-leader calls (api/etcd/require-leader.ts), against the runtime and against etcd 3.4 with the same
 * expectations: with the other two members paused, a member that lost its leader refuses a unary call carrying
 * `hasleader: true` with UNAVAILABLE "etcdserver: no leader" (a call without it is still served), and ends
 * `etcdctl watch` (which asks for a leader) instead of leaving it waiting on a member that sees no new writes.
 * Ports 24860-24865 (runtime) and 24870-24875 (etcd).
 */
import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CtlProcess } from './etcd-clients';
import { etcdPackageDefinition } from '../../src/api/etcd/proto';
import { EtcdCluster, etcdVersion } from '../support/etcd-cluster';
import { KvCluster } from '../support/kv-cluster';

interface Cluster {
  /** Client endpoints (host:port) and process ids, leader first. */
  readonly members: { endpoint: string; pid: number }[];
  close(): Promise<void>;
}

async function runtimeCluster(): Promise<Cluster> {
  const c = await KvCluster.start({ size: 3, basePort: 24860 });
  const leader = await c.waitForLeader(15_000);
  const ordered = [leader, ...c.members.filter((m) => m !== leader)];
  return { members: ordered.map((m) => ({ endpoint: `127.0.0.1:${m.clientPort}`, pid: m.proc!.pid! })), close: () => c.close() };
}

async function etcdCluster(): Promise<Cluster | undefined> {
  if (!etcdVersion()) return undefined;
  const c = await EtcdCluster.start(3, 24870);
  const leader = await c.waitForLeader(10_000);
  const ordered = [leader, ...c.members.filter((m) => m !== leader)];
  return { members: ordered.map((m) => ({ endpoint: `127.0.0.1:${m.clientPort}`, pid: m.proc!.pid! })), close: () => c.close() };
}

type Callback = (e: grpc.ServiceError | null, r: unknown) => void;
type KvClient = grpc.Client & { Range: (req: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: Callback) => void };

function range(client: KvClient, requireLeader: boolean): Promise<grpc.ServiceError | undefined> {
  const md = new grpc.Metadata();
  if (requireLeader) md.set('hasleader', 'true');
  return new Promise((resolve) => client.Range({ key: Buffer.from('rl/k'), serializable: true }, md, { deadline: Date.now() + 5000 },
    (e) => resolve(e ?? undefined)));
}

for (const [label, start] of [['runtime', runtimeCluster], ['etcd 3.4', etcdCluster]] as const) {
  describe(`require-leader calls against ${label}`, () => {
    let cluster: Cluster | undefined;
    before(async () => { cluster = await start(); }, { timeout: 40_000 });
    after(async () => {
      for (const m of cluster?.members ?? []) try { process.kill(m.pid, 'SIGCONT'); } catch { /* gone */ }
      await cluster?.close();
    });

    it('a member without a leader refuses them and ends a require-leader watch', { timeout: 60_000 }, async (t) => {
      if (!cluster) { t.skip('etcd is not installed'); return; }
      const [leader, other, isolated] = cluster.members;
      const KV = (grpc.loadPackageDefinition(etcdPackageDefinition()).etcdserverpb as grpc.GrpcObject).KV as grpc.ServiceClientConstructor;
      const kv = new KV(isolated.endpoint, grpc.credentials.createInsecure()) as unknown as KvClient;
      const watch = new CtlProcess([isolated.endpoint], ['watch', 'rl/', '--prefix']);
      try {
        assert.equal(await range(kv, true), undefined, 'served while a leader is known');
        await new Promise((r) => setTimeout(r, 500)); // the watch is open
        for (const m of [leader, other]) process.kill(m.pid, 'SIGSTOP');
        const started = Date.now();
        let refused: grpc.ServiceError | undefined;
        while (!refused && Date.now() - started < 20_000) {
          refused = await range(kv, true);
          if (!refused) await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(refused?.code, grpc.status.UNAVAILABLE, `refused: ${refused?.message}`);
        assert.equal(refused?.details, 'etcdserver: no leader');
        assert.equal(await range(kv, false), undefined, 'a serializable read without hasleader is still served');
        const out = await watch.waitFor((o) => /no leader|canceled/.test(o), 20_000);
        assert.match(out, /etcdserver: no leader|watch is canceled by the server/);
      } finally {
        for (const m of [leader, other]) process.kill(m.pid, 'SIGCONT');
        kv.close();
        await watch.stop();
      }
    });
  });
}
