import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { byKind, cleanQuorum, container } from './fixtures';
import { HaAuditor, ManifestAvailability } from '../../src';
import { flagValue } from '../../src/audit/quorum-systems';
import { main } from '../../src/cli';

const root = path.join(__dirname, '..', '..');
const raftStore = path.join(__dirname, 'quorum-fixtures', 'raft-store.yaml');

/** The clean etcd fixture with its container replaced by `c`, pod labels by `labels`, and `extra` objects added. */
interface Variant { labels?: Record<string, string>; replicas?: number; maxUnavailable?: number; extra?: any[]; kind?: string }

function statefulSet(c: any, opts: Variant = {}): any[] {
  const o = cleanQuorum();
  const sts = byKind(o, 'StatefulSet');
  const ctr = container(o, 'StatefulSet');
  delete ctr.args;
  Object.assign(ctr, c);
  if (opts.labels) sts.spec.template.metadata.labels = { ...sts.spec.template.metadata.labels, ...opts.labels };
  if (opts.replicas) sts.spec.replicas = opts.replicas;
  if (opts.kind) sts.kind = opts.kind;
  byKind(o, 'PodDisruptionBudget').spec.maxUnavailable = opts.maxUnavailable ?? 2;
  return [...o, ...(opts.extra ?? [])];
}

const configMap = (name: string, text: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'db' }, data: { 'server.conf': text } });
const mounting = (name: string) => ({ volumes: [{ name: 'config', configMap: { name } }] });

function ha004(objects: any[]): string | undefined {
  return HaAuditor.audit(objects).find((f) => f.ruleId === 'HA004')?.message;
}

/** [system, container, options]: each is recognised without an annotation, so a PDB allowing 2 of 3 is an error. */
const recognised: Array<[string, any, any?]> = [
  ['etcd', { image: 'gcr.io/etcd-development/etcd:v3.5.17', args: ['--peer-cert-file=/tls/peer.crt'] }],
  ['ZooKeeper', { image: 'confluentinc/cp-zookeeper:7.6.1', env: [{ name: 'KAFKA_OPTS', value: '-Dzookeeper.sslQuorum=true' }] }],
  // HA_RAFT_PEER_CERT_FILE: the variable the runtime's peer TLS will read (issue 14)
  ['ha-runtime raft', { image: 'ghcr.io/cdk8s-ha/ha-runtime:0.1.0', args: ['raft'], env: [{ name: 'HA_RAFT_PEER_CERT_FILE', value: '/tls/peer.crt' }] }],
  ['Consul server', { image: 'hashicorp/consul:1.19', args: ['agent', '-server', '-bootstrap-expect=3', '-hcl=tls { defaults { verify_incoming = true } }'] }],
  ['Vault (raft storage)', { image: 'hashicorp/vault:1.17.2', env: [{ name: 'VAULT_LOCAL_CONFIG', value: 'storage "raft" { path = "/vault/data" }' }] }],
  ['Vault (raft storage)', { image: 'hashicorp/vault:1.17.2' }, { pod: mounting('vault-config'), extra: [configMap('vault-config', 'ui = true\nstorage "raft" {\n  path = "/vault/data"\n}\n')] }],
  ['NATS JetStream', { image: 'nats:2.10.18', args: ['--config', '/etc/nats/nats.conf'] }, { pod: mounting('nats-config'), extra: [configMap('nats-config', 'jetstream {\n  max_file_store: 10Gi\n}\ncluster {\n  tls { cert_file: /tls/tls.crt }\n}\n')] }],
  ['Kafka KRaft controller', { image: 'bitnami/kafka:3.7.1', env: [{ name: 'KAFKA_CFG_PROCESS_ROLES', value: 'controller' }] }],
  ['Kafka KRaft controller', { image: 'apache/kafka:3.8.0', command: ['sh', '-c', 'exec kafka-server-start.sh /etc/kafka/server.properties --override process.roles=broker,controller'] }],
  ['CockroachDB', { image: 'cockroachdb/cockroach:v24.1.2', args: ['start', '--join=crdb-0,crdb-1,crdb-2', '--certs-dir=/certs'] }],
  ['TiKV', { image: 'pingcap/tikv:v8.1.0', args: ['--ca-path=/tls/ca.crt'] }],
  ['TiDB PD', { image: 'pingcap/pd:v8.1.0', args: ['--peer-urls=https://0.0.0.0:2380', '--cacert=/tls/ca.crt'] }],
  ['RabbitMQ quorum queues', { image: 'rabbitmq:3.13-management', env: [{ name: 'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS', value: '-proto_dist inet_tls' }] }, { pod: mounting('rmq'), extra: [configMap('rmq', 'default_queue_type = quorum\n')] }],
  ['MongoDB replica set', { image: 'mongo:7.0.12', args: ['--replSet', 'rs0', '--tlsMode', 'requireTLS'] }],
  ['Elasticsearch master-eligible nodes', { image: 'docker.elastic.co/elasticsearch/elasticsearch:8.14.3', env: [{ name: 'cluster.initial_master_nodes', value: 'es-0,es-1,es-2' }] }],
  ['Raft store', { image: 'example.org/kv:1.0', args: ['--initial-cluster=a=https://a:2380,b=https://b:2380'] }],
  ['Raft store', { image: 'example.org/kv:1.0', env: [{ name: 'KV_RAFT_PEERS', value: 'a,b,c' }] }],
  ['Raft store', { image: 'example.org/kv:1.0' }, { labels: { 'app.kubernetes.io/component': 'raft' } }],
  ['Raft store', { image: 'example.org/hashicorp-raft-kv:0.3.1' }],
];

