import { ApiObject, Duration, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { ManifestAvailabilityOptions } from './availability/manifests';
import { AvailabilityReport } from './availability/model';
import { HaPodDisruptionBudget } from './disruption-budget';
import { HaNetworkPolicy, NetworkPeer } from './network-policy';
import { PreStopHook } from './pre-stop';
import { availabilityOfWorkload } from './private/availability';
import {
  checkImage, checkPort, checkResources, DEFAULT_NON_ROOT_ID, DEFAULT_RESOURCES, restrictedContainerSecurityContext,
} from './private/pod-hardening';
import { renderTopologySpread } from './private/spread';
import { HaProbe, ProbePurpose } from './probes';
import { ServiceExposure, SessionAffinity } from './service-exposure';
import { SpreadMode } from './topology-spread';

/** Horizontal autoscaling of a `HighlyAvailableService` (autoscaling/v2 on CPU utilization). */
export interface ServiceAutoscalingOptions {
  /**
   * Fewest replicas; must be >= 2 (one pod is a single point of failure).
   * @default - the service's `replicas`
   */
  readonly minReplicas?: number;
  /** Most replicas; must be >= minReplicas. */
  readonly maxReplicas: number;
  /**
   * Target average CPU utilization, percent of the CPU request (1..100).
   * @default 70
   */
  readonly targetCpuUtilizationPercent?: number;
}

/** Props of `HighlyAvailableService`. */
export interface HighlyAvailableServiceProps {
  /** Container image, pinned by tag or digest (`latest` and untagged images are rejected). */
  readonly image: string;
  /**
   * metadata.name of every object (Deployment, Service, PDB, NetworkPolicy, HPA): the Service's DNS name.
   * A DNS-1035 label of at most 63 characters.
   * @default - unique generated names (the Service DNS name then contains a hash)
   */
  readonly name?: string;
  /**
   * Port the container listens on.
   * @default 8080
   */
  readonly containerPort?: number;
  /**
   * Port the Service exposes (targets `containerPort`).
   * @default 80
   */
  readonly servicePort?: number;
  /**
   * Name of the container port (used by the Service's named port and by tooling).
   * @default 'http'
   */
  readonly portName?: string;
  /**
   * Pods in steady state (ignored for scaling when `autoscaling` is set: the autoscaler owns replicas).
   * @default 3
   */
  readonly replicas?: number;
  /**
   * Accept fewer than 2 replicas, a single point of failure (no disruption budget is created then).
   * @default false
   */
  readonly allowSingleReplica?: boolean;
  /**
   * Extra pods a rollout may start above `replicas` (maxUnavailable is always 0, so capacity never drops).
   * @default PercentOrAbsolute.percent(25) (rounds up: at least one pod)
   */
  readonly maxSurge?: kplus.PercentOrAbsolute;
  /**
   * Seconds a new pod must stay ready before it counts as available, catching pods that crash just after
   * becoming ready.
   * @default 10
   */
  readonly minReadySeconds?: number;
  /**
   * Seconds without rollout progress before the Deployment reports failure (must exceed minReadySeconds).
   * @default 600
   */
  readonly progressDeadlineSeconds?: number;
  /**
   * Readiness probe: takes a pod out of rotation fast.
   * @default HaProbe.tcp() on the container port
   */
  readonly readiness?: HaProbe;
  /**
   * Liveness probe: restarts a wedged container; must act slower than readiness.
   * @default HaProbe.tcp() on the container port
   */
  readonly liveness?: HaProbe;
  /**
   * Startup probe: gives a slow boot up to periodSeconds x failureThreshold before liveness starts.
   * @default HaProbe.tcp() on the container port
   */
  readonly startup?: HaProbe;
  /**
   * Spread over nodes (kubernetes.io/hostname, maxSkew 1). REQUIRED: one node loss costs at most
   * ceil(replicas / nodes) pods, and a one-node cluster stays schedulable (one domain has no skew).
   * @default SpreadMode.REQUIRED
   */
  readonly nodeSpread?: SpreadMode;
  /**
   * Spread over zones (topology.kubernetes.io/zone, maxSkew 1). PREFERRED: a zone out of capacity must not
   * leave pods Pending, and a one-zone cluster stays schedulable.
   * @default SpreadMode.PREFERRED
   */
  readonly zoneSpread?: SpreadMode;
  /**
   * Pods a voluntary disruption may take at once (PodDisruptionBudget).
   * @default 1 (when minAvailable is unset)
   */
  readonly maxUnavailable?: number;
  /**
   * Pods that must stay available during a voluntary disruption (instead of maxUnavailable).
   * @default - unset
   */
  readonly minAvailable?: number;
  /**
   * How the Service is exposed.
   * @default ServiceExposure.loadBalancer()
   */
  readonly exposure?: ServiceExposure;
  /**
   * Session affinity of the Service.
   * @default SessionAffinity.NONE
   */
  readonly sessionAffinity?: SessionAffinity;
  /**
   * Seconds a ClientIP affinity lasts (SessionAffinity.CLIENT_IP only).
   * @default 10800
   */
  readonly sessionAffinityTimeoutSeconds?: number;
  /**
   * Horizontal autoscaling; when set, the Deployment leaves `replicas` to the autoscaler.
   * @default - no autoscaler
   */
  readonly autoscaling?: ServiceAutoscalingOptions;
  /**
   * Delays SIGTERM while endpoints drain.
   * @default PreStopHook.sleep(5)
   */
  readonly preStop?: PreStopHook;
  /**
   * Seconds between SIGTERM (after preStop) and SIGKILL, preStop included; must exceed the preStop delay.
   * @default 30
   */
  readonly terminationGracePeriodSeconds?: number;
  /**
   * Container resources; requests for CPU and memory and a memory limit are required.
   * @default - cpu request 100m, memory request 128Mi, memory limit 256Mi, ephemeral-storage request 1Gi and
   * limit 2Gi, no CPU limit (throttling adds latency; the request already reserves the share)
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * Non-root uid (and gid, fsGroup) the container runs as.
   * @default 65532
   */
  readonly runAsUser?: number;
  /**
   * Paths mounted as emptyDir volumes, writable despite the read-only root filesystem.
   * @default ['/tmp']
   */
  readonly writablePaths?: string[];
  /**
   * Environment variables.
   * @default - none
   */
  readonly env?: { [name: string]: string };
  /**
   * Container arguments (the image's CMD is used when unset).
   * @default - the image's CMD
   */
  readonly args?: string[];
  /**
   * Clients admitted to the container port by the NetworkPolicy. Behind a LoadBalancer with
   * `ExternalTrafficPolicy.CLUSTER`, traffic arrives from node addresses: admit the node CIDR too.
   * @default - every source (a LoadBalancer's traffic arrives from node or external addresses)
   */
  readonly allowedClients?: NetworkPeer[];
  /**
   * PriorityClass of the pods, so the scheduler preempts less important pods before these.
   * @default - the cluster's default priority
   */
  readonly priorityClassName?: string;
}

/**
 * A stateless service done the way a senior SRE would hand-write it: a Deployment that keeps capacity during
 * rollouts and spreads over nodes and zones, probes with distinct purposes, a PodDisruptionBudget that keeps
 * drains possible, a Service, a NetworkPolicy, an optional HPA, graceful shutdown and a restricted security
 * context. Every child is a public field for further customization.
 */
export class HighlyAvailableService extends Construct {
  /** The Deployment. */
  public readonly deployment: kplus.Deployment;
  /** The Service in front of the pods. */
  public readonly service: kplus.Service;
  /** The PodDisruptionBudget; undefined only for a single replica (allowSingleReplica). */
  public readonly podDisruptionBudget?: HaPodDisruptionBudget;
  /** The ingress NetworkPolicy. */
  public readonly networkPolicy: HaNetworkPolicy;
  /** The HorizontalPodAutoscaler, when `autoscaling` is set. */
  public readonly autoscaler?: kplus.HorizontalPodAutoscaler;
  /** Pods in steady state (autoscaling.minReplicas when autoscaled). */
  public readonly replicas: number;
  /** The container port. */
  public readonly containerPort: number;

  constructor(scope: Construct, id: string, props: HighlyAvailableServiceProps) {
    super(scope, id);
    const owner = `HighlyAvailableService '${id}'`;
    checkImage(owner, props.image);
    const containerPort = props.containerPort ?? 8080;
    const servicePort = props.servicePort ?? 80;
    checkPort(owner, 'containerPort', containerPort);
    checkPort(owner, 'servicePort', servicePort);
    const portName = props.portName ?? 'http';
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(portName) || portName.length > 15 || !/[a-z]/.test(portName)) {
      throw new Error(`${owner}: portName '${portName}' must be an IANA_SVC_NAME (1-15 lowercase letters, digits, '-', with a letter), e.g. 'http'`);
    }
    this.containerPort = containerPort;
    const name = props.name;
    // An explicit `name: undefined` would override cdk8s's generated name: omit the key instead.
    const named = name === undefined ? {} : { name };
    if (name !== undefined && (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63)) {
      throw new Error(`${owner}: name '${name}' must be a DNS-1035 label (lowercase letters, digits, '-', starting with a letter, at most 63 characters)`);
    }

    const allowSingle = props.allowSingleReplica ?? false;
    const minimum = allowSingle ? 1 : 2;
    const singleFix = 'set allowSingleReplica: true to accept a single point of failure';
    const replicas = props.replicas ?? 3;
    if (!Number.isInteger(replicas) || replicas < minimum) {
      throw new Error(`${owner}: replicas (${replicas}) must be an integer >= ${minimum} for high availability; ${allowSingle ? 'use at least 1' : singleFix}`);
    }
    const autoscaling = props.autoscaling;
    if (autoscaling) {
      const min = autoscaling.minReplicas ?? replicas;
      if (!Number.isInteger(min) || min < minimum) {
        throw new Error(`${owner}: autoscaling.minReplicas (${min}) must be an integer >= ${minimum}; ${allowSingle ? 'use at least 1' : singleFix}`);
      }
      if (!Number.isInteger(autoscaling.maxReplicas) || autoscaling.maxReplicas < min) {
        throw new Error(`${owner}: autoscaling.maxReplicas (${autoscaling.maxReplicas}) must be an integer >= minReplicas (${min})`);
      }
      const target = autoscaling.targetCpuUtilizationPercent ?? 70;
      if (!Number.isInteger(target) || target < 1 || target > 100) {
        throw new Error(`${owner}: autoscaling.targetCpuUtilizationPercent (${target}) must be an integer in 1..100`);
      }
    }
    this.replicas = autoscaling ? autoscaling.minReplicas ?? replicas : replicas;

    const minReadySeconds = props.minReadySeconds ?? 10;
    const progressDeadlineSeconds = props.progressDeadlineSeconds ?? 600;
    if (!Number.isInteger(minReadySeconds) || minReadySeconds < 0) {
      throw new Error(`${owner}: minReadySeconds (${minReadySeconds}) must be a non-negative integer`);
    }
    if (!Number.isInteger(progressDeadlineSeconds) || progressDeadlineSeconds <= minReadySeconds) {
      throw new Error(`${owner}: progressDeadlineSeconds (${progressDeadlineSeconds}) must be an integer greater than minReadySeconds (${minReadySeconds})`);
    }

    const maxSurge = props.maxSurge ?? kplus.PercentOrAbsolute.percent(25);
    if (maxSurge.isZero()) {
      throw new Error(`${owner}: maxSurge (${maxSurge.value}) is zero; with maxUnavailable 0 a rollout could never start. Use PercentOrAbsolute.percent(25) or absolute(1)`);
    }

    const preStop = props.preStop ?? PreStopHook.sleep(5);
    const grace = props.terminationGracePeriodSeconds ?? 30;
    if (!Number.isInteger(grace) || grace <= preStop.delaySeconds) {
      throw new Error(`${owner}: terminationGracePeriodSeconds (${grace}) must be an integer greater than the preStop delay (${preStop.delaySeconds}s), or the server is killed before it can drain`);
    }

    const resources = props.resources ?? DEFAULT_RESOURCES;
    checkResources(owner, resources);
    const uid = props.runAsUser ?? DEFAULT_NON_ROOT_ID;
    if (!Number.isInteger(uid) || uid < 1) {
      throw new Error(`${owner}: runAsUser (${uid}) must be a non-root uid (integer >= 1); 65532 is the distroless nonroot user`);
    }

    const readiness = props.readiness ?? HaProbe.tcp();
    const liveness = props.liveness ?? HaProbe.tcp();
    const startup = props.startup ?? HaProbe.tcp();
    const renderedProbes = {
      readinessProbe: readiness._render(ProbePurpose.READINESS, containerPort, owner),
      livenessProbe: liveness._render(ProbePurpose.LIVENESS, containerPort, owner),
      startupProbe: startup._render(ProbePurpose.STARTUP, containerPort, owner),
    };
    const windowOf = (p: k8s.Probe) => p.periodSeconds! * p.failureThreshold!;
    if (windowOf(renderedProbes.livenessProbe) <= windowOf(renderedProbes.readinessProbe)) {
      throw new Error(`${owner}: liveness acts after ${windowOf(renderedProbes.livenessProbe)}s of failure, not later than readiness (${windowOf(renderedProbes.readinessProbe)}s); a liveness probe must be more lenient or a slow dependency restarts every pod. Raise liveness periodSeconds x failureThreshold`);
    }
    for (const [purpose, probe] of [['readiness', readiness], ['liveness', liveness], ['startup', startup]] as const) {
      const port = probe.portFor(containerPort);
      if (port !== undefined && port !== containerPort) {
        throw new Error(`${owner}: ${purpose} probe port (${port}) is not the containerPort (${containerPort}); probe the port the container listens on`);
      }
    }

    const sessionAffinity = props.sessionAffinity ?? SessionAffinity.NONE;
    if (props.sessionAffinityTimeoutSeconds !== undefined && sessionAffinity !== SessionAffinity.CLIENT_IP) {
      throw new Error(`${owner}: sessionAffinityTimeoutSeconds (${props.sessionAffinityTimeoutSeconds}) needs sessionAffinity: SessionAffinity.CLIENT_IP`);
    }
    const affinityTimeout = props.sessionAffinityTimeoutSeconds ?? 10800;
    if (!Number.isInteger(affinityTimeout) || affinityTimeout < 1 || affinityTimeout > 86400) {
      throw new Error(`${owner}: sessionAffinityTimeoutSeconds (${affinityTimeout}) must be an integer in 1..86400`);
    }

    const labels = { 'app.kubernetes.io/name': id, 'app.kubernetes.io/part-of': 'cdk8s-ha' };
    this.deployment = new kplus.Deployment(this, 'deployment', {
      metadata: { ...named, labels },
      podMetadata: { labels },
      replicas: autoscaling ? undefined : replicas,
      minReady: Duration.seconds(minReadySeconds),
      progressDeadline: Duration.seconds(progressDeadlineSeconds),
      strategy: kplus.DeploymentStrategy.rollingUpdate({
        maxSurge,
        maxUnavailable: kplus.PercentOrAbsolute.absolute(0),
      }),
      securityContext: { ensureNonRoot: true, user: uid, group: uid, fsGroup: uid },
      terminationGracePeriod: Duration.seconds(grace),
      automountServiceAccountToken: false,
      containers: [{
        name: 'app',
        image: props.image,
        // A pinned tag is immutable: IfNotPresent keeps restarts working when the registry is down.
        imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
        ports: [{ number: containerPort, name: portName, protocol: kplus.Protocol.TCP }],
        args: props.args,
        envVariables: Object.fromEntries(Object.entries(props.env ?? {}).map(([k, v]) => [k, kplus.EnvValue.fromValue(v)])),
        resources,
        securityContext: restrictedContainerSecurityContext(uid, uid),
      }],
    });
    const container = this.deployment.containers[0];
    (props.writablePaths ?? ['/tmp']).forEach((path, i) => {
      if (!path.startsWith('/')) throw new Error(`${owner}: writablePaths[${i}] '${path}' must be an absolute path`);
      container.mount(path, kplus.Volume.fromEmptyDir(this, `writable-${i}`, `writable-${i}`));
    });
    // Soft anti-affinity on top of the spread constraint: cheap, and what audits look for.
    this.deployment.scheduling.spread({ topology: kplus.Topology.HOSTNAME, weight: 100 });

    const matchLabels = this.deployment.matchLabels;
    const deploymentObject = ApiObject.of(this.deployment);
    const podSpec = '/spec/template/spec';
    const preStopHandler = preStop._render(containerPort);
    if (preStopHandler) deploymentObject.addJsonPatch(JsonPatch.add(`${podSpec}/containers/0/lifecycle`, { preStop: preStopHandler } satisfies k8s.Lifecycle));
    for (const [key, value] of Object.entries(renderedProbes)) {
      deploymentObject.addJsonPatch(JsonPatch.add(`${podSpec}/containers/0/${key}`, value));
    }
    const spread = renderTopologySpread(matchLabels, props.nodeSpread ?? SpreadMode.REQUIRED, props.zoneSpread ?? SpreadMode.PREFERRED, ['pod-template-hash']);
    if (spread.length > 0) deploymentObject.addJsonPatch(JsonPatch.add(`${podSpec}/topologySpreadConstraints`, spread));
    if (props.priorityClassName !== undefined) {
      deploymentObject.addJsonPatch(JsonPatch.add(`${podSpec}/priorityClassName`, props.priorityClassName));
    }

    const exposure = props.exposure ?? ServiceExposure.loadBalancer();
    this.service = new kplus.Service(this, 'service', {
      metadata: { ...named, labels },
      type: exposure.type,
      selector: this.deployment,
      ports: [{ name: portName, port: servicePort, targetPort: containerPort, protocol: kplus.Protocol.TCP }],
      loadBalancerSourceRanges: exposure.loadBalancerSourceRanges,
    });
    const serviceObject = ApiObject.of(this.service);
    if (exposure.externalTrafficPolicy) {
      serviceObject.addJsonPatch(JsonPatch.add('/spec/externalTrafficPolicy', exposure.externalTrafficPolicy));
    }
    serviceObject.addJsonPatch(JsonPatch.add('/spec/sessionAffinity', sessionAffinity));
    if (sessionAffinity === SessionAffinity.CLIENT_IP) {
      serviceObject.addJsonPatch(JsonPatch.add('/spec/sessionAffinityConfig', { clientIp: { timeoutSeconds: affinityTimeout } } satisfies k8s.SessionAffinityConfig));
    }

    if (this.replicas >= 2) {
      this.podDisruptionBudget = new HaPodDisruptionBudget(this, 'pdb', {
        matchLabels,
        replicas: this.replicas,
        maxUnavailable: props.maxUnavailable,
        minAvailable: props.minAvailable,
        name,
        ownerName: owner,
      });
    } else if (props.maxUnavailable !== undefined || props.minAvailable !== undefined) {
      throw new Error(`${owner}: maxUnavailable/minAvailable need at least 2 replicas; a single replica gets no disruption budget`);
    }

    this.networkPolicy = new HaNetworkPolicy(this, 'network-policy', {
      matchLabels,
      ingress: [{ port: containerPort, from: props.allowedClients }],
      name,
      ownerName: owner,
    });

    if (autoscaling) {
      this.autoscaler = new kplus.HorizontalPodAutoscaler(this, 'autoscaler', {
        metadata: { ...named },
        target: this.deployment,
        minReplicas: this.replicas,
        maxReplicas: autoscaling.maxReplicas,
        metrics: [kplus.Metric.resourceCpu(kplus.MetricTarget.averageUtilization(autoscaling.targetCpuUtilizationPercent ?? 70))],
      });
    }
  }

  /**
   * The availability model of this service (see `ManifestAvailability`), computed from the manifests it renders:
   * replicas (the autoscaler's minimum when autoscaled), one ready pod required, the PDB, node and zone spread.
   */
  public availability(options?: ManifestAvailabilityOptions): AvailabilityReport {
    return availabilityOfWorkload(this, ApiObject.of(this.deployment), options);
  }
}
