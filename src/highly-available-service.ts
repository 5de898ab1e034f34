import { ApiObject, Duration, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { ManifestAvailabilityOptions } from './availability/manifests';
import { AvailabilityReport } from './availability/model';
import { HaPodDisruptionBudget } from './disruption-budget';
import { DNS_EGRESS_RULES, HaNetworkPolicy, NetworkEgressRule, NetworkIngressRule, NetworkPeer } from './network-policy';
import { PreStopHook } from './pre-stop';
import { availabilityOfWorkload } from './private/availability';
import { checkUniqueNamesInChart } from './private/chart-checks';
import { checkAddedContainers, hardenedContainer } from './private/containers';
import { checkEgressRules } from './private/network';
import { DEFAULT_NON_ROOT_ID, DEFAULT_RESOURCES, plain, restrictedContainerSecurityContext } from './private/pod-hardening';
import { renderTopologySpread } from './private/spread';
import {
  checkAbsolutePath, checkAnnotations, checkDns1035, checkDns1123Label, checkDns1123Subdomain, checkEnvName, checkIdAsLabel,
  checkImage, checkInt, checkLabels, checkPercentOrAbsolute, checkPort, checkPortName, checkResources, checkUnique, fail, Raw,
} from './private/validate';
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
   * @default 70 when no other metric is set, otherwise no CPU target
   */
  readonly targetCpuUtilizationPercent?: number;
  /**
   * Target average memory utilization, percent of the memory request (1..100).
   * @default - no memory target
   */
  readonly targetMemoryUtilizationPercent?: number;
  /**
   * Further metrics (pods, object or external metrics served by a metrics adapter).
   * @see https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale-walkthrough/#autoscaling-on-multiple-metrics-and-custom-metrics
   * @default - none
   */
  readonly metrics?: kplus.Metric[];
  /**
   * Scale-up behaviour.
   * @default - the Kubernetes default (no stabilization, double or +4 pods per 15 s)
   */
  readonly scaleUp?: kplus.ScalingRules;
  /**
   * Scale-down behaviour.
   * @default - the Kubernetes default (5 min stabilization window)
   */
  readonly scaleDown?: kplus.ScalingRules;
}

/** Kind of Prometheus-operator object that tells Prometheus to scrape the metrics port. */
export enum MetricsMonitorKind {
  /** A `ServiceMonitor` selecting the Service (scrapes every ready endpoint). */
  SERVICE_MONITOR = 'ServiceMonitor',
  /** A `PodMonitor` selecting the pods (scrapes not-ready pods too). */
  POD_MONITOR = 'PodMonitor',
  /** No monitor object (scrape configured elsewhere). */
  NONE = 'None',
}

/** A metrics port scraped by Prometheus. */
export interface ServiceMetricsOptions {
  /** Container port serving metrics; exposed by the Service and admitted by the NetworkPolicy. */
  readonly port: number;
  /**
   * HTTP path of the metrics.
   * @default '/metrics'
   */
  readonly path?: string;
  /**
   * Name of the port (the monitor refers to it by name).
   * @default 'metrics'
   */
  readonly portName?: string;
  /**
   * Prometheus-operator object rendered (monitoring.coreos.com/v1).
   * @default MetricsMonitorKind.SERVICE_MONITOR
   */
  readonly monitor?: MetricsMonitorKind;
  /**
   * Scrape interval in seconds.
   * @default 30
   */
  readonly intervalSeconds?: number;
  /**
   * Labels on the monitor object, so a Prometheus `serviceMonitorSelector` picks it up (e.g. `release: prometheus`).
   * @default - the service's labels only
   */
  readonly monitorLabels?: { [key: string]: string };
  /**
   * Who may scrape the port (NetworkPolicy).
   * @default - every source
   */
  readonly allowedScrapers?: NetworkPeer[];
}

/** A further port of a `HighlyAvailableService`. */
export interface ServiceExtraPort {
  /** IANA service name of the port (Service and container port name), e.g. 'grpc'. */
  readonly name: string;
  /** Container port. */
  readonly port: number;
  /**
   * Port the Service exposes for it.
   * @default - the container port
   */
  readonly servicePort?: number;
  /**
   * Clients admitted to it by the NetworkPolicy.
   * @default - every source
   */
  readonly allowedClients?: NetworkPeer[];
}

/** A Gateway API HTTPRoute to the Service. */
export interface ServiceGatewayRouteOptions {
  /** Name of the Gateway the route attaches to. */
  readonly gatewayName: string;
  /**
   * Namespace of the Gateway (its listener must allow routes from this namespace).
   * @default - the route's namespace
   */
  readonly gatewayNamespace?: string;
  /**
   * Listener of the Gateway (`sectionName`), e.g. 'https'.
   * @default - every listener that accepts the route
   */
  readonly listenerName?: string;
  /**
   * Host names routed.
   * @default - the listeners' host names
   */
  readonly hostnames?: string[];
  /**
   * Path prefix routed to the Service.
   * @default '/'
   */
  readonly pathPrefix?: string;
}

