import * as fs from 'fs';
import * as path from 'path';
import { byKind, cleanQuorum, cleanStateless, container } from './fixtures';
import { AuditSeverity, HaAuditor } from '../../src';

const idsOf = (objs: any[]) => [...new Set(HaAuditor.audit(objs).map((f) => f.ruleId))].sort();

/** Breaks the clean fixtures in exactly one place; the audit must report exactly the rule named. */
const breakers: Array<[string, () => any[]]> = [
  ['HA001', () => { const o = cleanStateless().filter((x) => x.kind !== 'HorizontalPodAutoscaler'); byKind(o, 'Deployment').spec.replicas = 1; return o; }],
  ['HA002', () => cleanQuorum().filter((x) => x.kind !== 'PodDisruptionBudget')],
  ['HA003', () => { const o = cleanStateless(); const pdb = byKind(o, 'PodDisruptionBudget').spec; delete pdb.maxUnavailable; pdb.minAvailable = '100%'; return o; }],
  ['HA004', () => { const o = cleanQuorum(); byKind(o, 'PodDisruptionBudget').spec.maxUnavailable = '50%'; return o; }],
  ['HA005', () => { const o = cleanStateless(); o.push({ ...byKind(o, 'PodDisruptionBudget'), metadata: { name: 'web-2', namespace: 'shop' } }); return o; }],
  ['HA006', () => { const o = cleanStateless(); delete byKind(o, 'Deployment').spec.template.spec.affinity; return o; }],
  ['HA007', () => {
    const o = cleanQuorum();
    const spec = byKind(o, 'StatefulSet').spec.template.spec;
    spec.affinity = { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'etcd' } } } }] } };
    return o;
  }],
  ['HA008', () => { const o = cleanStateless(); delete container(o).readinessProbe; return o; }],
  ['HA009', () => { const o = cleanStateless(); delete container(o).livenessProbe; return o; }],
  ['HA010', () => { const o = cleanStateless(); container(o).livenessProbe = { ...container(o).readinessProbe }; return o; }],
  ['HA011', () => { const o = cleanStateless(); container(o).readinessProbe.httpGet.port = 9090; return o; }],
  ['HA012', () => { const o = cleanStateless(); delete container(o).resources.requests.cpu; return o; }],
  ['HA013', () => { const o = cleanStateless(); delete container(o).resources.limits; return o; }],
  ['HA014', () => { const o = cleanStateless(); byKind(o, 'Deployment').spec.strategy = { type: 'Recreate' }; return o; }],
  ['HA015', () => { const o = cleanQuorum(); byKind(o, 'StatefulSet').spec.selector = { matchLabels: { app: 'etcd', tier: 'x' } }; return o; }],
  ['HA016', () => { const o = cleanStateless(); byKind(o, 'Service').spec.selector = { app: 'wbe' }; return o; }],
  ['HA017', () => { const o = cleanStateless(); byKind(o, 'Service').spec.ports[0].targetPort = 8081; return o; }],
  ['HA018', () => { const o = cleanQuorum(); byKind(o, 'Service').spec.publishNotReadyAddresses = false; return o; }],
  ['HA019', () => { const o = cleanStateless(); byKind(o, 'HorizontalPodAutoscaler').spec.minReplicas = 1; return o; }],
  ['HA020', () => { const o = cleanStateless(); byKind(o, 'HorizontalPodAutoscaler').spec.scaleTargetRef.name = 'webb'; byKind(o, 'Deployment').spec.replicas = 3; return o; }],
  ['HA021', () => { const o = cleanStateless(); byKind(o, 'Deployment').spec.replicas = 3; return o; }],
  ['HA022', () => { const o = cleanStateless(); container(o).image = 'registry:5000/shop/web'; return o; }],
  ['HA023', () => { const o = cleanStateless(); delete container(o).securityContext.runAsNonRoot; delete container(o).securityContext.runAsUser; return o; }],
  ['HA024', () => { const o = cleanStateless(); container(o).securityContext.readOnlyRootFilesystem = false; return o; }],
  ['HA025', () => { const o = cleanStateless(); delete container(o).securityContext.allowPrivilegeEscalation; return o; }],
  ['HA026', () => { const o = cleanStateless(); container(o).securityContext.capabilities = { drop: ['NET_RAW'] }; return o; }],
  ['HA027', () => { const o = cleanStateless(); delete container(o).securityContext.seccompProfile; return o; }],
  ['HA028', () => { const o = cleanStateless(); byKind(o, 'Deployment').spec.template.spec.hostNetwork = true; return o; }],
  ['HA029', () => cleanStateless().filter((x) => x.kind !== 'NetworkPolicy')],
  ['HA030', () => { const o = cleanQuorum(); delete byKind(o, 'PodDisruptionBudget').spec.unhealthyPodEvictionPolicy; return o; }],
  ['HA031', () => { const o = cleanQuorum(); delete byKind(o, 'StatefulSet').spec.podManagementPolicy; return o; }],
  ['HA032', () => { const o = cleanStateless(); o.push({ ...byKind(o, 'NetworkPolicy') }); return o; }],
  ['HA033', () => { const o = cleanStateless(); container(o).lifecycle = { preStop: { httpGet: { path: '/drain', port: 70000 } } }; return o; }],
  ['HA034', () => { const o = cleanStateless(); container(o).image = 'Nginx:1.27'; return o; }],
  ['HA035', () => { const o = cleanStateless(); container(o).livenessProbe = { httpGet: { path: '/readyz', port: 8080 }, failureThreshold: 6 }; return o; }],
  ['HA036', () => { const o = cleanQuorum(); container(o, 'StatefulSet').args = ['--initial-cluster=etcd-0=http://etcd-0.etcd-peers:2380']; return o; }],
];

