import { Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { HaProbe, PeerTls, RaftCluster, RaftClusterProps, RaftRuntime, ServiceExposure, SpreadMode, VolumeRetention } from '../src';
import { allowedDisruptions, assertValidManifests, Manifest, ofKind, one } from './util';

function synth(props: RaftClusterProps = {}): { objects: Manifest[]; cluster: RaftCluster } {
  const chart = Testing.chart();
  const cluster = new RaftCluster(chart, 'kv', { name: 'kv', ...props });
  const objects = Testing.synth(chart);
  assertValidManifests(objects);
  return { objects, cluster };
}
const member = (objects: Manifest[]) => one(objects, 'StatefulSet').spec.template.spec.containers[0];
const envOf = (c: Manifest) => Object.fromEntries(c.env.map((e: Manifest) => [e.name, e.value ?? e.valueFrom]));

describe('RaftCluster quorum math, 1 to 9 members', () => {
  // members: [quorum, failures tolerated, PDB maxUnavailable or undefined (no PDB below 3)]
  const table: [number, number, number, number | undefined][] = [
    [1, 1, 0, undefined], [2, 2, 0, undefined], [3, 2, 1, 1], [4, 3, 1, 1], [5, 3, 2, 2],
    [6, 4, 2, 2], [7, 4, 3, 3], [8, 5, 3, 3], [9, 5, 4, 4],
  ];
  test.each(table)('%i members: quorum %i, tolerates %i, PDB maxUnavailable %s', (members, quorum, tolerance, pdbMax) => {
    const { objects, cluster } = synth({ members, allowUnsafeMemberCount: true });
    expect(cluster.quorum).toBe(quorum);
    expect(cluster.failureTolerance).toBe(tolerance);
    expect(one(objects, 'StatefulSet').metadata.annotations['ha.cdk8s.io/quorum']).toBe(String(quorum));
    const pdbs = ofKind(objects, 'PodDisruptionBudget');
    if (pdbMax === undefined) {
      expect(pdbs).toHaveLength(0);
    } else {
      expect(pdbs[0].spec.maxUnavailable).toBe(pdbMax);
      // A drain never goes below the quorum, and always can proceed.
      expect(members - allowedDisruptions(pdbs[0].spec, members)).toBeGreaterThanOrEqual(quorum);
      expect(allowedDisruptions(pdbs[0].spec, members)).toBeGreaterThanOrEqual(1);
    }
    const initial = envOf(member(objects)).HA_RAFT_INITIAL_CLUSTER;
    expect(initial.split(',')).toEqual(Array.from({ length: members }, (_, i) => `kv-${i}=kv-${i}.kv-peers.$(POD_NAMESPACE).svc:7380`));
  });
});

describe('RaftCluster defaults (cdk8s-ha runtime)', () => {
  const { objects, cluster } = synth();
  const sts = one(objects, 'StatefulSet');
  const pod = sts.spec.template.spec;

  test('StatefulSet: 3 members, Parallel, one-at-a-time rollout, per-member volume kept on delete', () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(['NetworkPolicy', 'PodDisruptionBudget', 'Service', 'Service', 'StatefulSet']);
    expect(sts.spec).toMatchObject({
      replicas: 3,
      podManagementPolicy: 'Parallel',
      serviceName: 'kv-peers',
      minReadySeconds: 10,
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0, maxUnavailable: 1 } },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
    });
    expect(sts.spec.volumeClaimTemplates[0].spec).toEqual({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } });
    expect(member(objects).volumeMounts).toEqual([
      { name: 'data', mountPath: '/var/lib/ha-runtime' },
      { name: 'peer-tls', mountPath: '/etc/raft/peer-tls', readOnly: true },
    ]);
    expect(cluster.memberNames).toEqual(['kv-0', 'kv-1', 'kv-2']);
    expect(cluster.memberDnsName(2)).toBe('kv-2.kv-peers');
  });

  test('the runtime contract: image, args, HA_RAFT_* environment', () => {
    const c = member(objects);
    expect(c.image).toBe('ghcr.io/cdk8s-ha/ha-runtime:0.1.0');
    expect(c.args).toEqual(['raft']);
    expect(c.command).toBeUndefined();
    expect(c.env.slice(0, 2).map((e: Manifest) => e.name)).toEqual(['HA_RAFT_ID', 'POD_NAMESPACE']);
    expect(envOf(c)).toEqual({
      HA_RAFT_ID: { fieldRef: { fieldPath: 'metadata.name' } },
      POD_NAMESPACE: { fieldRef: { fieldPath: 'metadata.namespace' } },
      HA_RAFT_DATA_DIR: '/var/lib/ha-runtime',
      HA_RAFT_LISTEN_CLIENT: '0.0.0.0:7379',
      HA_RAFT_LISTEN_PEER: '0.0.0.0:7380',
      HA_RAFT_ADVERTISE_CLIENT: 'http://$(HA_RAFT_ID).kv-peers.$(POD_NAMESPACE).svc:7379',
      HA_RAFT_INITIAL_CLUSTER: 'kv-0=kv-0.kv-peers.$(POD_NAMESPACE).svc:7380,kv-1=kv-1.kv-peers.$(POD_NAMESPACE).svc:7380,kv-2=kv-2.kv-peers.$(POD_NAMESPACE).svc:7380',
      HA_RAFT_INITIAL_CLUSTER_TOKEN: 'kv',
      // Peer mTLS by default (issue 14): etcd's flag names as HA_RAFT_* variables.
      HA_RAFT_PEER_CERT_FILE: '/etc/raft/peer-tls/tls.crt',
      HA_RAFT_PEER_KEY_FILE: '/etc/raft/peer-tls/tls.key',
      HA_RAFT_PEER_TRUSTED_CA_FILE: '/etc/raft/peer-tls/ca.crt',
      HA_RAFT_PEER_CLIENT_CERT_AUTH: 'true',
    });
  });

  test('probes on /readyz and /livez, no preStop (SIGTERM hands leadership over), 30 s grace', () => {
    const c = member(objects);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 7379, scheme: 'HTTP' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/livez', port: 7379, scheme: 'HTTP' });
    expect(c.startupProbe.httpGet).toEqual({ path: '/livez', port: 7379, scheme: 'HTTP' });
    expect(c.lifecycle).toBeUndefined();
    expect(pod.terminationGracePeriodSeconds).toBe(30);
  });

  test('required node anti-affinity and preferred zone spread', () => {
    expect(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toEqual([
      { labelSelector: sts.spec.selector, topologyKey: 'kubernetes.io/hostname' },
    ]);
    expect(pod.topologySpreadConstraints).toEqual([{
      maxSkew: 1,
      topologyKey: 'topology.kubernetes.io/zone',
      whenUnsatisfiable: 'ScheduleAnyway',
      labelSelector: sts.spec.selector,
      nodeTaintsPolicy: 'Honor',
    }]);
  });

  test('headless peer Service publishes not-ready members; client Service is ClusterIP', () => {
    const peers = one(objects, 'Service', 'kv-peers');
    expect(peers.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true, selector: sts.spec.selector.matchLabels });
    expect(peers.spec.ports.map((p: Manifest) => [p.name, p.port, p.targetPort])).toEqual([['client', 7379, 'client'], ['peer', 7380, 'peer']]);
    const client = one(objects, 'Service', 'kv');
    expect(client.spec).toMatchObject({ type: 'ClusterIP', selector: sts.spec.selector.matchLabels });
    expect(client.spec.publishNotReadyAddresses).toBeUndefined();
  });

  test('PDB keeps the quorum; NetworkPolicy admits the peer port from members only', () => {
    expect(one(objects, 'PodDisruptionBudget').spec).toEqual({
      selector: sts.spec.selector, maxUnavailable: 1, unhealthyPodEvictionPolicy: 'AlwaysAllow',
    });
    expect(one(objects, 'NetworkPolicy').spec.ingress).toEqual([
      { ports: [{ port: 7379, protocol: 'TCP' }] },
      { ports: [{ port: 7380, protocol: 'TCP' }], from: [{ podSelector: sts.spec.selector }] },
    ]);
  });

  test('restricted security context with a writable volume through fsGroup', () => {
    expect(member(objects).securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.securityContext).toMatchObject({ fsGroup: 65532, fsGroupChangePolicy: 'OnRootMismatch' });
    expect(member(objects).resources).toEqual({
      requests: { 'cpu': '250m', 'memory': '256Mi', 'ephemeral-storage': '1Gi' },
      limits: { 'memory': '512Mi', 'ephemeral-storage': '2Gi' },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
  });
});

