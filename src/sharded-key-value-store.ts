import { createHash } from 'crypto';
import { Duration, Names } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { ManifestAvailabilityOptions } from './availability/manifests';
import { AvailabilityModel, AvailabilityReport } from './availability/model';
import { HighlyAvailableService, ServiceAutoscalingOptions } from './highly-available-service';
import { HaNetworkPolicy, NetworkPeer } from './network-policy';
import { PreStopHook } from './pre-stop';
import { hardenedContainer } from './private/containers';
import { DEFAULT_NON_ROOT_ID } from './private/pod-hardening';
import { checkDns1035, checkInt, checkPort, fail } from './private/validate';
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
  /**
   * Router container resources.
   * @default - cpu request 100m, memory request 128Mi, memory limit 256Mi (HighlyAvailableService's defaults)
   */
  readonly routerResources?: kplus.ContainerResources;
  /**
   * Shards being removed: `<name>-s<shards>` .. `<name>-s<shards + retiringShards - 1>` keep running while the
   * resharding Job moves their slots to the first `shards` shards. To shrink from 3 shards to 2, deploy
   * `shards: 2, retiringShards: 1`, wait for the Job to complete, then deploy `shards: 2` (docs/resharding.md).
   * Dropping a shard without this deletes its pods before its keys have moved.
   * @default 0
   */
  readonly retiringShards?: number;
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
  /** Shards still running while their slots move away (`retiringShards`). */
  public readonly retiringShards: RaftCluster[];
  /**
   * `ha-runtime reshard` to exactly `shards`: a no-op when the store already has them, otherwise an online,
   * resumable migration (docs/resharding.md). Named after its target, so changing `shards` renders a new Job.
   */
  public readonly reshardJob: kplus.Job;

  constructor(scope: Construct, id: string, props: ShardedKeyValueStoreProps = {}) {
    super(scope, id);
    const owner = `ShardedKeyValueStore '${id}'`;
    const shards = props.shards ?? 3;
    const name = props.name ?? Names.toDnsLabel(this, { maxLen: 40 });
    validateStoreProps(owner, name, props);
    this.name = name;
    const routerLabel = { 'ha.cdk8s.io/kv-router': name };

    const retiring = checkInt(owner, 'retiringShards', props.retiringShards ?? 0, 0, 64 - shards, 'the shards being removed, at most 64 in all');
    const cluster = (i: number): RaftCluster => asStoreError(owner, SHARD_PROPS, () => new RaftCluster(this, `shard-${i}`, {
      ...props.shard,
      name: `${name}-s${i}`,
      members: props.membersPerShard ?? 3,
      // Clients reach shards through the routers (and the reshard Job, which carries their label) only.
      allowedClients: [{ podLabels: routerLabel }, ...(props.shard?.allowedClients ?? [])],
    }));
    this.shards = Array.from({ length: shards }, (_, i) => cluster(i));
    this.retiringShards = Array.from({ length: retiring }, (_, i) => cluster(shards + i));

    const clientPort = props.shard?.clientPort ?? 7379;
    const routerPort = props.routerPort ?? 8080;
    const shardFlags = (list: RaftCluster[]): string[] => list.flatMap((s) => [
      '--shard',
      `${s.name}=${s.memberNames.map((_, i) => `http://${s.memberDnsName(i)}.$(POD_NAMESPACE).svc:${clientPort}`).join(',')}`,
    ]);
    const shardArgs = shardFlags([...this.shards, ...this.retiringShards]);
    this.router = asStoreError(owner, ROUTER_PROPS, () => new HighlyAvailableService(this, 'router', {
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
      resources: props.routerResources,
      writablePaths: [],
    }));
    this.router.deployment.podMetadata.addLabel('ha.cdk8s.io/kv-router', name);
    this.router.deployment.containers[0].env.addVariable('POD_NAMESPACE',
      kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAMESPACE));
    this.reshardJob = this.renderReshardJob(props, shardFlags(this.shards), routerLabel);
  }

  private renderReshardJob(props: ShardedKeyValueStoreProps, targetFlags: string[], routerLabel: Record<string, string>): kplus.Job {
    const digest = createHash('sha256').update(targetFlags.join(' ')).digest('hex').slice(0, 8);
    const job = new kplus.Job(this, 'reshard', {
      metadata: { name: `${this.name}-reshard-${digest}` },
      // A failed run resumes where it stopped (all migration state is in the shards): let Kubernetes rerun it.
      backoffLimit: 20,
      ttlAfterFinished: Duration.days(1),
      restartPolicy: kplus.RestartPolicy.NEVER,
      containers: [hardenedContainer({
        name: 'reshard',
        image: props.routerImage ?? RaftRuntime.HA_RUNTIME_IMAGE,
        args: ['reshard', ...targetFlags],
        envVariables: { POD_NAMESPACE: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAMESPACE) },
      }, DEFAULT_NON_ROOT_ID)],
    });
    // The shards' NetworkPolicy admits the routers' label: the migrator talks to the shards as a router does.
    for (const [k, v] of Object.entries(routerLabel)) job.podMetadata.addLabel(k, v);
    // Nothing calls the migrator. Selecting by the router label also covers the routers, harmlessly: ingress rules
    // add up, so their own policy still admits their clients.
    new HaNetworkPolicy(this, 'reshard-network-policy', { matchLabels: routerLabel, ingress: [], name: `${this.name}-reshard` });
    return job;
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