describe('every rule: a passing and a failing case', () => {
  test('GIVEN the clean fixtures THEN the audit reports nothing', () => {
    expect(HaAuditor.audit([...cleanStateless(), ...cleanQuorum()])).toEqual([]);
  });

  test('docs/audit.md has a row for every rule, with its severity', () => {
    const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'audit.md'), 'utf-8');
    for (const r of HaAuditor.rules()) expect(doc).toContain(`| ${r.id} | ${r.severity} |`);
  });

  test('every rule has a breaking case', () => {
    expect(breakers.map(([id]) => id)).toEqual(HaAuditor.rules().map((r) => r.id));
  });

  test.each(breakers)('%s: WHEN the fixture breaks it THEN exactly that rule fires', (id, broken) => {
    // HA020 breaks the HPA target, which also leaves the Deployment unmanaged: replicas set explicitly above
    expect(idsOf(broken())).toEqual([id]);
  });
});

describe('rule details', () => {
  test('HA022: latest and digest', () => {
    const o = cleanStateless();
    container(o).image = 'shop/web:latest';
    expect(idsOf(o)).toEqual(['HA022']);
    container(o).image = 'shop/web@sha256:' + 'a'.repeat(64);
    expect(idsOf(o)).toEqual([]);
  });

  test('HA004: a 5-member quorum may lose 2 but not 3', () => {
    const o = cleanQuorum();
    byKind(o, 'StatefulSet').spec.replicas = 5;
    byKind(o, 'PodDisruptionBudget').spec.maxUnavailable = 2;
    expect(idsOf(o)).toEqual([]);
    delete byKind(o, 'PodDisruptionBudget').spec.maxUnavailable;
    byKind(o, 'PodDisruptionBudget').spec.minAvailable = 2;
    const f = HaAuditor.audit(o);
    expect(f.map((x) => x.ruleId)).toEqual(['HA004']);
    expect(f[0].message).toBe('minAvailable: 2 allows 3 of 5 members of quorum workload StatefulSet/db/etcd (recognised as etcd: image quay.io/coreos/etcd:v3.5.9) to be evicted; a quorum needs 3');
    expect(f[0].object).toBe('PodDisruptionBudget/db/etcd');
  });

  test('HA004: the quorum annotation must be a majority', () => {
    const o = cleanQuorum();
    byKind(o, 'StatefulSet').metadata.annotations = { 'ha.cdk8s.io/quorum': '1' };
    expect(HaAuditor.audit(o).map((f) => f.message)).toEqual(['declares a quorum of 1 of 3 members, not a majority (2): two partitions could both make progress']);
    byKind(o, 'StatefulSet').metadata.annotations = { 'ha.cdk8s.io/quorum': 'two' };
    expect(HaAuditor.audit(o)[0].message).toMatch(/"two"\) must be "true", "false" or the quorum size/);
  });

  test('quorum detection: annotation false turns it off; a Deployment of etcd is not a quorum workload', () => {
    const o = cleanQuorum();
    byKind(o, 'PodDisruptionBudget').spec.maxUnavailable = 2;
    expect(idsOf(o)).toEqual(['HA004']);
    byKind(o, 'StatefulSet').metadata.annotations = { 'ha.cdk8s.io/quorum': 'false' };
    expect(idsOf(o)).toEqual([]);
  });

  test('quorum detection by image: ha-runtime only with the raft argument, zookeeper always', () => {
    const o = cleanQuorum();
    byKind(o, 'PodDisruptionBudget').spec.maxUnavailable = 2; // unsafe for a quorum, fine otherwise
    container(o, 'StatefulSet').image = 'ghcr.io/cdk8s-ha/ha-runtime:0.1.0';
    container(o, 'StatefulSet').args = ['router'];
    expect(idsOf(o)).toEqual([]);
    container(o, 'StatefulSet').args = ['raft'];
    expect(idsOf(o)).toEqual(['HA004', 'HA036']); // and its peers are plaintext: the runtime has no peer TLS flag yet
    container(o, 'StatefulSet').image = 'zookeeper:3.9.1';
    expect(idsOf(o)).toEqual(['HA004', 'HA036']);
  });

  test('HA011: named ports and exec probes', () => {
    const o = cleanStateless();
    container(o).livenessProbe = { exec: { command: ['true'] } };
    expect(idsOf(o)).toEqual([]);
    container(o).readinessProbe.httpGet.port = 'metrics';
    expect(HaAuditor.audit(o)[0].message).toBe("container 'web': readinessProbe port \"metrics\" matches no containerPort");
  });

  test('PDB selectors: matchExpressions count; a PDB in another namespace does not', () => {
    const o = cleanStateless();
    byKind(o, 'PodDisruptionBudget').spec.selector = { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] };
    expect(idsOf(o)).toEqual([]);
    byKind(o, 'PodDisruptionBudget').metadata.namespace = 'other';
    expect(idsOf(o)).toEqual(['HA002']);
  });

  test('kind: List is flattened', () => {
    expect(HaAuditor.audit([{ apiVersion: 'v1', kind: 'List', items: cleanStateless() }])).toEqual([]);
  });
});

