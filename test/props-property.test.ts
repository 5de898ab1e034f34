// Property test (issue 13): generated props, valid and not. Either construction throws a message that names a prop,
// or the manifest passes the strict Kubernetes 1.28 validator and the cross-object checks: never a silent bad manifest.
import { Chart, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import * as fc from 'fast-check';
import {
  HaProbe, HighlyAvailableService, HighlyAvailableServiceProps, NetworkPeer, PeerTls, PreStopHook, RaftCluster, RaftClusterProps,
  RaftRuntime, ServiceExposure,
} from '../src';
import { assertValidManifests } from './util';

const SEED = Number(process.env.PROPS_SEED ?? 20261204);
const RUNS = Number(process.env.PROPS_RUNS ?? 120);

// Each field is mostly valid and sometimes wrong, so that a generated record is often entirely valid (the manifest
// must then pass the strict validator) and often wrong in one place (the error must then name that prop).
const mostly = <T>(valid: fc.Arbitrary<T>, wrong: fc.Arbitrary<T>) => fc.oneof({ arbitrary: valid, weight: 15 }, { arbitrary: wrong, weight: 1 });
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });
const word = fc.stringMatching(/^[a-zA-Z0-9 ._\/-]{0,12}$/);
const port = mostly(fc.integer({ min: 1, max: 65535 }), fc.constantFrom(0, -1, 65536, 70000, 80.5));
const dnsLabel = fc.stringMatching(/^[a-z]([-a-z0-9]{0,10}[a-z0-9])?$/);
const dnsish = mostly(dnsLabel, fc.oneof(fc.constantFrom('Bad_Name', 'x-', '-x', '', 'a..b'), word));
const image = mostly(
  fc.constantFrom('nginx:1.27.3', 'ghcr.io/acme/api:2.1.0', 'registry.local:5000/a/b:1', `nginx@sha256:${'a'.repeat(64)}`, 'localhost/app:v1', 'a_b/c-d:1.0'),
  fc.oneof(fc.constantFrom('Nginx:1.27', 'nginx:', 'nginx:1.27 ', '', 'nginx', 'nginx:latest'), fc.tuple(word, word).map(([x, y]) => `${x}:${y}`)),
);
const octet = fc.integer({ min: 0, max: 255 });
const cidr = mostly(
  fc.tuple(octet, octet, octet, octet, fc.integer({ min: 0, max: 32 })).map(([a, b, c, d, p]) => `${a}.${b}.${c}.${d}/${p}`),
  fc.oneof(fc.constantFrom('fd00::/129', '10.0.0.0', 'not-a-cidr', '010.0.0.0/8', '999.1.1.1/8', '10.0.0.0/33'),
    fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 99 })).map(([a, p]) => `${a}.0.0.1/${p}`)),
);
const labelKey = mostly(fc.oneof(fc.constantFrom('app', 'team', 'example.com/tier'), dnsLabel), fc.oneof(fc.constantFrom('a/b/c', 'Bad Key', '-x', ''), word));
const labelValue = mostly(fc.oneof(dnsLabel, fc.constant('')), fc.oneof(fc.constantFrom('a b', '-x', 'x'.repeat(64)), word));
const labelMap = fc.dictionary(labelKey, labelValue, { minKeys: 1, maxKeys: 2 });
const peer: fc.Arbitrary<NetworkPeer> = fc.oneof(
  cidr.map((c) => ({ cidr: c })),
  labelMap.map((l) => ({ podLabels: l })),
  labelMap.map((l) => ({ namespaceLabels: l })),
);
const envName = mostly(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/), fc.oneof(fc.constantFrom('1BAD', 'A B', 'A=B', ''), word));
const millis = mostly(fc.integer({ min: 1, max: 4000 }), fc.constantFrom(0, -100, 0.5));
const mib = mostly(fc.integer({ min: 1, max: 4096 }), fc.constantFrom(0));
const resources = fc.record({ req: millis, lim: fc.option(millis), memReq: mib, memLim: mib })
  .map(({ req, lim, memReq, memLim }): kplus.ContainerResources => ({
    cpu: { request: kplus.Cpu.millis(req), limit: lim === null ? undefined : kplus.Cpu.millis(lim) },
    memory: { request: Size.mebibytes(memReq), limit: Size.mebibytes(memLim) },
  }));
const path = mostly(fc.stringMatching(/^(\/[a-z0-9_-]{1,6}){1,3}$/), fc.constantFrom('tmp', '/', '/a/../b', '/tmp/', '/a b', ''));

