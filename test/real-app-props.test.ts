// Props for real apps (issue 13 items 2-4): each prop reaches the manifest where Kubernetes reads it, and the
// manifest stays strict-schema-valid. GIVEN the props, WHEN synthesized, THEN the objects that matter.
import { Chart, Duration, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import {
  CertManagerIssuerKind, HaProbe, HighlyAvailableService, HighlyAvailableServiceProps, MetricsMonitorKind, NetworkProtocol, PeerTls,
  RaftCluster, RaftClusterProps, RaftRuntime, ServiceExposure, ShardedKeyValueStore,
} from '../src';
import { assertValidManifests, Manifest, ofKind, one } from './util';

function service(props: Partial<HighlyAvailableServiceProps>, extra?: (chart: Chart) => Partial<HighlyAvailableServiceProps>): Manifest[] {
  const chart = Testing.chart();
  new HighlyAvailableService(chart, 'web', { image: 'nginx:1.27.3', name: 'web', ...props, ...extra?.(chart) });
  const objects = Testing.synth(chart);
  assertValidManifests(objects);
  return objects;
}
function raft(props: RaftClusterProps): Manifest[] {
  const chart = new Chart(Testing.app(), 'c', { namespace: 'kv' });
  new RaftCluster(chart, 'kv', { name: 'kv', ...props });
  const objects = Testing.synth(chart);
  assertValidManifests(objects);
  return objects;
}
const podOf = (objects: Manifest[], kind = 'Deployment') => one(objects, kind).spec.template.spec;
const containerOf = (objects: Manifest[], name: string, kind = 'Deployment') =>
  [...podOf(objects, kind).containers, ...podOf(objects, kind).initContainers ?? []].find((c: Manifest) => c.name === name);

describe('HighlyAvailableService: configuration, secrets and volumes', () => {
  test('env from a Secret and a ConfigMap, envFrom, a ConfigMap volume, command and args', () => {
    const objects = service({ command: ['/app/server'], args: ['--port=8080'], env: { MODE: 'prod' } }, (chart) => {
      const secret = kplus.Secret.fromSecretName(chart, 's', 'db');
      const cm = kplus.ConfigMap.fromConfigMapName(chart, 'cm', 'settings');
      return {
        envVariables: {
          DB_PASSWORD: kplus.EnvValue.fromSecretValue({ secret, key: 'password' }),
          LOCALE: kplus.EnvValue.fromConfigMap(cm, 'locale'),
        },
        envFrom: [kplus.Env.fromConfigMap(cm, 'CFG_')],
        volumeMounts: [{ path: '/etc/app', volume: kplus.Volume.fromConfigMap(chart, 'v', cm), readOnly: true }],
      };
    });
    const app = containerOf(objects, 'app');
    expect(app.command).toEqual(['/app/server']);
    expect(app.args).toEqual(['--port=8080']);
    expect(app.env).toEqual(expect.arrayContaining([
      { name: 'MODE', value: 'prod' },
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
      { name: 'LOCALE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'locale' } } },
    ]));
    expect(app.envFrom).toEqual([{ configMapRef: { name: 'settings' }, prefix: 'CFG_' }]);
    expect(app.volumeMounts).toEqual(expect.arrayContaining([expect.objectContaining({ mountPath: '/etc/app', readOnly: true })]));
    expect(podOf(objects).volumes).toEqual(expect.arrayContaining([expect.objectContaining({ configMap: expect.objectContaining({ name: 'settings' }) })]));
  });

  test('ServiceAccount, token opt-in and image pull secrets', () => {
    const objects = service({ automountServiceAccountToken: true }, (chart) => ({
      serviceAccount: kplus.ServiceAccount.fromServiceAccountName(chart, 'sa', 'web-identity'),
      imagePullSecrets: [kplus.Secret.fromSecretName(chart, 'pull', 'registry-creds')],
    }));
    const pod = podOf(objects);
    expect(pod.serviceAccountName).toBe('web-identity');
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.imagePullSecrets).toEqual([{ name: 'registry-creds' }]);
    expect(podOf(service({})).automountServiceAccountToken).toBe(false);
  });
});

describe('HighlyAvailableService: sidecars and init containers are hardened like the app', () => {
  const objects = service({
    sidecars: [{ name: 'proxy', image: 'envoyproxy/envoy:v1.30.1', ports: [{ number: 9901, name: 'admin' }] }],
    initContainers: [{ name: 'migrate', image: 'ghcr.io/acme/migrate:1.2.0', args: ['up'] }],
  });

  test.each(['proxy', 'migrate'])('%s: restricted security context, IfNotPresent, requests and a memory limit', (name) => {
    const c = containerOf(objects, name);
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
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(c.resources).toEqual({
      requests: { 'cpu': '100m', 'memory': '128Mi', 'ephemeral-storage': '1Gi' },
      limits: { 'memory': '256Mi', 'ephemeral-storage': '2Gi' },
    });
  });

  test('the pod itself runs under seccomp RuntimeDefault, so containers added later are never Unconfined', () => {
    expect(podOf(objects).securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
  });

  test('the app stays container 0, with its probes and preStop', () => {
    expect(podOf(objects).containers[0].name).toBe('app');
    expect(podOf(objects).containers[0].readinessProbe).toBeDefined();
    expect(podOf(objects).containers[0].lifecycle.preStop).toBeDefined();
  });
});

describe('HighlyAvailableService: Ingress', () => {
  test('host, path, TLS secret and class route to the Service port; the Service is ClusterIP behind it', () => {
    const objects = service({ servicePort: 80 }, (chart) => ({
      ingress: { host: 'shop.example.com', path: '/api', className: 'nginx', tlsSecret: kplus.Secret.fromSecretName(chart, 't', 'shop-tls'), annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '8m' } },
    }));
    const ingress = one(objects, 'Ingress');
    expect(ingress.metadata.name).toBe('web');
    expect(ingress.metadata.annotations).toEqual({ 'nginx.ingress.kubernetes.io/proxy-body-size': '8m' });
    expect(ingress.spec).toEqual({
      ingressClassName: 'nginx',
      rules: [{ host: 'shop.example.com', http: { paths: [{ path: '/api', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }],
      tls: [{ hosts: ['shop.example.com'], secretName: 'shop-tls' }],
    });
    expect(one(objects, 'Service').spec.type).toBe('ClusterIP');
  });
});

describe('HighlyAvailableService: Gateway API', () => {
  test('an HTTPRoute attaches the Service port to a named Gateway listener', () => {
    const route = one(service({ gatewayRoute: { gatewayName: 'public', gatewayNamespace: 'gateways', listenerName: 'https', hostnames: ['shop.example.com'], pathPrefix: '/api' } }), 'HTTPRoute');
    expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(route.spec).toEqual({
      parentRefs: [{ name: 'public', namespace: 'gateways', sectionName: 'https' }],
      hostnames: ['shop.example.com'],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: 'web', port: 80 }] }],
    });
  });
});

