// Three shards of three Raft members each behind three consistent-hash routers.
import { App, Chart, Size } from 'cdk8s';
import { ShardedKeyValueStore } from '../../src';

/** Builds the example chart into `app` (the snapshot test calls this without synthesizing to disk). */
export function buildChart(app: App): Chart {
  const chart = new Chart(app, 'sharded-kv', { namespace: 'kv' });
  new ShardedKeyValueStore(chart, 'store', {
    name: 'kv',
    shards: 3,
    membersPerShard: 3,
    shard: { storageSize: Size.gibibytes(5) },
    routerReplicas: 3,
  });
  return chart;
}

if (require.main === module || process.env.CDK8S_OUTDIR) {
  const app = new App({ outdir: process.env.CDK8S_OUTDIR ?? 'dist/examples/sharded-kv' });
  buildChart(app);
  app.synth();
}