/** An Ingress in front of the Service. */
export interface ServiceIngressOptions {
  /**
   * Host name the Ingress routes (a DNS-1123 subdomain, `*.` wildcard allowed).
   * @default - every host (then `tlsSecret` cannot be set)
   */
  readonly host?: string;
  /**
   * Path prefix routed to the Service.
   * @default '/'
   */
  readonly path?: string;
  /**
   * How `path` matches.
   * @default kplus.HttpIngressPathType.PREFIX
   */
  readonly pathType?: kplus.HttpIngressPathType;
  /**
   * TLS Secret (kubernetes.io/tls) for `host`; the ingress controller terminates TLS with it.
   * @default - no TLS (plain HTTP)
   */
  readonly tlsSecret?: kplus.ISecret;
  /**
   * IngressClass name.
   * @default - the cluster's default IngressClass
   */
  readonly className?: string;
  /**
   * Annotations of the Ingress (controller options such as cert-manager's `cert-manager.io/cluster-issuer`).
   * @default - none
   */
  readonly annotations?: { [key: string]: string };
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
   * Liveness probe: restarts a wedged container; must act slower than readiness. The default TCP check has the
   * same handler as the default readiness probe (kube-score's "identical probes"): its timing differs
   * (60 s vs 10 s of failure), but give the app an HTTP liveness endpoint distinct from readiness where it has one.
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
   * @default - ServiceExposure.loadBalancer(), or ServiceExposure.clusterIp() when `ingress` is set
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
   * Environment variables from other sources (`EnvValue.fromSecretValue`, `EnvValue.fromConfigMap`,
   * `EnvValue.fromFieldRef`, ...), next to `env`; a name may appear in only one of them.
   * @default - none
   */
  readonly envVariables?: { [name: string]: kplus.EnvValue };
  /**
   * Every key of Secrets or ConfigMaps as variables (`Env.fromSecret(secret)`, `Env.fromConfigMap(cm, prefix)`).
   * @default - none
   */
  readonly envFrom?: kplus.EnvFrom[];
  /**
   * Volumes mounted in the app container (`Volume.fromConfigMap`, `Volume.fromSecret`, ...); each path once.
   * @default - none besides `writablePaths`
   */
  readonly volumeMounts?: kplus.VolumeMount[];
  /**
   * Container command (entrypoint).
   * @default - the image's ENTRYPOINT
   */
  readonly command?: string[];
  /**
   * Container arguments (the image's CMD is used when unset).
   * @default - the image's CMD
   */
  readonly args?: string[];
  /**
   * Containers running next to the app (proxies, log shippers). Unset fields take the app's hardening: the
   * restricted security context, IfNotPresent pulls and the default resources; images must be pinned.
   * @default - none
   */
  readonly sidecars?: kplus.ContainerProps[];
  /**
   * Containers that run to completion before the app starts, hardened like `sidecars`.
   * @default - none
   */
  readonly initContainers?: kplus.ContainerProps[];
  /**
   * ServiceAccount of the pods (annotate it for workload identity).
   * @default - the namespace's default ServiceAccount
   */
  readonly serviceAccount?: kplus.IServiceAccount;
  /**
   * Mount the ServiceAccount token (workload identity and in-cluster API clients need it).
   * @default false (a token an app never uses is a credential an attacker can)
   */
  readonly automountServiceAccountToken?: boolean;
  /**
   * Secrets (kubernetes.io/dockerconfigjson) used to pull the images.
   * @default - none
   */
  readonly imagePullSecrets?: kplus.ISecret[];
  /**
   * Node labels the pods require (spec.nodeSelector).
   * @default - any node
   */
  readonly nodeSelector?: { [key: string]: string };
  /**
   * Node label expressions the pods require (required node affinity), e.g. `NodeLabelQuery.in('pool', ['web'])`.
   * @default - none
   */
  readonly requiredNodeLabels?: kplus.NodeLabelQuery[];
  /**
   * Taints the pods tolerate, e.g. `NodeTaintQuery.is('dedicated', 'web')`.
   * @default - none
   */
  readonly tolerations?: kplus.NodeTaintQuery[];
  /**
   * Extra labels of the pods (the selector labels cannot be overridden).
   * @default - none
   */
  readonly podLabels?: { [key: string]: string };
  /**
   * Annotations of the pods.
   * @default - none
   */
  readonly podAnnotations?: { [key: string]: string };
  /**
   * Extra labels of the Service.
   * @default - none
   */
  readonly serviceLabels?: { [key: string]: string };
  /**
   * Annotations of the Service (load balancer options).
   * @default - none
   */
  readonly serviceAnnotations?: { [key: string]: string };
  /**
   * An Ingress routing `host` and `path` to the Service, with optional TLS.
   * @default - no Ingress
   */
  readonly ingress?: ServiceIngressOptions;
  /**
   * A metrics port, exposed by the Service and scraped through a Prometheus-operator ServiceMonitor or PodMonitor.
   * @default - no metrics port
   */
  readonly metrics?: ServiceMetricsOptions;
  /**
   * Further ports (an admin or gRPC port of the app, or a port a sidecar listens on): each joins the Service and the
   * NetworkPolicy, and the app container unless a sidecar already declares it.
   * @default - none
   */
  readonly extraPorts?: ServiceExtraPort[];
  /**
   * A Gateway API `HTTPRoute` (gateway.networking.k8s.io/v1) attaching the Service to an existing Gateway.
   * @default - no HTTPRoute
   */
  readonly gatewayRoute?: ServiceGatewayRouteOptions;
  /**
   * Destinations the pods may reach. When set, every other egress is denied, except DNS (port 53), which is
   * always admitted. Unset, egress stays open, as in the common community charts: restricting it needs
   * knowledge of every dependency.
   * @default - egress not restricted
   */
  readonly egress?: NetworkEgressRule[];

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
  /** The Ingress, when `ingress` is set. */
  public readonly ingress?: kplus.Ingress;
  /** The ServiceMonitor or PodMonitor, when `metrics` asks for one. */
  public readonly monitor?: ApiObject;
  /** The Gateway API HTTPRoute, when `gatewayRoute` is set. */
  public readonly gatewayRoute?: ApiObject;
  /** Pods in steady state (autoscaling.minReplicas when autoscaled). */
  public readonly replicas: number;
  /** The container port. */
  public readonly containerPort: number;

  constructor(scope: Construct, id: string, props: HighlyAvailableServiceProps) {
    super(scope, id);
    const r = resolveServiceProps(`HighlyAvailableService '${id}'`, id, props);
    validateServiceProps(r, props);
    this.containerPort = r.containerPort;
    this.replicas = r.replicas;
    this.deployment = this.renderDeployment(r, props);
    this.service = this.renderService(r, props);
    this.podDisruptionBudget = this.renderDisruptionBudget(r, props);
    this.networkPolicy = this.renderNetworkPolicy(r, props);
    this.autoscaler = this.renderAutoscaler(r, props);
    this.ingress = this.renderIngress(r, props);
    this.monitor = this.renderMonitor(r);
    this.gatewayRoute = this.renderGatewayRoute(r, props);
    checkUniqueNamesInChart(this);
  }

  /**
   * The availability model of this service (see `ManifestAvailability`), computed from the manifests it renders:
   * replicas (the autoscaler's minimum when autoscaled), one ready pod required, the PDB, node and zone spread.
   */
  public availability(options?: ManifestAvailabilityOptions): AvailabilityReport {
    return availabilityOfWorkload(this, ApiObject.of(this.deployment), options);
  }

  private renderDeployment(r: ResolvedService, props: HighlyAvailableServiceProps): kplus.Deployment {
    const deployment = new kplus.Deployment(this, 'deployment', {
      metadata: { ...r.named, labels: r.labels },
      podMetadata: { labels: { ...props.podLabels, ...r.labels }, annotations: plain(props.podAnnotations) },
      replicas: props.autoscaling ? undefined : r.replicas,
      minReady: Duration.seconds(r.minReadySeconds),
      progressDeadline: Duration.seconds(r.progressDeadlineSeconds),
      strategy: kplus.DeploymentStrategy.rollingUpdate({ maxSurge: r.maxSurge, maxUnavailable: kplus.PercentOrAbsolute.absolute(0) }),
      securityContext: { ensureNonRoot: true, user: r.uid, group: r.uid, fsGroup: r.uid },
      terminationGracePeriod: Duration.seconds(r.grace),
      automountServiceAccountToken: props.automountServiceAccountToken ?? false,
      serviceAccount: props.serviceAccount,
      containers: [{
        name: 'app',
        image: props.image,
        // A pinned tag is immutable: IfNotPresent keeps restarts working when the registry is down.
        imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
        ports: r.containerPorts,
        command: props.command,
        args: props.args,
        envVariables: {
          ...Object.fromEntries(Object.entries(props.env ?? {}).map(([k, v]) => [k, kplus.EnvValue.fromValue(v)])),
          ...props.envVariables,
        },
        envFrom: props.envFrom,
        resources: r.resources,
        securityContext: restrictedContainerSecurityContext(r.uid, r.uid),
      }, ...(props.sidecars ?? []).map((c) => hardenedContainer(c, r.uid))],
      initContainers: (props.initContainers ?? []).map((c) => hardenedContainer(c, r.uid)),
    });
    const container = deployment.containers[0];
    r.writablePaths.forEach((path, i) => container.mount(path, kplus.Volume.fromEmptyDir(this, `writable-${i}`, `writable-${i}`)));
    for (const m of props.volumeMounts ?? []) container.mount(m.path, m.volume, m);
    // Soft anti-affinity on top of the spread constraint: cheap, and what audits look for.
    deployment.scheduling.spread({ topology: kplus.Topology.HOSTNAME, weight: 100 });
    if ((props.requiredNodeLabels ?? []).length > 0) deployment.scheduling.attract(kplus.Node.labeled(...props.requiredNodeLabels!));
    if ((props.tolerations ?? []).length > 0) deployment.scheduling.tolerate(kplus.Node.tainted(...props.tolerations!));
    this.patchPodSpec(ApiObject.of(deployment), deployment.matchLabels, r, props);
    return deployment;
  }

  /** What cdk8s-plus-28 has no API for, as typed JSON patches on the pod template. */
  private patchPodSpec(deployment: ApiObject, matchLabels: Record<string, string>, r: ResolvedService, props: HighlyAvailableServiceProps): void {
    const podSpec = '/spec/template/spec';
    if (r.preStopHandler) deployment.addJsonPatch(JsonPatch.add(`${podSpec}/containers/0/lifecycle`, { preStop: r.preStopHandler } satisfies k8s.Lifecycle));
    for (const [key, value] of Object.entries(r.probes)) deployment.addJsonPatch(JsonPatch.add(`${podSpec}/containers/0/${key}`, value));
    const spread = renderTopologySpread(matchLabels, props.nodeSpread ?? SpreadMode.REQUIRED, props.zoneSpread ?? SpreadMode.PREFERRED, ['pod-template-hash']);
    if (spread.length > 0) deployment.addJsonPatch(JsonPatch.add(`${podSpec}/topologySpreadConstraints`, spread));
    if (props.priorityClassName !== undefined) deployment.addJsonPatch(JsonPatch.add(`${podSpec}/priorityClassName`, props.priorityClassName));
    if (props.nodeSelector !== undefined) deployment.addJsonPatch(JsonPatch.add(`${podSpec}/nodeSelector`, { ...props.nodeSelector }));
    if (props.imagePullSecrets !== undefined) {
      deployment.addJsonPatch(JsonPatch.add(`${podSpec}/imagePullSecrets`, props.imagePullSecrets.map((s): k8s.LocalObjectReference => ({ name: s.name }))));
    }
    // Pod-level too: containers added later through the public fields run under RuntimeDefault, not Unconfined.
    deployment.addJsonPatch(JsonPatch.add(`${podSpec}/securityContext/seccompProfile`, { type: 'RuntimeDefault' } satisfies k8s.SeccompProfile));
  }

  private renderService(r: ResolvedService, props: HighlyAvailableServiceProps): kplus.Service {
    const ports: kplus.ServicePort[] = [{ name: r.portName, port: r.servicePort, targetPort: r.containerPort, protocol: kplus.Protocol.TCP }];
    if (r.metrics) ports.push({ name: r.metrics.portName, port: r.metrics.port, targetPort: r.metrics.port, protocol: kplus.Protocol.TCP });
    for (const p of props.extraPorts ?? []) {
      ports.push({ name: p.name, port: p.servicePort ?? p.port, targetPort: p.port, protocol: kplus.Protocol.TCP });
    }
    const service = new kplus.Service(this, 'service', {
      metadata: { ...r.named, labels: { ...props.serviceLabels, ...r.labels }, annotations: plain(props.serviceAnnotations) },
      type: r.exposure.type,
      selector: this.deployment,
      ports,
      loadBalancerSourceRanges: r.exposure.loadBalancerSourceRanges,
    });
    const serviceObject = ApiObject.of(service);
    if (r.exposure.externalTrafficPolicy) serviceObject.addJsonPatch(JsonPatch.add('/spec/externalTrafficPolicy', r.exposure.externalTrafficPolicy));
    serviceObject.addJsonPatch(JsonPatch.add('/spec/sessionAffinity', r.sessionAffinity));
    if (r.sessionAffinity === SessionAffinity.CLIENT_IP) {
      serviceObject.addJsonPatch(JsonPatch.add('/spec/sessionAffinityConfig', { clientIp: { timeoutSeconds: r.affinityTimeout } } satisfies k8s.SessionAffinityConfig));
    }
    return service;
  }

  private renderDisruptionBudget(r: ResolvedService, props: HighlyAvailableServiceProps): HaPodDisruptionBudget | undefined {
    if (r.replicas < 2) return undefined;
    return new HaPodDisruptionBudget(this, 'pdb', {
      matchLabels: this.deployment.matchLabels,
      replicas: r.replicas,
      maxUnavailable: props.maxUnavailable,
      minAvailable: props.minAvailable,
      name: props.name,
      ownerName: r.owner,
    });
  }

  private renderNetworkPolicy(r: ResolvedService, props: HighlyAvailableServiceProps): HaNetworkPolicy {
    const ingress: NetworkIngressRule[] = [{ port: r.containerPort, from: props.allowedClients }];
    if (r.metrics) ingress.push({ port: r.metrics.port, from: props.metrics!.allowedScrapers });
    for (const p of props.extraPorts ?? []) ingress.push({ port: p.port, from: p.allowedClients });
    return new HaNetworkPolicy(this, 'network-policy', {
      matchLabels: this.deployment.matchLabels,
      ingress,
      egress: props.egress === undefined ? undefined : [...DNS_EGRESS_RULES, ...props.egress],
      name: props.name,
      ownerName: r.owner,
    });
  }

  private renderAutoscaler(r: ResolvedService, props: HighlyAvailableServiceProps): kplus.HorizontalPodAutoscaler | undefined {
    const a = props.autoscaling;
    if (!a) return undefined;
    return new kplus.HorizontalPodAutoscaler(this, 'autoscaler', {
      metadata: { ...r.named },
      target: this.deployment,
      minReplicas: r.replicas,
      maxReplicas: a.maxReplicas,
      metrics: autoscalingMetrics(a),
      scaleUp: a.scaleUp,
      scaleDown: a.scaleDown,
    });
  }

  private renderIngress(r: ResolvedService, props: HighlyAvailableServiceProps): kplus.Ingress | undefined {
    const o = props.ingress;
    if (!o) return undefined;
    return new kplus.Ingress(this, 'ingress', {
      metadata: { ...r.named, labels: r.labels, annotations: plain(o.annotations) },
      className: o.className,
      rules: [{
        host: o.host,
        path: o.path ?? '/',
        pathType: o.pathType ?? kplus.HttpIngressPathType.PREFIX,
        backend: kplus.IngressBackend.fromService(this.service, { port: r.servicePort }),
      }],
      tls: o.tlsSecret ? [{ hosts: [o.host!], secret: o.tlsSecret }] : undefined,
    });
  }

  private renderGatewayRoute(r: ResolvedService, props: HighlyAvailableServiceProps): ApiObject | undefined {
    const g = props.gatewayRoute;
    if (!g) return undefined;
    return new ApiObject(this, 'route', {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { ...r.named, labels: r.labels },
      spec: {
        parentRefs: [{ name: g.gatewayName, namespace: g.gatewayNamespace, sectionName: g.listenerName }],
        hostnames: g.hostnames,
        rules: [{
          matches: [{ path: { type: 'PathPrefix', value: g.pathPrefix ?? '/' } }],
          backendRefs: [{ name: this.service.name, port: r.servicePort }],
        }],
      },
    });
  }

  private renderMonitor(r: ResolvedService): ApiObject | undefined {
    const m = r.metrics;
    if (!m || m.monitor === MetricsMonitorKind.NONE) return undefined;
    const endpoint = { port: m.portName, path: m.path, interval: `${m.intervalSeconds}s` };
    const podMonitor = m.monitor === MetricsMonitorKind.POD_MONITOR;
    return new ApiObject(this, 'monitor', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: m.monitor,
      metadata: { ...r.named, labels: { ...m.monitorLabels, ...r.labels } },
      spec: podMonitor
        ? { selector: { matchLabels: { ...this.deployment.matchLabels } }, podMetricsEndpoints: [endpoint] }
        : { selector: { matchLabels: { ...r.labels } }, endpoints: [endpoint] },
    });
  }
}