describe('RaftCluster options', () => {
  test('generic mode: etcd with its own flags', () => {
    const { objects } = synth({
      name: 'etcd',
      image: 'quay.io/coreos/etcd:v3.5.17',
      clientPort: 2379,
      peerPort: 2380,
      dataDir: '/var/lib/etcd',
      peerTls: PeerTls.plaintext(),
      runtime: RaftRuntime.generic({
        command: ['etcd'],
        args: [
          '--name={id}',
          '--data-dir={dataDir}',
          '--listen-client-urls=http://0.0.0.0:{clientPort}',
          '--listen-peer-urls=http://0.0.0.0:{peerPort}',
          '--advertise-client-urls=http://{id}.{peerService}.{namespace}.svc:{clientPort}',
          '--initial-advertise-peer-urls=http://{id}.{peerService}.{namespace}.svc:{peerPort}',
          '--initial-cluster={initialCluster}',
          '--initial-cluster-token={clusterName}',
          '--initial-cluster-state=new',
        ],
        initialClusterMember: '{member}=http://{member}.{peerService}.{namespace}.svc:{peerPort}',
        env: { ETCD_AUTO_COMPACTION_RETENTION: '1' },
        readiness: HaProbe.http('/readyz'),
        liveness: HaProbe.http('/livez'),
        startup: HaProbe.http('/livez'),
      }),
    });
    const c = member(objects);
    expect(c.command).toEqual(['etcd']);
    expect(c.args).toContain('--name=$(HA_RAFT_ID)');
    expect(c.args).toContain('--initial-cluster=etcd-0=http://etcd-0.etcd-peers.$(POD_NAMESPACE).svc:2380,'
      + 'etcd-1=http://etcd-1.etcd-peers.$(POD_NAMESPACE).svc:2380,etcd-2=http://etcd-2.etcd-peers.$(POD_NAMESPACE).svc:2380');
    expect(c.args).toContain('--advertise-client-urls=http://$(HA_RAFT_ID).etcd-peers.$(POD_NAMESPACE).svc:2379');
    expect(envOf(c).ETCD_AUTO_COMPACTION_RETENTION).toBe('1');
    expect(envOf(c).HA_RAFT_INITIAL_CLUSTER).toBeUndefined();
    expect(c.volumeMounts).toEqual([{ name: 'data', mountPath: '/var/lib/etcd' }]);
    expect(c.readinessProbe.httpGet.port).toBe(2379);
  });

  test('generic mode defaults to TCP probes on the client port', () => {
    const { objects } = synth({ image: 'zk:3.9.2', peerTls: PeerTls.plaintext(), runtime: RaftRuntime.generic({ args: ['--id={id}'] }) });
    expect(member(objects).readinessProbe.tcpSocket).toEqual({ port: 7379 });
  });

  test('storage, retention, exposure, zone spread, maxUnavailable, priority', () => {
    const { objects } = synth({
      members: 5,
      storageSize: Size.mebibytes(1536),
      storageClassName: 'fast',
      volumeRetentionOnDelete: VolumeRetention.DELETE,
      volumeRetentionOnScaleDown: VolumeRetention.DELETE,
      clientExposure: ServiceExposure.loadBalancer(),
      zoneSpread: SpreadMode.REQUIRED,
      maxUnavailable: 1,
      priorityClassName: 'system-cluster-critical',
    });
    const sts = one(objects, 'StatefulSet');
    expect(sts.spec.volumeClaimTemplates[0].spec).toMatchObject({ storageClassName: 'fast', resources: { requests: { storage: '1536Mi' } } });
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Delete', whenScaled: 'Delete' });
    expect(one(objects, 'Service', 'kv').spec).toMatchObject({ type: 'LoadBalancer', externalTrafficPolicy: 'Cluster' });
    expect(sts.spec.template.spec.topologySpreadConstraints[0].whenUnsatisfiable).toBe('DoNotSchedule');
    expect(one(objects, 'PodDisruptionBudget').spec.maxUnavailable).toBe(1);
    expect(sts.spec.template.spec.priorityClassName).toBe('system-cluster-critical');
    const off = synth({ zoneSpread: SpreadMode.OFF });
    expect(one(off.objects, 'StatefulSet').spec.template.spec.topologySpreadConstraints).toBeUndefined();
  });

  test('a generated name is a valid, unique DNS label', () => {
    const chart = Testing.chart();
    const a = new RaftCluster(chart, 'a');
    const b = new RaftCluster(chart, 'b');
    expect(a.name).not.toBe(b.name);
    expect(a.name).toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])?$/);
    assertValidManifests(Testing.synth(chart));
  });
});

