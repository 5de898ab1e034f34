import { AvailabilityModel, DisruptionBudgetLimit, SpreadStrictness } from '../../src';

/** Reference: enumerate all 2^n up/down states of n pods one by one (deliberately simple, exponential). */
function referenceAvailability(n: number, required: number, p: number): number {
  const walk = (i: number, up: number, prob: number): number => {
    if (i === n) return up >= required ? prob : 0;
    return walk(i + 1, up + 1, prob * p) + walk(i + 1, up, prob * (1 - p));
  };
  return walk(0, 0, 1);
}

/** Deterministic PRNG so property tests replay (a 32-bit LCG in exact double arithmetic). */
function rng(seed: number): () => number {
  let state = seed % 4294967296;
  return () => {
    state = (state * 1664525 + 1013904223) % 4294967296;
    return state / 4294967296;
  };
}

describe('quorum math, 1 to 9 members', () => {
  const expected = [
    // members, quorum, member failures tolerated
    [1, 1, 0], [2, 2, 0], [3, 2, 1], [4, 3, 1], [5, 3, 2], [6, 4, 2], [7, 4, 3], [8, 5, 3], [9, 5, 4],
  ];
  test.each(expected)('%i members: quorum %i, tolerates %i', (n, q, f) => {
    expect(AvailabilityModel.quorumSize(n)).toBe(q);
    const r = AvailabilityModel.analyze({ replicas: n, quorum: true });
    expect(r.requiredReady).toBe(q);
    expect(r.memberFailuresTolerated).toBe(f);
  });

  test.each([1, 2, 3, 4, 5, 6, 7, 8, 9])('%i members: binomial sum equals the 2^n enumeration', (n) => {
    for (const p of [0.5, 0.9, 0.99, 0.999]) {
      const q = AvailabilityModel.quorumSize(n);
      const a = AvailabilityModel.steadyStateAvailability(n, q, p);
      expect(a).toBeCloseTo(referenceAvailability(n, q, p), 12);
      expect(a + AvailabilityModel.steadyStateUnavailability(n, q, p)).toBeCloseTo(1, 12);
    }
  });

  test('an even member count adds no failure tolerance and lowers availability', () => {
    const three = AvailabilityModel.analyze({ replicas: 3, quorum: true });
    const four = AvailabilityModel.analyze({ replicas: 4, quorum: true });
    expect(four.memberFailuresTolerated).toBe(three.memberFailuresTolerated);
    expect(four.availability).toBeLessThan(three.availability);
  });

  test('known figures: 3 members at p=0.99 is 3p^2-2p^3, about 3.53 nines', () => {
    const r = AvailabilityModel.analyze({ replicas: 3, quorum: true, podAvailability: 0.99 });
    expect(r.unavailability).toBeCloseTo(1 - (3 * 0.99 ** 2 - 2 * 0.99 ** 3), 14);
    expect(r.nines).toBeCloseTo(-Math.log10(2.98e-4), 6);
  });
});