/** The props with every default filled in (defaults documented on the props are exactly these). */
interface ResolvedService {
  readonly owner: string;
  readonly id: string;
  readonly named: { name?: string };
  readonly labels: Record<string, string>;
  readonly containerPort: number;
  readonly servicePort: number;
  readonly portName: string;
  readonly containerPorts: kplus.ContainerPort[];
  /** Steady-state pods: the autoscaler's minimum when autoscaled. */
  readonly replicas: number;
  readonly minimumReplicas: number;
  readonly minReadySeconds: number;
  readonly progressDeadlineSeconds: number;
  readonly maxSurge: kplus.PercentOrAbsolute;
  readonly preStop: PreStopHook;
  readonly preStopHandler?: k8s.LifecycleHandler;
  readonly grace: number;
  readonly resources: kplus.ContainerResources;
  readonly uid: number;
  readonly readiness: HaProbe;
  readonly liveness: HaProbe;
  readonly startup: HaProbe;
  readonly probes: { readinessProbe: k8s.Probe; livenessProbe: k8s.Probe; startupProbe: k8s.Probe };
  readonly sessionAffinity: SessionAffinity;
  readonly affinityTimeout: number;
  readonly exposure: ServiceExposure;
  readonly writablePaths: string[];
  readonly metrics?: Required<Pick<ServiceMetricsOptions, 'port' | 'path' | 'portName' | 'monitor' | 'intervalSeconds'>> & ServiceMetricsOptions;
}

