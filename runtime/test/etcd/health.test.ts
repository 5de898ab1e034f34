/**
 * gRPC's standard health service (grpc.health.v1) on the client port, as Kubernetes' `grpc` probes and
 * grpc_health_probe ask it: the same expectations against a three-member runtime cluster and against etcd 3.4 when it
 * is installed (ports 24820-24825 and 24830-24835); and the service alone, on a member that is not live.
 */
import * as assert from 'node:assert/strict';
import { after, before, describe, it as it_ } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as protobuf from 'protobufjs';
import { startEtcd, startRuntime, Target } from './etcd-clients';
import { healthService } from '../../src/api/etcd/health';
import { etcdPackageDefinition, HEALTH_PROTO } from '../../src/api/etcd/proto';
import { testsNeeding } from '../support/prerequisite';

const TARGETS: [string, () => Promise<Target | undefined>][] = [
  ['runtime', () => startRuntime(24820)],
  ['etcd 3.4', () => startEtcd(24830)],
];

type HealthClient = grpc.Client & Record<string, (...args: unknown[]) => any>;

function healthClient(endpoint: string): HealthClient {
  const root = new protobuf.Root();
  protobuf.parse(HEALTH_PROTO, root, { keepCase: true });
  const def = protoLoader.fromJSON(root.toJSON(), { keepCase: true, enums: String, defaults: true });
  const Health = (((grpc.loadPackageDefinition(def).grpc as grpc.GrpcObject).health as grpc.GrpcObject).v1 as grpc.GrpcObject).Health;
  return new (Health as grpc.ServiceClientConstructor)(endpoint, grpc.credentials.createInsecure()) as unknown as HealthClient;
}

function check(c: HealthClient, service: string): Promise<{ status?: string; code?: number; details?: string }> {
  return new Promise((resolve) => {
    c.Check({ service }, { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null, resp: { status: string }) => {
      resolve(err ? { code: err.code, details: err.details } : { status: resp.status });
    });
  });
}

for (const [label, start] of TARGETS) {
  void describe(`grpc.health.v1 against ${label}`, () => {
    let t: Target | undefined;
    before(async () => { t = await start(); }, { timeout: 40_000 });
    after(async () => { await t?.close(); });
    const it = testsNeeding(() => t, 'etcd is not installed', 20_000);

    it('Check: the server ("") is SERVING on every member; an unknown service is NOT_FOUND', async () => {
      for (const endpoint of t!.endpoints) {
        const c = healthClient(endpoint);
        try {
          assert.deepEqual(await check(c, ''), { status: 'SERVING' }, endpoint);
          assert.deepEqual(await check(c, 'etcdserverpb.KV.nope'), { code: grpc.status.NOT_FOUND, details: 'unknown service' }, endpoint);
        } finally { c.close(); }
      }
    });

    it('Watch: the current status at once, and the stream stays open until the client cancels', async () => {
      const c = healthClient(t!.endpoints[0]);
      try {
        const call = c.Watch({ service: '' }) as grpc.ClientReadableStream<{ status: string }>;
        const first = await new Promise<{ status: string }>((resolve, reject) => { call.once('data', resolve); call.once('error', reject); });
        assert.equal(first.status, 'SERVING');
        const ended = await new Promise<string>((resolve) => {
          call.on('error', (e: grpc.ServiceError) => resolve(`error ${e.code}`));
          call.on('end', () => resolve('end'));
          setTimeout(() => resolve('open'), 1500);
        });
        assert.equal(ended, 'open');
        call.cancel();
      } finally { c.close(); }
    });
  });
}

void describe('grpc.health.v1 on a member whose storage failed', () => {
  void it_('Check answers NOT_SERVING while the member is not live, and a Watch sends the change', { timeout: 10_000 }, async () => {
    let live = true;
    const server = new grpc.Server();
    const health = ((grpc.loadPackageDefinition(etcdPackageDefinition()).grpc as grpc.GrpcObject).health as grpc.GrpcObject).v1 as grpc.GrpcObject;
    server.addService((health.Health as grpc.ServiceClientConstructor).service, healthService(() => live));
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:24839', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p)));
    });
    const c = healthClient(`127.0.0.1:${port}`);
    try {
      const call = c.Watch({ service: '' }) as grpc.ClientReadableStream<{ status: string }>;
      const seen: string[] = [];
      const changed = new Promise<void>((resolve) => call.on('data', (m: { status: string }) => { seen.push(m.status); if (seen.length === 2) resolve(); }));
      call.on('error', () => undefined);
      assert.deepEqual(await check(c, ''), { status: 'SERVING' });
      live = false;
      assert.deepEqual(await check(c, ''), { status: 'NOT_SERVING' });
      await changed;
      assert.deepEqual(seen, ['SERVING', 'NOT_SERVING']);
      call.cancel();
    } finally {
      c.close();
      server.forceShutdown();
    }
  });
});
