import { Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import {
  ExternalTrafficPolicy, HaProbe, HighlyAvailableService, HighlyAvailableServiceProps, PreStopHook, ServiceExposure,
  SessionAffinity, SpreadMode,
} from '../src';
import { assertValidManifests, Manifest, ofKind, one } from './util';

function synth(props: Partial<HighlyAvailableServiceProps> = {}): { objects: Manifest[]; svc: HighlyAvailableService } {
  const chart = Testing.chart();
  const svc = new HighlyAvailableService(chart, 'web', { image: 'web:1.0', ...props });
  const objects = Testing.synth(chart);
  assertValidManifests(objects);
  return { objects, svc };
}
const container = (objects: Manifest[]) => one(objects, 'Deployment').spec.template.spec.containers[0];
const build = (props: Partial<HighlyAvailableServiceProps>) => () =>
  new HighlyAvailableService(Testing.chart(), 'web', { image: 'web:1.0', ...props });

describe('HighlyAvailableService defaults', () => {
  // GIVEN only an image
  const { objects, svc } = synth();
  const deployment = one(objects, 'Deployment');
  const podSpec = deployment.spec.template.spec;

  test('renders exactly a Deployment, Service, PDB and NetworkPolicy, all valid', () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(['Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'Service']);
    expect(svc.autoscaler).toBeUndefined();
  });

  test('3 replicas, a rollout that never drops capacity, minReady and a progress deadline', () => {
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } });
    expect(deployment.spec.minReadySeconds).toBe(10);
    expect(deployment.spec.progressDeadlineSeconds).toBe(600);
  });

  test('three probes on the container port that differ in purpose', () => {
    const c = container(objects);
    const timing = (periodSeconds: number, timeoutSeconds: number, failureThreshold: number) =>
      ({ initialDelaySeconds: 0, periodSeconds, timeoutSeconds, failureThreshold, successThreshold: 1 });
    expect(c.readinessProbe).toEqual({ tcpSocket: { port: 8080 }, ...timing(5, 2, 2) });
    expect(c.livenessProbe).toEqual({ tcpSocket: { port: 8080 }, ...timing(10, 5, 6) });
    expect(c.startupProbe).toEqual({ tcpSocket: { port: 8080 }, ...timing(5, 3, 60) });
  });

  test('spreads over nodes (required) and zones (preferred), plus soft anti-affinity', () => {
    const selector = { matchLabels: deployment.spec.selector.matchLabels };
    expect(podSpec.topologySpreadConstraints).toEqual([
      { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: selector, matchLabelKeys: ['pod-template-hash'], nodeTaintsPolicy: 'Honor' },
      { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: selector, matchLabelKeys: ['pod-template-hash'], nodeTaintsPolicy: 'Honor' },
    ]);
    const preferred = podSpec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
    expect(preferred).toHaveLength(1);
    expect(preferred[0].podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
    expect(podSpec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
  });

  test('a PDB on exactly these pods: maxUnavailable 1, unhealthy pods always evictable', () => {
    const pdb = one(objects, 'PodDisruptionBudget');
    expect(pdb.spec).toEqual({ selector: deployment.spec.selector, maxUnavailable: 1, unhealthyPodEvictionPolicy: 'AlwaysAllow' });
    expect(svc.podDisruptionBudget!.allowedDisruptions).toBe(1);
  });

  test('a LoadBalancer Service 80 -> 8080 on the pods', () => {
    const service = one(objects, 'Service');
    expect(service.spec.type).toBe('LoadBalancer');
    expect(service.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }]);
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(service.spec.externalTrafficPolicy).toBe('Cluster');
    expect(service.spec.sessionAffinity).toBe('None');
  });

  test('graceful shutdown: preStop sleep 5 inside a 30 s grace period', () => {
    expect(container(objects).lifecycle).toEqual({ preStop: { exec: { command: ['sleep', '5'] } } });
    expect(podSpec.terminationGracePeriodSeconds).toBe(30);
  });

  test('restricted security context, pinned pulls, requests and a memory limit, no token', () => {
    const c = container(objects);
    expect(c.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(podSpec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, fsGroup: 65532 });
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(c.resources).toEqual({ requests: { 'cpu': '100m', 'memory': '128Mi', 'ephemeral-storage': '1Gi' }, limits: { 'memory': '256Mi', 'ephemeral-storage': '2Gi' } });
    expect(podSpec.automountServiceAccountToken).toBe(false);
    expect(c.volumeMounts).toEqual([{ mountPath: '/tmp', name: 'writable-0' }]);
    expect(podSpec.priorityClassName).toBeUndefined();
  });

  test('a NetworkPolicy admitting the container port only', () => {
    const np = one(objects, 'NetworkPolicy');
    expect(np.spec).toEqual({
      podSelector: deployment.spec.selector,
      policyTypes: ['Ingress'],
      ingress: [{ ports: [{ port: 8080, protocol: 'TCP' }] }],
    });
  });
});

