import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../../src/cli/flags';
import { envName, parseInitialCluster, parseRaftConfig } from '../../src/cli/raft-config';

const CLUSTER = 'kv-0=kv-0.kv-peers.ns.svc:7380,kv-1=kv-1.kv-peers.ns.svc:7380,kv-2=kv-2.kv-peers.ns.svc:7380';

test('numeric ids are 1-based positions in --initial-cluster', () => {
  const c = parseRaftConfig(['--id', 'kv-1', '--data-dir', '/d', '--initial-cluster', CLUSTER], {});
  assert.equal(c.id, 2);
  assert.deepEqual(c.members.map((m) => [m.name, m.id, m.peerHost, m.peerPort]),
    [['kv-0', 1, 'kv-0.kv-peers.ns.svc', 7380], ['kv-1', 2, 'kv-1.kv-peers.ns.svc', 7380], ['kv-2', 3, 'kv-2.kv-peers.ns.svc', 7380]]);
  assert.deepEqual(c.listenClient, { host: '0.0.0.0', port: 7379 });
  assert.deepEqual(c.listenPeer, { host: '0.0.0.0', port: 7380 });
});

test('every flag is settable from HA_RAFT_* and a flag wins over the variable', () => {
  const env = {
    HA_RAFT_ID: 'kv-2',
    HA_RAFT_DATA_DIR: '/var/lib/ha-runtime',
    HA_RAFT_INITIAL_CLUSTER: CLUSTER,
    HA_RAFT_LISTEN_CLIENT: '127.0.0.1:9000',
    HA_RAFT_ADVERTISE_CLIENT: 'http://kv-2.kv.ns.svc:7379',
    HA_RAFT_MAX_KEY_BYTES: '64',
    HA_RAFT_TICK_MS: '25',
  };
  const c = parseRaftConfig(['--tick-ms', '40'], env);
  assert.equal(c.name, 'kv-2');
  assert.equal(c.dataDir, '/var/lib/ha-runtime');
  assert.deepEqual(c.listenClient, { host: '127.0.0.1', port: 9000 });
  assert.equal(c.advertiseClient, 'http://kv-2.kv.ns.svc:7379');
  assert.equal(c.limits.maxKeyBytes, 64);
  assert.equal(c.tickMs, 40);
  assert.equal(envName('initial-cluster-token'), 'HA_RAFT_INITIAL_CLUSTER_TOKEN');
});

test('bad flags fail with a message naming the flag and the fix', () => {
  const base = ['--data-dir', '/d', '--initial-cluster', CLUSTER];
  const cases: [string[], RegExp][] = [
    [['--id', 'kv-9', ...base], /--id 'kv-9' is not a member of --initial-cluster \(kv-0, kv-1, kv-2\)/],
    [base, /--id is required \(or set HA_RAFT_ID\)/],
    [['--id', 'kv-0', ...base, '--listen-client', 'nope'], /--listen-client: 'nope' is not HOST:PORT/],
    [['--id', 'kv-0', ...base, '--listen-peer', 'h:70000'], /port 70000/],
    [['--id', 'kv-0', ...base, '--tick-ms', '0'], /--tick-ms: '0' must be an integer >= 1/],
    [['--id', 'kv-0', ...base, '--heartbeat-ticks', '10'], /--heartbeat-ticks \(10\) must be less than --election-ticks/],
    [['--id', 'kv-0', ...base, '--bogus', '1'], /unknown flag --bogus/],
    [['--id', 'kv-0', ...base, '--advertise-client', 'kv-0:7379'], /--advertise-client: 'kv-0:7379' is not a URL/],
    [['--id', 'kv-0', ...base, '--log-level', 'loud'], /--log-level/],
    [['--id'], /--id needs a value/],
  ];
  for (const [argv, re] of cases) assert.throws(() => parseRaftConfig(argv, {}), (e: unknown) => e instanceof UsageError && re.test(e.message), argv.join(' '));
  assert.throws(() => parseInitialCluster('a=h:1,a=h:2'), /appears twice/);
  assert.throws(() => parseInitialCluster('a'), /not NAME=HOST:PEERPORT/);
});

test('--key=value form and etcd-style http:// peer URLs are accepted', () => {
  const c = parseRaftConfig(['--id=a', '--data-dir=/d', '--initial-cluster=a=http://10.0.0.1:2380'], {});
  assert.equal(c.members[0].peerHost, '10.0.0.1');
});
