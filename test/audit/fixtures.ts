// Clean manifests that pass every rule; each rule test breaks them in one place.

const secureContainer = (name: string, image: string, port: number, portName: string) => ({
  name,
  image,
  ports: [{ containerPort: port, name: portName }],
  readinessProbe: { httpGet: { path: '/readyz', port: portName } },
  livenessProbe: { httpGet: { path: '/livez', port: port }, failureThreshold: 6 },
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
  securityContext: {
    runAsNonRoot: true,
    runAsUser: 65532,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  },
});

const spread = (labels: Record<string, string>) => ({
  affinity: {
    podAntiAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: labels } }],
    },
  },
  topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: labels } }],
});

/** A stateless web service: Deployment (HPA-managed), Service, PDB, HPA, NetworkPolicy. */
export function cleanStateless(): any[] {
  const labels = { app: 'web' };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'shop' },
      spec: {
        selector: { matchLabels: labels },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        template: { metadata: { labels }, spec: { ...spread(labels), containers: [secureContainer('web', 'shop/web:1.4.2', 8080, 'http')] } },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { selector: labels, ports: [{ port: 80, targetPort: 'http' }] } },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { maxUnavailable: 1, unhealthyPodEvictionPolicy: 'AlwaysAllow', selector: { matchLabels: labels } },
    },
    {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, minReplicas: 3, maxReplicas: 10 },
    },
    { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'web', namespace: 'shop' }, spec: { podSelector: { matchLabels: labels }, policyTypes: ['Ingress'] } },
  ];
}

/** etcd's peer mTLS flags (HA036 reports etcd without them). */
export const etcdPeerTls = [
  '--listen-peer-urls=https://0.0.0.0:2380', '--peer-cert-file=/tls/peer.crt', '--peer-key-file=/tls/peer.key',
  '--peer-trusted-ca-file=/tls/ca.crt', '--peer-client-cert-auth',
];

/** A 3-member etcd quorum with peer TLS: StatefulSet, headless peer Service, PDB, NetworkPolicy. */
export function cleanQuorum(): any[] {
  const labels = { app: 'etcd' };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'etcd', namespace: 'db' },
      spec: {
        replicas: 3,
        serviceName: 'etcd-peers',
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { ...spread(labels), containers: [{ ...secureContainer('etcd', 'quay.io/coreos/etcd:v3.5.9', 2379, 'client'), args: etcdPeerTls }] } },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'etcd-peers', namespace: 'db' }, spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: labels, ports: [{ port: 2379, targetPort: 2379 }] } },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'etcd', namespace: 'db' },
      spec: { maxUnavailable: 1, unhealthyPodEvictionPolicy: 'AlwaysAllow', selector: { matchLabels: labels } },
    },
    { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'etcd', namespace: 'db' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } },
  ];
}

export const byKind = (objs: any[], kind: string): any => {
  const o = objs.find((x) => x.kind === kind);
  if (!o) throw new Error(`fixture has no ${kind}`);
  return o;
};
export const container = (objs: any[], kind = 'Deployment'): any => byKind(objs, kind).spec.template.spec.containers[0];