describe('HighlyAvailableService options', () => {
  test('an autoscaler owns replicas and keeps >= 2 pods', () => {
    const { objects, svc } = synth({ replicas: 4, autoscaling: { maxReplicas: 10 } });
    const hpa = one(objects, 'HorizontalPodAutoscaler');
    expect(hpa.spec).toMatchObject({ minReplicas: 4, maxReplicas: 10, scaleTargetRef: { kind: 'Deployment', name: svc.deployment.name } });
    expect(hpa.spec.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }]);
    expect(one(objects, 'Deployment').spec.replicas).toBeUndefined();
    expect(svc.replicas).toBe(4);
  });

  test('ClusterIP with ClientIP affinity has no external traffic policy', () => {
    const { objects } = synth({
      exposure: ServiceExposure.clusterIp(),
      sessionAffinity: SessionAffinity.CLIENT_IP,
      sessionAffinityTimeoutSeconds: 600,
    });
    const spec = one(objects, 'Service').spec;
    expect(spec.type).toBe('ClusterIP');
    expect(spec.externalTrafficPolicy).toBeUndefined();
    expect(spec.sessionAffinity).toBe('ClientIP');
    expect(spec.sessionAffinityConfig).toEqual({ clientIP: { timeoutSeconds: 600 } });
  });

  test('LoadBalancer with Local traffic policy and source ranges; NodePort', () => {
    const lb = synth({ exposure: ServiceExposure.loadBalancer({ externalTrafficPolicy: ExternalTrafficPolicy.LOCAL, loadBalancerSourceRanges: ['10.0.0.0/8'] }) });
    expect(one(lb.objects, 'Service').spec).toMatchObject({ externalTrafficPolicy: 'Local', loadBalancerSourceRanges: ['10.0.0.0/8'] });
    const np = synth({ exposure: ServiceExposure.nodePort() });
    expect(one(np.objects, 'Service').spec.type).toBe('NodePort');
  });

  test('HTTP, gRPC and command probes render as the 1.28 API expects', () => {
    const { objects } = synth({
      readiness: HaProbe.grpc({ service: 'web.v1' }),
      liveness: HaProbe.http('/healthz', { https: true, failureThreshold: 10 }),
      startup: HaProbe.command(['/bin/ready']),
    });
    const c = container(objects);
    expect(c.readinessProbe.grpc).toEqual({ port: 8080, service: 'web.v1' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 8080, scheme: 'HTTPS' });
    expect(c.livenessProbe.failureThreshold).toBe(10);
    expect(c.startupProbe.exec).toEqual({ command: ['/bin/ready'] });
  });

  test('preStop over HTTP for shell-less images, or none', () => {
    const http = synth({ preStop: PreStopHook.httpGet('/drain', 10), terminationGracePeriodSeconds: 45 });
    expect(container(http.objects).lifecycle).toEqual({ preStop: { httpGet: { path: '/drain', port: 8080, scheme: 'HTTP' } } });
    const none = synth({ preStop: PreStopHook.none() });
    expect(container(none.objects).lifecycle).toBeUndefined();
  });

  test('spread modes, priority class, clients, env, writable paths, single replica', () => {
    const { objects } = synth({
      nodeSpread: SpreadMode.PREFERRED,
      zoneSpread: SpreadMode.OFF,
      priorityClassName: 'critical',
      allowedClients: [{ podLabels: { role: 'frontend' } }, { cidr: '10.1.0.0/16' }],
      env: { LOG_LEVEL: 'info' },
      writablePaths: ['/tmp', '/var/cache/web'],
    });
    const podSpec = one(objects, 'Deployment').spec.template.spec;
    expect(podSpec.topologySpreadConstraints.map((t: Manifest) => [t.topologyKey, t.whenUnsatisfiable])).toEqual([['kubernetes.io/hostname', 'ScheduleAnyway']]);
    expect(podSpec.priorityClassName).toBe('critical');
    expect(one(objects, 'NetworkPolicy').spec.ingress[0].from).toEqual([{ podSelector: { matchLabels: { role: 'frontend' } } }, { ipBlock: { cidr: '10.1.0.0/16' } }]);
    expect(podSpec.containers[0].env).toEqual([{ name: 'LOG_LEVEL', value: 'info' }]);
    expect(podSpec.volumes).toHaveLength(2);

    const single = synth({ replicas: 1, allowSingleReplica: true });
    expect(ofKind(single.objects, 'PodDisruptionBudget')).toHaveLength(0);
    expect(single.svc.podDisruptionBudget).toBeUndefined();
  });

  test('a name gives every object, and the Service DNS name, that name', () => {
    const { objects } = synth({ name: 'checkout', autoscaling: { maxReplicas: 6 } });
    expect(objects.map((o) => [o.kind, o.metadata.name]).sort()).toEqual([
      ['Deployment', 'checkout'], ['HorizontalPodAutoscaler', 'checkout'], ['NetworkPolicy', 'checkout'],
      ['PodDisruptionBudget', 'checkout'], ['Service', 'checkout'],
    ]);
  });

  test('an absolute surge of one pod', () => {
    const { objects } = synth({ maxSurge: kplus.PercentOrAbsolute.absolute(1) });
    expect(one(objects, 'Deployment').spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
  });

  test('minAvailable instead of maxUnavailable', () => {
    const { objects } = synth({ replicas: 5, minAvailable: 3 });
    expect(one(objects, 'PodDisruptionBudget').spec).toMatchObject({ minAvailable: 3 });
    expect(one(objects, 'PodDisruptionBudget').spec.maxUnavailable).toBeUndefined();
  });

  test('children stay customizable after construction', () => {
    const chart = Testing.chart();
    const svc = new HighlyAvailableService(chart, 'web', { image: 'web:1.0' });
    svc.deployment.containers[0].env.addVariable('EXTRA', kplus.EnvValue.fromValue('1'));
    const objects = Testing.synth(chart);
    assertValidManifests(objects);
    expect(container(objects).env).toEqual([{ name: 'EXTRA', value: '1' }]);
  });
});