describe('RaftCluster validation errors name the prop, the value and the fix', () => {
  const cases: [string, RaftClusterProps, string][] = [
    ['even members', { members: 4 }, "RaftCluster 'kv': members (4) tolerates no more failures than 3 members; use an odd count >= 3 (3 or 5), or set allowUnsafeMemberCount: true"],
    ['one member', { members: 1 }, "RaftCluster 'kv': members (1) tolerates no member failure; use an odd count >= 3"],
    ['zero members even when allowed', { members: 0, allowUnsafeMemberCount: true }, 'members (0) must be an integer >= 1; use 3 or 5'],
    ['name', { name: 'Kv_1' }, "name ('Kv_1') must be a DNS-1035 label of at most 47 characters"],
    ['long name', { name: 'k'.repeat(48) }, 'must be a DNS-1035 label of at most 47 characters'],
    ['latest image', { image: 'etcd:latest' }, "image ('etcd:latest') is not pinned"],
    ['client port', { clientPort: 0 }, 'clientPort (0) must be an integer in 1..65535'],
    ['same ports', { clientPort: 7000, peerPort: 7000 }, 'peerPort (7000) is also the clientPort; use two ports'],
    ['data dir', { dataDir: 'data' }, "dataDir ('data') must be an absolute path below '/'"],
    ['storage size', { storageSize: Size.kibibytes(10) }, 'storageSize (0.009765625Mi) must be a whole number of mebibytes >= 1; e.g. Size.gibibytes(10)'],
    ['grace', { terminationGracePeriodSeconds: 5 }, 'terminationGracePeriodSeconds (5) must be an integer >= 10; a leader must hand over'],
    ['minReady', { minReadySeconds: -1 }, 'minReadySeconds (-1) must be an integer >= 0'],
    ['resources', { resources: { cpu: { request: kplus.Cpu.millis(100) } } }, 'resources (memory.request, memory.limit unset) lacks requests'],
    ['root', { runAsUser: 0 }, 'runAsUser (0) must be an integer in 1..2147483647; use a non-root uid'],
    ['PDB beyond quorum', { members: 5, maxUnavailable: 3 }, 'maxUnavailable (3) must be an integer in 1..2 for 5 members (quorum 3): more loses the quorum in a drain, 0 blocks every drain'],
    ['PDB blocking drains', { maxUnavailable: 0 }, 'maxUnavailable (0) must be an integer in 1..1 for 3 members'],
    ['PDB on 2 members', { members: 2, allowUnsafeMemberCount: true, maxUnavailable: 1 }, 'maxUnavailable (1) needs at least 3 members'],
    ['unknown placeholder', { peerTls: PeerTls.plaintext(), runtime: RaftRuntime.generic({ args: ['--peers={peers}'] }) }, 'runtime args[0] ("--peers={peers}") uses an unknown placeholder {peers}; known: {id}, {namespace}'],
    ['reserved env', { peerTls: PeerTls.plaintext(), runtime: RaftRuntime.generic({ args: ['x'], env: { HA_RAFT_ID: 'x' } }) }, 'runtime env HA_RAFT_ID ("x") is reserved'],
    ['probe port', { peerTls: PeerTls.plaintext(), runtime: RaftRuntime.generic({ args: ['x'], readiness: HaProbe.tcp({ port: 9000 }) }) }, 'readiness probe port (9000) is not a port of the member (clientPort 7379, peerPort 7380)'],
    ['generic runtime without image', { peerTls: PeerTls.plaintext(), runtime: RaftRuntime.generic({ args: ['--name={id}'] }) }, "RaftCluster 'kv': image (undefined) is unset while runtime is RaftRuntime.generic(...)"],
    ['no clients', { allowedClients: [] }, "RaftCluster 'kv': the clients of port 7379 are an empty list, which a NetworkPolicy reads as every source"],
    ['lenient readiness', { peerTls: PeerTls.plaintext(), runtime: RaftRuntime.generic({ args: ['x'], readiness: HaProbe.tcp({ failureThreshold: 20 }) }) }, 'liveness (periodSeconds x failureThreshold = 60s) must act later than the readiness probe (100s)'],
  ];
  test.each(cases)('%s', (_name, props, message) => {
    expect(() => new RaftCluster(Testing.chart(), 'kv', { name: 'kv', ...props })).toThrow(message);
  });

  test('factory and accessor errors', () => {
    expect(() => RaftRuntime.generic({ args: [] })).toThrow('RaftRuntime.generic: args and command are both empty');
    const cluster = new RaftCluster(Testing.chart(), 'kv', { name: 'kv' });
    expect(() => cluster.memberDnsName(3)).toThrow("RaftCluster 'kv': member ordinal 3 is not in 0..2");
  });
});
