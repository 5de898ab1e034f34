import { Testing } from 'cdk8s';
import { AvailabilityModel, HighlyAvailableService, RaftCluster, SpreadMode } from '../src';

describe('patterns expose the availability model of what they render', () => {
  test('GIVEN a default HighlyAvailableService THEN 3 replicas, 1 required, 1 disruption, 2 node losses tolerated', () => {
    const svc = new HighlyAvailableService(Testing.chart(), 'web', { image: 'web:1.0' });
    const r = svc.availability({ podAvailability: 0.99 });
    expect(r).toMatchObject({
      replicas: 3,
      requiredReady: 1,
      quorum: false,
      memberFailuresTolerated: 2,
      allowedDisruptions: 1,
      hasDisruptionBudget: true,
      disruptionsKeepRequired: true,
      nodeFailuresTolerated: 2,
    });
    expect(r.unavailability).toBeCloseTo(0.01 ** 3, 12);
  });

  test('GIVEN an autoscaled service THEN the model uses the autoscaler minimum', () => {
    const svc = new HighlyAvailableService(Testing.chart(), 'web', { image: 'web:1.0', autoscaling: { minReplicas: 2, maxReplicas: 8 } });
    expect(svc.availability().replicas).toBe(2);
  });

  test('GIVEN node spread turned off THEN node failures are no longer tolerated by placement', () => {
    const svc = new HighlyAvailableService(Testing.chart(), 'web', {
      image: 'web:1.0', nodeSpread: SpreadMode.OFF, zoneSpread: SpreadMode.OFF,
    });
    // The preferred anti-affinity remains, which guarantees nothing under the worst placement.
    expect(svc.availability().nodeFailuresTolerated).toBe(0);
  });

  test.each([[3, 2, 1], [5, 3, 2], [7, 4, 3]])('GIVEN a %i-member RaftCluster THEN quorum %i, %i failures, drains keep the quorum', (members, quorum, tolerated) => {
    const cluster = new RaftCluster(Testing.chart(), 'kv', { name: 'kv', members });
    const r = cluster.availability({ podAvailability: 0.99 });
    expect(r).toMatchObject({
      replicas: members,
      quorum: true,
      requiredReady: quorum,
      memberFailuresTolerated: tolerated,
      nodeFailuresTolerated: tolerated,
      allowedDisruptions: tolerated,
      disruptionsKeepRequired: true,
    });
    expect(r.availability).toBeCloseTo(AvailabilityModel.steadyStateAvailability(members, quorum, 0.99), 12);
    expect(cluster.quorum).toBe(r.requiredReady);
  });

  test('the README table: 3 members give 3.53 nines and 5 members 5.01 at p = 0.99', () => {
    const nines = (members: number) => new RaftCluster(Testing.chart(), 'kv', { name: 'kv', members }).availability({ podAvailability: 0.99 }).nines;
    expect(nines(3).toFixed(2)).toBe('3.53');
    expect(nines(5).toFixed(2)).toBe('5.01');
  });
});
