import { Testing } from 'cdk8s';
import { HaPodDisruptionBudget } from '../src';

describe('HaPodDisruptionBudget', () => {
  const make = (props: Partial<ConstructorParameters<typeof HaPodDisruptionBudget>[2]>) =>
    new HaPodDisruptionBudget(Testing.chart(), 'pdb', { matchLabels: { app: 'x' }, replicas: 5, ...props });

  test('GIVEN a quorum of 3 of 5 THEN up to 2 disruptions are allowed, 3 are not', () => {
    expect(make({ minimumHealthy: 3, maxUnavailable: 2 }).allowedDisruptions).toBe(2);
    expect(() => make({ minimumHealthy: 3, maxUnavailable: 3 }))
      .toThrow('pdb: the disruption budget allows 3 of 5 pods down, leaving fewer than the 3 required (quorum); use maxUnavailable: 2');
  });

  test('GIVEN minAvailable THEN allowed disruptions are replicas - minAvailable', () => {
    expect(make({ minAvailable: 4 }).allowedDisruptions).toBe(1);
    expect(() => make({ minAvailable: 5 })).toThrow('pdb: minAvailable (5) with 5 replicas allows no voluntary disruption');
  });

  test('rejects negative or fractional values', () => {
    expect(() => make({ maxUnavailable: -1 })).toThrow('pdb: maxUnavailable (-1) must be a non-negative integer');
    expect(() => make({ minAvailable: 1.5 })).toThrow('pdb: minAvailable (1.5) must be a non-negative integer');
  });

  test('renders policy/v1 with AlwaysAllow and a name when given', () => {
    const chart = Testing.chart();
    new HaPodDisruptionBudget(chart, 'pdb', { matchLabels: { app: 'x' }, replicas: 3, name: 'x' });
    expect(Testing.synth(chart)).toEqual([{
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'x' },
      spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'x' } }, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
    }]);
  });
});