describe('quorum systems are recognised without the annotation', () => {
  test.each(recognised)('%s: %j', (system, c, opts = {}) => {
    const objs = statefulSet(c, { labels: opts.labels, extra: opts.extra });
    if (opts.pod) Object.assign(byKind(objs, 'StatefulSet').spec.template.spec, opts.pod);
    const groupSystem = ['CockroachDB', 'TiKV', 'RabbitMQ quorum queues', 'NATS JetStream'].includes(system);
    expect(ha004(objs)).toMatch(new RegExp(`\\(recognised as ${system.replace(/[()]/g, '\\$&')}: .+\\) to be evicted; a quorum needs 2$`));
    // and nothing else: peer TLS is on wherever the manifests can say so
    expect(HaAuditor.audit(objs).map((f) => f.ruleId)).toEqual(['HA004']);
    // the availability model agrees
    expect(ManifestAvailability.analyze(objs)[0].report.quorum).toBe(true);
    // systems replicating each range/queue over 3 members tolerate 1 member down however many members there are
    if (groupSystem) {
      const five = statefulSet(c, { labels: opts.labels, extra: opts.extra, replicas: 5, maxUnavailable: 2 });
      if (opts.pod) Object.assign(byKind(five, 'StatefulSet').spec.template.spec, opts.pod);
      expect(ha004(five)).toMatch(/allows 2 of 5 members .* a quorum needs 4$/);
    } else {
      const five = statefulSet(c, { labels: opts.labels, extra: opts.extra, replicas: 5, maxUnavailable: 2 });
      if (opts.pod) Object.assign(byKind(five, 'StatefulSet').spec.template.spec, opts.pod);
      expect(ha004(five)).toBeUndefined();
    }
  });

  test.each<[string, any, any?]>([
    ['a Deployment of etcd (a proxy or a throw-away member)', { image: 'quay.io/coreos/etcd:v3.5.9' }, { kind: 'Deployment' }],
    ['a plain web server', { image: 'nginx:1.27.3' }],
    ['a Consul client agent', { image: 'hashicorp/consul:1.19', args: ['agent', '-retry-join=consul-server'] }],
    ['Vault on Consul storage', { image: 'hashicorp/vault:1.17.2', env: [{ name: 'VAULT_LOCAL_CONFIG', value: 'storage "consul" {}' }] }],
    ['NATS without JetStream', { image: 'nats:2.10.18', args: ['--cluster', 'nats://0.0.0.0:6222'] }],
    ['a Kafka broker', { image: 'bitnami/kafka:3.7.1', env: [{ name: 'KAFKA_CFG_PROCESS_ROLES', value: 'broker' }] }],
    ['RabbitMQ with classic queues', { image: 'rabbitmq:3.13-management' }],
    ['a standalone MongoDB', { image: 'mongo:7.0.12' }],
    ['PostgreSQL', { image: 'postgres:16.3' }, { labels: { 'app.kubernetes.io/component': 'primary' } }],
    ['app: etcd on another image (the app label names the application, not a role)', { image: 'ghcr.io/cdk8s-ha/ha-runtime:0.1.0', args: ['router'] }],
  ])('not %s', (_what, c, opts = {}) => {
    const objs = statefulSet(c, opts);
    expect(ha004(objs)).toBeUndefined();
  });

  test('docs/audit.md documents every system recognised here', () => {
    const doc = fs.readFileSync(path.join(root, 'docs', 'audit.md'), 'utf-8');
    const table = doc.slice(doc.indexOf('### Recognising quorum systems'), doc.indexOf('### Plaintext peers'));
    const documented = [...table.matchAll(/^\| ([^|]+?) \|/gm)].map((m) => m[1]).filter((x) => x !== 'system' && !x.startsWith('---'));
    // every system has a row naming it (rows may group or qualify: "TiKV / TiDB PD", "Vault, raft storage")
    for (const system of new Set(recognised.map(([s]) => s))) {
      const product = system.split(' ')[0];
      expect([product, documented.filter((row) => row.includes(product)).length > 0]).toEqual([product, true]);
    }
  });

  test('the annotation still decides: "false" turns a recognised etcd off, "true" turns an unknown image on', () => {
    const etcd = statefulSet({ image: 'quay.io/coreos/etcd:v3.5.9' });
    byKind(etcd, 'StatefulSet').metadata.annotations = { 'ha.cdk8s.io/quorum': 'false' };
    expect(ha004(etcd)).toBeUndefined();
    const custom = statefulSet({ image: 'example.org/ledger:4.2.0' });
    expect(ha004(custom)).toBeUndefined();
    byKind(custom, 'StatefulSet').spec.template.metadata.annotations = { 'ha.cdk8s.io/quorum': 'true' };
    // declared, not recognised: the message names no heuristic
    expect(ha004(custom)).toBe('maxUnavailable: 2 allows 2 of 3 members of quorum workload StatefulSet/db/etcd to be evicted; a quorum needs 2');
  });

  test('flags are read as --flag=v, --flag v, -flag v and inside sh -c strings', () => {
    expect(flagValue(['--bootstrap-expect=3'], 'bootstrap-expect')).toBe('3');
    expect(flagValue(['-bootstrap-expect', '3'], 'bootstrap-expect')).toBe('3');
    expect(flagValue(['sh', '-c', 'exec etcd --name $(POD) --initial-cluster "a=http://a:2380"'], 'initial-cluster')).toBe('a=http://a:2380');
    expect(flagValue(['--peer-client-cert-auth', '--x=1'], 'peer-client-cert-auth')).toBe('');
    expect(flagValue(['--initial-cluster-state=new'], 'initial-cluster')).toBeUndefined();
  });
});