/** What the router's HighlyAvailableService props are called on the store. */
const ROUTER_PROPS: Record<string, string> = {
  image: 'routerImage',
  containerPort: 'routerPort',
  servicePort: 'routerPort',
  replicas: 'routerReplicas',
  autoscaling: 'routerAutoscaling',
  exposure: 'routerExposure',
  resources: 'routerResources',
  allowedClients: 'allowedClients',
};
/** Shard props are `shard.<prop>`, except members. */
const SHARD_PROPS: Record<string, string> = { members: 'membersPerShard', allowedClients: 'shard.allowedClients' };

/**
 * Runs a child's constructor and rewrites its error to name the store's props: a user who set `routerReplicas`
 * must read `routerReplicas`, not the child's `replicas`.
 */
function asStoreError<T>(owner: string, names: Record<string, string>, build: () => T): T {
  try {
    return build();
  } catch (e) {
    const m = /^(?:HighlyAvailableService|RaftCluster) '[^']*': ([A-Za-z]+)(.*)$/s.exec((e as Error).message);
    if (!m) throw e;
    const prop = names[m[1]] ?? (names === SHARD_PROPS ? `shard.${m[1]}` : m[1]);
    throw new Error(`${owner}: ${prop}${m[2]}`);
  }
}

function validateStoreProps(owner: string, name: string, props: ShardedKeyValueStoreProps): void {
  checkInt(owner, 'shards', props.shards ?? 3, 1, 64, 'e.g. 3');
  if (props.shard?.name !== undefined) fail(owner, 'shard.name', props.shard.name, 'is set by the store (shards are <name>-s<i>)', 'use name instead');
  if (props.shard?.members !== undefined) fail(owner, 'shard.members', props.shard.members, 'is set by the store', 'use membersPerShard instead');
  if (props.shard?.runtime !== undefined && props.shard.runtime._kind !== 'ha-runtime') {
    fail(owner, 'shard.runtime', props.shard.runtime._kind, 'is not the cdk8s-ha runtime, but the routers speak the /v1/kv API of `ha-runtime raft`', 'omit shard.runtime (RaftRuntime.haRuntime())');
  }
  checkDns1035(owner, 'name', name, 40);
  const members = props.membersPerShard ?? 3;
  checkInt(owner, 'membersPerShard', members, 1);
  if (!(props.shard?.allowUnsafeMemberCount ?? false) && (members < 3 || members % 2 === 0)) {
    fail(owner, 'membersPerShard', members, members < 3 ? 'tolerates no member failure' : `tolerates no more failures than ${members - 1}`, 'use an odd count >= 3 (3 or 5), or set shard.allowUnsafeMemberCount: true');
  }
  checkInt(owner, 'routerReplicas', props.routerReplicas ?? 3, 2, Number.MAX_SAFE_INTEGER, 'routers are stateless: run at least 2 so one pod is never a single point of failure');
  checkPort(owner, 'routerPort', props.routerPort ?? 8080);
}