describe('HighlyAvailableService: autoscaling on memory and custom metrics, with behaviour', () => {
  test('memory target alone replaces the default CPU target; scale-down stabilization is rendered', () => {
    const hpa = one(service({ autoscaling: { minReplicas: 2, maxReplicas: 8, targetMemoryUtilizationPercent: 75, scaleDown: { stabilizationWindow: Duration.minutes(10) } } }), 'HorizontalPodAutoscaler');
    expect(hpa.spec.metrics).toEqual([{ type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 75 } } }]);
    expect(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds).toBe(600);
  });

  test('CPU, memory and a pods metric together', () => {
    const hpa = one(service({
      autoscaling: {
        maxReplicas: 8,
        targetCpuUtilizationPercent: 60,
        targetMemoryUtilizationPercent: 80,
        metrics: [kplus.Metric.pods({ name: 'queue_depth', target: kplus.MetricTarget.averageValue(30) })],
      },
    }), 'HorizontalPodAutoscaler');
    expect(hpa.spec.metrics.map((m: Manifest) => m.resource?.name ?? m.pods?.metric.name)).toEqual(['cpu', 'memory', 'queue_depth']);
  });

  test('without other metrics the CPU target stays 70%', () => {
    const hpa = one(service({ autoscaling: { maxReplicas: 5 } }), 'HorizontalPodAutoscaler');
    expect(hpa.spec.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }]);
  });
});

