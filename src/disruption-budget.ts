import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { allowedDisruptions } from './private/quorum';

/** Props of `HaPodDisruptionBudget`. Set at most one of `maxUnavailable` and `minAvailable`. */
export interface HaPodDisruptionBudgetProps {
  /** Labels that select exactly the pods of the protected workload. */
  readonly matchLabels: { [key: string]: string };
  /** Pods the workload runs in steady state (its replicas, or the autoscaler's minReplicas). */
  readonly replicas: number;
  /**
   * Pods that must stay up for the workload to serve: the Raft quorum, or the capacity a stateless service
   * needs. The budget is rejected if a voluntary disruption could go below it.
   * @default 1
   */
  readonly minimumHealthy?: number;
  /**
   * Pods a voluntary disruption (drain, eviction) may take down at once.
   * @default 1 (when minAvailable is unset)
   */
  readonly maxUnavailable?: number;
  /**
   * Pods that must stay available during a voluntary disruption. Prefer maxUnavailable: it stays correct
   * when the workload scales.
   * @default - unset (maxUnavailable is used)
   */
  readonly minAvailable?: number;
  /**
   * metadata.name of the PodDisruptionBudget.
   * @default - a unique generated name
   */
  readonly name?: string;
  /**
   * Name of the owning construct, used in error messages.
   * @default - the construct id
   */
  readonly ownerName?: string;
}

/**
 * A `policy/v1` PodDisruptionBudget that is never a trap: it always allows at least one voluntary
 * disruption (a budget that allows none blocks every node drain and cluster upgrade) and never lets a
 * disruption go below `minimumHealthy` (the quorum). `unhealthyPodEvictionPolicy: AlwaysAllow` lets a drain
 * evict pods that are already unhealthy, so a crash-looping pod cannot block maintenance.
 */
export class HaPodDisruptionBudget extends Construct {
  /** The rendered L1 object, for escape hatches. */
  public readonly apiObject: k8s.KubePodDisruptionBudget;
  /** Voluntary disruptions the budget allows with every pod healthy. */
  public readonly allowedDisruptions: number;

  constructor(scope: Construct, id: string, props: HaPodDisruptionBudgetProps) {
    super(scope, id);
    const owner = props.ownerName ?? id;
    const replicas = props.replicas;
    const minimumHealthy = props.minimumHealthy ?? 1;
    if (props.maxUnavailable !== undefined && props.minAvailable !== undefined) {
      throw new Error(`${owner}: set only one of maxUnavailable (${props.maxUnavailable}) and minAvailable (${props.minAvailable}); the API accepts one`);
    }
    for (const [key, v] of [['maxUnavailable', props.maxUnavailable], ['minAvailable', props.minAvailable]] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw new Error(`${owner}: ${key} (${v}) must be a non-negative integer`);
    }
    const maxUnavailable = props.minAvailable === undefined ? props.maxUnavailable ?? 1 : undefined;
    this.allowedDisruptions = maxUnavailable !== undefined
      ? allowedDisruptions('maxUnavailable', maxUnavailable, false, replicas)
      : allowedDisruptions('minAvailable', props.minAvailable!, false, replicas);
    if (this.allowedDisruptions < 1) {
      const setting = maxUnavailable !== undefined ? `maxUnavailable (${maxUnavailable})` : `minAvailable (${props.minAvailable}) with ${replicas} replicas`;
      throw new Error(`${owner}: ${setting} allows no voluntary disruption, so every node drain would block; use maxUnavailable: 1`);
    }
    if (replicas - this.allowedDisruptions < minimumHealthy) {
      throw new Error(`${owner}: the disruption budget allows ${this.allowedDisruptions} of ${replicas} pods down, leaving fewer than the ${minimumHealthy} required (quorum); use maxUnavailable: ${Math.max(1, replicas - minimumHealthy)}`);
    }
    this.apiObject = new k8s.KubePodDisruptionBudget(this, 'Resource', {
      metadata: props.name === undefined ? {} : { name: props.name },
      spec: {
        selector: { matchLabels: { ...props.matchLabels } },
        maxUnavailable: maxUnavailable !== undefined ? k8s.IntOrString.fromNumber(maxUnavailable) : undefined,
        minAvailable: props.minAvailable !== undefined ? k8s.IntOrString.fromNumber(props.minAvailable) : undefined,
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
    });
  }

  /** The PodDisruptionBudget's name. */
  public get name(): string {
    return this.apiObject.name;
  }
}
