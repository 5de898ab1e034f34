import { Chart, Names, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { ManifestAvailabilityOptions } from './availability/manifests';
import { AvailabilityReport } from './availability/model';
import { HaPodDisruptionBudget } from './disruption-budget';
import { DNS_EGRESS_RULES, HaNetworkPolicy, NetworkEgressRule, NetworkPeer } from './network-policy';
import { PeerTls } from './peer-tls';
import { availabilityOfWorkload } from './private/availability';
import { checkUniqueNamesInChart } from './private/chart-checks';
import { checkAddedContainers, hardenedContainer } from './private/containers';
import { checkEgressRules } from './private/network';
import { DEFAULT_NON_ROOT_ID, plain, resourcesToL1, restrictedContainerSecurityContextL1 } from './private/pod-hardening';
import { majorityFailureTolerance, majorityQuorum } from './private/quorum';
import { backupPodLabels, renderBackupCronJob, validateBackup } from './private/raft-backup';
import { RenderedRuntime } from './private/raft-render';
import { renderTopologySpread } from './private/spread';
import {
  checkAbsolutePath, checkAnnotations, checkDns1035, checkDns1123Subdomain, checkImage, checkInt, checkLabels, checkPort,
  checkPortName, checkResources, checkStorageSize, checkUnique, fail, Raw,
} from './private/validate';
import { HaProbe, ProbePurpose } from './probes';
import { RaftBackup } from './raft-backup';
import { ETCD_CLIENT_TLS_DIR, RaftRuntime } from './raft-runtime';
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
   * Member count: odd and >= 3, so the cluster tolerates floor((members-1)/2) failures.
   *
   * With `RaftRuntime.haRuntime()` changing it on a running cluster scales it: the count is also written to the
   * `<name>-members` ConfigMap, which every member reads. Scale-up: the new pods start blank, join as learners
   * and are promoted once caught up. Scale-down: the leader removes the members with ordinals >= the new count,
   * highest first, one at a time, while their pods still run. The safe order is the ConfigMap first, replicas
   * after the removals. One `cdk8s` apply changes both at once, so the departing pods stop right away and, until
   * the leader has removed them (one ConfigMap propagation, up to a minute with the kubelet's default sync), they
   * still count as voters: the cluster makes progress only if the remaining pods are a quorum of the old count.
   * That holds when one step removes at most the old failure tolerance (5 -> 3, 7 -> 5) and then
   * only with no other member down meanwhile; a bigger step (7 -> 3) stalls writes until replicas are raised
   * again. Nothing acknowledged is lost either way (Raft commits only on a quorum). To keep full tolerance, apply
   * the lowered count to the ConfigMap alone first (`kubectl edit configmap <name>-members`), wait for the
   * members to be removed (`GET /v1/members`), then apply the lowered replicas. `kubectl scale` alone cannot
   * shrink the membership (the runtime cannot tell a scale-down from a restart). With other runtimes this is
   * the initial membership only.
   *
   * The initial cluster list in the pod template follows `initialMembers`, which defaults to `members`: a changed
   * `members` alone therefore also rolls every member (one at a time, each ready before the next), and on a
   * scale-down that roll can overlap the departing pods' deletion and stall writes until the restarted member is
   * back. Set `initialMembers` to the count the cluster was created with to change only the replicas and the
   * ConfigMap.
   * @default 3
   */
  readonly members?: number;
  /**
   * Members the cluster was created with: `HA_RAFT_INITIAL_CLUSTER` names ordinals 0..initialMembers-1 (a blank
   * pod finds its cluster through them; a member with data uses them only as peer addresses). Keep it at the
   * original count when you change `members` on a running cluster, so the pod template does not change and no
   * member restarts. Only with `RaftRuntime.haRuntime()`.
   * @default - members
   */
  readonly initialMembers?: number;
  /**
   * Scheduled backups: a CronJob running `ha-runtime backup` that saves `GET /v1/snapshot` from the client Service
   * to a PersistentVolumeClaim with retention. Needs `RaftRuntime.haRuntime()`. The backup pods (label
   * `app.kubernetes.io/name: raft-cluster-backup`) get a NetworkPolicy of their own (no ingress; egress to DNS and
   * the members' client port), and when `allowedClients` is set the members admit them to the client port too.
   * @default - no backups
   */
  readonly backup?: RaftBackup;
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
   *
   * The ha-runtime store is in memory, and its space quota (etcd's `--quota-backend-bytes`) defaults to a fifth of the
   * memory limit: past it, writes are refused with etcd's "database space exceeded" instead of the member running out of
   * memory. The default limit holds about 250,000 keys of 256 B per member; give 1Gi for 500,000, 2Gi for 1,000,000
   * (docs/api.md, "Space quota"; docs/benchmarks.md, "Space quota in a memory-limited container").
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
  /**
   * How members authenticate each other: mutual TLS from a Secret you name or from cert-manager, or the
   * explicit `PeerTls.plaintext()` opt-out.
   * @default PeerTls.fromSecret('<name>-peer-tls') (create that kubernetes.io/tls Secret with ca.crt, or choose PeerTls.certManager)
   */
  readonly peerTls?: PeerTls;
  /**
   * Further container ports (a metrics or admin port); they join the peer Service, and probes may use them.
   * @default - none
   */
  readonly extraPorts?: RaftClusterPort[];
  /**
   * Readiness probe, instead of the runtime's.
   * @default - the runtime's (e.g. `/readyz` for the cdk8s-ha runtime, `/health` on 2381 for etcd)
   */
  readonly readiness?: HaProbe;
  /**
   * Liveness probe, instead of the runtime's.
   * @default - the runtime's
   */
  readonly liveness?: HaProbe;
  /**
   * Startup probe, instead of the runtime's.
   * @default - the runtime's
   */
  readonly startup?: HaProbe;
  /**
   * Destinations members may reach besides DNS and their peers (egress is denied otherwise).
   * @default - DNS and the peers only
   */
  readonly allowedEgress?: NetworkEgressRule[];
  /**
   * Leave egress unrestricted (no Egress policy type), for runtimes that call out (backups to object storage...).
   * @default false
   */
  readonly allowAllEgress?: boolean;
  /**
   * Extra labels of the member pods (the selector labels cannot be overridden).
   * @default - none
   */
  readonly podLabels?: { [key: string]: string };
  /**
   * Annotations of the member pods.
   * @default - none
   */
  readonly podAnnotations?: { [key: string]: string };
  /**
   * Node labels the members require (spec.nodeSelector).
   * @default - any node
   */
  readonly nodeSelector?: { [key: string]: string };
  /**
   * Node label expressions the members require (required node affinity).
   * @default - none
   */
  readonly requiredNodeLabels?: kplus.NodeLabelQuery[];
  /**
   * Taints the members tolerate, e.g. `NodeTaintQuery.is('dedicated', 'raft')`.
   * @default - none
   */
  readonly tolerations?: kplus.NodeTaintQuery[];
  /**
   * Labels of the member PersistentVolumeClaims.
   * @default - the cluster's labels
   */
  readonly volumeClaimLabels?: { [key: string]: string };
  /**
   * Annotations of the member PersistentVolumeClaims (e.g. a backup tool's).
   * @default - none
   */
  readonly volumeClaimAnnotations?: { [key: string]: string };
  /**
   * Secrets (kubernetes.io/dockerconfigjson) used to pull the image.
   * @default - none
   */
  readonly imagePullSecrets?: kplus.ISecret[];
  /**
   * Containers next to each member (a backup agent, an exporter). Unset fields take the member's hardening: the
   * restricted security context, IfNotPresent pulls and small default resources; images must be pinned. Their
   * `volumeMounts` bring their volumes into the pod.
   * @default - none
   */
  readonly sidecars?: kplus.ContainerProps[];
}

/** A further named container port of a RaftCluster member. */
export interface RaftClusterPort {
  /** IANA service name of the port, e.g. 'metrics'. */
  readonly name: string;
  /** Port number. */
  readonly port: number;
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
  /**
   * The `<name>-members` ConfigMap holding the desired member count (key `members`), mounted read-only in every
   * member; undefined for runtimes that do not read it (`RaftRuntime.etcd`, `RaftRuntime.generic`).
   */
  public readonly membersConfigMap?: k8s.KubeConfigMap;
  /** The backup CronJob (`<name>-backup`); undefined without `backup`. */
  public readonly backupCronJob?: k8s.KubeCronJob;
  /** The backup pods' NetworkPolicy: no ingress, egress to DNS and the members' client port; undefined without `backup`. */
  public readonly backupNetworkPolicy?: HaNetworkPolicy;
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
  /** The Secret holding the peer certificates, undefined with `PeerTls.plaintext()`. */
  public readonly peerTlsSecretName?: string;

  constructor(scope: Construct, id: string, props: RaftClusterProps = {}) {
    super(scope, id);
    const resolved = resolveRaftProps(this, `RaftCluster '${id}'`, props);
    validateRaftProps(resolved, props);
    const peerTls = props.peerTls ?? PeerTls.fromSecret(`${resolved.name}-peer-tls`);
    const peerTlsSecret = peerTls._bind(this, resolved.owner, resolved.name, resolved.peerServiceName, Chart.of(this).namespace);
    const r: ResolvedRaft = { ...resolved, peerTlsSecret };
    this.members = r.members;
    this.quorum = r.quorum;
    this.failureTolerance = majorityFailureTolerance(r.members);
    this.name = r.name;
    this.memberNames = r.memberNames;
    this.peerTlsSecretName = r.peerTlsSecret;
    const rendered = renderRuntime(r, props);
    if (r.image === undefined) {
      fail(r.owner, 'image', undefined, 'is unset while runtime is RaftRuntime.generic(...), so it would run the cdk8s-ha runtime image with foreign flags', "set image (e.g. 'quay.io/coreos/etcd:v3.5.17')");
    }
    if (rendered.readsDesiredMembers) {
      this.membersConfigMap = new k8s.KubeConfigMap(this, 'desired-members', {
        metadata: { name: membersConfigMapName(r), labels: r.labels },
        data: { [MEMBERS_KEY]: String(r.members) },
      });
    }
    this.peerService = this.renderPeerService(r, rendered);
    this.statefulSet = this.renderStatefulSet(r, props, rendered);
    this.clientService = this.renderClientService(r);
    if (r.members >= 3) {
      this.podDisruptionBudget = new HaPodDisruptionBudget(this, 'pdb', {
        matchLabels: r.selector, replicas: r.members, minimumHealthy: r.quorum, maxUnavailable: r.maxUnavailable, name: r.name, ownerName: r.owner,
      });
    }
    this.networkPolicy = this.renderNetworkPolicy(r, props, rendered);
    if (props.backup) {
      this.backupCronJob = this.renderBackup(r, props, props.backup);
      this.backupNetworkPolicy = new HaNetworkPolicy(this, 'backup-network-policy', {
        matchLabels: backupPodLabels(r.name),
        ingress: [],
        egress: props.allowAllEgress ? undefined : [...DNS_EGRESS_RULES, { port: r.clientPort, to: [{ podLabels: r.selector }] }],
        egressPropName: 'allowedEgress',
        name: `${r.name}-backup`,
        ownerName: r.owner,
      });
    }
    checkUniqueNamesInChart(this);
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

  private renderPeerService(r: ResolvedRaft, rendered: RenderedMember): k8s.KubeService {
    return new k8s.KubeService(this, 'peers', {
      metadata: { name: r.peerServiceName, labels: r.labels },
      spec: {
        clusterIp: 'None',
        // Members must resolve each other before any is ready: readiness needs a quorum.
        publishNotReadyAddresses: true,
        selector: r.selector,
        ports: rendered.ports.map((p) => ({ name: p.name, port: p.containerPort, targetPort: k8s.IntOrString.fromString(p.name!), protocol: 'TCP' })),
      },
    });
  }

  private renderStatefulSet(r: ResolvedRaft, props: RaftClusterProps, rendered: RenderedMember): k8s.KubeStatefulSet {
    return new k8s.KubeStatefulSet(this, 'members', {
      metadata: {
        name: r.name,
        labels: r.labels,
        // Read by audits: the members that must stay up (see test/util cross-checks).
        annotations: { 'ha.cdk8s.io/quorum': String(r.quorum) },
      },
      spec: {
        replicas: r.members,
        serviceName: r.peerServiceName,
        // Members start together: OrderedReady would wait for member 0 to be ready, which needs a quorum.
        podManagementPolicy: 'Parallel',
        // One member at a time, each ready (caught up) before the next. With Parallel pod management the 1.28
        // controller only waits for the members it has already updated: a member that is down for another reason
        // does not stop it. maxUnavailable 1 closes that gap where the MaxUnavailableStatefulSet gate is on (alpha
        // in 1.28: the API server drops the field otherwise); see the class doc.
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0, maxUnavailable: k8s.IntOrString.fromNumber(1) } },
        minReadySeconds: r.minReadySeconds,
        persistentVolumeClaimRetentionPolicy: {
          whenDeleted: props.volumeRetentionOnDelete ?? VolumeRetention.RETAIN,
          whenScaled: props.volumeRetentionOnScaleDown ?? VolumeRetention.RETAIN,
        },
        selector: { matchLabels: r.selector },
        template: {
          metadata: { labels: { ...props.podLabels, ...r.labels }, annotations: plain(props.podAnnotations) },
          spec: renderPodSpec(r, props, rendered),
        },
        volumeClaimTemplates: [{
          metadata: { name: 'data', labels: { ...props.volumeClaimLabels, ...r.labels }, annotations: plain(props.volumeClaimAnnotations) },
          spec: {
            accessModes: ['ReadWriteOnce'],
            storageClassName: props.storageClassName,
            resources: { requests: { storage: k8s.Quantity.fromString(quantityOf(r.storageSize)) } },
          },
        }],
      },
    });
  }

  private renderClientService(r: ResolvedRaft): k8s.KubeService {
    const exposure = r.clientExposure;
    return new k8s.KubeService(this, 'client', {
      metadata: { name: r.name, labels: r.labels },
      spec: {
        type: exposure.type,
        externalTrafficPolicy: exposure.externalTrafficPolicy,
        loadBalancerSourceRanges: exposure.loadBalancerSourceRanges,
        selector: r.selector,
        ports: [{ name: 'client', port: r.clientPort, targetPort: k8s.IntOrString.fromString('client'), protocol: 'TCP' }],
      },
    });
  }

  private renderBackup(r: ResolvedRaft, props: RaftClusterProps, backup: RaftBackup): k8s.KubeCronJob {
    if (r.runtime._kind !== 'ha-runtime') {
      fail(r.owner, 'backup', new Raw(`{ schedule: '${backup.schedule}' }`), `needs RaftRuntime.haRuntime() (it runs 'ha-runtime backup' against GET /v1/snapshot); this cluster runs RaftRuntime.${r.runtime._kind}`, "remove it; for etcd run 'etcdctl snapshot save' in your own CronJob");
    }
    validateBackup(r.owner, r.name, backup);
    return renderBackupCronJob(this, 'backup', {
      owner: r.owner,
      name: r.name,
      clientPort: r.clientPort,
      image: r.image!,
      uid: r.uid,
      resources: resourcesToL1(r.resources),
      imagePullSecrets: props.imagePullSecrets?.map((s) => ({ name: s.name })),
    }, backup);
  }

  private renderNetworkPolicy(r: ResolvedRaft, props: RaftClusterProps, rendered: RenderedMember): HaNetworkPolicy {
    const peers: NetworkPeer[] = [{ podLabels: r.selector }];
    const egress: NetworkEgressRule[] | undefined = props.allowAllEgress ? undefined : [
      ...DNS_EGRESS_RULES,
      // A member talks to its peers only (and, for some runtimes, to their client ports when it forwards).
      ...rendered.peerEgressPorts.map((port) => ({ port, to: peers })),
      ...props.allowedEgress ?? [],
    ];
    return new HaNetworkPolicy(this, 'network-policy', {
      matchLabels: r.selector,
      ingress: [
        { port: r.clientPort, from: clientsWithBackup(r, props) },
        { port: r.peerPort, from: peers },
        ...rendered.ports.filter((p) => p.containerPort !== r.clientPort && p.containerPort !== r.peerPort)
          .map((p) => ({ port: p.containerPort, from: peers })),
      ],
      egress,
      egressPropName: 'allowedEgress',
      name: r.name,
      ownerName: r.owner,
    });
  }
}

/** Who may reach the client port: the backup pods are clients too (with every source admitted they need no rule). */
function clientsWithBackup(r: ResolvedRaft, props: RaftClusterProps): NetworkPeer[] | undefined {
  if (!props.allowedClients || !props.backup) return props.allowedClients;
  return [...props.allowedClients, { podLabels: backupPodLabels(r.name) }];
}

function namesOf(name: string, count: number): string[] {
  return Array.from({ length: Math.max(0, Number.isInteger(count) ? count : 0) }, (_, i) => `${name}-${i}`);
}

/** The props with every default filled in. */
interface ResolvedRaft {
  readonly owner: string;
  readonly members: number;
  readonly quorum: number;
  readonly name: string;
  readonly memberNames: string[];
  /** The members named in the initial cluster list. */
  readonly initialMemberNames: string[];
  readonly peerServiceName: string;
  readonly image: string | undefined;
  readonly runtime: RaftRuntime;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly storageSize: Size;
  readonly grace: number;
  readonly minReadySeconds: number;
  readonly resources: kplus.ContainerResources;
  readonly uid: number;
  readonly maxUnavailable: number;
  readonly selector: Record<string, string>;
  readonly labels: Record<string, string>;
  readonly clientExposure: ServiceExposure;
  /** The Secret mounted for peer TLS, once bound (after validation). */
  readonly peerTlsSecret?: string;
}

/** Where a member mounts its peer certificates. */
const PEER_TLS_DIR = '/etc/raft/peer-tls';
const MEMBERS_DIR = '/etc/raft/members';
const MEMBERS_KEY = 'members';

function membersConfigMapName(r: ResolvedRaft): string {
  return `${r.name}-members`;
}

function resolveRaftProps(scope: Construct, owner: string, props: RaftClusterProps): ResolvedRaft {
  const members = props.members ?? 3;
  const name = props.name ?? Names.toDnsLabel(scope, { maxLen: 47 });
  const selector = { 'app.kubernetes.io/name': 'raft-cluster', 'app.kubernetes.io/instance': name };
  const quorum = majorityQuorum(members);
  const runtime = props.runtime ?? RaftRuntime.haRuntime();
  return {
    owner,
    members,
    quorum,
    name,
    memberNames: namesOf(name, members),
    initialMemberNames: namesOf(name, props.initialMembers ?? members),
    peerServiceName: `${name}-peers`,
    image: props.image ?? runtime._defaultImage,
    runtime,
    clientPort: props.clientPort ?? 7379,
    peerPort: props.peerPort ?? 7380,
    dataDir: props.dataDir ?? '/var/lib/ha-runtime',
    storageSize: props.storageSize ?? Size.gibibytes(10),
    grace: props.terminationGracePeriodSeconds ?? 30,
    minReadySeconds: props.minReadySeconds ?? 10,
    resources: props.resources ?? {
      cpu: { request: kplus.Cpu.millis(250) },
      memory: { request: Size.mebibytes(256), limit: Size.mebibytes(512) },
      ephemeralStorage: { request: Size.gibibytes(1), limit: Size.gibibytes(2) },
    },
    uid: props.runAsUser ?? DEFAULT_NON_ROOT_ID,
    maxUnavailable: props.maxUnavailable ?? majorityFailureTolerance(members),
    selector,
    labels: { ...selector, 'app.kubernetes.io/part-of': 'cdk8s-ha' },
    clientExposure: props.clientExposure ?? ServiceExposure.clusterIp(),
  };
}

function validateRaftProps(r: ResolvedRaft, props: RaftClusterProps): void {
  const owner = r.owner;
  const allowUnsafe = props.allowUnsafeMemberCount ?? false;
  checkInt(owner, 'members', r.members, 1, Number.MAX_SAFE_INTEGER, 'use 3 or 5');
  if (!allowUnsafe && (r.members < 3 || r.members % 2 === 0)) {
    const why = r.members < 3 ? 'tolerates no member failure' : `tolerates no more failures than ${r.members - 1} members`;
    fail(owner, 'members', r.members, why, 'use an odd count >= 3 (3 or 5), or set allowUnsafeMemberCount: true');
  }
  if (props.initialMembers !== undefined) {
    checkInt(owner, 'initialMembers', props.initialMembers, 1, Number.MAX_SAFE_INTEGER, 'use the member count the cluster was created with');
    if (r.runtime._kind !== 'ha-runtime' && props.initialMembers !== r.members) {
      fail(owner, 'initialMembers', props.initialMembers, `differs from members (${r.members}), which only RaftRuntime.haRuntime() supports (it joins and removes members by itself)`, 'remove it');
    }
  }
  // 47: the pod name gets '-<ordinal>' and the 63-character label limit must hold controller-revision-hash.
  checkDns1035(owner, 'name', r.name, 47);
  if (r.image !== undefined) checkImage(owner, 'image', r.image);
  checkPort(owner, 'clientPort', r.clientPort);
  checkPort(owner, 'peerPort', r.peerPort);
  const ports = [r.clientPort, r.peerPort, ...(props.extraPorts ?? []).map((p) => p.port)];
  (props.extraPorts ?? []).forEach((p, i) => {
    checkPort(owner, `extraPorts[${i}].port`, p.port);
    checkPortName(owner, `extraPorts[${i}].name`, p.name);
  });
  if (r.clientPort === r.peerPort) fail(owner, 'peerPort', r.peerPort, 'is also the clientPort', 'use two ports (default 7379 and 7380)');
  checkUnique(owner, 'port (clientPort, peerPort, extraPorts)', ports);
  checkUnique(owner, 'port name (client, peer, extraPorts)', ['client', 'peer', ...(props.extraPorts ?? []).map((p) => p.name)]);
  checkAbsolutePath(owner, 'dataDir', r.dataDir);
  checkStorageSize(owner, 'storageSize', r.storageSize);
  if (props.storageClassName !== undefined) checkDns1123Subdomain(owner, 'storageClassName', props.storageClassName);
  if (props.priorityClassName !== undefined) checkDns1123Subdomain(owner, 'priorityClassName', props.priorityClassName);
  checkInt(owner, 'terminationGracePeriodSeconds', r.grace, 10, Number.MAX_SAFE_INTEGER, 'a leader must hand over and a new one be elected before SIGKILL');
  checkInt(owner, 'minReadySeconds', r.minReadySeconds, 0);
  checkResources(owner, 'resources', r.resources);
  checkInt(owner, 'runAsUser', r.uid, 1, 2147483647, 'use a non-root uid; 65532 is the distroless nonroot user');
  validateDisruptionBudget(r, props);
  r.clientExposure._validate(owner, 'clientExposure');
  checkLabels(owner, 'podLabels', props.podLabels);
  checkAnnotations(owner, 'podAnnotations', props.podAnnotations);
  checkLabels(owner, 'nodeSelector', props.nodeSelector);
  checkLabels(owner, 'volumeClaimLabels', props.volumeClaimLabels);
  checkAnnotations(owner, 'volumeClaimAnnotations', props.volumeClaimAnnotations);
  for (const key of Object.keys(props.podLabels ?? {})) {
    if (key in r.labels) fail(owner, 'podLabels key', key, 'is set by the construct (the selector depends on it)', 'use another key');
  }
  checkEgressRules(owner, 'allowedEgress', props.allowedEgress);
  validateRaftSidecars(r, props);
  if (props.allowAllEgress && props.allowedEgress) fail(owner, 'allowedEgress', props.allowedEgress.length, 'has no effect with allowAllEgress: true', 'set only one of them');
}

function validateRaftSidecars(r: ResolvedRaft, props: RaftClusterProps): void {
  const sidecarPorts = checkAddedContainers(r.owner, { sidecars: props.sidecars }, ['member']);
  checkUnique(r.owner, 'container port (members and sidecars)', [r.clientPort, r.peerPort, ...(props.extraPorts ?? []).map((p) => p.port), ...sidecarPorts]);
}

function validateDisruptionBudget(r: ResolvedRaft, props: RaftClusterProps): void {
  if (props.maxUnavailable === undefined) return;
  const maxAllowed = majorityFailureTolerance(r.members);
  if (r.members < 3) {
    fail(r.owner, 'maxUnavailable', props.maxUnavailable, `needs at least 3 members; ${r.members} members have no quorum-safe disruption budget`, 'remove it');
  }
  if (!Number.isInteger(r.maxUnavailable) || r.maxUnavailable < 1 || r.maxUnavailable > maxAllowed) {
    fail(r.owner, 'maxUnavailable', r.maxUnavailable, `must be an integer in 1..${maxAllowed} for ${r.members} members (quorum ${r.quorum}): more loses the quorum in a drain, 0 blocks every drain`, `use ${maxAllowed}`);
  }
}

/** The member container as the runtime renders it, plus the cluster's overrides. */
interface RenderedMember extends Omit<RenderedRuntime, 'ports'> {
  readonly probes: { readinessProbe: k8s.Probe; livenessProbe: k8s.Probe; startupProbe: k8s.Probe };
  readonly ports: (k8s.ContainerPort & { name: string })[];
}

function renderRuntime(r: ResolvedRaft, props: RaftClusterProps): RenderedMember {
  const rendered = r.runtime._render({
    owner: r.owner,
    name: r.name,
    memberNames: r.initialMemberNames,
    peerServiceName: r.peerServiceName,
    desiredMembersFile: `${MEMBERS_DIR}/${MEMBERS_KEY}`,
    dataDir: r.dataDir,
    clientPort: r.clientPort,
    peerPort: r.peerPort,
    memoryLimitBytes: r.resources.memory?.limit === undefined ? undefined : r.resources.memory.limit.toKibibytes() * 1024,
    peerTls: r.peerTlsSecret === undefined ? undefined : {
      certFile: `${PEER_TLS_DIR}/tls.crt`, keyFile: `${PEER_TLS_DIR}/tls.key`, trustedCaFile: `${PEER_TLS_DIR}/ca.crt`,
    },
  });
  const ports = [
    { name: 'client', containerPort: r.clientPort, protocol: 'TCP' },
    { name: 'peer', containerPort: r.peerPort, protocol: 'TCP' },
    ...[...rendered.ports, ...props.extraPorts ?? []].map((p) => ({ name: p.name, containerPort: p.port, protocol: 'TCP' })),
  ];
  checkUnique(r.owner, 'container port (runtime and extraPorts)', ports.map((p) => p.containerPort));
  checkUnique(r.owner, 'container port name (runtime and extraPorts)', ports.map((p) => p.name));
  const readiness = props.readiness ?? rendered.readiness;
  const liveness = props.liveness ?? rendered.liveness;
  const startup = props.startup ?? rendered.startup;
  const probes = {
    readinessProbe: readiness._render(ProbePurpose.READINESS, r.clientPort, r.owner),
    livenessProbe: liveness._render(ProbePurpose.LIVENESS, r.clientPort, r.owner),
    startupProbe: startup._render(ProbePurpose.STARTUP, r.clientPort, r.owner),
  };
  const numbers = ports.map((p) => p.containerPort);
  for (const [purpose, probe] of [['readiness', readiness], ['liveness', liveness], ['startup', startup]] as const) {
    const port = probe.portFor(r.clientPort);
    if (port !== undefined && !numbers.includes(port)) {
      fail(r.owner, `${purpose} probe port`, port, `is not a port of the member (clientPort ${r.clientPort}, peerPort ${r.peerPort}${numbers.length > 2 ? `, ${numbers.slice(2).join(', ')}` : ''})`, 'probe a port the member listens on, or add it to extraPorts');
    }
  }
  const window = (p: k8s.Probe) => p.periodSeconds! * p.failureThreshold!;
  if (window(probes.livenessProbe) <= window(probes.readinessProbe)) {
    fail(r.owner, 'liveness', new Raw(`periodSeconds x failureThreshold = ${window(probes.livenessProbe)}s`), `must act later than the readiness probe (${window(probes.readinessProbe)}s); a member restarted while catching up never catches up`, 'raise its periodSeconds x failureThreshold');
  }
  return { ...rendered, probes, ports };
}

function renderPodSpec(r: ResolvedRaft, props: RaftClusterProps, rendered: RenderedMember): k8s.PodSpec {
  const spread = renderTopologySpread(r.selector, SpreadMode.OFF, props.zoneSpread ?? SpreadMode.PREFERRED, []);
  const volumes: k8s.Volume[] = [];
  const mounts: k8s.VolumeMount[] = [{ name: 'data', mountPath: r.dataDir }];
  // Read-only, readable by the member's group only (fsGroup): a key is never world-readable.
  const secretVolume = (name: string, secretName: string, path: string) => {
    volumes.push({ name, secret: { secretName, defaultMode: 0o440 } });
    mounts.push({ name, mountPath: path, readOnly: true });
  };
  if (r.peerTlsSecret !== undefined) secretVolume('peer-tls', r.peerTlsSecret, PEER_TLS_DIR);
  if (r.runtime._clientTlsSecret !== undefined) secretVolume('client-tls', r.runtime._clientTlsSecret, ETCD_CLIENT_TLS_DIR);
  if (rendered.readsDesiredMembers) {
    // Mounted as a directory (no subPath): the kubelet then updates the file when the ConfigMap changes.
    volumes.push({ name: 'members', configMap: { name: membersConfigMapName(r), defaultMode: 0o444 } });
    mounts.push({ name: 'members', mountPath: MEMBERS_DIR, readOnly: true });
  }
  const allVolumes = [...volumes, ...sidecarVolumes(props)];
  checkUnique(r.owner, 'volume name (data, peer-tls, client-tls, members, sidecars)', ['data', ...allVolumes.map((v) => v.name)]);
  const nodeTerms = (props.requiredNodeLabels ?? []).map((q) => (q as any)._toKube() as k8s.NodeSelectorRequirement);
  return {
    automountServiceAccountToken: false,
    terminationGracePeriodSeconds: r.grace,
    priorityClassName: props.priorityClassName,
    nodeSelector: plain(props.nodeSelector),
    tolerations: props.tolerations?.map((t) => (t as any)._toKube() as k8s.Toleration),
    imagePullSecrets: props.imagePullSecrets?.map((s) => ({ name: s.name })),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: r.uid,
      runAsGroup: r.uid,
      fsGroup: r.uid,
      fsGroupChangePolicy: 'OnRootMismatch',
      seccompProfile: { type: 'RuntimeDefault' },
    },
    affinity: {
      nodeAffinity: nodeTerms.length === 0 ? undefined : {
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: nodeTerms }] },
      },
      podAntiAffinity: {
        // Required: one node loss must never cost two members.
        requiredDuringSchedulingIgnoredDuringExecution: [
          { labelSelector: { matchLabels: r.selector }, topologyKey: 'kubernetes.io/hostname' },
        ],
      },
    },
    topologySpreadConstraints: spread.length > 0 ? spread : undefined,
    volumes: allVolumes.length > 0 ? allVolumes : undefined,
    containers: [{
      name: 'member',
      image: r.image!,
      imagePullPolicy: 'IfNotPresent',
      command: rendered.command,
      args: rendered.args,
      env: [
        // Declared first: later values reference them as $(VAR), which the kubelet expands in order.
        { name: 'HA_RAFT_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        ...rendered.env,
      ],
      ports: rendered.ports,
      ...rendered.probes,
      resources: resourcesToL1(r.resources),
      securityContext: restrictedContainerSecurityContextL1(r.uid, r.uid),
      volumeMounts: mounts,
    }, ...(props.sidecars ?? []).map((c) => hardenedSidecar(c, r.uid))],
  };
}

/** A sidecar as an L1 container, hardened like the member for what it leaves unset. */
function hardenedSidecar(c: kplus.ContainerProps, uid: number): k8s.Container {
  return new kplus.Container(hardenedContainer(c, uid))._toKube();
}

/** The volumes the sidecars mount (each once, by name). */
function sidecarVolumes(props: RaftClusterProps): k8s.Volume[] {
  const byName = new Map<string, k8s.Volume>();
  for (const c of props.sidecars ?? []) for (const m of c.volumeMounts ?? []) byName.set(m.volume.name, m.volume._toKube());
  return [...byName.values()];
}

/** `Size` as a Kubernetes quantity, in Gi when whole. */
function quantityOf(size: Size): string {
  const mib = size.toMebibytes();
  return mib % 1024 === 0 ? `${mib / 1024}Gi` : `${mib}Mi`;
}