const serviceProps: fc.Arbitrary<Partial<HighlyAvailableServiceProps>> = fc.record({
  image,
  name: maybe(dnsish),
  containerPort: maybe(port),
  servicePort: maybe(port),
  replicas: maybe(mostly(fc.integer({ min: 2, max: 6 }), fc.constantFrom(-1, 0, 1, 2.5))),
  maxSurge: maybe(mostly(
    fc.oneof(fc.integer({ min: 1, max: 100 }).map(kplus.PercentOrAbsolute.percent),
      fc.integer({ min: 1, max: 3 }).map(kplus.PercentOrAbsolute.absolute)),
    fc.oneof(fc.constantFrom(-5, 150, 12.5).map(kplus.PercentOrAbsolute.percent), fc.constantFrom(-1, 0).map(kplus.PercentOrAbsolute.absolute)),
  )),
  resources: maybe(resources),
  writablePaths: maybe(fc.array(path, { maxLength: 3 })),
  env: maybe(fc.dictionary(envName, word, { maxKeys: 3 })),
  allowedClients: maybe(fc.array(peer, { minLength: 1, maxLength: 2 })),
  egress: maybe(fc.array(fc.record({ port: maybe(port), to: maybe(fc.array(peer, { minLength: 1, maxLength: 2 })) }), { maxLength: 2 })),
  priorityClassName: maybe(dnsish),
  podLabels: maybe(labelMap),
  nodeSelector: maybe(labelMap),
  preStop: maybe(fc.oneof(fc.constant(PreStopHook.none()), fc.integer({ min: 0, max: 40 }).map((x) => PreStopHook.sleep(x)))),
  terminationGracePeriodSeconds: maybe(fc.integer({ min: 0, max: 60 })),
  exposure: maybe(fc.oneof(
    fc.constant(ServiceExposure.clusterIp()),
    fc.array(cidr, { minLength: 1, maxLength: 2 }).map((r) => ServiceExposure.loadBalancer({ loadBalancerSourceRanges: r })),
  )),
  metrics: maybe(fc.record({ port, path: maybe(path) })),
  liveness: maybe(fc.integer({ min: 1, max: 12 }).map((f) => HaProbe.tcp({ failureThreshold: f }))),
  gatewayRoute: maybe(fc.record({ gatewayName: dnsish, pathPrefix: maybe(path) })),
  extraPorts: maybe(fc.array(fc.record({ name: mostly(fc.constantFrom('grpc', 'admin'), fc.constantFrom('http', 'Bad_Name')), port }), { maxLength: 2 })),
}, { requiredKeys: ['image'] });

const raftProps: fc.Arbitrary<RaftClusterProps> = fc.record({
  members: maybe(mostly(fc.constantFrom(3, 5, 7), fc.constantFrom(0, 1, 2, 4))),
  name: maybe(dnsish),
  image: maybe(image),
  clientPort: maybe(port),
  peerPort: maybe(port),
  dataDir: maybe(path),
  storageClassName: maybe(dnsish),
  resources: maybe(resources),
  allowedClients: maybe(fc.array(peer, { minLength: 1, maxLength: 2 })),
  extraPorts: maybe(fc.array(fc.record({
    name: mostly(fc.constantFrom('metrics', 'admin'), fc.constantFrom('Bad_Name', 'client')),
    port,
  }), { maxLength: 2 })),
  podAnnotations: maybe(labelMap),
  maxUnavailable: maybe(fc.integer({ min: -1, max: 4 })),
  peerTls: maybe(fc.constantFrom(PeerTls.plaintext(), PeerTls.certManager({ issuerName: 'raft-ca' }))),
  runtime: maybe(fc.constantFrom(RaftRuntime.haRuntime(), RaftRuntime.etcd({ version: '3.5.17' }))),
});

/** A thrown message names a prop: `<Construct> '<id>': <prop>...` with a fix after `; `. */
const NAMES_A_PROP = /^(HighlyAvailableService|RaftCluster) '[^']*': [a-zA-Z][\w.[\]' /,()-]*[ (]/;

function outcome(build: (chart: Chart) => void): 'threw' | 'valid' {
  const app = Testing.app();
  const chart = new Chart(app, 'c', { namespace: 'prop' });
  try {
    build(chart);
  } catch (e) {
    const message = (e as Error).message;
    if (!NAMES_A_PROP.test(message) || !message.includes('; ')) throw new Error(`unclear error: ${message}`);
    return 'threw';
  }
  const errors = chart.node.findAll().flatMap((c) => c.node.validate());
  if (errors.length > 0) throw new Error(`chart validation: ${errors.join('; ')}`);
  assertValidManifests(Testing.synth(chart));
  return 'valid';
}

describe('generated props: a clear error or a valid manifest, never a silent bad one', () => {
  test('HighlyAvailableService', () => {
    const seen = { threw: 0, valid: 0 };
    fc.assert(fc.property(serviceProps, (props) => {
      seen[outcome((chart) => new HighlyAvailableService(chart, 'web', props as HighlyAvailableServiceProps))]++;
    }), { seed: SEED, numRuns: RUNS });
    // Both branches must be exercised, or the generator proves nothing.
    expect(seen).toEqual({ threw: expect.any(Number), valid: expect.any(Number) });
    expect(Math.min(seen.threw, seen.valid)).toBeGreaterThan(RUNS / 10);
  });

  test('RaftCluster', () => {
    const seen = { threw: 0, valid: 0 };
    fc.assert(fc.property(raftProps, (props) => {
      seen[outcome((chart) => new RaftCluster(chart, 'kv', props))]++;
    }), { seed: SEED, numRuns: RUNS });
    expect(Math.min(seen.threw, seen.valid)).toBeGreaterThan(RUNS / 10);
  });
});