describe('HA036: quorum peers in plaintext', () => {
  test.each<[string, any, string, any?]>([
    ['etcd without peer certificates', { image: 'quay.io/coreos/etcd:v3.5.9' }, 'etcd peers talk in plaintext: no --peer-cert-file (etcd peers default to http://)'],
    ['etcd with http:// peer URLs', { image: 'quay.io/coreos/etcd:v3.5.9', env: [{ name: 'ETCD_INITIAL_ADVERTISE_PEER_URLS', value: 'http://$(POD).etcd:2380' }, { name: 'ETCD_PEER_CERT_FILE', value: '/tls/c' }] },
      'etcd peers talk in plaintext: --initial-advertise-peer-urls http://$(POD).etcd:2380 is http://'],
    ['ha-runtime', { image: 'ghcr.io/cdk8s-ha/ha-runtime:0.1.0', args: ['raft'] }, 'ha-runtime raft peers talk in plaintext: no peer TLS setting (--peer-cert-file / HA_RAFT_PEER_CERT_FILE)'],
    ['CockroachDB --insecure', { image: 'cockroachdb/cockroach:v24.1.2', args: ['start', '--insecure', '--join=a,b,c'] }, 'CockroachDB peers talk in plaintext: started with --insecure'],
    ['ZooKeeper', { image: 'zookeeper:3.9.2' }, 'ZooKeeper peers talk in plaintext: sslQuorum is not true (quorum traffic is plaintext by default)'],
    ['a KRaft controller listener on PLAINTEXT', { image: 'bitnami/kafka:3.7.1', env: [{ name: 'KAFKA_CFG_PROCESS_ROLES', value: 'controller' }, { name: 'KAFKA_CFG_LISTENER_SECURITY_PROTOCOL_MAP', value: 'CONTROLLER:PLAINTEXT,CLIENT:SSL' }] },
      'Kafka KRaft controller peers talk in plaintext: listener CONTROLLER is PLAINTEXT'],
    ['RabbitMQ without inet_tls', { image: 'rabbitmq:3.13', env: [{ name: 'RABBITMQ_DEFAULT_QUEUE_TYPE_HINT', value: 'default_queue_type = quorum' }] }, 'RabbitMQ quorum queues peers talk in plaintext: inter-node traffic without -proto_dist inet_tls'],
    ['MongoDB without tlsMode', { image: 'mongo:7.0.12', args: ['--replSet', 'rs0'] }, 'MongoDB replica set peers talk in plaintext: tlsMode is unset (disabled)'],
    ['a generic Raft store joining over http://', { image: 'example.org/raft-store:2.4.1', args: ['--bootstrap-expect=3', '--join', 'http://store-0.store-peers:8300'] },
      'Raft store peers talk in plaintext: --join http://store-0.store-peers:8300'],
  ])('%s', (_what, c, message) => {
    const objs = statefulSet(c, { maxUnavailable: 1 });
    const f = HaAuditor.audit(objs);
    expect(f.map((x) => `${x.ruleId} ${x.severity} ${x.message}`)).toEqual([`HA036 warning ${message}`]);
  });

  test('cannot tell: a generic Raft store without peer addresses, Vault (always mutual TLS on its cluster port)', () => {
    expect(HaAuditor.audit(statefulSet({ image: 'example.org/raft-store:2.4.1', args: ['--bootstrap-expect=3'] }, { maxUnavailable: 1 }))).toEqual([]);
    expect(HaAuditor.audit(statefulSet({ image: 'hashicorp/vault:1.17.2', env: [{ name: 'VAULT_LOCAL_CONFIG', value: 'storage "raft" {}' }] }, { maxUnavailable: 1 }))).toEqual([]);
  });
});

