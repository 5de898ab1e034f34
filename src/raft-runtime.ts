import { HaProbe } from './probes';

/**
 * How a generic Raft/Paxos image (etcd, ...) takes its member id, peers and data dir. Strings may use these
 * placeholders, filled in per member: `{id}` (the member name = pod name), `{namespace}`, `{peerService}`,
 * `{clientService}`, `{dataDir}`, `{clientPort}`, `{peerPort}`, `{clusterName}` and `{initialCluster}`
 * (every member rendered with `initialClusterMember`, joined with commas, in ordinal order).
 * `{id}` and `{namespace}` become Kubernetes `$(VAR)` references, expanded by the kubelet.
 */
export interface GenericRaftRuntimeOptions {
  /** Container arguments, with placeholders. */
  readonly args: string[];
  /**
   * Container command (entrypoint), with placeholders.
   * @default - the image's ENTRYPOINT
   */
  readonly command?: string[];
  /**
   * Environment variables, with placeholders.
   * @default - none besides the member id and namespace
   */
  readonly env?: { [name: string]: string };
  /**
   * Template of one `{initialCluster}` entry; `{member}` is that member's name.
   * @default '{member}={member}.{peerService}.{namespace}.svc:{peerPort}'
   */
  readonly initialClusterMember?: string;
  /**
   * Readiness probe (should mean: member of a quorum, caught up).
   * @default HaProbe.tcp() on the client port
   */
  readonly readiness?: HaProbe;
  /**
   * Liveness probe.
   * @default HaProbe.tcp() on the client port
   */
  readonly liveness?: HaProbe;
  /**
   * Startup probe.
   * @default HaProbe.tcp() on the client port
   */
  readonly startup?: HaProbe;
}

/** What runs in each member: `RaftRuntime.haRuntime()` (this project's image) or `RaftRuntime.generic(...)`. */
export class RaftRuntime {
  /** Image of the project's Raft key-value runtime, pinned (never `latest`). */
  public static readonly HA_RUNTIME_IMAGE = 'ghcr.io/cdk8s-ha/ha-runtime:0.1.0';

  /**
   * The cdk8s-ha runtime (`ha-runtime raft`): configured through HA_RAFT_* variables, probed on `/readyz`
   * (quorum member with a known leader, applied up to commit) and `/livez`. It hands leadership over on
   * SIGTERM and has no shell, so there is no preStop hook.
   */
  public static haRuntime(): RaftRuntime {
    return new RaftRuntime(undefined);
  }

  /** Any other Raft/Paxos image, with its own flags mapped through placeholders. */
  public static generic(options: GenericRaftRuntimeOptions): RaftRuntime {
    if (options.args.length === 0 && (options.command ?? []).length === 0) {
      throw new Error('RaftRuntime.generic: args and command are both empty; map the member id, peers and data dir onto the image\'s flags');
    }
    return new RaftRuntime(options);
  }

  /**
   * The generic mapping, or undefined for the cdk8s-ha runtime.
   * @internal
   */
  public readonly _generic?: GenericRaftRuntimeOptions;

  private constructor(generic: GenericRaftRuntimeOptions | undefined) {
    this._generic = generic;
  }
}
