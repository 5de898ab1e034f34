// etcd 3.5 as a three-member RaftCluster with props only: etcd's own flags (RaftRuntime.etcd), peer mTLS from a
// cert-manager CA issuer, client TLS from a Secret, probes on etcd's /health on the metrics port (2381), egress
// limited to DNS and the peers, clients limited to pods labelled `etcd-client: "true"`. Users who outgrow the
// in-repo runtime move here with the same pattern. The same runtime is run against a real etcd in
// test/e2e/etcd-runtime.ts.
import { App, Chart, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { CertManagerIssuerKind, PeerTls, RaftCluster, RaftRuntime } from '../../src';

/** Builds the example chart into `app` (the snapshot test calls this without synthesizing to disk). */
export function buildChart(app: App): Chart {
  const chart = new Chart(app, 'etcd', { namespace: 'etcd' });
  new RaftCluster(chart, 'etcd', {
    name: 'etcd',
    members: 3,
    runtime: RaftRuntime.etcd({ version: '3.5.17', tls: { secretName: 'etcd-client-tls' } }),
    clientPort: 2379,
    peerPort: 2380,
    dataDir: '/var/lib/etcd',
    storageSize: Size.gibibytes(8),
    storageClassName: 'fast-ssd',
    peerTls: PeerTls.certManager({ issuerName: 'etcd-ca', issuerKind: CertManagerIssuerKind.CLUSTER_ISSUER }),
    allowedClients: [{ podLabels: { 'etcd-client': 'true' } }],
    resources: {
      cpu: { request: kplus.Cpu.millis(500) },
      memory: { request: Size.gibibytes(1), limit: Size.gibibytes(2) },
      ephemeralStorage: { request: Size.gibibytes(1), limit: Size.gibibytes(2) },
    },
    podAnnotations: { 'backup.example.com/schedule': 'hourly' },
    priorityClassName: 'etcd-critical',
  });
  return chart;
}

if (require.main === module || process.env.CDK8S_OUTDIR) {
  const app = new App({ outdir: process.env.CDK8S_OUTDIR ?? 'dist/examples/etcd' });
  buildChart(app);
  app.synth();
}
