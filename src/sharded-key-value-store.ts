import { Names } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { ManifestAvailabilityOptions } from './availability/manifests';
import { AvailabilityModel, AvailabilityReport } from './availability/model';
import { HighlyAvailableService, ServiceAutoscalingOptions } from './highly-available-service';
import { NetworkPeer } from './network-policy';
import { PreStopHook } from './pre-stop';
import { HaProbe } from './probes';
import { RaftCluster, RaftClusterProps } from './raft-cluster';
import { RaftRuntime } from './raft-runtime';
import { ServiceExposure } from './service-exposure';

/** Props of `ShardedKeyValueStore`. */
export interface ShardedKeyValueStoreProps {
  /**
   * Number of shards (Raft groups); keys are placed on them by the router's consistent-hash ring.
   * @default 3
   */
  readonly shards?: number;
  /**
   * Members of each shard: odd and >= 3 (see RaftCluster).
   * @default 3
   */
  readonly membersPerShard?: number;
  /**
   * Base name: the router objects (and Service DNS name) are `<name>`, shards `<name>-s0` .. `<name>-s<shards-1>`.
   * A DNS-1035 label of at most 40 characters.
   * @default - a unique name derived from the construct path
   */
  readonly name?: string;
  /**
   * Options applied to every shard (storage, resources, zone spread, ...). `name` and `members` are set by this
   * construct and must not be given here; `runtime` must stay the cdk8s-ha runtime (the routers speak its API).
   * @default - RaftCluster defaults
   */
  readonly shard?: RaftClusterProps;
  /**
   * Router pods (stateless).
   * @default 3
   */
  readonly routerReplicas?: number;
  /**
   * Router image, pinned.
   * @default RaftRuntime.HA_RUNTIME_IMAGE
   */
  readonly routerImage?: string;
  /**
   * Port the router listens on.
   * @default 8080
   */
  readonly routerPort?: number;
  /**
   * How the router Service is exposed.
   * @default ServiceExposure.clusterIp()
   */
  readonly routerExposure?: ServiceExposure;
  /**
   * Router autoscaling.
   * @default - no autoscaler
   */
  readonly routerAutoscaling?: ServiceAutoscalingOptions;
  /**
   * Clients admitted to the router port.
   * @default - every source
   */
  readonly allowedClients?: NetworkPeer[];
}

/** The availability model of a sharded store: the routers, each shard, and the store as a whole. */
export interface ShardedStoreAvailability {
  /** The router service. */
  readonly router: AvailabilityReport;
  /** Each shard, in ring order. */
  readonly shards: AvailabilityReport[];
  /**
   * Probability that a request for one given key can be served: the routers and that key's shard are up
   * (independent failures): `A_router x A_shard` (the smallest over shards).
   */
  readonly perKeyAvailability: number;
  /** Probability that every key can be served: `A_router x prod(A_shard)`. */
  readonly allKeysAvailability: number;
  /** `-log10(1 - allKeysAvailability)`. */
  readonly allKeysNines: number;
}

/**
 * A sharded key-value store: N RaftClusters (one per shard) and a HighlyAvailableService of `ha-runtime router`
 * pods that place each key on a shard with a consistent-hash ring and forward it to that shard's leader.
 * Shards accept client traffic only from the routers (NetworkPolicy). Shard names are the ring's node ids:
 * renaming one moves its keys.
 */
export class ShardedKeyValueStore extends Construct {
  /** The shards, in ring order. */
  public readonly shards: RaftCluster[];
  /** The router service (Deployment, Service, PDB, NetworkPolicy, optional HPA). */
  public readonly router: HighlyAvailableService;
  /** The base name. */
  public readonly name: string;

