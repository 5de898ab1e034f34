import { Names, Size, SizeRoundingBehavior } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { ManifestAvailabilityOptions } from './availability/manifests';
import { AvailabilityReport } from './availability/model';
import { HaPodDisruptionBudget } from './disruption-budget';
import { HaNetworkPolicy, NetworkPeer } from './network-policy';
import { availabilityOfWorkload } from './private/availability';
import {
  checkImage, checkPort, checkResources, DEFAULT_NON_ROOT_ID, resourcesToL1, restrictedContainerSecurityContextL1,
} from './private/pod-hardening';
import { renderTopologySpread } from './private/spread';
import { HaProbe, ProbePurpose } from './probes';
import { RaftRuntime } from './raft-runtime';
import { ServiceExposure } from './service-exposure';
import { SpreadMode } from './topology-spread';

/** What happens to member volumes when the StatefulSet is deleted or scaled down. */
export enum VolumeRetention {
  /** Keep the PersistentVolumeClaims (the data survives; delete them by hand). */
  RETAIN = 'Retain',
  /** Delete the PersistentVolumeClaims with the members. */
  DELETE = 'Delete',
}

/** Props of `RaftCluster`. */
export interface RaftClusterProps {
  /**
   * Member count: odd and >= 3, so the cluster tolerates floor((members-1)/2) failures. This is the initial
   * membership: changing it on a running cluster also needs a Raft membership change in the runtime (the
   * initial cluster is only read at bootstrap, from an empty data dir).
   * @default 3
   */
  readonly members?: number;
  /**
   * Accept an even count or fewer than 3 members: an even count tolerates no more failures than the odd
   * count below it, and 1 or 2 members tolerate none. No disruption budget is created below 3 members.
   * @default false
   */
  readonly allowUnsafeMemberCount?: boolean;
  /**
   * Name of the StatefulSet; members are `<name>-0` .. `<name>-<members-1>`, the peer Service `<name>-peers`,
   * the client Service `<name>`. A DNS-1035 label of at most 47 characters.
   * @default - a unique name derived from the construct path
   */
  readonly name?: string;
  /**
   * Container image, pinned. Required with `RaftRuntime.generic(...)`.
   * @default RaftRuntime.HA_RUNTIME_IMAGE
   */
  readonly image?: string;
  /**
   * How the image takes its id, peers and data dir.
   * @default RaftRuntime.haRuntime()
   */
  readonly runtime?: RaftRuntime;
  /**
   * Client port.
   * @default 7379
   */
  readonly clientPort?: number;
  /**
   * Peer (Raft) port.
   * @default 7380
   */
  readonly peerPort?: number;
  /**
   * Where the member volume is mounted (the only writable path).
   * @default '/var/lib/ha-runtime'
   */
  readonly dataDir?: string;
  /**
   * Size of each member's PersistentVolumeClaim.
   * @default Size.gibibytes(10)
   */
  readonly storageSize?: Size;
  /**
   * StorageClass of the member volumes.
   * @default - the cluster's default StorageClass
   */
  readonly storageClassName?: string;
  /**
   * Volume retention when the StatefulSet is deleted.
   * @default VolumeRetention.RETAIN
   */
  readonly volumeRetentionOnDelete?: VolumeRetention;
  /**
   * Volume retention when members are scaled away.
   * @default VolumeRetention.RETAIN
   */
  readonly volumeRetentionOnScaleDown?: VolumeRetention;
  /**
   * Members a voluntary disruption may take at once; at most members - quorum.
   * @default - members - (floor(members / 2) + 1): 1 for 3 members, 2 for 5
   */
  readonly maxUnavailable?: number;
  /**
   * Spread over zones (maxSkew 1). Nodes are always separated by required anti-affinity.
   * @default SpreadMode.PREFERRED (a one-zone cluster stays schedulable)
   */
  readonly zoneSpread?: SpreadMode;
  /**
   * How the client Service is exposed.
   * @default ServiceExposure.clusterIp()
   */
  readonly clientExposure?: ServiceExposure;
  /**
   * Clients admitted to the client port by the NetworkPolicy (peers are always admitted on the peer port).
   * @default - every source
   */
  readonly allowedClients?: NetworkPeer[];
  /**
   * Seconds between SIGTERM and SIGKILL: must cover a leadership transfer and an election.
   * @default 30
   */
  readonly terminationGracePeriodSeconds?: number;
  /**
   * Seconds a restarted member must stay ready before the rollout moves to the next one.
   * @default 10
   */
  readonly minReadySeconds?: number;
  /**
   * Container resources; CPU and memory requests and a memory limit are required.
   * @default - cpu request 250m, memory request 256Mi, memory limit 512Mi, ephemeral-storage request 1Gi and
   * limit 2Gi (the data is on the volume), no CPU limit
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * Non-root uid/gid/fsGroup of the member process (fsGroup makes the volume writable).
   * @default 65532
   */
  readonly runAsUser?: number;
  /**
   * PriorityClass of the members.
   * @default - the cluster's default priority
   */
  readonly priorityClassName?: string;
}