describe('HighlyAvailableService: metrics port and Prometheus-operator monitors', () => {
  test('ServiceMonitor: port on container, Service and NetworkPolicy; the monitor selects the Service', () => {
    const objects = service({ metrics: { port: 9090, monitorLabels: { release: 'prometheus' }, allowedScrapers: [{ namespaceLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }] } });
    expect(containerOf(objects, 'app').ports).toEqual(expect.arrayContaining([{ containerPort: 9090, name: 'metrics', protocol: 'TCP' }]));
    expect(one(objects, 'Service').spec.ports).toEqual(expect.arrayContaining([{ name: 'metrics', port: 9090, targetPort: 9090, protocol: 'TCP' }]));
    const ingress = one(objects, 'NetworkPolicy').spec.ingress;
    expect(ingress[1]).toEqual({ ports: [{ port: 9090, protocol: 'TCP' }], from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] });
    const monitor = one(objects, 'ServiceMonitor');
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.metadata.labels.release).toBe('prometheus');
    expect(monitor.spec.endpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '30s' }]);
  });

  test('PodMonitor selects the pods; NONE renders no monitor', () => {
    const pm = one(service({ metrics: { port: 9090, monitor: MetricsMonitorKind.POD_MONITOR, intervalSeconds: 15 } }), 'PodMonitor');
    expect(pm.spec.podMetricsEndpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '15s' }]);
    const none = service({ metrics: { port: 9090, monitor: MetricsMonitorKind.NONE } });
    expect(none.filter((o) => o.apiVersion === 'monitoring.coreos.com/v1')).toEqual([]);
  });
});

describe('HighlyAvailableService: extra ports', () => {
  test('an app port and a sidecar port join the Service and the NetworkPolicy; only the app one joins the app container', () => {
    const objects = service({
      extraPorts: [
        { name: 'grpc', port: 9000, allowedClients: [{ podLabels: { role: 'client' } }] },
        { name: 'proxy-admin', port: 9901, servicePort: 19901 },
      ],
      sidecars: [{ name: 'proxy', image: 'envoyproxy/envoy:v1.30.1', ports: [{ number: 9901, name: 'proxy-admin' }] }],
    });
    expect(containerOf(objects, 'app').ports.map((p: Manifest) => p.containerPort)).toEqual([8080, 9000]);
    expect(one(objects, 'Service').spec.ports.map((p: Manifest) => [p.name, p.port, p.targetPort])).toEqual([['http', 80, 8080], ['grpc', 9000, 9000], ['proxy-admin', 19901, 9901]]);
    const ingress = one(objects, 'NetworkPolicy').spec.ingress;
    expect(ingress.map((r: Manifest) => r.ports[0].port)).toEqual([8080, 9000, 9901]);
    expect(ingress[1].from).toEqual([{ podSelector: { matchLabels: { role: 'client' } } }]);
  });
});

