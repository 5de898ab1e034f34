import { Size, Testing } from 'cdk8s';
import { parseRouterConfig, parseShardFlag } from '../runtime/src/cli/router-config';
import { AvailabilityModel, RaftRuntime, ShardedKeyValueStore, ShardedKeyValueStoreProps } from '../src';
import { assertValidManifests, Manifest, ofKind } from './util';

function synth(props: ShardedKeyValueStoreProps = {}): { objects: Manifest[]; store: ShardedKeyValueStore } {
  const chart = Testing.chart();
  const store = new ShardedKeyValueStore(chart, 'store', { name: 'kv', ...props });
  const objects = Testing.synth(chart);
  assertValidManifests(objects);
  return { objects, store };
}

describe('ShardedKeyValueStore', () => {
  test('GIVEN defaults THEN 3 shards of 3 members and 3 routers wired to every member', () => {
    const { objects, store } = synth();
    expect(ofKind(objects, 'StatefulSet').map((s) => [s.metadata.name, s.spec.replicas])).toEqual([['kv-s0', 3], ['kv-s1', 3], ['kv-s2', 3]]);
    expect(ofKind(objects, 'PodDisruptionBudget')).toHaveLength(4); // one per shard + the routers
    const router = ofKind(objects, 'Deployment')[0];
    expect(router.spec.replicas).toBe(3);
    const c = router.spec.template.spec.containers[0];
    expect(c.args.slice(0, 2)).toEqual(['router', '--listen=0.0.0.0:8080']);
    const shardFlags = c.args.slice(2).filter((_: string, i: number) => i % 2 === 1);
    expect(shardFlags).toHaveLength(3);
    expect(shardFlags[1]).toBe(['0', '1', '2'].map((i) => `http://kv-s1-${i}.kv-s1-peers.$(POD_NAMESPACE).svc:7379`).join(',').replace(/^/, 'kv-s1='));
    expect(c.env).toEqual([{ name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }]);
    // Readiness must not depend on every shard (the router's /readyz does): one shard down must not unready all routers.
    expect(c.readinessProbe).toMatchObject({ tcpSocket: { port: 8080 }, periodSeconds: 5, failureThreshold: 2 });
    expect(c.readinessProbe.httpGet).toBeUndefined();
    expect(c.livenessProbe.httpGet).toEqual({ path: '/livez', port: 8080, scheme: 'HTTP' });
    expect(c.lifecycle).toBeUndefined(); // no shell in the runtime image
    expect(store.shards.map((s) => s.quorum)).toEqual([2, 2, 2]);
  });

  test('GIVEN defaults THEN shards admit clients only from the routers', () => {
    const { objects } = synth();
    const routerLabels = ofKind(objects, 'Deployment')[0].spec.template.metadata.labels;
    for (const np of ofKind(objects, 'NetworkPolicy').filter((n) => n.spec.podSelector.matchLabels['app.kubernetes.io/name'] === 'raft-cluster')) {
      const clientRule = np.spec.ingress.find((r: Manifest) => r.ports[0].port === 7379);
      expect(clientRule.from).toEqual([{ podSelector: { matchLabels: { 'ha.cdk8s.io/kv-router': 'kv' } } }]);
      expect(routerLabels['ha.cdk8s.io/kv-router']).toBe('kv');
    }
  });

  test('WHEN shard options and sizes are given THEN every shard gets them', () => {
    const { objects } = synth({
      shards: 2,
      membersPerShard: 5,
      shard: { storageSize: Size.gibibytes(1), clientPort: 9379, peerPort: 9380 },
      routerPort: 9000,
    });
    const sts = ofKind(objects, 'StatefulSet');
    expect(sts.map((s) => s.spec.replicas)).toEqual([5, 5]);
    expect(sts.map((s) => s.spec.volumeClaimTemplates[0].spec.resources.requests.storage)).toEqual(['1Gi', '1Gi']);
    const c = ofKind(objects, 'Deployment')[0].spec.template.spec.containers[0];
    expect(c.args[1]).toBe('--listen=0.0.0.0:9000');
    expect(c.args[3]).toContain('http://kv-s0-4.kv-s0-peers.$(POD_NAMESPACE).svc:9379');
  });

  test('GIVEN the rendered router container THEN ha-runtime router parses its args into every shard and member', () => {
    const { objects, store } = synth({ shards: 2, routerPort: 9000 });
    const c = ofKind(objects, 'Deployment')[0].spec.template.spec.containers[0];
    expect(c.args[0]).toBe('router');
    // What the kubelet does: expand $(VAR) from the container's env (the namespace comes from the downward API).
    const podEnv: Record<string, string> = {};
    for (const e of c.env) podEnv[e.name] = e.valueFrom?.fieldRef.fieldPath === 'metadata.namespace' ? 'prod' : e.value;
    const argv = c.args.slice(1).map((a: string) => a.replace(/\$\((\w+)\)/g, (ref, v: string) => podEnv[v] ?? ref));
    expect(argv.join(' ')).not.toContain('$(');
    const config = parseRouterConfig(argv, {});
    expect(config.listenPort).toBe(9000);
    expect(config.listenPort).toBe(c.ports[0].containerPort);
    expect([...config.shards.keys()]).toEqual(store.shards.map((s) => s.name));
    for (const shard of store.shards) {
      expect(config.shards.get(shard.name)).toEqual({
        kind: 'static',
        urls: shard.memberNames.map((_, i) => `http://${shard.memberDnsName(i)}.prod.svc:7379`),
      });
    }
  });

  test('availability: routers times shards; more shards, fewer nines for "every key"', () => {
    const three = synth().store.availability({ podAvailability: 0.99 });
    expect(three.shards).toHaveLength(3);
    expect(three.router.replicas).toBe(3);
    const aShard = AvailabilityModel.steadyStateAvailability(3, 2, 0.99);
    const aRouter = AvailabilityModel.steadyStateAvailability(3, 1, 0.99);
    expect(three.perKeyAvailability).toBeCloseTo(aRouter * aShard, 12);
    expect(three.allKeysAvailability).toBeCloseTo(aRouter * aShard ** 3, 12);
    const six = synth({ shards: 6 }).store.availability({ podAvailability: 0.99 });
    expect(six.allKeysNines).toBeLessThan(three.allKeysNines);
    expect(six.perKeyAvailability).toBeCloseTo(three.perKeyAvailability, 12);
  });

  test('GIVEN shards THEN a reshard Job targets exactly them, named after them, and passes the shards\' NetworkPolicy', () => {
    const { objects } = synth({ shards: 3 });
    const jobs = ofKind(objects, 'Job');
    expect(jobs).toHaveLength(1);
    const c = jobs[0].spec.template.spec.containers[0];
    expect(c.args[0]).toBe('reshard');
    const flags = c.args.slice(1);
    expect(flags.filter((_: string, i: number) => i % 2 === 0)).toEqual(['--shard', '--shard', '--shard']);
    for (const value of flags.filter((_: string, i: number) => i % 2 === 1)) expect(() => parseShardFlag('--shard', value.replace(/\$\(POD_NAMESPACE\)/g, 'ns'))).not.toThrow();
    expect(jobs[0].spec.template.metadata.labels['ha.cdk8s.io/kv-router']).toBe('kv');
    expect(jobs[0].spec.backoffLimit).toBeGreaterThan(1);
    // Same shards, same Job (re-applying is a no-op); other shards, a new Job (a migration).
    expect(ofKind(synth({ shards: 3 }).objects, 'Job')[0].metadata.name).toBe(jobs[0].metadata.name);
    expect(ofKind(synth({ shards: 4 }).objects, 'Job')[0].metadata.name).not.toBe(jobs[0].metadata.name);
  });

  test('GIVEN retiringShards THEN the retiring shards keep running and the routers know them, but the Job moves their slots away', () => {
    const { objects, store } = synth({ shards: 2, retiringShards: 1 });
    expect(ofKind(objects, 'StatefulSet').map((s) => s.metadata.name)).toEqual(['kv-s0', 'kv-s1', 'kv-s2']);
    expect(store.shards.map((s) => s.name)).toEqual(['kv-s0', 'kv-s1']);
    expect(store.retiringShards.map((s) => s.name)).toEqual(['kv-s2']);
    const routerArgs: string[] = ofKind(objects, 'Deployment')[0].spec.template.spec.containers[0].args;
    expect(routerArgs.filter((a) => a.startsWith('kv-s')).map((a) => a.split('=')[0])).toEqual(['kv-s0', 'kv-s1', 'kv-s2']);
    const jobArgs: string[] = ofKind(objects, 'Job')[0].spec.template.spec.containers[0].args;
    expect(jobArgs.filter((a) => a.startsWith('kv-s')).map((a) => a.split('=')[0])).toEqual(['kv-s0', 'kv-s1']);
    // The Job is the same as the one `shards: 2` alone renders: the migration does not restart when the retiring shard goes.
    expect(ofKind(synth({ shards: 2 }).objects, 'Job')[0].metadata.name).toBe(ofKind(objects, 'Job')[0].metadata.name);
  });

  const errors: [string, ShardedKeyValueStoreProps, string][] = [
    ['shards', { shards: 0 }, "ShardedKeyValueStore 'store': shards (0) must be an integer in 1..64"],
    ['shard name', { shard: { name: 'x' } }, "ShardedKeyValueStore 'store': shard.name ('x') is set by the store (shards are <name>-s<i>); use name instead"],
    ['generic shard runtime', { shard: { runtime: RaftRuntime.generic({ args: ['--name={id}'] }) } }, "shard.runtime ('generic') is not the cdk8s-ha runtime, but the routers speak the /v1/kv API of `ha-runtime raft`; omit shard.runtime"],
    ['name', { name: 'K' }, "name ('K') must be a DNS-1035 label of at most 40 characters"],
    ['even shard', { membersPerShard: 4 }, "ShardedKeyValueStore 'store': membersPerShard (4) tolerates no more failures than 3; use an odd count >= 3 (3 or 5), or set shard.allowUnsafeMemberCount: true"],
    ['router replicas', { routerReplicas: 1 }, "ShardedKeyValueStore 'store': routerReplicas (1) must be an integer >= 2"],
    ['retiring shards', { shards: 60, retiringShards: 5 }, "ShardedKeyValueStore 'store': retiringShards (5) must be an integer in 0..4"],
  ];
  test.each(errors)('error: %s', (_n, props, message) => {
    expect(() => new ShardedKeyValueStore(Testing.chart(), 'store', { name: 'kv', ...props })).toThrow(message);
  });
});
