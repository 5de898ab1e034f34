import { AvailabilityModel, ManifestAvailability, SpreadStrictness } from '../../src';
import { cleanQuorum, cleanStateless, byKind } from '../audit/fixtures';

describe('ManifestAvailability: the model from manifest objects', () => {
  test('GIVEN a 3-member etcd StatefulSet with required node anti-affinity and preferred zone spread', () => {
    const [m] = ManifestAvailability.analyze(cleanQuorum());
    expect(m).toMatchObject({ kind: 'StatefulSet', name: 'etcd', namespace: 'db', replicasSource: 'spec.replicas', disruptionBudgetName: 'db/etcd' });
    expect(m.report).toMatchObject({
      replicas: 3,
      quorum: true,
      requiredReady: 2,
      memberFailuresTolerated: 1,
      nodeFailuresTolerated: 1, // required anti-affinity: one member per node
      zoneFailuresTolerated: 0, // ScheduleAnyway promises nothing
      allowedDisruptions: 1,
      disruptionsKeepRequired: true,
    });
    expect(m.report.availability).toBeCloseTo(AvailabilityModel.steadyStateAvailability(3, 2, 0.99), 15);
  });

  test('WHEN the zone spread becomes DoNotSchedule THEN one zone loss is tolerated', () => {
    const objs = cleanQuorum();
    byKind(objs, 'StatefulSet').spec.template.spec.topologySpreadConstraints[0].whenUnsatisfiable = 'DoNotSchedule';
    expect(ManifestAvailability.analyze(objs)[0].report.zoneFailuresTolerated).toBe(1);
    expect(ManifestAvailability.analyze(objs, { zones: 2 })[0].report.zoneFailuresTolerated).toBe(0);
  });

  test('an anti-affinity term selecting other pods does not spread this workload', () => {
    const objs = cleanQuorum();
    byKind(objs, 'StatefulSet').spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector = { matchLabels: { app: 'other' } };
    expect(ManifestAvailability.analyze(objs)[0].report.nodeFailuresTolerated).toBe(0);
  });

  test('an HPA-managed Deployment is modelled at minReplicas; a percentage PDB rounds up', () => {
    const objs = cleanStateless();
    byKind(objs, 'PodDisruptionBudget').spec = { maxUnavailable: '34%', selector: { matchLabels: { app: 'web' } } };
    const [m] = ManifestAvailability.analyze(objs, { podAvailability: 0.9 });
    expect(m.replicasSource).toBe('hpa.minReplicas');
    expect(m.report).toMatchObject({ replicas: 3, quorum: false, requiredReady: 1, allowedDisruptions: 2 }); // ceil(1.02)
    expect(m.report.unavailability).toBeCloseTo(0.001, 15);
  });

  test('the quorum annotation sets the quorum size; no PDB means every pod may be evicted', () => {
    const objs = cleanQuorum().filter((o) => o.kind !== 'PodDisruptionBudget');
    byKind(objs, 'StatefulSet').spec.replicas = 5;
    byKind(objs, 'StatefulSet').metadata.annotations = { 'ha.cdk8s.io/quorum': '4' };
    const [m] = ManifestAvailability.analyze(objs);
    expect(m.report).toMatchObject({
      requiredReady: 4, memberFailuresTolerated: 1, hasDisruptionBudget: false, allowedDisruptions: 5, disruptionsKeepRequired: false,
    });
    expect(m.disruptionBudgetName).toBeUndefined();
  });

  test('kinds without replicas (DaemonSet, Job) are not modelled', () => {
    const ds = { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [] } } } };
    expect(ManifestAvailability.analyze([ds])).toEqual([]);
    expect(SpreadStrictness.REQUIRED).toBe('REQUIRED');
  });
});