describe('HighlyAvailableService: scheduling, labels and annotations', () => {
  test('nodeSelector, tolerations, required node labels; pod and Service labels and annotations', () => {
    const objects = service({
      nodeSelector: { pool: 'web' },
      tolerations: [kplus.NodeTaintQuery.is('dedicated', 'web', { effect: kplus.TaintEffect.NO_SCHEDULE })],
      requiredNodeLabels: [kplus.NodeLabelQuery.in('kubernetes.io/arch', ['amd64', 'arm64'])],
      podLabels: { team: 'checkout' },
      podAnnotations: { 'example.com/owner': 'checkout' },
      serviceLabels: { tier: 'edge' },
      serviceAnnotations: { 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb' },
    });
    const pod = podOf(objects);
    expect(pod.nodeSelector).toEqual({ pool: 'web' });
    expect(pod.tolerations).toEqual([{ key: 'dedicated', operator: 'Equal', value: 'web', effect: 'NoSchedule' }]);
    expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions)
      .toEqual([{ key: 'kubernetes.io/arch', operator: 'In', values: ['amd64', 'arm64'] }]);
    const template = one(objects, 'Deployment').spec.template.metadata;
    expect(template.labels.team).toBe('checkout');
    expect(template.annotations['example.com/owner']).toBe('checkout');
    const svc = one(objects, 'Service');
    expect(svc.metadata.labels.tier).toBe('edge');
    expect(svc.metadata.annotations).toEqual({ 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb' });
  });
});

describe('HighlyAvailableService: egress', () => {
  test('open by default (documented): the policy has no Egress type', () => {
    expect(one(service({}), 'NetworkPolicy').spec.policyTypes).toEqual(['Ingress']);
  });

  test('egress rules deny everything else, DNS always admitted', () => {
    const policy = one(service({ egress: [{ port: 5432, to: [{ cidr: '10.20.0.0/16' }] }, { port: 443, protocol: NetworkProtocol.TCP }] }), 'NetworkPolicy');
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.egress).toEqual([
      { ports: [{ port: 53, protocol: 'UDP' }] },
      { ports: [{ port: 53, protocol: 'TCP' }] },
      { ports: [{ port: 5432, protocol: 'TCP' }], to: [{ ipBlock: { cidr: '10.20.0.0/16' } }] },
      { ports: [{ port: 443, protocol: 'TCP' }] },
    ]);
  });
});

describe('RaftCluster: egress, extra ports, probes and typed customisation points', () => {
  test('default egress: DNS and the peers only', () => {
    const policy = one(raft({ peerTls: PeerTls.plaintext() }), 'NetworkPolicy');
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    const selector = { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'raft-cluster', 'app.kubernetes.io/instance': 'kv' } } };
    expect(policy.spec.egress).toEqual([
      { ports: [{ port: 53, protocol: 'UDP' }] },
      { ports: [{ port: 53, protocol: 'TCP' }] },
      { ports: [{ port: 7379, protocol: 'TCP' }], to: [selector] },
      { ports: [{ port: 7380, protocol: 'TCP' }], to: [selector] },
    ]);
    expect(one(raft({ allowAllEgress: true }), 'NetworkPolicy').spec.policyTypes).toEqual(['Ingress']);
    expect(one(raft({ allowedEgress: [{ port: 443, to: [{ cidr: '10.0.0.0/8' }] }] }), 'NetworkPolicy').spec.egress).toHaveLength(5);
  });

  test('extra ports: on the container and peer Service, admitted from peers, usable by probes', () => {
    const objects = raft({ extraPorts: [{ name: 'metrics', port: 9100 }], liveness: HaProbe.tcp({ port: 9100 }) });
    const c = containerOf(objects, 'member', 'StatefulSet');
    expect(c.ports).toEqual(expect.arrayContaining([{ name: 'metrics', containerPort: 9100, protocol: 'TCP' }]));
    expect(c.livenessProbe.tcpSocket).toEqual({ port: 9100 });
    expect(ofKind(objects, 'Service').find((s) => s.metadata.name === 'kv-peers')!.spec.ports.map((p: Manifest) => p.name)).toEqual(['client', 'peer', 'metrics']);
    expect(one(objects, 'NetworkPolicy').spec.ingress.map((r: Manifest) => r.ports[0].port)).toEqual([7379, 7380, 9100]);
  });

  test('scheduling, pod annotations, claim template options, pull secrets', () => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'kv' });
    new RaftCluster(chart, 'kv', {
      name: 'kv',
      nodeSelector: { pool: 'raft' },
      tolerations: [kplus.NodeTaintQuery.exists('dedicated')],
      requiredNodeLabels: [kplus.NodeLabelQuery.is('disk', 'ssd')],
      podAnnotations: { 'backup.example.com/schedule': 'hourly' },
      podLabels: { team: 'storage' },
      volumeClaimLabels: { backup: 'true' },
      volumeClaimAnnotations: { 'example.com/snapshot-class': 'fast' },
      imagePullSecrets: [kplus.Secret.fromSecretName(chart, 'pull', 'registry-creds')],
      resources: {
        cpu: { request: kplus.Cpu.millis(500), limit: kplus.Cpu.millis(1000) },
        memory: { request: Size.gibibytes(1), limit: Size.gibibytes(2) },
      },
    });
    const objects = Testing.synth(chart);
    assertValidManifests(objects);
    const sts = one(objects, 'StatefulSet');
    const pod = sts.spec.template.spec;
    expect(pod.nodeSelector).toEqual({ pool: 'raft' });
    expect(pod.tolerations).toEqual([{ key: 'dedicated', operator: 'Exists' }]);
    expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([{ matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] }]);
    expect(pod.imagePullSecrets).toEqual([{ name: 'registry-creds' }]);
    expect(sts.spec.template.metadata.annotations).toEqual({ 'backup.example.com/schedule': 'hourly' });
    expect(sts.spec.template.metadata.labels.team).toBe('storage');
    expect(sts.spec.volumeClaimTemplates[0].metadata.labels.backup).toBe('true');
    expect(sts.spec.volumeClaimTemplates[0].metadata.annotations).toEqual({ 'example.com/snapshot-class': 'fast' });
    // Typed quantities: what a JSON patch on the L1 object would have turned into null.
    expect(pod.containers[0].resources).toEqual({ requests: { cpu: '500m', memory: '1024Mi' }, limits: { cpu: '1000m', memory: '2048Mi' } });
  });
});