/**
 * A Raft (or any quorum) cluster as a StatefulSet: an odd member count, parallel start, one volume per member,
 * a headless peer Service that publishes not-ready members so the cluster can form, a client Service, a
 * PodDisruptionBudget that never lets a drain take the quorum, required node anti-affinity and zone spread,
 * probes on the runtime's health endpoints, a NetworkPolicy, restricted security context. Built on the L1
 * `k8s.KubeStatefulSet` (cdk8s-plus-28's StatefulSet lacks volumeClaimTemplates and PVC retention).
 *
 * Needs one schedulable node per member (the anti-affinity is required): 3 members do not fit a one-node cluster.
 * Rollouts replace one member at a time and wait for it to be ready (caught up) before the next. The PDB guards
 * drains only, not the StatefulSet controller: on Kubernetes 1.28 without the MaxUnavailableStatefulSet gate,
 * a rollout started while another member is already down can take a second member and the quorum with it, so
 * start rollouts on a healthy cluster (all members ready).
 */
export class RaftCluster extends Construct {
  /** The StatefulSet of members. */
  public readonly statefulSet: k8s.KubeStatefulSet;
  /** The headless Service giving each member a stable DNS name (`<member>.<name>-peers`). */
  public readonly peerService: k8s.KubeService;
  /** The Service clients connect to (ready members only). */
  public readonly clientService: k8s.KubeService;
  /** The quorum-safe PodDisruptionBudget; undefined below 3 members. */
  public readonly podDisruptionBudget?: HaPodDisruptionBudget;
  /** The NetworkPolicy. */
  public readonly networkPolicy: HaNetworkPolicy;
  /** Member count. */
  public readonly members: number;
  /** Members that must be up for progress: floor(members / 2) + 1. */
  public readonly quorum: number;
  /** Member failures the cluster survives: members - quorum. */
  public readonly failureTolerance: number;
  /** Member names in ordinal order (the pod names). */
  public readonly memberNames: string[];
  /** The StatefulSet name. */
  public readonly name: string;

  constructor(scope: Construct, id: string, props: RaftClusterProps = {}) {
    super(scope, id);
    const owner = `RaftCluster '${id}'`;
    const members = props.members ?? 3;
    const allowUnsafe = props.allowUnsafeMemberCount ?? false;
    if (!Number.isInteger(members) || members < 1) {
      throw new Error(`${owner}: members (${members}) must be a positive integer; use 3 or 5`);
    }
    if (!allowUnsafe && (members < 3 || members % 2 === 0)) {
      const why = members < 3 ? 'tolerates no member failure' : `tolerates no more failures than ${members - 1} members`;
      throw new Error(`${owner}: members (${members}) ${why}; use an odd count >= 3 (3 or 5), or set allowUnsafeMemberCount: true`);
    }
    this.members = members;
    this.quorum = Math.floor(members / 2) + 1;
    this.failureTolerance = members - this.quorum;

    const name = props.name ?? Names.toDnsLabel(this, { maxLen: 47 });
    // 47: the pod name gets '-<ordinal>' and the 63-character label limit must hold controller-revision-hash.
    if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 47) {
      throw new Error(`${owner}: name '${name}' must be a DNS-1035 label of at most 47 characters (lowercase letters, digits, '-', starting with a letter)`);
    }
    this.name = name;
    this.memberNames = Array.from({ length: members }, (_, i) => `${name}-${i}`);
    const peerServiceName = `${name}-peers`;