function resolveServiceProps(owner: string, id: string, props: HighlyAvailableServiceProps): ResolvedService {
  const containerPort = props.containerPort ?? 8080;
  const portName = props.portName ?? 'http';
  const replicas = props.replicas ?? 3;
  const metrics = props.metrics === undefined ? undefined : {
    ...props.metrics,
    path: props.metrics.path ?? '/metrics',
    portName: props.metrics.portName ?? 'metrics',
    monitor: props.metrics.monitor ?? MetricsMonitorKind.SERVICE_MONITOR,
    intervalSeconds: props.metrics.intervalSeconds ?? 30,
  };
  const containerPorts: kplus.ContainerPort[] = [{ number: containerPort, name: portName, protocol: kplus.Protocol.TCP }];
  if (metrics) containerPorts.push({ number: metrics.port, name: metrics.portName, protocol: kplus.Protocol.TCP });
  const sidecarPorts = (props.sidecars ?? []).flatMap((c) => (c.ports ?? []).map((p) => p.number));
  for (const p of props.extraPorts ?? []) {
    if (!sidecarPorts.includes(p.port)) containerPorts.push({ number: p.port, name: p.name, protocol: kplus.Protocol.TCP });
  }
  const preStop = props.preStop ?? PreStopHook.sleep(5);
  const readiness = props.readiness ?? HaProbe.tcp();
  const liveness = props.liveness ?? HaProbe.tcp();
  const startup = props.startup ?? HaProbe.tcp();
  return {
    owner,
    id,
    // An explicit `name: undefined` would override cdk8s's generated name: omit the key instead.
    named: props.name === undefined ? {} : { name: props.name },
    labels: { 'app.kubernetes.io/name': id, 'app.kubernetes.io/part-of': 'cdk8s-ha' },
    containerPort,
    servicePort: props.servicePort ?? 80,
    portName,
    containerPorts,
    replicas: props.autoscaling ? props.autoscaling.minReplicas ?? replicas : replicas,
    minimumReplicas: props.allowSingleReplica ?? false ? 1 : 2,
    minReadySeconds: props.minReadySeconds ?? 10,
    progressDeadlineSeconds: props.progressDeadlineSeconds ?? 600,
    maxSurge: props.maxSurge ?? kplus.PercentOrAbsolute.percent(25),
    preStop,
    preStopHandler: preStop._render(containerPort),
    grace: props.terminationGracePeriodSeconds ?? 30,
    resources: props.resources ?? DEFAULT_RESOURCES,
    uid: props.runAsUser ?? DEFAULT_NON_ROOT_ID,
    readiness,
    liveness,
    startup,
    // Rendered on first use, after validation has checked the ports they default to.
    get probes() {
      return {
        readinessProbe: readiness._render(ProbePurpose.READINESS, containerPort, owner),
        livenessProbe: liveness._render(ProbePurpose.LIVENESS, containerPort, owner),
        startupProbe: startup._render(ProbePurpose.STARTUP, containerPort, owner),
      };
    },
    sessionAffinity: props.sessionAffinity ?? SessionAffinity.NONE,
    affinityTimeout: props.sessionAffinityTimeoutSeconds ?? 10800,
    exposure: props.exposure ?? (props.ingress ? ServiceExposure.clusterIp() : ServiceExposure.loadBalancer()),
    writablePaths: props.writablePaths ?? ['/tmp'],
    metrics,
  };
}

