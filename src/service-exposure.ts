import * as kplus from 'cdk8s-plus-28';
import { checkCidr, checkUnique, fail } from './private/validate';

/** How a LoadBalancer or NodePort Service routes external traffic to nodes. */
export enum ExternalTrafficPolicy {
  /** Any node forwards to any ready pod: even load, but a second hop and the client IP is lost. */
  CLUSTER = 'Cluster',
  /**
   * Only nodes with a ready pod receive traffic: keeps the client IP and one hop, but load follows the pod
   * count per node (spread the pods) and depends on the load balancer's node health checks.
   */
  LOCAL = 'Local',
}

/** Options of an externally reachable Service. */
export interface ExternalExposureOptions {
  /**
   * External traffic policy.
   * @default ExternalTrafficPolicy.CLUSTER
   */
  readonly externalTrafficPolicy?: ExternalTrafficPolicy;
  /**
   * Client CIDRs the load balancer admits (LoadBalancer only).
   * @default - every client
   */
  readonly loadBalancerSourceRanges?: string[];
}

/** How the Service of a pattern is exposed: `ServiceExposure.loadBalancer()`, `.clusterIp()`, `.nodePort()`. */
export class ServiceExposure {
  /** A cloud load balancer (type LoadBalancer). */
  public static loadBalancer(options: ExternalExposureOptions = {}): ServiceExposure {
    const policy = options.externalTrafficPolicy ?? ExternalTrafficPolicy.CLUSTER;
    return new ServiceExposure(kplus.ServiceType.LOAD_BALANCER, policy, options.loadBalancerSourceRanges);
  }

  /** In-cluster only (type ClusterIP). */
  public static clusterIp(): ServiceExposure {
    return new ServiceExposure(kplus.ServiceType.CLUSTER_IP, undefined, undefined);
  }

  /** A port on every node (type NodePort). */
  public static nodePort(options: ExternalExposureOptions = {}): ServiceExposure {
    if (options.loadBalancerSourceRanges) {
      throw new Error('ServiceExposure.nodePort: loadBalancerSourceRanges only applies to ServiceExposure.loadBalancer(); restrict NodePort clients with a NetworkPolicy');
    }
    return new ServiceExposure(kplus.ServiceType.NODE_PORT, options.externalTrafficPolicy ?? ExternalTrafficPolicy.CLUSTER, undefined);
  }

  private constructor(
    /** The Service type. */
    public readonly type: kplus.ServiceType,
    /** The external traffic policy, undefined for ClusterIP. */
    public readonly externalTrafficPolicy?: ExternalTrafficPolicy,
    /** Client CIDRs admitted by the load balancer, undefined for every client. */
    public readonly loadBalancerSourceRanges?: string[],
  ) {}

  /**
   * Checks the source ranges, naming the prop of the construct that uses this exposure.
   * @internal
   */
  public _validate(owner: string, prop: string): void {
    const ranges = this.loadBalancerSourceRanges;
    if (ranges === undefined) return;
    if (ranges.length === 0) fail(owner, `${prop} loadBalancerSourceRanges`, [], 'is empty, which a load balancer reads as every client', 'omit it to admit every client on purpose');
    ranges.forEach((r, i) => checkCidr(owner, `${prop} loadBalancerSourceRanges[${i}]`, r));
    checkUnique(owner, `${prop} loadBalancerSourceRanges`, ranges);
  }
}

/** Session affinity of a Service. */
export enum SessionAffinity {
  /** Each connection may go to any ready pod. */
  NONE = 'None',
  /** Connections from one client IP stick to one pod (for `sessionAffinityTimeoutSeconds`). */
  CLIENT_IP = 'ClientIP',
}
