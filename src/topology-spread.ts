/**
 * How strictly pods spread over a topology (nodes or zones), rendered as a `topologySpreadConstraint`
 * with maxSkew 1.
 */
export enum SpreadMode {
  /**
   * `whenUnsatisfiable: DoNotSchedule`: a pod stays Pending rather than break the spread. Still schedulable on
   * a one-node or one-zone cluster (one domain never has a skew), but a full or unfit node counts as a domain,
   * so it can hold back a scale-up. Only nodes carrying the topology label are eligible: on a cluster whose nodes
   * have no `topology.kubernetes.io/zone` label (kind, minikube, many bare-metal clusters) a REQUIRED zone
   * spread leaves every pod Pending.
   */
  REQUIRED = 'DoNotSchedule',
  /** `whenUnsatisfiable: ScheduleAnyway`: the scheduler prefers spreading but never leaves a pod Pending for it. */
  PREFERRED = 'ScheduleAnyway',
  /** No constraint on this topology. */
  OFF = 'Off',
}
