import { Duration, Size, Testing } from 'cdk8s';
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
    expect(objects.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'Service', 'StatefulSet']);
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
      { name: 'members', mountPath: '/etc/raft/members', readOnly: true },
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
      // Scaling (issue 12): a pod beyond the initial list advertises itself in the same host form.
      HA_RAFT_ADVERTISE_PEER: '$(HA_RAFT_ID).kv-peers.$(POD_NAMESPACE).svc:7380',
      HA_RAFT_DESIRED_MEMBERS_FILE: '/etc/raft/members/members',
      // The store is in memory: etcd-API history (and /v1 overwrites) is compacted after 5 minutes by default.
      HA_RAFT_AUTO_COMPACTION_RETENTION: '300s',
      // Peer mTLS by default (issue 14): etcd's flag names as HA_RAFT_* variables.
      HA_RAFT_PEER_CERT_FILE: '/etc/raft/peer-tls/tls.crt',
      HA_RAFT_PEER_KEY_FILE: '/etc/raft/peer-tls/tls.key',
      HA_RAFT_PEER_TRUSTED_CA_FILE: '/etc/raft/peer-tls/ca.crt',
      HA_RAFT_PEER_CLIENT_CERT_AUTH: 'true',
    });
  });

  test('history retention: a duration in whole seconds, 0 keeps all history; anything else throws naming the prop', () => {
    const retentionOf = (runtime: RaftRuntime): unknown => envOf(member(synth({ runtime }).objects)).HA_RAFT_AUTO_COMPACTION_RETENTION;
    expect(retentionOf(RaftRuntime.haRuntime({ historyRetention: Duration.hours(1) }))).toBe('3600s');
    expect(retentionOf(RaftRuntime.haRuntime({ historyRetention: Duration.seconds(0) }))).toBe('0s');
    expect(() => RaftRuntime.haRuntime({ historyRetention: Duration.millis(1500) }))
      .toThrow(/historyRetention \(1.5 s\) must be a whole, non-negative number of seconds; use e.g. Duration.minutes\(5\)/);
  });

  test('space quota: unset leaves the runtime\'s default; a Size becomes --quota-backend-bytes; too small or over half the memory limit throws', () => {
    const quotaOf = (props: RaftClusterProps): unknown => envOf(member(synth(props).objects)).HA_RAFT_QUOTA_BACKEND_BYTES;
    expect(quotaOf({})).toBeUndefined();
    expect(quotaOf({ runtime: RaftRuntime.haRuntime({ spaceQuota: Size.mebibytes(200) }) })).toBe(String(200 * 2 ** 20));
    expect(() => RaftRuntime.haRuntime({ spaceQuota: Size.kibibytes(512) }))
      .toThrow(/spaceQuota \(524288 bytes\) must be at least 1 MiB; use e.g. Size.mebibytes\(200\)/);
    // The default 512Mi limit: V8's heap limit is 256 MiB, so a 300 MiB quota could never refuse a write in time.
    expect(() => synth({ runtime: RaftRuntime.haRuntime({ spaceQuota: Size.mebibytes(300) }) }))
      .toThrow(/RaftCluster 'kv'.*spaceQuota \(300 MiB\) is more than half the memory limit \(512 MiB\).*lower spaceQuota to at most 256 MiB or raise resources.memory.limit/);
    const resources = { cpu: { request: kplus.Cpu.millis(250) }, memory: { request: Size.gibibytes(1), limit: Size.gibibytes(2) } };
    expect(quotaOf({ resources, runtime: RaftRuntime.haRuntime({ spaceQuota: Size.mebibytes(900) }) })).toBe(String(900 * 2 ** 20));
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

describe('RaftCluster scaling (cdk8s-ha runtime)', () => {
  test('the desired count is a ConfigMap mounted read-only as a directory, so a change reaches running pods', () => {
    const { objects, cluster } = synth({ members: 5 });
    const cm = one(objects, 'ConfigMap', 'kv-members');
    expect(cm.data).toEqual({ members: '5' });
    expect(cluster.membersConfigMap?.name).toBe('kv-members');
    const pod = one(objects, 'StatefulSet').spec.template.spec;
    expect(pod.volumes).toContainEqual({ name: 'members', configMap: { name: 'kv-members', defaultMode: 0o444 } });
    const mount = member(objects).volumeMounts.find((m: Manifest) => m.name === 'members');
    // No subPath: the kubelet never updates a subPath mount.
    expect(mount).toEqual({ name: 'members', mountPath: '/etc/raft/members', readOnly: true });
    expect(envOf(member(objects)).HA_RAFT_DESIRED_MEMBERS_FILE).toBe(`${mount.mountPath}/members`);
    expect(one(objects, 'StatefulSet').spec.replicas).toBe(5);
  });

  test('the advertised peer address has the host form of the initial cluster entries', () => {
    const { objects } = synth({ peerPort: 2380, clientPort: 2379 });
    const env = envOf(member(objects));
    const entry = env.HA_RAFT_INITIAL_CLUSTER.split(',')[1];
    expect(entry).toBe('kv-1=kv-1.kv-peers.$(POD_NAMESPACE).svc:2380');
    expect(env.HA_RAFT_ADVERTISE_PEER.replace('$(HA_RAFT_ID)', 'kv-1')).toBe(entry.split('=')[1]);
  });

  test.each([3, 5, 7])('%i members: the ConfigMap, replicas and PDB agree, and the PDB keeps the quorum', (members) => {
    const { objects, cluster } = synth({ members });
    expect(one(objects, 'ConfigMap', 'kv-members').data.members).toBe(String(members));
    const pdb = one(objects, 'PodDisruptionBudget');
    expect(members - allowedDisruptions(pdb.spec, members)).toBeGreaterThanOrEqual(cluster.quorum);
  });

  test('initialMembers keeps the pod template when members changes: only replicas and the ConfigMap differ', () => {
    const created = synth({ members: 3 }).objects;
    const scaled = synth({ members: 5, initialMembers: 3 }).objects;
    const template = (objects: Manifest[]) => one(objects, 'StatefulSet').spec.template;
    expect(template(scaled)).toEqual(template(created));
    expect(one(scaled, 'StatefulSet').spec.replicas).toBe(5);
    expect(one(scaled, 'ConfigMap', 'kv-members').data.members).toBe('5');
    // Without it the initial list follows members, so the template changes and the StatefulSet rolls every member.
    expect(template(synth({ members: 5 }).objects)).not.toEqual(template(created));
    const down = synth({ members: 3, initialMembers: 5 }).objects;
    expect(envOf(member(down)).HA_RAFT_INITIAL_CLUSTER.split(',')).toHaveLength(5);
    expect(() => synth({ initialMembers: 0 })).toThrow(/initialMembers \(0\) must be an integer >= 1; use the member count the cluster was created with/);
    expect(() => synth({ runtime: RaftRuntime.etcd({ version: '3.5.17' }), initialMembers: 5 }))
      .toThrow(/initialMembers \(5\) differs from members \(3\), which only RaftRuntime.haRuntime\(\) supports/);
  });

  test('etcd and generic runtimes get no ConfigMap (they do not read it)', () => {
    const etcd = synth({ runtime: RaftRuntime.etcd({ version: '3.5.17' }) });
    expect(ofKind(etcd.objects, 'ConfigMap')).toHaveLength(0);
    expect(etcd.cluster.membersConfigMap).toBeUndefined();
    expect(member(etcd.objects).volumeMounts.map((m: Manifest) => m.name)).not.toContain('members');
  });

  test('a sidecar volume named members collides, named in the error', () => {
    const volume = kplus.Volume.fromEmptyDir(Testing.chart(), 'v', 'members');
    expect(() => synth({ sidecars: [{ name: 'side', image: 'busybox:1.36', volumeMounts: [{ path: '/x', volume }] }] }))
      .toThrow(/volume name .*members/);
  });
});

describe('RaftCluster backup', () => {
  const backup = { schedule: '15 */6 * * *', claimName: 'kv-backups', retention: 10 };

  test('a CronJob runs ha-runtime backup against the client Service, one at a time, hardened like the members', () => {
    const { objects, cluster } = synth({ backup });
    const cron = one(objects, 'CronJob', 'kv-backup');
    expect(cluster.backupCronJob?.name).toBe('kv-backup');
    expect(cron.spec).toMatchObject({
      schedule: '15 */6 * * *', timeZone: 'Etc/UTC', concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 300,
    });
    const job = cron.spec.jobTemplate.spec;
    expect(job).toMatchObject({ backoffLimit: 2, activeDeadlineSeconds: 660 });
    const pod = job.template.spec;
    const sts = one(objects, 'StatefulSet');
    const memberPod = sts.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toEqual(memberPod.securityContext);
    expect(pod.volumes).toEqual([{ name: 'backup', persistentVolumeClaim: { claimName: 'kv-backups' } }]);
    const c = pod.containers[0];
    expect(c.image).toBe(member(objects).image);
    expect(c.args).toEqual(['backup', '--url=http://kv:7379/v1/snapshot', '--dir=/backup', '--keep=10', '--timeout-seconds=600']);
    expect(c.securityContext).toEqual(member(objects).securityContext);
    expect(c.resources).toEqual(member(objects).resources);
    expect(c.volumeMounts).toEqual([{ name: 'backup', mountPath: '/backup' }]);
    // The client Service's port is the one the command fetches from.
    expect(one(objects, 'Service', 'kv').spec.ports[0].port).toBe(7379);
    // Backup pods are never members: the StatefulSet, Services and PDB do not select them.
    const labels = job.template.metadata.labels;
    expect(Object.entries(sts.spec.selector.matchLabels).every(([k, v]) => labels[k] === v)).toBe(false);
  });

  test('without allowedClients every source reaches the client port; with it the backup pods are added', () => {
    const open = synth({ backup });
    expect(one(open.objects, 'NetworkPolicy', 'kv').spec.ingress[0]).toEqual({ ports: [{ port: 7379, protocol: 'TCP' }] });
    const restricted = synth({ backup, allowedClients: [{ podLabels: { app: 'web' } }] });
    const cronLabels = one(restricted.objects, 'CronJob').spec.jobTemplate.spec.template.metadata.labels;
    expect(one(restricted.objects, 'NetworkPolicy', 'kv').spec.ingress[0].from).toEqual([
      { podSelector: { matchLabels: { app: 'web' } } },
      { podSelector: { matchLabels: cronLabels } },
    ]);
    // The backup pods' own policy: nothing comes in, only DNS and the members' client port go out.
    const own = one(restricted.objects, 'NetworkPolicy', 'kv-backup');
    expect(own.spec.podSelector).toEqual({ matchLabels: cronLabels });
    expect(own.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(own.spec.ingress ?? []).toEqual([]);
    const members = one(restricted.objects, 'StatefulSet').spec.selector;
    expect(own.spec.egress).toContainEqual({ ports: [{ port: 7379, protocol: 'TCP' }], to: [{ podSelector: members }] });
    expect(restricted.cluster.backupNetworkPolicy).toBeDefined();
    const noBackup = synth({ allowedClients: [{ podLabels: { app: 'web' } }] });
    expect(one(noBackup.objects, 'NetworkPolicy').spec.ingress[0].from).toHaveLength(1);
  });

  test('options: macro schedule, time zone, image, timeout; defaults keep 7', () => {
    const { objects } = synth({ backup: { schedule: '@daily', claimName: 'b', timeZone: 'Europe/Paris', image: 'registry.example/ha-runtime:1.2.3', timeoutSeconds: 120 } });
    const cron = one(objects, 'CronJob');
    expect(cron.spec.schedule).toBe('@daily');
    expect(cron.spec.timeZone).toBe('Europe/Paris');
    const c = cron.spec.jobTemplate.spec.template.spec.containers[0];
    expect(c.image).toBe('registry.example/ha-runtime:1.2.3');
    expect(c.args).toContain('--keep=7');
    expect(c.args).toContain('--timeout-seconds=120');
    expect(ofKind(synth().objects, 'CronJob')).toHaveLength(0);
  });

  test.each([
    [{ schedule: '* * * *' }, /backup.schedule \('\* \* \* \*'\) has 4 fields.*e.g. '0 \* \* \* \*'/],
    [{ schedule: '60 * * * *' }, /minute field '60' has '60' outside 0-59/],
    [{ schedule: '0 0 0 * *' }, /day of month field '0' has '0' outside 1-31/],
    [{ schedule: '0 5-2 * * *' }, /hour field '5-2' has a descending range/],
    [{ schedule: '*/0 * * * *' }, /step of 0/],
    [{ schedule: '0 0 * FOO *' }, /month field 'FOO'/],
    [{ schedule: '@often' }, /has 1 fields/],
    [{ retention: 0 }, /backup.retention \(0\) must be an integer in 1..10000; keep at least 1 snapshot/],
    [{ claimName: 'Bad_Claim' }, /backup.claimName \('Bad_Claim'\) must be a DNS-1123 subdomain/],
    [{ timeZone: 'not a zone' }, /backup.timeZone \('not a zone'\) is not an IANA time zone name/],
    [{ timeoutSeconds: 5 }, /backup.timeoutSeconds \(5\)/],
  ])('invalid %j is refused naming the prop, value and fix', (override, message) => {
    expect(() => synth({ backup: { ...backup, ...override } })).toThrow(message);
  });

  test('valid cron forms pass: lists, ranges, steps, names, ?', () => {
    for (const schedule of ['0,30 8-18/2 * * MON-FRI', '5 4 1 JAN,jul ?', '0 0 * * 7', '*/15 * * * *']) {
      expect(() => synth({ backup: { ...backup, schedule } })).not.toThrow();
    }
  });

  test('needs the cdk8s-ha runtime, and a name short enough for the CronJob', () => {
    expect(() => synth({ runtime: RaftRuntime.etcd({ version: '3.5.17' }), backup }))
      .toThrow(/backup \(\{ schedule: '15 \*\/6 \* \* \*' \}\) needs RaftRuntime.haRuntime\(\).*etcdctl snapshot save/);
    expect(() => synth({ name: 'a'.repeat(46), backup })).toThrow(/name \('a{46}'\) makes the backup CronJob name .* longer than 52 characters; use a name of at most 45/);
    expect(() => synth({ name: 'a'.repeat(45), backup })).not.toThrow();
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