describe('HA032 duplicate objects', () => {
  test('the same kind/namespace/name twice is one finding naming the count; other namespaces and kinds are distinct', () => {
    const o = [...cleanStateless(), ...cleanStateless()];
    const f = HaAuditor.audit(o).filter((x) => x.ruleId === 'HA032');
    expect(f.map((x) => `${x.object}: ${x.message}`)).toEqual([
      'Deployment/shop/web: declared 2 times; kubectl apply keeps only the last',
      'HorizontalPodAutoscaler/shop/web: declared 2 times; kubectl apply keeps only the last',
      'NetworkPolicy/shop/web: declared 2 times; kubectl apply keeps only the last',
      'PodDisruptionBudget/shop/web: declared 2 times; kubectl apply keeps only the last',
      'Service/shop/web: declared 2 times; kubectl apply keeps only the last',
    ]);
    const other = cleanStateless();
    other.forEach((x) => { x.metadata.namespace = 'shop-2'; });
    expect(idsOf([...cleanStateless(), ...other])).toEqual([]);
  });

  test('cluster-scoped kinds ignore the namespace', () => {
    const pc = (ns: string) => ({ apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'critical', namespace: ns }, value: 1000 });
    expect(idsOf([pc('a'), pc('b')])).toEqual(['HA032']);
  });
});

describe('HA033 lifecycle hook ports', () => {
  test.each([
    [{ preStop: { httpGet: { path: '/drain', port: 'http' } } }, undefined],
    [{ preStop: { httpGet: { path: '/drain', port: 8080 } } }, undefined],
    [{ preStop: { exec: { command: ['sleep', '5'] } } }, undefined],
    [{ preStop: { sleep: { seconds: 5 } } }, undefined],
    [{ preStop: { httpGet: { path: '/drain', port: 70000 } } }, "container 'web': preStop hook port 70000 is outside 1-65535"],
    [{ preStop: { tcpSocket: { port: 'admin' } } }, "container 'web': preStop hook port \"admin\" matches no containerPort"],
    [{ postStart: { httpGet: { path: '/warm', port: 9090 } } }, "container 'web': postStart hook port 9090 matches no containerPort"],
  ])('%j -> %s', (lifecycle, message) => {
    const o = cleanStateless();
    container(o).lifecycle = lifecycle;
    expect(HaAuditor.audit(o).map((f) => f.message)).toEqual(message ? [message] : []);
  });
});

