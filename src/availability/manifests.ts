import { DisruptionBudgetLimit } from './inputs';
import { AvailabilityModel, AvailabilityReport } from './model';
import { flatten, hpasFor, HOSTNAME_KEY, isQuorumWorkload, pdbsFor, quorumRequirement, spreadOn, workloadsOf, ZONE_KEY } from './workloads';

/** Options for modelling the workloads of a set of manifests. */
export interface ManifestAvailabilityOptions {
  /**
   * Zones in the target cluster.
   * @default 3
   */
  readonly zones?: number;
  /**
   * Probability that one pod is up at a random instant.
   * @default 0.99
   */
  readonly podAvailability?: number;
}

/** The availability model of one replicated workload found in manifests. */
export interface WorkloadAvailability {
  /** `Deployment`, `StatefulSet` or `ReplicaSet`. */
  readonly kind: string;
  /** metadata.name. */
  readonly name: string;
  /** metadata.namespace (`default` when unset). */
  readonly namespace: string;
  /** Where the replica count came from: `spec.replicas`, `default` (unset: 1) or `hpa.minReplicas`. */
  readonly replicasSource: string;
  /** The PodDisruptionBudget used (`namespace/name`), if one selects the pods. @default - none */
  readonly disruptionBudgetName?: string;
  /** The model. */
  readonly report: AvailabilityReport;
}

/**
 * Runs the availability model on the Deployments, StatefulSets and ReplicaSets of plain manifest objects (what
 * `cdk8s` synthesizes, `Include`d YAML, Helm output), combining each with the PodDisruptionBudget, the
 * HorizontalPodAutoscaler and the spreading that apply to it.
 *
 * - replicas: an HPA's `minReplicas` (the worst steady state) when one targets the workload, else `spec.replicas`;
 * - quorum: the `ha.cdk8s.io/quorum` annotation (`"true"` for a majority, or the quorum size), or a StatefulSet running
 *   etcd, zookeeper, consul or `ha-runtime raft` (majority);
 * - PDB: the first PodDisruptionBudget in the namespace selecting the pod template's labels (several overlapping
 *   PDBs are an error the audit reports, since the Eviction API then refuses every eviction);
 * - spread: pod anti-affinity and topologySpreadConstraints on `kubernetes.io/hostname` and
 *   `topology.kubernetes.io/zone` selecting the workload's own pods.
 */
export class ManifestAvailability {
  /** Models every replicated workload in `manifests`, in input order. */
  public static analyze(manifests: any[], options: ManifestAvailabilityOptions = {}): WorkloadAvailability[] {
    const objects = flatten(manifests);
    const result: WorkloadAvailability[] = [];
    for (const w of workloadsOf(objects)) {
      if (w.replicas === undefined) continue;
      const hpa = hpasFor(w, objects)[0];
      let replicas = w.replicas;
      let replicasSource = typeof w.obj.spec?.replicas === 'number' ? 'spec.replicas' : 'default';
      if (hpa) {
        replicas = typeof hpa.spec?.minReplicas === 'number' ? hpa.spec.minReplicas : 1;
        replicasSource = 'hpa.minReplicas';
      }
      const pdb = pdbsFor(w, objects)[0];
      let disruptionBudget: DisruptionBudgetLimit | undefined;
      try {
        disruptionBudget = pdb ? DisruptionBudgetLimit.fromSpec(pdb.spec) : undefined;
      } catch {
        disruptionBudget = undefined; // an invalid PDB protects nothing; the audit reports it
      }
      let requiredReady: number | undefined;
      try {
        requiredReady = quorumRequirement(w, replicas);
      } catch {
        requiredReady = undefined; // a malformed annotation falls back to the majority; the audit reports it
      }
      const host = spreadOn(w, HOSTNAME_KEY);
      const zone = spreadOn(w, ZONE_KEY);
      result.push({
        kind: w.kind,
        name: w.name,
        namespace: w.namespace,
        replicasSource,
        disruptionBudgetName: pdb ? `${w.namespace}/${pdb.metadata?.name ?? '?'}` : undefined,
        report: AvailabilityModel.analyze({
          replicas,
          quorum: isQuorumWorkload(w),
          requiredReady,
          disruptionBudget,
          hostnameSpread: host.strictness,
          hostnameMaxSkew: host.maxSkew,
          zoneSpread: zone.strictness,
          zoneMaxSkew: zone.maxSkew,
          zones: options.zones,
          podAvailability: options.podAvailability,
        }),
      });
    }
    return result;
  }

  private constructor() {}
}
