// The ONE place for quorum and disruption-budget arithmetic in src/: every construct, the availability model and
// the audit use it (test/util keeps its own independent oracle on purpose).

/** Members a majority quorum of `members` needs: `floor(members/2)+1` (Raft paper, section 5.2). */
export function majorityQuorum(members: number): number {
  return Math.floor(members / 2) + 1;
}

/** Member failures a majority quorum of `members` survives: `members - majorityQuorum(members)`. */
export function majorityFailureTolerance(members: number): number {
  return members - majorityQuorum(members);
}

/** Which field a PodDisruptionBudget limit sets. */
export type BudgetField = 'minAvailable' | 'maxUnavailable';

/**
 * Evictions the Eviction API allows when all `replicas` pods are healthy: `currentHealthy - desiredHealthy`,
 * clamped to [0, replicas]. Percentages round up for both fields, as the disruption controller rounds them.
 * @see https://kubernetes.io/docs/tasks/run-application/configure-pdb/#rounding-logic-when-specifying-percentages
 */
export function allowedDisruptions(field: BudgetField, value: number, isPercent: boolean, replicas: number): number {
  const scaled = isPercent ? Math.ceil((value * replicas) / 100) : value;
  const desiredHealthy = field === 'minAvailable' ? scaled : replicas - scaled;
  return Math.min(replicas, Math.max(0, replicas - desiredHealthy));
}
