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
];

describe('every rule: a passing and a failing case', () => {
  test('GIVEN the clean fixtures THEN the audit reports nothing', () => {
    expect(HaAuditor.audit([...cleanStateless(), ...cleanQuorum()])).toEqual([]);
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
    expect(f[0].message).toBe('minAvailable: 2 allows 3 of 5 members of quorum workload StatefulSet/db/etcd to be evicted; a quorum needs 3');
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
    expect(idsOf(o)).toEqual(['HA004']);
    container(o, 'StatefulSet').image = 'zookeeper:3.9.1';
    expect(idsOf(o)).toEqual(['HA004']);
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
