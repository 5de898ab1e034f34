// The bad-input table of issue 13: every wrong prop throws at construction (or, for names that collide across
// constructs, at synthesis through the chart's validation) with a message naming the prop; none synthesizes.
import { Chart, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import {
  HaProbe, HighlyAvailableService, HighlyAvailableServiceProps, NetworkProtocol, PeerTls, PreStopHook, RaftCluster,
  RaftClusterProps, RaftRuntime, ServiceExposure, ShardedKeyValueStore, ShardedKeyValueStoreProps,
} from '../src';

type Case = [string, () => unknown, string];

const service = (props: Partial<HighlyAvailableServiceProps>, id = 'web') => () =>
  new HighlyAvailableService(Testing.chart(), id, { image: 'nginx:1.27.3', name: 'web', ...props });
const raft = (props: RaftClusterProps) => () => new RaftCluster(Testing.chart(), 'kv', { name: 'kv', ...props });
const store = (props: ShardedKeyValueStoreProps) => () => new ShardedKeyValueStore(Testing.chart(), 'store', { name: 'kv', ...props });
const cpu = (request: number, limit?: number) => ({
  cpu: { request: kplus.Cpu.millis(request), limit: limit === undefined ? undefined : kplus.Cpu.millis(limit) },
  memory: { request: Size.mebibytes(128), limit: Size.mebibytes(256) },
});
const chartWith = (build: (chart: Chart) => void) => () => {
  const app = Testing.app();
  build(new Chart(app, 'c'));
  app.synth();
};

const imageCases: Case[] = [
  ['uppercase image', service({ image: 'Nginx:1.27' }), 'image'],
  ['empty tag', service({ image: 'nginx:' }), 'image'],
  ['trailing space', service({ image: 'nginx:1.27 ' }), 'image'],
  ['leading space', service({ image: ' nginx:1.27' }), 'image'],
  ['empty image', service({ image: '' }), "image ('') is empty"],
  ['latest', service({ image: 'nginx:latest' }), 'image'],
  ['untagged', service({ image: 'nginx' }), 'image'],
  ['double colon', service({ image: 'nginx::1' }), 'image'],
  ['bad digest', service({ image: 'nginx@sha256:abc' }), 'image'],
  ['uppercase path', service({ image: 'ghcr.io/Org/app:1.0' }), 'image'],
  ['tag too long', service({ image: `nginx:${'a'.repeat(129)}` }), 'image'],
  ['tag starting with dot', service({ image: 'nginx:.1' }), 'image'],
  ['slash at end', service({ image: 'ghcr.io/app/:1.0' }), 'image'],
  ['raft image uppercase', raft({ image: 'Etcd:3.5' }), 'image'],
  ['router image', store({ routerImage: 'router' }), 'routerImage'],
  ['sidecar image', service({ sidecars: [{ name: 'proxy', image: 'envoy:latest' }] }), 'sidecars[0].image'],
  ['init image', service({ initContainers: [{ name: 'migrate', image: 'Migrate:1' }] }), 'initContainers[0].image'],
];

const cidrCases: Case[] = [
  ['prefix 33', service({ allowedClients: [{ cidr: '10.0.0.0/33' }] }), 'cidr'],
  ['octet 999', service({ allowedClients: [{ cidr: '999.1.1.1/8' }] }), 'cidr'],
  ['no prefix', service({ allowedClients: [{ cidr: '10.0.0.0' }] }), 'cidr'],
  ['not a cidr', service({ allowedClients: [{ cidr: 'not-a-cidr' }] }), 'cidr'],
  ['ipv6 prefix 129', service({ allowedClients: [{ cidr: 'fd00::/129' }] }), 'cidr'],
  ['leading zero octet', service({ allowedClients: [{ cidr: '010.0.0.0/8' }] }), 'cidr'],
  ['lb source range', service({ exposure: ServiceExposure.loadBalancer({ loadBalancerSourceRanges: ['not-a-cidr'] }) }), 'loadBalancerSourceRanges[0]'],
  ['lb source range /40', service({ exposure: ServiceExposure.loadBalancer({ loadBalancerSourceRanges: ['1.2.3.4/40'] }) }), 'loadBalancerSourceRanges[0]'],
  ['lb empty ranges', service({ exposure: ServiceExposure.loadBalancer({ loadBalancerSourceRanges: [] }) }), 'loadBalancerSourceRanges'],
  ['lb duplicate ranges', service({ exposure: ServiceExposure.loadBalancer({ loadBalancerSourceRanges: ['1.2.3.4/32', '1.2.3.4/32'] }) }), 'loadBalancerSourceRanges'],
  ['raft client exposure', raft({ clientExposure: ServiceExposure.loadBalancer({ loadBalancerSourceRanges: ['x'] }) }), 'clientExposure loadBalancerSourceRanges[0]'],
  ['egress cidr', service({ egress: [{ to: [{ cidr: '300.0.0.0/8' }] }] }), 'egress[0].to[0] cidr'],
  ['raft egress cidr', raft({ allowedEgress: [{ to: [{ cidr: '1.2.3/8' }] }] }), 'allowedEgress[0].to[0] cidr'],
  ['cidr and labels', service({ allowedClients: [{ cidr: '10.0.0.0/8', podLabels: { a: 'b' } }] }), 'allowedClients'],
  ['empty peer', service({ allowedClients: [{}] }), 'allowedClients'],
  ['empty client list', service({ allowedClients: [] }), 'clients of port 8080'],
  ['empty egress to', service({ egress: [{ to: [] }] }), 'egress[0].to'],
];

const labelCases: Case[] = [
  ['client label key with space', service({ allowedClients: [{ podLabels: { 'bad key': 'x' } }] }), 'podLabels key'],
  ['client label key two slashes', service({ allowedClients: [{ podLabels: { 'a/b/c': 'x' } }] }), 'podLabels key'],
  ['client label value too long', service({ allowedClients: [{ podLabels: { app: 'x'.repeat(64) } }] }), "podLabels['app']"],
  ['namespace label value', service({ allowedClients: [{ namespaceLabels: { team: '-bad' } }] }), "namespaceLabels['team']"],
  ['pod label key', service({ podLabels: { 'Bad Key': 'x' } }), 'podLabels key'],
  ['pod label value', service({ podLabels: { tier: 'front end' } }), "podLabels['tier']"],
  ['pod label overrides selector', service({ podLabels: { 'app.kubernetes.io/name': 'x' } }), 'podLabels key'],
  ['service label', service({ serviceLabels: { team: 'a b' } }), "serviceLabels['team']"],
  ['pod annotation key', service({ podAnnotations: { 'bad key': 'x' } }), 'podAnnotations key'],
  ['service annotation key', service({ serviceAnnotations: { '/x': 'y' } }), 'serviceAnnotations key'],
  ['node selector', service({ nodeSelector: { pool: 'web pool' } }), "nodeSelector['pool']"],
  ['construct id with space', service({}, 'Web Frontend'), 'construct id'],
  ['construct id too long', service({}, 'w'.repeat(64)), 'construct id'],
  ['raft sidecar image', raft({ sidecars: [{ name: 'backup', image: 'backup' }] }), 'sidecars[0].image'],
  ['raft sidecar named member', raft({ sidecars: [{ name: 'member', image: 'backup:1.0.0' }] }), 'container name'],
  ['raft sidecar port clash', raft({ sidecars: [{ name: 'backup', image: 'backup:1.0.0', ports: [{ number: 7380 }] }] }), 'container port'],
  ['raft pod label', raft({ podLabels: { 'app.kubernetes.io/instance': 'x' } }), 'podLabels key'],
  ['raft node selector', raft({ nodeSelector: { '-x': 'y' } }), 'nodeSelector key'],
  ['raft pod annotation', raft({ podAnnotations: { 'a b': 'c' } }), 'podAnnotations key'],
  ['raft claim label', raft({ volumeClaimLabels: { tier: '.' } }), "volumeClaimLabels['tier']"],
  ['raft claim annotation', raft({ volumeClaimAnnotations: { 'x y': 'z' } }), 'volumeClaimAnnotations key'],
  ['monitor label', service({ metrics: { port: 9090, monitorLabels: { release: 'a b' } } }), "metrics.monitorLabels['release']"],
  ['ingress annotation', service({ ingress: { host: 'shop.example.com', annotations: { 'a b': 'c' } } }), 'ingress.annotations key'],
];

const envCases: Case[] = [
  ['env name with space', service({ env: { 'MY VAR': '1' } }), 'env name'],
  ['env name starting with digit', service({ env: { '1VAR': '1' } }), 'env name'],
  ['env name with equals', service({ env: { 'A=B': '1' } }), 'env name'],
  ['env name empty', service({ env: { '': '1' } }), 'env name'],
  ['envVariables name', service({ envVariables: { 'bad name': kplus.EnvValue.fromValue('x') } }), 'envVariables name'],
  ['env in both maps', service({ env: { A: '1' }, envVariables: { A: kplus.EnvValue.fromValue('2') } }), 'env/envVariables name'],
  ['sidecar env name', service({ sidecars: [{ name: 'p', image: 'envoy:1.30.1', envVariables: { '9X': kplus.EnvValue.fromValue('1') } }] }), 'sidecars[0].envVariables name'],
  ['generic reserved env', raft({ image: 'zk:3.9.2', peerTls: PeerTls.plaintext(), runtime: RaftRuntime.generic({ args: ['x'], env: { POD_NAMESPACE: 'x' } }) }), 'runtime env POD_NAMESPACE'],
];

const quantityCases: Case[] = [
  ['cpu limit below request', service({ resources: cpu(500, 250) }), 'resources.cpu.limit'],
  ['memory limit below request', service({ resources: { cpu: { request: kplus.Cpu.millis(100) }, memory: { request: Size.mebibytes(512), limit: Size.mebibytes(256) } } }), 'resources.memory.limit'],
  ['ephemeral limit below request', service({ resources: { ...cpu(100), ephemeralStorage: { request: Size.gibibytes(2), limit: Size.gibibytes(1) } } }), 'resources.ephemeralStorage.limit'],
  ['zero cpu request', service({ resources: cpu(0) }), 'resources'],
  ['negative cpu', service({ resources: cpu(-100) }), 'resources.cpu.request'],
  ['fractional millicores', service({ resources: cpu(0.5) }), 'resources.cpu.request'],
  ['no memory limit', service({ resources: { cpu: { request: kplus.Cpu.millis(100) }, memory: { request: Size.mebibytes(64) } } }), 'resources'],
  ['raft cpu limit below request', raft({ resources: cpu(1000, 500) }), 'resources.cpu.limit'],
  ['raft no requests', raft({ resources: { cpu: { request: kplus.Cpu.millis(100) } } }), 'resources'],
  ['sidecar limit below request', service({ sidecars: [{ name: 'p', image: 'envoy:1.30.1', resources: cpu(200, 100) }] }), 'sidecars[0].resources.cpu.limit'],
  ['router resources', store({ routerResources: cpu(200, 100) }), 'routerResources.cpu.limit'],
  ['storage size', raft({ storageSize: Size.kibibytes(10) }), 'storageSize'],
  ['shard storage size', store({ shard: { storageSize: Size.kibibytes(1) } }), 'shard.storageSize'],
];

const percentCases: Case[] = [
  ['negative surge percent', service({ maxSurge: kplus.PercentOrAbsolute.percent(-5) }), 'maxSurge'],
  ['surge over 100%', service({ maxSurge: kplus.PercentOrAbsolute.percent(150) }), 'maxSurge'],
  ['fractional surge percent', service({ maxSurge: kplus.PercentOrAbsolute.percent(12.5) }), 'maxSurge'],
  ['negative surge', service({ maxSurge: kplus.PercentOrAbsolute.absolute(-1) }), 'maxSurge'],
  ['zero surge', service({ maxSurge: kplus.PercentOrAbsolute.absolute(0) }), 'maxSurge'],
  ['cpu target 150', service({ autoscaling: { maxReplicas: 5, targetCpuUtilizationPercent: 150 } }), 'autoscaling.targetCpuUtilizationPercent'],
  ['memory target 0', service({ autoscaling: { maxReplicas: 5, targetMemoryUtilizationPercent: 0 } }), 'autoscaling.targetMemoryUtilizationPercent'],
  ['router cpu target', store({ routerAutoscaling: { maxReplicas: 5, targetCpuUtilizationPercent: 101 } }), 'routerAutoscaling.targetCpuUtilizationPercent'],
];

const pathCases: Case[] = [
  ['relative writable path', service({ writablePaths: ['tmp'] }), 'writablePaths[0]'],
  ['duplicate writable paths', service({ writablePaths: ['/tmp', '/tmp'] }), 'writablePaths/volumeMounts path'],
  ['dot-dot path', service({ writablePaths: ['/var/../etc'] }), 'writablePaths[0]'],
  ['root path', service({ writablePaths: ['/'] }), 'writablePaths[0]'],
  ['trailing slash', service({ writablePaths: ['/tmp/'] }), 'writablePaths[0]'],
  ['volume mount twice', service({ volumeMounts: [{ path: '/tmp', volume: kplus.Volume.fromEmptyDir(Testing.chart(), 'v', 'v') }] }), 'writablePaths/volumeMounts path'],
  ['relative volume mount', service({ volumeMounts: [{ path: 'conf', volume: kplus.Volume.fromEmptyDir(Testing.chart(), 'v', 'v') }] }), 'volumeMounts[0].path'],
  ['raft dataDir', raft({ dataDir: 'data' }), 'dataDir'],
  ['raft dataDir root', raft({ dataDir: '/' }), 'dataDir'],
  ['metrics path', service({ metrics: { port: 9090, path: 'metrics' } }), 'metrics.path'],
  ['ingress path', service({ ingress: { host: 'shop.example.com', path: 'api' } }), 'ingress.path'],
  ['empty command', service({ command: [] }), 'command'],
];

const portCases: Case[] = [
  ['container port 70000', service({ containerPort: 70000 }), 'containerPort'],
  ['container port 0', service({ containerPort: 0 }), 'containerPort'],
  ['service port 65536', service({ servicePort: 65536 }), 'servicePort'],
  ['fractional port', service({ containerPort: 80.5 }), 'containerPort'],
  ['preStop httpGet port', () => PreStopHook.httpGet('/drain', 5, 70000), 'port'],
  ['preStop port not the container', service({ preStop: PreStopHook.httpGet('/drain', 5, 9999) }), 'preStop port'],
  ['probe port out of range', service({ readiness: HaProbe.tcp({ port: 70000 }) }), 'readiness probe port'],
  ['probe on unknown port', service({ liveness: HaProbe.http('/live', { port: 9999 }) }), 'liveness probe port'],
  ['metrics port = container port', service({ metrics: { port: 8080 } }), 'metrics.port'],
  ['metrics port 0', service({ metrics: { port: 0 } }), 'metrics.port'],
  ['metrics port name', service({ metrics: { port: 9090, portName: 'Metrics_Port' } }), 'metrics.portName'],
  ['sidecar port clash', service({ sidecars: [{ name: 'p', image: 'envoy:1.30.1', ports: [{ number: 8080 }] }] }), 'container port'],
  ['sidecar port range', service({ sidecars: [{ name: 'p', image: 'envoy:1.30.1', ports: [{ number: 0 }] }] }), 'sidecars[0].ports'],
  ['egress port', service({ egress: [{ port: 70000, protocol: NetworkProtocol.TCP }] }), 'egress[0].port'],
  ['port name', service({ portName: 'HTTP_PORT' }), 'portName'],
  ['extra port range', service({ extraPorts: [{ name: 'grpc', port: 70000 }] }), 'extraPorts[0].port'],
  ['extra port name clash', service({ extraPorts: [{ name: 'http', port: 9000 }] }), 'port name (portName, metrics.portName, extraPorts)'],
  ['extra service port clash', service({ extraPorts: [{ name: 'grpc', port: 9000, servicePort: 80 }] }), 'Service port'],
  ['raft client port', raft({ clientPort: 0 }), 'clientPort'],
  ['raft same ports', raft({ clientPort: 7000, peerPort: 7000 }), 'peerPort'],
  ['raft extra port clash', raft({ extraPorts: [{ name: 'metrics', port: 7379 }] }), 'port (clientPort, peerPort, extraPorts)'],
  ['raft extra port range', raft({ extraPorts: [{ name: 'metrics', port: 99999 }] }), 'extraPorts[0].port'],
  ['raft extra port name', raft({ extraPorts: [{ name: 'client', port: 9000 }] }), 'port name'],
  ['raft probe on unknown port', raft({ readiness: HaProbe.http('/health', { port: 2381 }) }), 'readiness probe port'],
  ['router port', store({ routerPort: 0 }), 'routerPort'],
  ['etcd metrics port', () => RaftRuntime.etcd({ version: '3.5.17', metricsPort: 0 }), 'metricsPort'],
];

const nameCases: Case[] = [
  ['service name uppercase', service({ name: 'Checkout' }), 'name'],
  ['service name too long', service({ name: 'a'.repeat(64) }), 'name'],
  ['storage class', raft({ storageClassName: 'Fast_SSD' }), 'storageClassName'],
  ['priority class', service({ priorityClassName: 'Bad_Name' }), 'priorityClassName'],
  ['raft priority class', raft({ priorityClassName: 'High Priority' }), 'priorityClassName'],
  ['raft name', raft({ name: 'Kv_1' }), 'name'],
  ['raft name too long', raft({ name: 'k'.repeat(48) }), 'name'],
  ['store name', store({ name: 'K' }), 'name'],
  ['sidecar name missing', service({ sidecars: [{ image: 'envoy:1.30.1' }] }), 'sidecars[0].name'],
  ['sidecar named app', service({ sidecars: [{ name: 'app', image: 'envoy:1.30.1' }] }), 'container name'],
  ['sidecar name uppercase', service({ sidecars: [{ name: 'Proxy', image: 'envoy:1.30.1' }] }), 'sidecars[0].name'],
  ['ingress host', service({ ingress: { host: 'Shop_Example.com' } }), 'ingress.host'],
  ['gateway name', service({ gatewayRoute: { gatewayName: 'Public Gateway' } }), 'gatewayRoute.gatewayName'],
  ['gateway hostname', service({ gatewayRoute: { gatewayName: 'public', hostnames: ['Shop_Example.com'] } }), 'gatewayRoute.hostnames[0]'],
  ['gateway path', service({ gatewayRoute: { gatewayName: 'public', pathPrefix: 'api' } }), 'gatewayRoute.pathPrefix'],
  ['ingress class', service({ ingress: { host: 'shop.example.com', className: 'Nginx Public' } }), 'ingress.className'],
  ['peer TLS secret name', () => PeerTls.fromSecret('Peer_TLS'), 'secretName'],
  ['cert-manager issuer', () => PeerTls.certManager({ issuerName: 'My Issuer' }), 'issuerName'],
  ['etcd client TLS secret', () => RaftRuntime.etcd({ version: '3.5.17', tls: { secretName: 'Bad Secret' } }), 'tls.secretName'],
  ['duplicate names across constructs', chartWith((c) => {
    new HighlyAvailableService(c, 'kv-api', { image: 'nginx:1.27.3', name: 'kv' });
    new RaftCluster(c, 'kv', { name: 'kv' });
  }), 'name ("kv")'],
  ['two services, one name', chartWith((c) => {
    new HighlyAvailableService(c, 'a', { image: 'nginx:1.27.3', name: 'web' });
    new HighlyAvailableService(c, 'b', { image: 'nginx:1.27.3', name: 'web' });
  }), 'name ("web")'],
];

const countCases: Case[] = [
  ['one replica', service({ replicas: 1 }), 'replicas'],
  ['fractional replicas', service({ replicas: 2.5 }), 'replicas'],
  ['autoscaler min', service({ autoscaling: { minReplicas: 1, maxReplicas: 5 } }), 'autoscaling.minReplicas'],
  ['autoscaler max', service({ autoscaling: { minReplicas: 3, maxReplicas: 2 } }), 'autoscaling.maxReplicas'],
  ['minReady', service({ minReadySeconds: -1 }), 'minReadySeconds'],
  ['progress deadline', service({ minReadySeconds: 60, progressDeadlineSeconds: 30 }), 'progressDeadlineSeconds'],
  ['grace vs preStop', service({ preStop: PreStopHook.sleep(30), terminationGracePeriodSeconds: 30 }), 'terminationGracePeriodSeconds'],
  ['root user', service({ runAsUser: 0 }), 'runAsUser'],
  ['affinity timeout', service({ sessionAffinityTimeoutSeconds: 60 }), 'sessionAffinityTimeoutSeconds'],
  ['metrics interval', service({ metrics: { port: 9090, intervalSeconds: 0 } }), 'metrics.intervalSeconds'],
  ['PDB blocks drains', service({ maxUnavailable: 0 }), 'maxUnavailable'],
  ['PDB on one replica', service({ replicas: 1, allowSingleReplica: true, minAvailable: 1 }), 'minAvailable'],
  ['even members', raft({ members: 4 }), 'members'],
  ['one member', raft({ members: 1 }), 'members'],
  ['raft grace', raft({ terminationGracePeriodSeconds: 5 }), 'terminationGracePeriodSeconds'],
  ['raft PDB', raft({ members: 5, maxUnavailable: 3 }), 'maxUnavailable'],
  ['raft egress with allow-all', raft({ allowAllEgress: true, allowedEgress: [{ port: 443 }] }), 'allowedEgress'],
  ['shards', store({ shards: 0 }), 'shards'],
  ['members per shard', store({ membersPerShard: 4 }), 'membersPerShard'],
  ['router replicas', store({ routerReplicas: 1 }), 'routerReplicas'],
  ['router autoscaler min', store({ routerAutoscaling: { minReplicas: 1, maxReplicas: 3 } }), 'routerAutoscaling.minReplicas'],
  ['shard members prop', store({ shard: { members: 5 } }), 'shard.members'],
  ['shard grace', store({ shard: { terminationGracePeriodSeconds: 1 } }), 'shard.terminationGracePeriodSeconds'],
  ['etcd version', () => RaftRuntime.etcd({ version: 'v3.5' }), 'version'],
  ['etcd 2.x', () => RaftRuntime.etcd({ version: '2.3.8' }), 'version'],
  ['cert-manager without a namespace', raft({ peerTls: PeerTls.certManager({ issuerName: 'ca' }) }), 'peerTls'],
  ['cert-manager duration', () => PeerTls.certManager({ issuerName: 'ca', durationHours: 1 }), 'durationHours'],
  ['generic runtime ignores TLS', raft({ image: 'zk:3.9.2', runtime: RaftRuntime.generic({ args: ['--id={id}'] }) }), 'peerTls'],
];

const table: Case[] = [
  ...imageCases, ...cidrCases, ...labelCases, ...envCases, ...quantityCases, ...percentCases, ...pathCases, ...portCases,
  ...nameCases, ...countCases,
];

describe(`bad-input table (${table.length} cases): each throws naming the prop`, () => {
  test('has more than 100 cases', () => {
    expect(table.length).toBeGreaterThan(100);
  });

  test.each(table)('%s', (_name, build, prop) => {
    let message = '';
    try {
      build();
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).not.toBe('');
    expect(message).toContain(prop);
    // The format: `<Construct> '<id>': <prop> (<value>) <problem>; <fix>` (factories name themselves instead).
    expect(message).toMatch(/^([A-Za-z.]+( '[^']*')?( \([^)]*\))?|Validation failed with the following errors:[\s\S]*): /);
    expect(message).toMatch(/; /);
  });
});