    const image = props.image ?? RaftRuntime.HA_RUNTIME_IMAGE;
    checkImage(owner, image);
    const clientPort = props.clientPort ?? 7379;
    const peerPort = props.peerPort ?? 7380;
    checkPort(owner, 'clientPort', clientPort);
    checkPort(owner, 'peerPort', peerPort);
    if (clientPort === peerPort) throw new Error(`${owner}: clientPort and peerPort are both ${clientPort}; use two ports (default 7379 and 7380)`);
    const dataDir = props.dataDir ?? '/var/lib/ha-runtime';
    if (!dataDir.startsWith('/') || dataDir === '/') throw new Error(`${owner}: dataDir '${dataDir}' must be an absolute path below '/'`);
    const storageSize = props.storageSize ?? Size.gibibytes(10);
    const storageMib = storageSize.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
    if (!Number.isInteger(storageMib) || storageMib < 1) {
      throw new Error(`${owner}: storageSize (${storageMib}Mi) must be a whole number of mebibytes >= 1, e.g. Size.gibibytes(10)`);
    }
    const grace = props.terminationGracePeriodSeconds ?? 30;
    if (!Number.isInteger(grace) || grace < 10) {
      throw new Error(`${owner}: terminationGracePeriodSeconds (${grace}) must be an integer >= 10 so a leader can hand over and a new one be elected before SIGKILL`);
    }
    const minReadySeconds = props.minReadySeconds ?? 10;
    if (!Number.isInteger(minReadySeconds) || minReadySeconds < 0) throw new Error(`${owner}: minReadySeconds (${minReadySeconds}) must be a non-negative integer`);
    const resources = props.resources ?? {
      cpu: { request: kplus.Cpu.millis(250) },
      memory: { request: Size.mebibytes(256), limit: Size.mebibytes(512) },
      ephemeralStorage: { request: Size.gibibytes(1), limit: Size.gibibytes(2) },
    };
    checkResources(owner, resources);
    const uid = props.runAsUser ?? DEFAULT_NON_ROOT_ID;
    if (!Number.isInteger(uid) || uid < 1) throw new Error(`${owner}: runAsUser (${uid}) must be a non-root uid (integer >= 1)`);

    const maxAllowed = members - this.quorum;
    const maxUnavailable = props.maxUnavailable ?? maxAllowed;
    if (props.maxUnavailable !== undefined && members >= 3
      && (!Number.isInteger(maxUnavailable) || maxUnavailable < 1 || maxUnavailable > maxAllowed)) {
      throw new Error(`${owner}: maxUnavailable (${maxUnavailable}) must be an integer in 1..${maxAllowed} for ${members} members (quorum ${this.quorum}): more loses the quorum in a drain, 0 blocks every drain`);
    }
    if (props.maxUnavailable !== undefined && members < 3) {
      throw new Error(`${owner}: maxUnavailable (${props.maxUnavailable}) needs at least 3 members; ${members} members have no quorum-safe disruption budget`);
    }

    // --- container wiring: the runtime contract ---
    const placeholders: Record<string, string> = {
      id: '$(HA_RAFT_ID)',
      namespace: '$(POD_NAMESPACE)',
      peerService: peerServiceName,
      clientService: name,
      dataDir,
      clientPort: String(clientPort),
      peerPort: String(peerPort),
      clusterName: name,
    };
    const fill = (template: string, what: string, extra: Record<string, string> = {}): string =>
      template.replace(/\{([a-zA-Z]+)\}/g, (match, key: string) => {
        const value = extra[key] ?? placeholders[key];
        if (value === undefined) {
          throw new Error(`${owner}: ${what} uses an unknown placeholder ${match}; known: ${[...Object.keys(extra), ...Object.keys(placeholders)].map((k) => `{${k}}`).join(', ')}`);
        }
        return value;
      });
    const generic = (props.runtime ?? RaftRuntime.haRuntime())._generic;
    const memberTemplate = generic?.initialClusterMember ?? '{member}={member}.{peerService}.{namespace}.svc:{peerPort}';
    placeholders.initialCluster = this.memberNames.map((m) => fill(memberTemplate, 'initialClusterMember', { member: m })).join(',');

