import { checkCount, checkPositive, checkProbability } from './checks';
import { DisruptionBudgetLimit, SpreadStrictness } from './inputs';
import { majorityQuorum } from '../private/quorum';

/** Inputs of the availability model. */
export interface AvailabilityInput {
  /** Number of pods (members). For an autoscaled workload pass the HPA's `minReplicas`: the worst steady state. */
  readonly replicas: number;
  /**
   * Whether the workload is a majority-quorum system (Raft, Paxos, ZAB): it needs `floor(replicas/2)+1` members.
   * @default false
   */
  readonly quorum?: boolean;
  /**
   * Pods that must be ready for the workload to serve. Overrides the majority when `quorum` is set.
   * @default - floor(replicas/2)+1 when `quorum`, otherwise 1 (a stateless service serves from any ready pod)
   */
  readonly requiredReady?: number;
  /**
   * The PodDisruptionBudget selecting the pods.
   * @default - no PDB: a drain may evict every pod at once
   */
  readonly disruptionBudget?: DisruptionBudgetLimit;
  /**
   * Spreading over nodes (`kubernetes.io/hostname`).
   * @default SpreadStrictness.NONE
   */
  readonly hostnameSpread?: SpreadStrictness;
  /**
   * `maxSkew` of the hostname constraint; required anti-affinity is `maxSkew` 1.
   * @default 1
   */
  readonly hostnameMaxSkew?: number;
  /**
   * Spreading over zones (`topology.kubernetes.io/zone`).
   * @default SpreadStrictness.NONE
   */
  readonly zoneSpread?: SpreadStrictness;
  /**
   * `maxSkew` of the zone constraint; required anti-affinity is `maxSkew` 1.
   * @default 1
   */
  readonly zoneMaxSkew?: number;
  /**
   * Number of zones in the cluster the pods can use.
   * @default 3
   */
  readonly zones?: number;
  /**
   * Probability that one pod is up at a random instant (independent failures).
   * @default 0.99
   */
  readonly podAvailability?: number;
}

/** What the availability model derives for one workload. */
export interface AvailabilityReport {
  /** Pods (members) modelled. */
  readonly replicas: number;
  /** Pods that must be ready for the workload to serve (the quorum for a quorum workload). */
  readonly requiredReady: number;
  /** Whether the workload was modelled as a majority-quorum system. */
  readonly quorum: boolean;
  /** Pod (member) failures tolerated: `max(0, replicas - requiredReady)`. */
  readonly memberFailuresTolerated: number;
  /** Node failures tolerated under the worst placement the hostname constraint allows. */
  readonly nodeFailuresTolerated: number;
  /** Zone failures tolerated under the worst placement the zone constraint allows over `zones` zones. */
  readonly zoneFailuresTolerated: number;
  /** Zones modelled. */
  readonly zones: number;
  /** Voluntary evictions allowed at once with every pod healthy (`replicas` when there is no PDB). */
  readonly allowedDisruptions: number;
  /** Whether a PDB selects the pods. */
  readonly hasDisruptionBudget: boolean;
  /** Whether draining as many pods as the PDB allows still leaves `requiredReady` pods. */
  readonly disruptionsKeepRequired: boolean;
  /** Per-pod availability `p` used. */
  readonly podAvailability: number;
  /** Steady-state availability: P(at least `requiredReady` of `replicas` pods up). */
  readonly availability: number;
  /** `1 - availability`, computed directly from the failure tail so it stays accurate near 0. */
  readonly unavailability: number;
  /** `-log10(unavailability)`; `Infinity` when the workload cannot fail (p = 1). */
  readonly nines: number;
}

/**
 * The availability model: failure tolerance, allowed voluntary disruptions and steady-state availability of a
 * replicated workload. Pure functions; see docs/availability.md for the formulas.
 */
export class AvailabilityModel {
  /** Majority quorum of `members`: `floor(members/2)+1`. */
  public static quorumSize(members: number): number {
    checkCount('members', members);
    return majorityQuorum(members);
  }

  /**
   * Probability that at least `required` of `replicas` independent pods, each up with probability `p`, are up:
   * `sum_{k>=required} C(n,k) p^k (1-p)^(n-k)`.
   */
  public static steadyStateAvailability(replicas: number, required: number, p: number): number {
    return tails(replicas, required, p).up;
  }

  /**
   * `1 - steadyStateAvailability(...)`, summed over the failure tail `k < required` so it keeps its precision when
   * the availability is close to 1.
   */
  public static steadyStateUnavailability(replicas: number, required: number, p: number): number {
    return tails(replicas, required, p).down;
  }

  /** "Nines" of an unavailability `u`: `-log10(u)` (0.001 -> 3). `Infinity` for 0. */
  public static ninesFromUnavailability(unavailability: number): number {
    if (!(unavailability >= 0 && unavailability <= 1)) {
      throw new Error(`unavailability (${unavailability}) must be within [0, 1]`);
    }
    return unavailability === 0 ? Infinity : Math.max(0, -Math.log10(unavailability));
  }

