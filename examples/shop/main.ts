// An online shop in three tiers, with props only (no JSON patches, no public-field surgery):
// - frontend: an Ingress for shop.example.com with TLS, reachable only through the ingress controller;
// - api: database password from a Secret, configuration from a ConfigMap volume, a log-shipping sidecar, a
//   ServiceAccount for workload identity, a metrics port scraped through a ServiceMonitor;
// - worker: autoscaled on memory with a slow scale-down, a metrics port scraped through a PodMonitor.
// Egress is restricted on every tier: frontend -> api, worker -> api, api -> the database network (and DNS).
import { App, Chart, Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { HaProbe, HighlyAvailableService, MetricsMonitorKind, ServiceExposure } from '../../src';

const tier = (name: string) => ({ podLabels: { 'app.kubernetes.io/name': name } });
const INGRESS_CONTROLLER = { namespaceLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } };
const PROMETHEUS = { namespaceLabels: { 'kubernetes.io/metadata.name': 'monitoring' } };
const DATABASE_NETWORK = '10.20.0.0/16';

/** Builds the example chart into `app` (the snapshot test calls this without synthesizing to disk). */
export function buildChart(app: App): Chart {
  const chart = new Chart(app, 'shop', { namespace: 'shop' });

  new HighlyAvailableService(chart, 'frontend', {
    name: 'frontend',
    image: 'ghcr.io/acme/shop-frontend:2.3.1',
    containerPort: 8080,
    readiness: HaProbe.http('/ready'),
    liveness: HaProbe.http('/healthz'),
    startup: HaProbe.http('/healthz'),
    ingress: {
      host: 'shop.example.com',
      className: 'nginx',
      tlsSecret: kplus.Secret.fromSecretName(chart, 'frontend-tls', 'shop-example-com-tls'),
    },
    allowedClients: [INGRESS_CONTROLLER],
    egress: [{ port: 8080, to: [tier('api')] }],
  });

  const db = kplus.Secret.fromSecretName(chart, 'api-db', 'api-db');
  const config = new kplus.ConfigMap(chart, 'api-config', {
    metadata: { name: 'api-config' },
    data: { 'api.yaml': 'currency: EUR\npageSize: 50\n' },
  });
  const serviceAccount = new kplus.ServiceAccount(chart, 'api-sa', {
    metadata: { name: 'api', annotations: { 'iam.gke.io/gcp-service-account': 'shop-api@acme.iam.gserviceaccount.com' } },
    automountToken: false,
  });
  new HighlyAvailableService(chart, 'api', {
    name: 'api',
    image: 'ghcr.io/acme/shop-api:5.0.2',
    containerPort: 8080,
    exposure: ServiceExposure.clusterIp(),
    readiness: HaProbe.http('/ready'),
    liveness: HaProbe.http('/healthz'),
    startup: HaProbe.http('/healthz'),
    env: { DB_HOST: 'db.shop.internal', DB_USER: 'api' },
    envVariables: { DB_PASSWORD: kplus.EnvValue.fromSecretValue({ secret: db, key: 'password' }) },
    volumeMounts: [{ path: '/etc/api', volume: kplus.Volume.fromConfigMap(chart, 'api-config-volume', config), readOnly: true }],
    sidecars: [{
      name: 'log-shipper',
      image: 'fluent/fluent-bit:3.0.4',
      args: ['--config=/fluent-bit/etc/fluent-bit.conf'],
      // fluent-bit's HTTP server (HTTP_Server On, HTTP_Port 2020 in its config): health for readiness, / for liveness.
      ports: [{ number: 2020, name: 'fb-http' }],
      readiness: kplus.Probe.fromHttpGet('/api/v1/health', { port: 2020 }),
      liveness: kplus.Probe.fromHttpGet('/', { port: 2020, periodSeconds: Duration.seconds(10), failureThreshold: 6 }),
      resources: {
        cpu: { request: kplus.Cpu.millis(20) },
        memory: { request: Size.mebibytes(32), limit: Size.mebibytes(64) },
      },
    }],
    serviceAccount,
    // Workload identity needs the projected token.
    automountServiceAccountToken: true,
    metrics: { port: 9090, monitorLabels: { release: 'prometheus' }, allowedScrapers: [PROMETHEUS] },
    allowedClients: [tier('frontend'), tier('worker')],
    egress: [{ port: 5432, to: [{ cidr: DATABASE_NETWORK }] }],
    podAnnotations: { 'kubectl.kubernetes.io/default-container': 'app' },
  });

  new HighlyAvailableService(chart, 'worker', {
    name: 'worker',
    image: 'ghcr.io/acme/shop-worker:5.0.2',
    containerPort: 8080,
    readiness: HaProbe.http('/ready'),
    liveness: HaProbe.http('/healthz'),
    startup: HaProbe.http('/healthz'),
    resources: {
      cpu: { request: kplus.Cpu.millis(250) },
      memory: { request: Size.mebibytes(512), limit: Size.gibibytes(1) },
    },
    autoscaling: {
      minReplicas: 2,
      maxReplicas: 10,
      targetMemoryUtilizationPercent: 75,
      scaleDown: { stabilizationWindow: Duration.minutes(10) },
    },
    metrics: { port: 9090, monitor: MetricsMonitorKind.POD_MONITOR, monitorLabels: { release: 'prometheus' }, allowedScrapers: [PROMETHEUS] },
    allowedClients: [PROMETHEUS],
    egress: [{ port: 8080, to: [tier('api')] }],
    exposure: ServiceExposure.clusterIp(),
  });
  return chart;
}

if (require.main === module || process.env.CDK8S_OUTDIR) {
  const app = new App({ outdir: process.env.CDK8S_OUTDIR ?? 'dist/examples/shop' });
  buildChart(app);
  app.synth();
}