describe('properties (seeded)', () => {
  const random = rng(20261124);
  test('availability is monotone in p and in n for fixed required, decreasing in required', () => {
    for (let i = 0; i < 300; i++) {
      const n = 1 + Math.floor(random() * 12);
      const req = 1 + Math.floor(random() * n);
      const p1 = random();
      const p2 = Math.min(1, p1 + random() * (1 - p1));
      const a = (nn: number, rr: number, pp: number) => AvailabilityModel.steadyStateAvailability(nn, rr, pp);
      expect(a(n, req, p2)).toBeGreaterThanOrEqual(a(n, req, p1) - 1e-12);
      expect(a(n + 1, req, p1)).toBeGreaterThanOrEqual(a(n, req, p1) - 1e-12);
      if (req < n) expect(a(n, req + 1, p1)).toBeLessThanOrEqual(a(n, req, p1) + 1e-12);
      const up = a(n, req, p1);
      const down = AvailabilityModel.steadyStateUnavailability(n, req, p1);
      expect(up).toBeGreaterThanOrEqual(0);
      expect(down).toBeGreaterThanOrEqual(0);
      expect(up + down).toBeCloseTo(1, 10);
    }
  });

  test('allowed disruptions never exceed replicas and match Kubernetes rounding', () => {
    for (let i = 0; i < 300; i++) {
      const n = Math.floor(random() * 20);
      const pct = Math.floor(random() * 101);
      const count = Math.floor(random() * 25);
      const minPct = DisruptionBudgetLimit.minAvailablePercent(pct).allowedDisruptions(n);
      expect(minPct).toBe(Math.max(0, n - Math.ceil((pct * n) / 100)));
      const maxPct = DisruptionBudgetLimit.maxUnavailablePercent(pct).allowedDisruptions(n);
      expect(maxPct).toBe(Math.min(n, Math.ceil((pct * n) / 100)));
      expect(DisruptionBudgetLimit.minAvailable(count).allowedDisruptions(n)).toBe(Math.max(0, n - count));
      expect(DisruptionBudgetLimit.maxUnavailable(count).allowedDisruptions(n)).toBe(Math.min(n, count));
    }
  });

  test('zone tolerance never claims more than the member tolerance allows', () => {
    for (let i = 0; i < 300; i++) {
      const n = 1 + Math.floor(random() * 15);
      const zones = 1 + Math.floor(random() * 5);
      const skew = 1 + Math.floor(random() * 3);
      const r = AvailabilityModel.analyze({ replicas: n, quorum: true, zones, zoneSpread: SpreadStrictness.REQUIRED, zoneMaxSkew: skew });
      // losing the tolerated zones loses at most the tolerated members, even in the worst placement
      expect(r.zoneFailuresTolerated).toBeLessThan(zones);
      expect(r.zoneFailuresTolerated).toBeLessThanOrEqual(r.memberFailuresTolerated);
    }
  });
});

describe('edge cases', () => {
  test('p = 0 and p = 1', () => {
    expect(AvailabilityModel.steadyStateAvailability(3, 2, 0)).toBe(0);
    expect(AvailabilityModel.steadyStateAvailability(3, 2, 1)).toBe(1);
    const perfect = AvailabilityModel.analyze({ replicas: 3, quorum: true, podAvailability: 1 });
    expect(perfect.unavailability).toBe(0);
    expect(perfect.nines).toBe(Infinity);
    expect(AvailabilityModel.analyze({ replicas: 3, podAvailability: 0 }).nines).toBe(0);
  });

  test('required > replicas can never be available', () => {
    const r = AvailabilityModel.analyze({ replicas: 2, requiredReady: 3 });
    expect(r.availability).toBe(0);
    expect(r.memberFailuresTolerated).toBe(0);
    expect(r.nodeFailuresTolerated).toBe(0);
    expect(r.zoneFailuresTolerated).toBe(0);
  });

  test('0 replicas is never available', () => {
    expect(AvailabilityModel.analyze({ replicas: 0 }).availability).toBe(0);
  });

  test('precision near 1: 9 members at p=0.9999 keeps the failure tail', () => {
    const u = AvailabilityModel.steadyStateUnavailability(9, 5, 0.9999);
    // dominant term C(9,5) (1e-4)^5 (0.9999)^4
    expect(u).toBeGreaterThan(0);
    expect(u / (126 * 1e-20 * 0.9999 ** 4)).toBeCloseTo(1, 3);
    expect(AvailabilityModel.ninesFromUnavailability(u)).toBeGreaterThan(17);
  });

  test.each([
    [() => AvailabilityModel.analyze({ replicas: -1 }), /replicas \(-1\) must be a non-negative integer/],
    [() => AvailabilityModel.analyze({ replicas: 2.5 }), /replicas \(2.5\)/],
    [() => AvailabilityModel.analyze({ replicas: 3, podAvailability: 1.5 }), /podAvailability \(1.5\) must be a probability/],
    [() => AvailabilityModel.analyze({ replicas: 3, zones: 0 }), /zones \(0\) must be an integer >= 1/],
    [() => AvailabilityModel.analyze({ replicas: 3, requiredReady: 0 }), /requiredReady \(0\)/],
    [() => DisruptionBudgetLimit.minAvailablePercent(150), /minAvailable percentage \(150\)/],
    [() => DisruptionBudgetLimit.fromSpec({ minAvailable: 1, maxUnavailable: 1 }), /both minAvailable \(1\) and maxUnavailable \(1\)/],
    [() => DisruptionBudgetLimit.fromSpec({ maxUnavailable: 'one' }), /maxUnavailable \("one"\) must be an integer or a percentage/],
  ])('bad input is rejected with a clear error (%#)', (fn, message) => {
    expect(fn).toThrow(message);
  });
});