describe('RaftCluster: sidecars', () => {
  test('hardened like the member, with their volumes', () => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'kv' });
    const cm = kplus.ConfigMap.fromConfigMapName(chart, 'cm', 'backup-config');
    new RaftCluster(chart, 'kv', {
      name: 'kv',
      sidecars: [{
        name: 'backup',
        image: 'ghcr.io/acme/raft-backup:1.4.0',
        ports: [{ number: 9102, name: 'backup-metrics' }],
        volumeMounts: [{ path: '/etc/backup', volume: kplus.Volume.fromConfigMap(chart, 'backup-config', cm), readOnly: true }],
      }],
    });
    const objects = Testing.synth(chart);
    assertValidManifests(objects);
    const pod = podOf(objects, 'StatefulSet');
    const backup = pod.containers.find((c: Manifest) => c.name === 'backup');
    expect(backup.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(backup.imagePullPolicy).toBe('IfNotPresent');
    expect(backup.resources.limits.memory).toBe('256Mi');
    expect(backup.volumeMounts).toEqual([{ name: expect.any(String), mountPath: '/etc/backup', readOnly: true }]);
    expect(pod.volumes.map((v: Manifest) => v.name)).toEqual(['peer-tls', backup.volumeMounts[0].name]);
  });
});

describe('RaftCluster: peer TLS', () => {
  test('default: the <name>-peer-tls Secret, mounted read-only, group-readable only', () => {
    const objects = raft({});
    const pod = podOf(objects, 'StatefulSet');
    expect(pod.volumes).toEqual([{ name: 'peer-tls', secret: { secretName: 'kv-peer-tls', defaultMode: 0o440 } }]);
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'peer-tls', mountPath: '/etc/raft/peer-tls', readOnly: true });
  });

  test('cert-manager: a Certificate for every member name, from the named issuer, server and client auth', () => {
    const objects = raft({ peerTls: PeerTls.certManager({ issuerName: 'raft-ca', issuerKind: CertManagerIssuerKind.CLUSTER_ISSUER }) });
    const cert = one(objects, 'Certificate');
    expect(cert.spec).toMatchObject({
      secretName: 'kv-peer-tls',
      issuerRef: { name: 'raft-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' },
      dnsNames: ['*.kv-peers.kv.svc', '*.kv-peers.kv.svc.cluster.local', '*.kv-peers'],
      usages: ['server auth', 'client auth', 'digital signature', 'key encipherment'],
      duration: '2160h',
      renewBefore: '720h',
    });
    expect(podOf(objects, 'StatefulSet').volumes[0].secret.secretName).toBe('kv-peer-tls');
  });

  test('plaintext is the explicit opt-out: no volume, no TLS variables', () => {
    const objects = raft({ peerTls: PeerTls.plaintext() });
    expect(podOf(objects, 'StatefulSet').volumes).toBeUndefined();
    expect(containerOf(objects, 'member', 'StatefulSet').env.map((e: Manifest) => e.name).filter((n: string) => n.includes('PEER_'))).toEqual([]);
  });

  test('a generic runtime gets the certificate paths as placeholders', () => {
    const objects = raft({
      image: 'zk:3.9.2',
      runtime: RaftRuntime.generic({ args: ['--id={id}', '--tls-cert={peerCertFile}', '--tls-key={peerKeyFile}', '--tls-ca={peerTrustedCaFile}'] }),
    });
    expect(containerOf(objects, 'member', 'StatefulSet').args).toEqual([
      '--id=$(HA_RAFT_ID)',
      '--tls-cert=/etc/raft/peer-tls/tls.crt',
      '--tls-key=/etc/raft/peer-tls/tls.key',
      '--tls-ca=/etc/raft/peer-tls/ca.crt',
    ]);
  });
});