  /**
   * Most domains (nodes or zones) that can fail while at most `tolerated` pods are lost, under the worst
   * placement of `replicas` pods that `strictness` and `maxSkew` allow over `domains` domains
   * (pass a large `domains`, e.g. `replicas`, for nodes).
   */
  public static domainFailuresTolerated(replicas: number, tolerated: number, strictness: SpreadStrictness, maxSkew: number, domains: number): number {
    checkCount('replicas', replicas);
    checkPositive('maxSkew', maxSkew);
    checkPositive('domains', domains);
    if (tolerated < 0) return 0;
    let k = 0;
    while (k < domains && worstLossInDomains(replicas, k + 1, strictness, maxSkew, domains) <= tolerated) k++;
    return k;
  }

  /** Runs the whole model on plain parameters. */
  public static analyze(input: AvailabilityInput): AvailabilityReport {
    const replicas = checkCount('replicas', input.replicas);
    const quorum = input.quorum ?? false;
    const requiredReady = input.requiredReady ?? (quorum ? majorityQuorum(replicas) : 1);
    checkPositive('requiredReady', requiredReady);
    const zones = input.zones ?? 3;
    checkPositive('zones', zones);
    const p = input.podAvailability ?? 0.99;
    checkProbability(p);
    const hostnameSpread = input.hostnameSpread ?? SpreadStrictness.NONE;
    const zoneSpread = input.zoneSpread ?? SpreadStrictness.NONE;
    const hostnameMaxSkew = input.hostnameMaxSkew ?? 1;
    const zoneMaxSkew = input.zoneMaxSkew ?? 1;

    const tolerated = replicas - requiredReady;
    const memberFailuresTolerated = Math.max(0, tolerated);
    // Nodes: assume at least `replicas` nodes exist, so the emptiest node holds 0 pods.
    const nodeFailuresTolerated = AvailabilityModel.domainFailuresTolerated(
      replicas, tolerated, hostnameSpread, hostnameMaxSkew, Math.max(replicas, 1));
    const zoneFailuresTolerated = AvailabilityModel.domainFailuresTolerated(replicas, tolerated, zoneSpread, zoneMaxSkew, zones);

    const budget = input.disruptionBudget;
    const allowedDisruptions = budget ? budget.allowedDisruptions(replicas) : replicas;
    const t = tails(replicas, requiredReady, p);
    return {
      replicas,
      requiredReady,
      quorum,
      memberFailuresTolerated,
      nodeFailuresTolerated,
      zoneFailuresTolerated,
      zones,
      allowedDisruptions,
      hasDisruptionBudget: budget !== undefined,
      disruptionsKeepRequired: replicas - allowedDisruptions >= requiredReady,
      podAvailability: p,
      availability: t.up,
      unavailability: t.down,
      nines: AvailabilityModel.ninesFromUnavailability(t.down),
    };
  }

  private constructor() {}
}

/**
 * Largest number of pods that `lost` domains can hold under the worst placement. With a required constraint every
 * domain holds between `a` and `a + maxSkew` pods for some `a` with `domains*a <= n <= domains*(a+maxSkew)`; the
 * `lost` fullest domains then hold at most `min(lost*(a+maxSkew), n - (domains-lost)*a)`. Without one, one domain
 * can hold every pod.
 */
function worstLossInDomains(n: number, lost: number, strictness: SpreadStrictness, maxSkew: number, domains: number): number {
  if (lost >= domains) return n;
  if (strictness !== SpreadStrictness.REQUIRED) return n;
  let worst = 0;
  for (let a = 0; a * domains <= n; a++) {
    if (n > domains * (a + maxSkew)) continue;
    worst = Math.max(worst, Math.min(lost * (a + maxSkew), n - (domains - lost) * a));
  }
  return worst;
}

/** Both binomial tails, each summed directly so neither loses precision to `1 - x`. */
function tails(n: number, required: number, p: number): { up: number; down: number } {
  checkCount('replicas', n);
  checkProbability(p);
  if (!Number.isInteger(required)) throw new Error(`required (${required}) must be an integer`);
  if (required <= 0) return { up: 1, down: 0 };
  if (required > n) return { up: 0, down: 1 };
  if (p === 1) return { up: 1, down: 0 };
  if (p === 0) return { up: 0, down: 1 };
  const logP = Math.log(p);
  const logQ = Math.log1p(-p);
  let logC = 0; // log C(n, k), built incrementally
  let up = 0;
  let down = 0;
  for (let k = 0; k <= n; k++) {
    if (k > 0) logC += Math.log((n - k + 1) / k);
    const term = Math.exp(logC + k * logP + (n - k) * logQ);
    if (k >= required) up += term; else down += term;
  }
  return { up: Math.min(1, up), down: Math.min(1, down) };
}