  constructor(scope: Construct, id: string, props: ShardedKeyValueStoreProps = {}) {
    super(scope, id);
    const owner = `ShardedKeyValueStore '${id}'`;
    const shards = props.shards ?? 3;
    if (!Number.isInteger(shards) || shards < 1 || shards > 64) {
      throw new Error(`${owner}: shards (${shards}) must be an integer in 1..64`);
    }
    if (props.shard?.name !== undefined || props.shard?.members !== undefined) {
      throw new Error(`${owner}: shard.name/shard.members are set by the store; use name and membersPerShard instead`);
    }
    if (props.shard?.runtime?._generic !== undefined) {
      throw new Error(`${owner}: shard.runtime is RaftRuntime.generic(...), but the routers speak the /v1/kv API of \`ha-runtime raft\`; omit shard.runtime (RaftRuntime.haRuntime())`);
    }
    const name = props.name ?? Names.toDnsLabel(this, { maxLen: 40 });
    if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 40) {
      throw new Error(`${owner}: name '${name}' must be a DNS-1035 label of at most 40 characters`);
    }
    this.name = name;
    const routerLabel = { 'ha.cdk8s.io/kv-router': name };

    this.shards = Array.from({ length: shards }, (_, i) => new RaftCluster(this, `shard-${i}`, {
      ...props.shard,
      name: `${name}-s${i}`,
      members: props.membersPerShard ?? 3,
      // Clients reach shards through the routers only (plus whatever the shard options admit).
      allowedClients: [{ podLabels: routerLabel }, ...(props.shard?.allowedClients ?? [])],
    }));

    const clientPort = props.shard?.clientPort ?? 7379;
    const routerPort = props.routerPort ?? 8080;
    const shardArgs = this.shards.flatMap((s) => [
      '--shard',
      `${s.name}=${s.memberNames.map((_, i) => `http://${s.memberDnsName(i)}.$(POD_NAMESPACE).svc:${clientPort}`).join(',')}`,
    ]);
    this.router = new HighlyAvailableService(this, 'router', {
      name,
      image: props.routerImage ?? RaftRuntime.HA_RUNTIME_IMAGE,
      containerPort: routerPort,
      servicePort: routerPort,
      replicas: props.routerReplicas ?? 3,
      args: ['router', `--listen=0.0.0.0:${routerPort}`, ...shardArgs],
      // Not the router's /readyz: it fails while ANY shard has no healthy member, so one shard losing its quorum
      // would take every router out of the Service and every key down with it. A router that accepts connections
      // serves the keys of the healthy shards (and answers 503 for the others): shards fail independently.
      readiness: HaProbe.tcp(),
      liveness: HaProbe.http('/livez'),
      startup: HaProbe.http('/livez'),
      // The runtime image has no shell (no `sleep` for a preStop) and Kubernetes 1.28 has no sleep action.
      // `ha-runtime router` drains itself instead: at SIGTERM it keeps serving for --drain-ms (default 5 s, well
      // inside the grace period) while the endpoint is removed, then closes.
      preStop: PreStopHook.none(),
      exposure: props.routerExposure ?? ServiceExposure.clusterIp(),
      autoscaling: props.routerAutoscaling,
      allowedClients: props.allowedClients,
      writablePaths: [],
    });
    this.router.deployment.podMetadata.addLabel('ha.cdk8s.io/kv-router', name);
    this.router.deployment.containers[0].env.addVariable('POD_NAMESPACE',
      kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAMESPACE));
  }

  /**
   * The availability model of the store from the manifests it renders. More shards spread load but lower the
   * probability that every key is available: each shard is one more quorum that must hold.
   */
  public availability(options?: ManifestAvailabilityOptions): ShardedStoreAvailability {
    const router = this.router.availability(options);
    const shards = this.shards.map((s) => s.availability(options));
    // 1 - product keeps about 15 significant digits: ample for the nines of real stores.
    const worstShard = Math.min(...shards.map((s) => s.availability));
    const allKeys = shards.reduce((a, s) => a * s.availability, router.availability);
    const allKeysDown = 1 - allKeys;
    return {
      router,
      shards,
      perKeyAvailability: router.availability * worstShard,
      allKeysAvailability: allKeys,
      allKeysNines: AvailabilityModel.ninesFromUnavailability(Math.max(0, allKeysDown)),
    };
  }
}