describe('RaftRuntime.etcd', () => {
  test('etcd 3.5: real flags, https peers with --peer-* flags, probes on /health of the metrics port', () => {
    const objects = raft({ name: 'etcd', runtime: RaftRuntime.etcd({ version: '3.5.17' }), clientPort: 2379, peerPort: 2380 });
    const c = containerOf(objects, 'member', 'StatefulSet');
    expect(c.image).toBe('quay.io/coreos/etcd:v3.5.17');
    const peer = (i: number) => `etcd-${i}=https://etcd-${i}.etcd-peers.$(POD_NAMESPACE).svc:2380`;
    expect(c.args).toEqual([
      '--name=$(HA_RAFT_ID)',
      '--data-dir=/var/lib/ha-runtime/etcd',
      '--listen-peer-urls=https://0.0.0.0:2380',
      '--listen-client-urls=http://0.0.0.0:2379',
      '--advertise-client-urls=http://$(HA_RAFT_ID).etcd-peers.$(POD_NAMESPACE).svc:2379',
      '--initial-advertise-peer-urls=https://$(HA_RAFT_ID).etcd-peers.$(POD_NAMESPACE).svc:2380',
      `--initial-cluster=${[0, 1, 2].map(peer).join(',')}`,
      '--initial-cluster-state=new',
      '--initial-cluster-token=etcd',
      '--listen-metrics-urls=http://0.0.0.0:2381',
      '--peer-cert-file=/etc/raft/peer-tls/tls.crt',
      '--peer-key-file=/etc/raft/peer-tls/tls.key',
      '--peer-trusted-ca-file=/etc/raft/peer-tls/ca.crt',
      '--peer-client-cert-auth=true',
    ]);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/health', port: 2381, scheme: 'HTTP' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/health?serializable=true', port: 2381, scheme: 'HTTP' });
    expect(c.ports).toContainEqual({ name: 'metrics', containerPort: 2381, protocol: 'TCP' });
  });

  test('client TLS: https client URLs, the client Secret mounted, --client-cert-auth', () => {
    const objects = raft({ runtime: RaftRuntime.etcd({ version: '3.5.17', tls: { secretName: 'etcd-client' } }), peerTls: PeerTls.plaintext() });
    const c = containerOf(objects, 'member', 'StatefulSet');
    expect(c.args).toEqual(expect.arrayContaining([
      '--listen-client-urls=https://0.0.0.0:7379',
      '--listen-peer-urls=http://0.0.0.0:7380',
      '--cert-file=/etc/etcd/client-tls/tls.crt',
      '--client-cert-auth=true',
    ]));
    expect(podOf(objects, 'StatefulSet').volumes).toEqual([{ name: 'client-tls', secret: { secretName: 'etcd-client', defaultMode: 0o440 } }]);
  });

  test('etcd 3.4 ignores ?serializable=true: liveness is a TCP check there', () => {
    const c = containerOf(raft({ runtime: RaftRuntime.etcd({ version: '3.4.23' }) }), 'member', 'StatefulSet');
    expect(c.livenessProbe.tcpSocket).toEqual({ port: 2381 });
    expect(c.readinessProbe.httpGet.path).toBe('/health');
  });
});

describe('ShardedKeyValueStore: router resources', () => {
  test('routerResources reach the router container', () => {
    const chart = Testing.chart();
    new ShardedKeyValueStore(chart, 'store', {
      name: 'kv',
      shards: 1,
      shard: { peerTls: PeerTls.plaintext() },
      routerResources: { cpu: { request: kplus.Cpu.millis(300) }, memory: { request: Size.mebibytes(256), limit: Size.mebibytes(512) } },
      routerExposure: ServiceExposure.clusterIp(),
    });
    const objects = Testing.synth(chart);
    assertValidManifests(objects);
    expect(one(objects, 'Deployment').spec.template.spec.containers[0].resources.requests.cpu).toBe('300m');
  });
});