function validateServiceProps(r: ResolvedService, props: HighlyAvailableServiceProps): void {
  const owner = r.owner;
  checkIdAsLabel(owner, r.id);
  checkImage(owner, 'image', props.image);
  checkPort(owner, 'containerPort', r.containerPort);
  checkPort(owner, 'servicePort', r.servicePort);
  checkPortName(owner, 'portName', r.portName);
  if (props.name !== undefined) checkDns1035(owner, 'name', props.name);
  validateReplicas(r, props);
  checkInt(owner, 'minReadySeconds', r.minReadySeconds, 0);
  if (!Number.isInteger(r.progressDeadlineSeconds) || r.progressDeadlineSeconds <= r.minReadySeconds) {
    fail(owner, 'progressDeadlineSeconds', r.progressDeadlineSeconds, `must be an integer greater than minReadySeconds (${r.minReadySeconds})`, 'e.g. 600');
  }
  checkPercentOrAbsolute(owner, 'maxSurge', r.maxSurge);
  if (r.maxSurge.isZero()) fail(owner, 'maxSurge', r.maxSurge.value, 'is zero; with maxUnavailable 0 a rollout could never start', 'use PercentOrAbsolute.percent(25) or absolute(1)');
  if (!Number.isInteger(r.grace) || r.grace <= r.preStop.delaySeconds) {
    fail(owner, 'terminationGracePeriodSeconds', r.grace, `must be an integer greater than the preStop delay (${r.preStop.delaySeconds}s), or the server is killed before it can drain`, `use at least ${r.preStop.delaySeconds + 1}`);
  }
  checkResources(owner, 'resources', r.resources);
  checkInt(owner, 'runAsUser', r.uid, 1, 2147483647, 'use a non-root uid; 65532 is the distroless nonroot user');
  validateProbes(r);
  validateServiceExposure(r, props);
  validateContainerInputs(r, props);
  validateExtraPorts(r, props);
  validatePodPlacement(owner, props);
  validateServiceExtras(r, props);
}