describe('the issue 13 fixture through the real CLI', () => {
  test('a three-member Raft store nobody annotated, PDB allowing 2 disruptions: cdk8s-ha audit exits 1 with an HA004 error', () => {
    // bin/cdk8s-ha runs lib/ when compiled, else the sources through ts-node: both are the shipped entry point
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'cdk8s-ha'), 'audit', raftStore],
      { cwd: root, encoding: 'utf-8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expect(r.stdout).toBe([
      'error   HA004 PodDisruptionBudget/data/store: maxUnavailable: 2 allows 2 of 3 members of quorum workload StatefulSet/data/store'
        + ' (recognised as Raft store: argument --bootstrap-expect) to be evicted; a quorum needs 2',
      '        fix: set maxUnavailable to members - (floor(members/2)+1), e.g. 1 for 3 or 4 members, 2 for 5',
      '1 error(s), 0 warning(s)',
      '',
    ].join('\n'));
  });

  test('in a clone that was never compiled (no lib/), the bin runs the TypeScript sources instead of failing', () => {
    // a copy of the repository's layout without lib/: bin/ copied, src/ and tsconfig.json linked; inside the repository
    // so the bin finds ts-node in node_modules as a clone's would
    fs.mkdirSync(path.join(root, 'dist'), { recursive: true });
    const clone = fs.mkdtempSync(path.join(root, 'dist', 'uncompiled-'));
    try {
      fs.mkdirSync(path.join(clone, 'bin'));
      fs.copyFileSync(path.join(root, 'bin', 'cdk8s-ha'), path.join(clone, 'bin', 'cdk8s-ha'));
      fs.symlinkSync(path.join(root, 'src'), path.join(clone, 'src'));
      fs.symlinkSync(path.join(root, 'tsconfig.json'), path.join(clone, 'tsconfig.json'));
      const r = spawnSync(process.execPath, [path.join(clone, 'bin', 'cdk8s-ha'), 'audit', raftStore], { cwd: clone, encoding: 'utf-8', timeout: 60_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/^error {3}HA004 PodDisruptionBudget\/data\/store: /);
    } finally {
      fs.rmSync(clone, { recursive: true, force: true });
    }
  });

  test('each of the three signals alone is enough', () => {
    const yaml = fs.readFileSync(raftStore, 'utf-8');
    const variants = [
      yaml.replace('args: ["--bootstrap-expect=3", "--data-dir=/data"]', 'args: ["--data-dir=/data"]').replace('example.org/raft-store', 'example.org/store'),
      yaml.replace('app.kubernetes.io/component: raft', 'app.kubernetes.io/component: db').replace('example.org/raft-store', 'example.org/store'),
      yaml.replace('app.kubernetes.io/component: raft', 'app.kubernetes.io/component: db').replace('args: ["--bootstrap-expect=3", "--data-dir=/data"]', 'args: ["--data-dir=/data"]'),
    ];
    const evidence = variants.map((v) => {
      let out = '';
      const code = main(['audit', '-'], { stdout: (t) => { out += t; }, stderr: () => undefined, readStdin: () => v });
      expect(code).toBe(1);
      return /recognised as Raft store: ([^)]+)\)/.exec(out)?.[1];
    });
    expect(evidence).toEqual(['label app.kubernetes.io/component=raft', 'argument --bootstrap-expect', 'image example.org/raft-store:2.4.1']);
  });
});