describe('HA034 image references (OCI grammar)', () => {
  test.each([
    ['Nginx:1.27', "repository name 'Nginx' must be lowercase"],
    ['nginx:', "the tag after ':' is empty"],
    ['nginx:1.27 ', 'it contains whitespace'],
    ['', 'the image is empty'],
    ['nginx@sha256:abc', 'digest \'sha256:abc\' is not algorithm:hex (e.g. sha256: and 64 hex digits)'],
    ['registry:port/app:1.0', "registry port 'port' is not a number"],
    ['shop//web:1.0', "repository path component '' is not lowercase letters and digits separated by '.', '_', '__' or '-'"],
    ['shop/web-:1.0', "repository path component 'web-' is not lowercase letters and digits separated by '.', '_', '__' or '-'"],
    ['shop/web:-1', "tag '-1' is not [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"],
    ['shop/web@sha256:' + 'a'.repeat(63), `digest 'sha256:${'a'.repeat(63)}' has 63 hex digits; sha256 has 64`],
  ])('%j is invalid: %s', (image, why) => {
    const o = cleanStateless();
    container(o).image = image;
    const f = HaAuditor.audit(o);
    expect(f.map((x) => x.ruleId)).toEqual(['HA034']); // and not HA022 "not pinned" as well
    expect(f[0].message).toBe(`container 'web': image ${JSON.stringify(image)} is not a valid reference: ${why}`);
  });

  test.each([
    'nginx:1.27.3', 'docker.io/library/nginx:1.27.3', 'localhost:5000/shop/web:1.0', 'registry.example.com:443/a/b/c:v1_2.3-rc',
    'Registry.Example.com/shop/web:1.0', '[::1]:5000/web:1.0', 'shop/web__x.y-z:1', 'quay.io/coreos/etcd@sha256:' + 'a'.repeat(64),
    'quay.io/coreos/etcd:v3.5.9@sha256:' + 'b'.repeat(64),
  ])('%j is valid', (image) => {
    const o = cleanStateless();
    container(o).image = image;
    expect(idsOf(o)).toEqual([]);
  });
});

describe('HA035 identical probe handlers', () => {
  test('GIVEN default TCP readiness and liveness on the same port, different timings THEN a warning (HA010 passes them)', () => {
    const o = cleanStateless();
    container(o).readinessProbe = { tcpSocket: { port: 8080 }, periodSeconds: 5 };
    container(o).livenessProbe = { tcpSocket: { port: 'http' }, periodSeconds: 10, failureThreshold: 6 };
    const f = HaAuditor.audit(o);
    expect(f.map((x) => `${x.ruleId} ${x.severity} ${x.message}`)).toEqual([
      "HA035 warning container 'web': readinessProbe and livenessProbe use the same handler (tcp on port \"http\")",
    ]);
  });

  test('different paths, ports or handler kinds pass; fully identical probes are HA010 only', () => {
    const o = cleanStateless();
    container(o).livenessProbe = { httpGet: { path: '/readyz', port: 8080, scheme: 'HTTPS' }, failureThreshold: 6 };
    expect(idsOf(o)).toEqual([]);
    container(o).livenessProbe = { exec: { command: ['/bin/check'] } };
    expect(idsOf(o)).toEqual([]);
    container(o).livenessProbe = { ...container(o).readinessProbe };
    expect(idsOf(o)).toEqual(['HA010']);
  });
});

describe('skips', () => {
  test('per object, with a reason', () => {
    const o = cleanStateless().filter((x) => x.kind !== 'NetworkPolicy');
    byKind(o, 'Deployment').metadata.annotations = { 'ha.cdk8s.io/audit-skip': 'HA029=ingress is filtered by the mesh' };
    expect(HaAuditor.audit(o)).toEqual([]);
  });

  test('per object without a reason or with an unknown id is itself an error (HA000)', () => {
    const o = cleanStateless().filter((x) => x.kind !== 'NetworkPolicy');
    byKind(o, 'Deployment').metadata.annotations = { 'ha.cdk8s.io/audit-skip': 'HA029, HA999=x' };
    const f = HaAuditor.audit(o);
    expect(f.map((x) => `${x.ruleId} ${x.message}`)).toEqual([
      'HA000 ha.cdk8s.io/audit-skip skips HA029 without a reason',
      'HA000 ha.cdk8s.io/audit-skip names unknown rule \'HA999\'',
      'HA029 no NetworkPolicy selects its pods',
    ]);
    expect(f[0].severity).toBe(AuditSeverity.ERROR);
  });

  test('globally, with a reason; bad global skips throw naming the fix', () => {
    const o = cleanStateless().filter((x) => x.kind !== 'NetworkPolicy');
    expect(HaAuditor.audit(o, { skip: [{ ruleId: 'HA029', reason: 'policies are applied by the platform team' }] })).toEqual([]);
    expect(() => HaAuditor.audit(o, { skip: [{ ruleId: 'HA029', reason: ' ' }] })).toThrow(/a reason is required/);
    expect(() => HaAuditor.audit(o, { skip: [{ ruleId: 'HA30', reason: 'x' }] })).toThrow(/unknown rule id 'HA30'/);
  });

  test('warningsAsErrors', () => {
    const o = cleanStateless().filter((x) => x.kind !== 'NetworkPolicy');
    expect(HaAuditor.audit(o)[0].severity).toBe(AuditSeverity.WARNING);
    expect(HaAuditor.audit(o, { warningsAsErrors: true })[0].severity).toBe(AuditSeverity.ERROR);
  });
});