describe('HighlyAvailableService validation errors name the prop, the value and the fix', () => {
  const cases: [string, Partial<HighlyAvailableServiceProps>, string][] = [
    ['single replica', { replicas: 1 }, "HighlyAvailableService 'web': replicas (1) must be an integer >= 2 for high availability; set allowSingleReplica: true to accept a single point of failure"],
    ['zero replicas even when allowed', { replicas: 0, allowSingleReplica: true }, "HighlyAvailableService 'web': replicas (0) must be an integer >= 1 for high availability; use at least 1"],
    ['fractional replicas', { replicas: 2.5 }, 'replicas (2.5) must be an integer >= 2'],
    ['unpinned image', { image: 'web' }, "HighlyAvailableService 'web': image ('web') is not pinned; use an immutable tag or digest such as 'web:1.0.0'"],
    ['latest image', { image: 'registry.local:5000/web:latest' }, "image ('registry.local:5000/web:latest') is not pinned"],
    ['container port', { containerPort: 70000 }, 'containerPort (70000) must be an integer in 1..65535'],
    ['service port', { servicePort: 0 }, 'servicePort (0) must be an integer in 1..65535'],
    ['port name', { portName: 'HTTP_PORT' }, "portName ('HTTP_PORT') must be an IANA_SVC_NAME"],
    ['autoscaler min', { autoscaling: { minReplicas: 1, maxReplicas: 5 } }, 'autoscaling.minReplicas (1) must be an integer >= 2; set allowSingleReplica: true'],
    ['autoscaler max', { autoscaling: { minReplicas: 3, maxReplicas: 2 } }, 'autoscaling.maxReplicas (2) must be an integer >= minReplicas (3)'],
    ['autoscaler target', { autoscaling: { maxReplicas: 5, targetCpuUtilizationPercent: 150 } }, 'autoscaling.targetCpuUtilizationPercent (150) must be an integer in 1..100'],
    ['zero surge', { maxSurge: kplus.PercentOrAbsolute.absolute(0) }, 'maxSurge (0) is zero; with maxUnavailable 0 a rollout could never start'],
    ['minReady', { minReadySeconds: -1 }, 'minReadySeconds (-1) must be an integer >= 0'],
    ['progress deadline', { minReadySeconds: 60, progressDeadlineSeconds: 30 }, 'progressDeadlineSeconds (30) must be an integer greater than minReadySeconds (60)'],
    ['grace vs preStop', { preStop: PreStopHook.sleep(30), terminationGracePeriodSeconds: 30 }, 'terminationGracePeriodSeconds (30) must be an integer greater than the preStop delay (30s)'],
    ['resources without memory limit', { resources: { cpu: { request: kplus.Cpu.millis(100) }, memory: { request: Size.mebibytes(64) } } }, 'resources (memory.limit unset) lacks requests or a memory limit'],
    ['memory limit below request', { resources: { cpu: { request: kplus.Cpu.millis(100) }, memory: { request: Size.mebibytes(512), limit: Size.mebibytes(256) } } }, 'resources.memory.limit (256Mi) is below memory.request (512Mi); raise the limit'],
    ['root user', { runAsUser: 0 }, 'runAsUser (0) must be an integer in 1..2147483647; use a non-root uid'],
    ['liveness stricter than readiness', { liveness: HaProbe.tcp({ periodSeconds: 5, failureThreshold: 1 }) }, 'liveness (periodSeconds x failureThreshold = 5s) acts after 5s of failure, not later than readiness (10s)'],
    ['probe timeout above period', { readiness: HaProbe.tcp({ periodSeconds: 2, timeoutSeconds: 3 }) }, 'readiness probe timeoutSeconds (3) must be <= periodSeconds (2)'],
    ['probe zero threshold', { startup: HaProbe.tcp({ failureThreshold: 0 }) }, 'startup probe failureThreshold (0) must be an integer >= 1'],
    ['probe on another port', { readiness: HaProbe.http('/ready', { port: 9090 }) }, 'readiness probe port (9090) is not a port of the container (containerPort 8080)'],
    ['affinity timeout without ClientIP', { sessionAffinityTimeoutSeconds: 60 }, 'sessionAffinityTimeoutSeconds (60) needs sessionAffinity: SessionAffinity.CLIENT_IP'],
    ['affinity timeout range', { sessionAffinity: SessionAffinity.CLIENT_IP, sessionAffinityTimeoutSeconds: 100000 }, 'sessionAffinityTimeoutSeconds (100000) must be an integer in 1..86400'],
    ['PDB blocks every eviction', { maxUnavailable: 0 }, "HighlyAvailableService 'web': maxUnavailable (0) allows no voluntary disruption, so every node drain would block; use maxUnavailable: 1"],
    ['PDB minAvailable >= replicas', { minAvailable: 3 }, 'minAvailable (3) with 3 replicas allows no voluntary disruption'],
    ['PDB both set', { maxUnavailable: 1, minAvailable: 1 }, 'set only one of maxUnavailable (1) and minAvailable (1)'],
    ['PDB takes every pod', { replicas: 2, maxUnavailable: 2 }, 'the disruption budget allows 2 of 2 pods down, leaving fewer than the 1 required (quorum); use maxUnavailable: 1'],
    ['PDB on one replica', { replicas: 1, allowSingleReplica: true, maxUnavailable: 1 }, 'maxUnavailable (1) needs at least 2 replicas'],
    ['name', { name: 'Checkout' }, "name ('Checkout') must be a DNS-1035 label"],
    ['writable path', { writablePaths: ['tmp'] }, "writablePaths[0] ('tmp') must be an absolute path"],
    ['empty peer', { allowedClients: [{}] }, "HighlyAvailableService 'web': allowedClients of port 8080, network peer #0 is empty; set podLabels, namespaceLabels or cidr"],
    ['cidr with labels', { allowedClients: [{ cidr: '10.0.0.0/8', podLabels: { a: 'b' } }] }, 'network peer #0 sets cidr (10.0.0.0/8) and labels'],
    ['bad cidr', { allowedClients: [{ cidr: '10.0.0.0' }] }, "network peer #0 cidr ('10.0.0.0') is not a CIDR"],
    ['no clients', { allowedClients: [] }, 'the clients of port 8080 are an empty list, which a NetworkPolicy reads as every source'],
  ];
  test.each(cases)('%s', (_name, props, message) => {
    expect(build(props)).toThrow(message);
  });

  test('factory errors', () => {
    expect(() => HaProbe.http('healthz')).toThrow("HaProbe.http: path 'healthz' must start with '/'; use e.g. '/healthz'");
    expect(() => HaProbe.command([])).toThrow('HaProbe.command: command is empty');
    expect(() => PreStopHook.sleep(-1)).toThrow('PreStopHook: delay (-1) must be a non-negative integer of seconds');
    expect(() => PreStopHook.httpGet('drain', 5)).toThrow("PreStopHook.httpGet: path 'drain' must start with '/'");
    expect(() => ServiceExposure.nodePort({ loadBalancerSourceRanges: ['1.2.3.4/32'] })).toThrow('loadBalancerSourceRanges only applies to ServiceExposure.loadBalancer()');
  });
});