function validateReplicas(r: ResolvedService, props: HighlyAvailableServiceProps): void {
  const { owner, minimumReplicas: min } = r;
  const fix = min === 1 ? 'use at least 1' : 'set allowSingleReplica: true to accept a single point of failure';
  const replicas = props.replicas ?? 3;
  if (!Number.isInteger(replicas) || replicas < min) fail(owner, 'replicas', replicas, `must be an integer >= ${min} for high availability`, fix);
  const a = props.autoscaling;
  if (a) {
    if (!Number.isInteger(r.replicas) || r.replicas < min) fail(owner, 'autoscaling.minReplicas', r.replicas, `must be an integer >= ${min}`, fix);
    if (!Number.isInteger(a.maxReplicas) || a.maxReplicas < r.replicas) fail(owner, 'autoscaling.maxReplicas', a.maxReplicas, `must be an integer >= minReplicas (${r.replicas})`, `use at least ${r.replicas}`);
    for (const key of ['targetCpuUtilizationPercent', 'targetMemoryUtilizationPercent'] as const) {
      if (a[key] !== undefined) checkInt(owner, `autoscaling.${key}`, a[key], 1, 100, 'e.g. 70');
    }
  }
  if (r.replicas < 2 && (props.maxUnavailable !== undefined || props.minAvailable !== undefined)) {
    fail(owner, props.maxUnavailable !== undefined ? 'maxUnavailable' : 'minAvailable', props.maxUnavailable ?? props.minAvailable,
      'needs at least 2 replicas; a single replica gets no disruption budget', 'remove it or raise replicas');
  }
}

