import { Chart, Testing } from 'cdk8s';
import { assertValidManifests } from './util';
import { buildChart as etcd } from '../examples/etcd/main';
import { buildChart as myService } from '../examples/my-service/main';
import { buildChart as raftKv } from '../examples/raft-kv/main';
import { buildChart as shardedKv } from '../examples/sharded-kv/main';
import { buildChart as shop } from '../examples/shop/main';

// One snapshot per example chart; built in memory, so snapshots depend on neither the outdir nor the clock.
const examples: [string, (app: any) => Chart | Chart[]][] = [
  ['my-service', myService],
  ['raft-kv', raftKv],
  ['sharded-kv', shardedKv],
  ['shop', shop],
  ['etcd', etcd],
];

describe.each(examples)('examples/%s', (_name, build) => {
  const charts = [build(Testing.app())].flat();

  test.each(charts.map((c) => [c.node.id, c] as const))('chart %s passes strict 1.28 validation and cross-object checks', (_id, chart) => {
    assertValidManifests(Testing.synth(chart));
  });

  test.each(charts.map((c) => [c.node.id, c] as const))('chart %s matches its snapshot', (_id, chart) => {
    expect(Testing.synth(chart)).toMatchSnapshot();
  });
});
