// The cdk8s-ha Raft key-value runtime as a three-member cluster, and a five-member variant that survives two
// member (node) failures, backed up every six hours to a volume (the ten newest snapshots kept). Both in
// namespace `kv`. Changing `members` and applying scales a running cluster (see the README, RaftCluster: Scaling).
import { App, Chart, Size } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { RaftCluster } from '../../src';

/** Builds the example charts into `app` (the snapshot test calls this without synthesizing to disk). */
export function buildChart(app: App): Chart[] {
  const three = new Chart(app, 'raft-kv', { namespace: 'kv' });
  new RaftCluster(three, 'kv', {
    name: 'kv',
    members: 3,
    storageSize: Size.gibibytes(5),
    allowedClients: [{ podLabels: { 'kv-client': 'true' } }],
  });

  const five = new Chart(app, 'raft-kv-5', { namespace: 'kv' });
  new RaftCluster(five, 'kv5', {
    name: 'kv5',
    members: 5,
    storageSize: Size.gibibytes(5),
    storageClassName: 'fast-ssd',
    allowedClients: [{ podLabels: { 'kv-client': 'true' } }],
    backup: { schedule: '0 */6 * * *', claimName: 'kv5-backups', retention: 10 },
  });
  new k8s.KubePersistentVolumeClaim(five, 'kv5-backups', {
    metadata: { name: 'kv5-backups' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: k8s.Quantity.fromString('20Gi') } } },
  });
  return [three, five];
}

if (require.main === module || process.env.CDK8S_OUTDIR) {
  const app = new App({ outdir: process.env.CDK8S_OUTDIR ?? 'dist/examples/raft-kv' });
  buildChart(app);
  app.synth();
}