function validateProbes(r: ResolvedService): void {
  const windowOf = (p: k8s.Probe) => p.periodSeconds! * p.failureThreshold!;
  const { livenessProbe, readinessProbe } = r.probes;
  if (windowOf(livenessProbe) <= windowOf(readinessProbe)) {
    fail(r.owner, 'liveness', new Raw(`periodSeconds x failureThreshold = ${windowOf(livenessProbe)}s`), `acts after ${windowOf(livenessProbe)}s of failure, not later than readiness (${windowOf(readinessProbe)}s); a liveness probe must be more lenient or a slow dependency restarts every pod`, 'raise liveness periodSeconds x failureThreshold');
  }
  const ports = r.containerPorts.map((p) => p.number);
  for (const [purpose, probe] of [['readiness', r.readiness], ['liveness', r.liveness], ['startup', r.startup]] as const) {
    const port = probe.portFor(r.containerPort);
    if (port !== undefined && !ports.includes(port)) {
      fail(r.owner, `${purpose} probe port`, port, `is not a port of the container (containerPort ${r.containerPort}${r.metrics ? `, metrics ${r.metrics.port}` : ''})`, 'probe a port the container listens on');
    }
  }
  const preStopPort = r.preStopHandler?.httpGet?.port.value;
  if (typeof preStopPort === 'number' && !ports.includes(preStopPort)) {
    fail(r.owner, 'preStop port', preStopPort, `is not a port of the container (containerPort ${r.containerPort})`, 'call the drain endpoint on a port the container listens on');
  }
}

function validateServiceExposure(r: ResolvedService, props: HighlyAvailableServiceProps): void {
  const owner = r.owner;
  if (props.sessionAffinityTimeoutSeconds !== undefined && r.sessionAffinity !== SessionAffinity.CLIENT_IP) {
    fail(owner, 'sessionAffinityTimeoutSeconds', props.sessionAffinityTimeoutSeconds, 'needs sessionAffinity: SessionAffinity.CLIENT_IP', 'set it or remove the timeout');
  }
  checkInt(owner, 'sessionAffinityTimeoutSeconds', r.affinityTimeout, 1, 86400);
  r.exposure._validate(owner, 'exposure');
  checkLabels(owner, 'serviceLabels', props.serviceLabels);
  checkAnnotations(owner, 'serviceAnnotations', props.serviceAnnotations);
  const m = r.metrics;
  if (m) {
    checkPort(owner, 'metrics.port', m.port);
    checkPortName(owner, 'metrics.portName', m.portName);
    checkAbsolutePath(owner, 'metrics.path', m.path);
    checkInt(owner, 'metrics.intervalSeconds', m.intervalSeconds, 1, 3600, 'e.g. 30');
    checkLabels(owner, 'metrics.monitorLabels', m.monitorLabels);
    if (m.port === r.containerPort) fail(owner, 'metrics.port', m.port, 'is the containerPort', 'serve metrics on a port of their own, e.g. 9090');
    if (m.portName === r.portName) fail(owner, 'metrics.portName', m.portName, 'is the portName of the app port', "e.g. 'metrics'");
    if (m.port === r.servicePort) fail(owner, 'metrics.port', m.port, 'is the servicePort; the Service cannot expose two ports on one number', 'pick another metrics port');
  }
}

function validateExtraPorts(r: ResolvedService, props: HighlyAvailableServiceProps): void {
  const owner = r.owner;
  (props.extraPorts ?? []).forEach((p, i) => {
    checkPort(owner, `extraPorts[${i}].port`, p.port);
    checkPortName(owner, `extraPorts[${i}].name`, p.name);
    if (p.servicePort !== undefined) checkPort(owner, `extraPorts[${i}].servicePort`, p.servicePort);
  });
  const names = [r.portName, ...(r.metrics ? [r.metrics.portName] : []), ...(props.extraPorts ?? []).map((p) => p.name)];
  checkUnique(owner, 'port name (portName, metrics.portName, extraPorts)', names);
  const servicePorts = [r.servicePort, ...(r.metrics ? [r.metrics.port] : []), ...(props.extraPorts ?? []).map((p) => p.servicePort ?? p.port)];
  checkUnique(owner, 'Service port (servicePort, metrics.port, extraPorts)', servicePorts);
}