    const env: k8s.EnvVar[] = [
      // Declared first: later values reference them as $(VAR), which the kubelet expands in order.
      { name: 'HA_RAFT_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ];
    let args: string[] | undefined;
    let command: string[] | undefined;
    let probes: { readiness: HaProbe; liveness: HaProbe; startup: HaProbe };
    if (generic) {
      args = generic.args.map((a, i) => fill(a, `args[${i}]`));
      command = generic.command?.map((c, i) => fill(c, `command[${i}]`));
      for (const [k, v] of Object.entries(generic.env ?? {})) {
        if (k === 'HA_RAFT_ID' || k === 'POD_NAMESPACE') throw new Error(`${owner}: env ${k} is reserved (the member id and namespace)`);
        env.push({ name: k, value: fill(v, `env ${k}`) });
      }
      probes = {
        readiness: generic.readiness ?? HaProbe.tcp(),
        liveness: generic.liveness ?? HaProbe.tcp(),
        startup: generic.startup ?? HaProbe.tcp(),
      };
    } else {
      args = ['raft'];
      env.push(
        { name: 'HA_RAFT_DATA_DIR', value: dataDir },
        { name: 'HA_RAFT_LISTEN_CLIENT', value: `0.0.0.0:${clientPort}` },
        { name: 'HA_RAFT_LISTEN_PEER', value: `0.0.0.0:${peerPort}` },
        { name: 'HA_RAFT_ADVERTISE_CLIENT', value: fill('http://{id}.{peerService}.{namespace}.svc:{clientPort}', 'advertise') },
        { name: 'HA_RAFT_INITIAL_CLUSTER', value: placeholders.initialCluster },
        // Checked in the peer handshake: two clusters in one namespace can never join each other.
        { name: 'HA_RAFT_INITIAL_CLUSTER_TOKEN', value: name },
      );
      probes = {
        readiness: HaProbe.http('/readyz'),
        liveness: HaProbe.http('/livez'),
        startup: HaProbe.http('/livez'),
      };
    }
    const readinessProbe = probes.readiness._render(ProbePurpose.READINESS, clientPort, owner);
    const livenessProbe = probes.liveness._render(ProbePurpose.LIVENESS, clientPort, owner);
    const startupProbe = probes.startup._render(ProbePurpose.STARTUP, clientPort, owner);
    for (const [purpose, probe] of [['readiness', probes.readiness], ['liveness', probes.liveness], ['startup', probes.startup]] as const) {
      const port = probe.portFor(clientPort);
      if (port !== undefined && port !== clientPort && port !== peerPort) {
        throw new Error(`${owner}: ${purpose} probe port (${port}) is neither the clientPort (${clientPort}) nor the peerPort (${peerPort})`);
      }
    }
    if (livenessProbe.periodSeconds! * livenessProbe.failureThreshold! <= readinessProbe.periodSeconds! * readinessProbe.failureThreshold!) {
      throw new Error(`${owner}: the liveness probe must act later than the readiness probe (raise its periodSeconds x failureThreshold); a member restarted while catching up never catches up`);
    }

    if (generic && props.image === undefined) {
      throw new Error(`${owner}: runtime is RaftRuntime.generic(...) but image is unset, so it would run the cdk8s-ha runtime image with foreign flags; set image (e.g. 'quay.io/coreos/etcd:v3.5.17')`);
    }

    const selector = { 'app.kubernetes.io/name': 'raft-cluster', 'app.kubernetes.io/instance': name };
    const labels = { ...selector, 'app.kubernetes.io/part-of': 'cdk8s-ha' };
    const spread = renderTopologySpread(selector, SpreadMode.OFF, props.zoneSpread ?? SpreadMode.PREFERRED, []);
    const retention = {
      whenDeleted: props.volumeRetentionOnDelete ?? VolumeRetention.RETAIN,
      whenScaled: props.volumeRetentionOnScaleDown ?? VolumeRetention.RETAIN,
    };

    this.peerService = new k8s.KubeService(this, 'peers', {
      metadata: { name: peerServiceName, labels },
      spec: {
        clusterIp: 'None',
        // Members must resolve each other before any is ready: readiness needs a quorum.
        publishNotReadyAddresses: true,
        selector,
        ports: [
          { name: 'client', port: clientPort, targetPort: k8s.IntOrString.fromString('client'), protocol: 'TCP' },
          { name: 'peer', port: peerPort, targetPort: k8s.IntOrString.fromString('peer'), protocol: 'TCP' },
        ],
      },
    });

    this.statefulSet = new k8s.KubeStatefulSet(this, 'members', {
      metadata: {
        name,
        labels,
        // Read by audits: the members that must stay up (see test/util cross-checks).
        annotations: { 'ha.cdk8s.io/quorum': String(this.quorum) },
      },
      spec: {
        replicas: members,
        serviceName: peerServiceName,
        // Members start together: OrderedReady would wait for member 0 to be ready, which needs a quorum.
        podManagementPolicy: 'Parallel',
        // One member at a time, each ready (caught up) before the next. With Parallel pod management the 1.28
        // controller only waits for the members it has already updated: a member that is down for another reason
        // does not stop it. maxUnavailable 1 closes that gap where the MaxUnavailableStatefulSet gate is on (alpha
        // in 1.28: the API server drops the field otherwise); see the class doc.
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0, maxUnavailable: k8s.IntOrString.fromNumber(1) } },
        minReadySeconds,
        persistentVolumeClaimRetentionPolicy: retention,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: grace,
            priorityClassName: props.priorityClassName,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: uid,
              runAsGroup: uid,
              fsGroup: uid,
              fsGroupChangePolicy: 'OnRootMismatch',
              seccompProfile: { type: 'RuntimeDefault' },
            },
            affinity: {
              podAntiAffinity: {
                // Required: one node loss must never cost two members.
                requiredDuringSchedulingIgnoredDuringExecution: [
                  { labelSelector: { matchLabels: selector }, topologyKey: 'kubernetes.io/hostname' },
                ],
              },
            },
            topologySpreadConstraints: spread.length > 0 ? spread : undefined,
            containers: [{
              name: 'member',
              image,
              imagePullPolicy: 'IfNotPresent',
              command,
              args,
              env,
              ports: [
                { name: 'client', containerPort: clientPort, protocol: 'TCP' },
                { name: 'peer', containerPort: peerPort, protocol: 'TCP' },
              ],
              readinessProbe,
              livenessProbe,
              startupProbe,
              resources: resourcesToL1(resources),
              securityContext: restrictedContainerSecurityContextL1(uid, uid),
              volumeMounts: [{ name: 'data', mountPath: dataDir }],
            }],
          },
        },
        volumeClaimTemplates: [{
          metadata: { name: 'data', labels },
          spec: {
            accessModes: ['ReadWriteOnce'],
            storageClassName: props.storageClassName,
            resources: { requests: { storage: k8s.Quantity.fromString(quantityOf(storageSize)) } },
          },
        }],
      },
    });

    const exposure = props.clientExposure ?? ServiceExposure.clusterIp();
    this.clientService = new k8s.KubeService(this, 'client', {
      metadata: { name, labels },
      spec: {
        type: exposure.type,
        externalTrafficPolicy: exposure.externalTrafficPolicy,
        loadBalancerSourceRanges: exposure.loadBalancerSourceRanges,
        selector,
        ports: [{ name: 'client', port: clientPort, targetPort: k8s.IntOrString.fromString('client'), protocol: 'TCP' }],
      },
    });

    if (members >= 3) {
      this.podDisruptionBudget = new HaPodDisruptionBudget(this, 'pdb', {
        matchLabels: selector,
        replicas: members,
        minimumHealthy: this.quorum,
        maxUnavailable,
        name,
        ownerName: owner,
      });
    }

    this.networkPolicy = new HaNetworkPolicy(this, 'network-policy', {
      matchLabels: selector,
      ingress: [
        { port: clientPort, from: props.allowedClients },
        { port: peerPort, from: [{ podLabels: selector }] },
      ],
      name,
      ownerName: owner,
    });
  }

  /**
   * The availability model of this cluster (see `ManifestAvailability`), computed from the manifests it renders:
   * a majority quorum, the quorum-safe PDB, one member per node, the zone spread.
   */
  public availability(options?: ManifestAvailabilityOptions): AvailabilityReport {
    return availabilityOfWorkload(this, this.statefulSet, options);
  }

  /** The namespace-relative DNS name of a member, e.g. `kv-0.kv-peers`. */
  public memberDnsName(ordinal: number): string {
    if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= this.members) {
      throw new Error(`RaftCluster '${this.node.id}': member ordinal ${ordinal} is not in 0..${this.members - 1}`);
    }
    return `${this.memberNames[ordinal]}.${this.name}-peers`;
  }
}

/** `Size` as a Kubernetes quantity, in Gi when whole. */
function quantityOf(size: Size): string {
  const mib = size.toMebibytes();
  return mib % 1024 === 0 ? `${mib / 1024}Gi` : `${mib}Mi`;
}