describe('failure tolerance by placement', () => {
  test('required hostname anti-affinity: one member per node, node tolerance = member tolerance', () => {
    const r = AvailabilityModel.analyze({ replicas: 5, quorum: true, hostnameSpread: SpreadStrictness.REQUIRED });
    expect(r.nodeFailuresTolerated).toBe(2);
  });

  test('preferred spreading promises nothing: the worst placement is one node and one zone', () => {
    const r = AvailabilityModel.analyze({
      replicas: 5, quorum: true, hostnameSpread: SpreadStrictness.PREFERRED, zoneSpread: SpreadStrictness.PREFERRED,
    });
    expect(r.nodeFailuresTolerated).toBe(0);
    expect(r.zoneFailuresTolerated).toBe(0);
  });

  test('required zone spread, maxSkew 1: 3 members over 3 zones tolerate 1 zone, 5 over 3 tolerate 1, 3 over 2 tolerate 0', () => {
    expect(AvailabilityModel.analyze({ replicas: 3, quorum: true, zoneSpread: SpreadStrictness.REQUIRED }).zoneFailuresTolerated).toBe(1);
    expect(AvailabilityModel.analyze({ replicas: 5, quorum: true, zoneSpread: SpreadStrictness.REQUIRED }).zoneFailuresTolerated).toBe(1);
    expect(AvailabilityModel.analyze({ replicas: 3, quorum: true, zones: 2, zoneSpread: SpreadStrictness.REQUIRED }).zoneFailuresTolerated).toBe(0);
  });

  test('a larger maxSkew allows a worse placement: 6 stateless pods over 3 zones, maxSkew 2', () => {
    // skew 1 allows at most 2 per zone (2,2,2); skew 2 allows (3,2,1): one lost zone then costs 3 pods
    expect(AvailabilityModel.domainFailuresTolerated(6, 2, SpreadStrictness.REQUIRED, 1, 3)).toBe(1);
    expect(AvailabilityModel.domainFailuresTolerated(6, 2, SpreadStrictness.REQUIRED, 2, 3)).toBe(0);
    expect(AvailabilityModel.domainFailuresTolerated(6, 4, SpreadStrictness.REQUIRED, 1, 3)).toBe(2);
  });

  test('stateless: needs 1 ready pod, tolerates n-1', () => {
    const r = AvailabilityModel.analyze({ replicas: 3, disruptionBudget: DisruptionBudgetLimit.maxUnavailable(1) });
    expect(r.requiredReady).toBe(1);
    expect(r.memberFailuresTolerated).toBe(2);
    expect(r.allowedDisruptions).toBe(1);
    expect(r.disruptionsKeepRequired).toBe(true);
  });

  test('a PDB allowing 2 disruptions of a 3-member quorum does not keep the quorum', () => {
    const r = AvailabilityModel.analyze({ replicas: 3, quorum: true, disruptionBudget: DisruptionBudgetLimit.maxUnavailablePercent(50) });
    expect(r.allowedDisruptions).toBe(2); // ceil(1.5)
    expect(r.disruptionsKeepRequired).toBe(false);
  });
});