function validateContainerInputs(r: ResolvedService, props: HighlyAvailableServiceProps): void {
  const owner = r.owner;
  const names = [...Object.keys(props.env ?? {}), ...Object.keys(props.envVariables ?? {})];
  Object.keys(props.env ?? {}).forEach((k) => checkEnvName(owner, 'env name', k));
  Object.keys(props.envVariables ?? {}).forEach((k) => checkEnvName(owner, 'envVariables name', k));
  checkUnique(owner, 'env/envVariables name', names);
  const paths = [...r.writablePaths, ...(props.volumeMounts ?? []).map((m) => m.path)];
  r.writablePaths.forEach((p, i) => checkAbsolutePath(owner, `writablePaths[${i}]`, p));
  (props.volumeMounts ?? []).forEach((m, i) => checkAbsolutePath(owner, `volumeMounts[${i}].path`, m.path));
  checkUnique(owner, 'writablePaths/volumeMounts path', paths);
  if (props.command !== undefined && props.command.length === 0) fail(owner, 'command', [], 'is empty', "omit it to use the image's ENTRYPOINT");
  // Init containers run before the app: their ports never clash with the app's.
  checkAddedContainers(owner, { initContainers: props.initContainers }, ['app']);
  const sidecarPorts = checkAddedContainers(owner, { sidecars: props.sidecars }, ['app', ...(props.initContainers ?? []).map((c) => c.name!)]);
  const ports = [...r.containerPorts.map((p) => p.number), ...sidecarPorts];
  checkUnique(owner, 'container port', ports);
}

function validatePodPlacement(owner: string, props: HighlyAvailableServiceProps): void {
  if (props.priorityClassName !== undefined) checkDns1123Subdomain(owner, 'priorityClassName', props.priorityClassName);
  checkLabels(owner, 'nodeSelector', props.nodeSelector);
  checkLabels(owner, 'podLabels', props.podLabels);
  checkAnnotations(owner, 'podAnnotations', props.podAnnotations);
  for (const key of Object.keys(props.podLabels ?? {})) {
    if (key === 'app.kubernetes.io/name' || key === 'app.kubernetes.io/part-of' || key.startsWith('cdk8s.io/')) {
      fail(owner, 'podLabels key', key, 'is set by the construct (the selector depends on it)', 'use another key');
    }
  }
}

function validateServiceExtras(r: ResolvedService, props: HighlyAvailableServiceProps): void {
  const owner = r.owner;
  checkEgressRules(owner, 'egress', props.egress);
  const o = props.ingress;
  if (o) {
    if (o.host !== undefined) {
      const bare = o.host.startsWith('*.') ? o.host.slice(2) : o.host;
      checkDns1123Subdomain(owner, 'ingress.host', bare);
    }
    checkAbsolutePath(owner, 'ingress.path', o.path === '/' || o.path === undefined ? '/x' : o.path);
    if (o.className !== undefined) checkDns1123Subdomain(owner, 'ingress.className', o.className);
    if (o.tlsSecret && o.host === undefined) fail(owner, 'ingress.tlsSecret', o.tlsSecret.name, 'needs ingress.host (a certificate is for a host)', 'set ingress.host');
    checkAnnotations(owner, 'ingress.annotations', o.annotations);
  }
  const g = props.gatewayRoute;
  if (g) {
    checkDns1123Subdomain(owner, 'gatewayRoute.gatewayName', g.gatewayName);
    if (g.gatewayNamespace !== undefined) checkDns1123Label(owner, 'gatewayRoute.gatewayNamespace', g.gatewayNamespace);
    if (g.listenerName !== undefined) checkDns1123Subdomain(owner, 'gatewayRoute.listenerName', g.listenerName);
    (g.hostnames ?? []).forEach((h, i) => checkDns1123Subdomain(owner, `gatewayRoute.hostnames[${i}]`, h.startsWith('*.') ? h.slice(2) : h));
    checkUnique(owner, 'gatewayRoute.hostnames', g.hostnames ?? []);
    if (g.pathPrefix !== undefined && g.pathPrefix !== '/') checkAbsolutePath(owner, 'gatewayRoute.pathPrefix', g.pathPrefix);
  }
}

function autoscalingMetrics(a: ServiceAutoscalingOptions): kplus.Metric[] {
  const metrics: kplus.Metric[] = [];
  const others = a.targetMemoryUtilizationPercent !== undefined || (a.metrics ?? []).length > 0;
  const cpu = a.targetCpuUtilizationPercent ?? (others ? undefined : 70);
  if (cpu !== undefined) metrics.push(kplus.Metric.resourceCpu(kplus.MetricTarget.averageUtilization(cpu)));
  if (a.targetMemoryUtilizationPercent !== undefined) {
    metrics.push(kplus.Metric.resourceMemory(kplus.MetricTarget.averageUtilization(a.targetMemoryUtilizationPercent)));
  }
  return [...metrics, ...(a.metrics ?? [])];
}
