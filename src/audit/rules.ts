// The HA audit rules (internal): each rule reads plain manifest objects and reports the objects that break it.
import { AuditContext } from './context';
import { parseImageReference } from './image-reference';
import { plaintextPeers, recogniseQuorumSystem } from './quorum-systems';
import { DisruptionBudgetLimit, SpreadStrictness } from '../availability/inputs';
import {
  allContainersOf, containersOf, HOSTNAME_KEY, isQuorumWorkload, namespaceOf, quorumAnnotation, quorumRequirement,
  refOf, selectorMatches, spreadOn, Workload,
} from '../availability/workloads';
import { majorityQuorum } from '../private/quorum';

/** What a rule reports about one object before skips and severities apply. */
export interface RawFinding {
  readonly obj: any;
  readonly message: string;
}

export function contextOf(manifests: any[]): AuditContext {
  return new AuditContext(manifests);
}

/** A rule definition. */
export interface RuleDefinition {
  readonly id: string;
  readonly severity: 'error' | 'warning';
  readonly title: string;
  readonly rationale: string;
  readonly fix: string;
  readonly check: (ctx: AuditContext) => RawFinding[];
}

const finding = (obj: any, message: string): RawFinding => ({ obj, message });

/** Effective replicas: an HPA's minReplicas (its worst steady state) when one targets the workload. */
function effectiveReplicas(w: Workload, ctx: AuditContext): number {
  const hpa = ctx.hpasOf(w)[0];
  if (hpa) return typeof hpa.spec?.minReplicas === 'number' ? hpa.spec.minReplicas : 1;
  return w.replicas ?? 1;
}

function containerPortsMatch(podSpec: any, port: unknown): boolean {
  const ports = containersOf(podSpec).flatMap((c) => c.ports ?? []);
  if (typeof port === 'number') return ports.some((p: any) => p.containerPort === port);
  if (typeof port === 'string') {
    if (/^\d+$/.test(port)) return ports.some((p: any) => p.containerPort === Number(port));
    return ports.some((p: any) => p.name === port);
  }
  return false;
}

/** Port a probe uses, or undefined for exec probes (which need no port). */
function probePort(probe: any): unknown {
  return probe?.httpGet?.port ?? probe?.tcpSocket?.port ?? probe?.grpc?.port;
}

/** ` (recognised as etcd: image ...)` for a workload the heuristics recognised and no annotation declared. */
function recognisedAs(w: Workload): string {
  if (quorumAnnotation(w) !== undefined) return '';
  const system = recogniseQuorumSystem(w);
  return system ? ` (recognised as ${system.system}: ${system.evidence})` : '';
}

/** A probe's handler with defaults filled in and named ports resolved, as a comparable string. */
function handlerOf(probe: any, podSpec: any): string | undefined {
  if (!probe) return undefined;
  const port = (p: unknown) => {
    if (typeof p === 'string' && !/^\d+$/.test(p)) {
      const named = containersOf(podSpec).flatMap((c) => c.ports ?? []).find((x: any) => x.name === p);
      return named ? named.containerPort : p;
    }
    return Number(p);
  };
  if (probe.httpGet) {
    const h = probe.httpGet;
    return `http ${(h.scheme ?? 'HTTP').toUpperCase()} ${h.host ?? ''}:${port(h.port)}${h.path ?? '/'} ${JSON.stringify(h.httpHeaders ?? [])}`;
  }
  if (probe.tcpSocket) return `tcp ${probe.tcpSocket.host ?? ''}:${port(probe.tcpSocket.port)}`;
  if (probe.grpc) return `grpc ${port(probe.grpc.port)} ${probe.grpc.service ?? ''}`;
  if (probe.exec) return `exec ${JSON.stringify(probe.exec.command ?? [])}`;
  return undefined;
}

/** Kinds without a namespace: the same name in two namespaces is still one object. */
const CLUSTER_SCOPED = new Set(['Namespace', 'Node', 'PersistentVolume', 'StorageClass', 'PriorityClass', 'ClusterRole',
  'ClusterRoleBinding', 'CustomResourceDefinition', 'IngressClass', 'RuntimeClass', 'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration', 'APIService', 'CSIDriver', 'VolumeSnapshotClass', 'ClusterIssuer']);

function identityOf(obj: any): string {
  const group = String(obj.apiVersion ?? '').includes('/') ? String(obj.apiVersion).split('/')[0] : '';
  const ns = CLUSTER_SCOPED.has(obj.kind) ? '' : namespaceOf(obj);
  return `${group}\0${obj.kind}\0${ns}\0${obj.metadata?.name}`;
}

function hookPortProblem(podSpec: any, port: unknown): string | undefined {
  if (typeof port === 'number' && (!Number.isInteger(port) || port < 1 || port > 65535)) return `port ${port} is outside 1-65535`;
  return containerPortsMatch(podSpec, port) ? undefined : `port ${JSON.stringify(port)} matches no containerPort`;
}

function securityOf(podSpec: any, c: any): { pod: any; ctr: any } {
  return { pod: podSpec?.securityContext ?? {}, ctr: c?.securityContext ?? {} };
}

function eachContainer(workloads: Workload[], f: (w: Workload, c: any) => string | undefined, includeInit = true): RawFinding[] {
  const out: RawFinding[] = [];
  for (const w of workloads) {
    for (const c of includeInit ? allContainersOf(w.podSpec) : containersOf(w.podSpec)) {
      const msg = f(w, c);
      if (msg) out.push(finding(w.obj, `container '${c.name}': ${msg}`));
    }
  }
  return out;
}

function pdbLimit(pdb: any): DisruptionBudgetLimit | undefined | Error {
  try {
    return DisruptionBudgetLimit.fromSpec(pdb.spec);
  } catch (e) {
    return e as Error;
  }
}

/** Every rule, in id order. Ids are stable: never reuse or renumber one. */
export const RULES: RuleDefinition[] = [
  {
    id: 'HA001',
    severity: 'error',
    title: 'replicated workload runs at least 2 replicas',
    rationale: 'One replica is a single point of failure: every node drain, rollout or crash is an outage.',
    fix: 'set spec.replicas (or the HPA minReplicas) to 2 or more; 3 for a quorum workload',
    // an autoscaled workload's floor is the HPA's minReplicas, which HA019 reports on the HPA itself
    check: (ctx) => ctx.replicated.filter((w) => ctx.hpasOf(w).length === 0 && (w.replicas ?? 1) < 2)
      .map((w) => finding(w.obj, `runs ${w.replicas ?? 1} replica(s)`)),
  },
  {
    id: 'HA002',
    severity: 'error',
    title: 'a PodDisruptionBudget selects each replicated workload',
    rationale: 'Without a PDB a node drain may evict every replica at once.',
    fix: 'add a PodDisruptionBudget whose selector matches the pod template labels (maxUnavailable: 1)',
    check: (ctx) => ctx.replicated.filter((w) => ctx.pdbsOf(w).length === 0)
      .map((w) => finding(w.obj, 'no PodDisruptionBudget selects its pods')),
  },
  {
    id: 'HA003',
    severity: 'error',
    title: 'each PodDisruptionBudget allows at least one disruption',
    rationale: 'A PDB that allows 0 evictions blocks every node drain and cluster upgrade until someone deletes it.',
    fix: 'use maxUnavailable: 1 (or minAvailable below the replica count)',
    check: (ctx) => {
      const out: RawFinding[] = [];
      for (const pdb of ctx.ofKind('PodDisruptionBudget')) {
        const limit = pdbLimit(pdb);
        if (limit instanceof Error) { out.push(finding(pdb, limit.message)); continue; }
        if (!limit) { out.push(finding(pdb, 'sets neither minAvailable nor maxUnavailable')); continue; }
        for (const w of ctx.replicatedSelectedBy(pdb)) {
          const n = effectiveReplicas(w, ctx);
          if (limit.allowedDisruptions(n) < 1) {
            out.push(finding(pdb, `${limit.toString()} allows 0 disruptions of ${w.ref} (${n} replicas)`));
          }
        }
      }
      return out;
    },
  },
  {
    id: 'HA004',
    severity: 'error',
    title: 'a quorum workload\'s PodDisruptionBudget keeps a quorum',
    rationale: 'If a drain may evict more members than the quorum tolerates, a routine upgrade takes the cluster down; a declared quorum below a majority allows split brain.',
    fix: 'set maxUnavailable to members - (floor(members/2)+1), e.g. 1 for 3 or 4 members, 2 for 5',
    check: (ctx) => {
      const out: RawFinding[] = [];
      for (const w of ctx.replicated.filter(isQuorumWorkload)) {
        const n = effectiveReplicas(w, ctx);
        const majority = majorityQuorum(n);
        let quorum: number;
        try {
          quorum = quorumRequirement(w, n) ?? majority;
        } catch (e) {
          out.push(finding(w.obj, (e as Error).message));
          continue;
        }
        if (quorum < majority) {
          out.push(finding(w.obj, `declares a quorum of ${quorum} of ${n} members, not a majority (${majority}): two partitions could both make progress`));
        } else if (quorum > n) {
          out.push(finding(w.obj, `declares a quorum of ${quorum} but runs ${n} members: it can never make progress`));
        }
        for (const pdb of ctx.pdbsOf(w)) {
          const limit = pdbLimit(pdb);
          if (!limit || limit instanceof Error) continue;
          const allowed = limit.allowedDisruptions(n);
          if (n - allowed < quorum) {
            out.push(finding(pdb, `${limit.toString()} allows ${allowed} of ${n} members of quorum workload ${w.ref}${recognisedAs(w)} to be evicted; a quorum needs ${quorum}`));
          }
        }
      }
      return out;
    },
  },
  {
    id: 'HA005',
    severity: 'error',
    title: 'no pod is selected by two PodDisruptionBudgets',
    rationale: 'The Eviction API refuses to evict a pod covered by more than one PDB, so drains hang.',
    fix: 'narrow the selectors so each workload has exactly one PodDisruptionBudget',
    check: (ctx) => ctx.workloads.map((w) => ({ w, pdbs: ctx.pdbsOf(w) })).filter((x) => x.pdbs.length > 1)
      .map((x) => finding(x.w.obj, `selected by ${x.pdbs.length} PodDisruptionBudgets: ${x.pdbs.map((p) => p.metadata?.name).join(', ')}`)),
  },
  {
    id: 'HA006',
    severity: 'warning',
    title: 'replicas spread over nodes',
    rationale: 'Without hostname anti-affinity or a topology spread constraint every replica may land on one node.',
    fix: 'add a topologySpreadConstraint on kubernetes.io/hostname (maxSkew 1) or pod anti-affinity on it',
    check: (ctx) => ctx.replicated.filter((w) => effectiveReplicas(w, ctx) >= 2 && spreadOn(w, HOSTNAME_KEY).strictness === SpreadStrictness.NONE)
      .map((w) => finding(w.obj, 'no anti-affinity or topology spread on kubernetes.io/hostname selects its own pods')),
  },
  {
    id: 'HA007',
    severity: 'error',
    title: 'quorum members are required to run on different nodes',
    rationale: 'Two members on one node turn one node failure into a lost quorum (3 members) or a lost majority margin.',
    fix: 'add requiredDuringScheduling pod anti-affinity on kubernetes.io/hostname, or a DoNotSchedule spread with maxSkew 1',
    check: (ctx) => ctx.replicated.filter((w) => isQuorumWorkload(w)).filter((w) => {
      const s = spreadOn(w, HOSTNAME_KEY);
      return s.strictness !== SpreadStrictness.REQUIRED || s.maxSkew !== 1;
    }).map((w) => finding(w.obj, `hostname spreading is ${spreadOn(w, HOSTNAME_KEY).strictness.toLowerCase()}, not required with maxSkew 1`)),
  },
  {
    id: 'HA008',
    severity: 'error',
    title: 'containers of replicated workloads have a readiness probe',
    rationale: 'Without one, a Service sends traffic to pods that are starting or stuck.',
    fix: 'add a readinessProbe on the serving port (an endpoint that reflects the ability to serve)',
    check: (ctx) => eachContainer(ctx.replicated, (_w, c) => (c.readinessProbe ? undefined : 'no readinessProbe'), false),
  },
  {
    id: 'HA009',
    severity: 'warning',
    title: 'containers of replicated workloads have a liveness probe',
    rationale: 'Without one, a deadlocked process is never restarted.',
    fix: 'add a livenessProbe on a cheap endpoint that fails only when a restart helps',
    check: (ctx) => eachContainer(ctx.replicated, (_w, c) => (c.livenessProbe ? undefined : 'no livenessProbe'), false),
  },
  {
    id: 'HA010',
    severity: 'error',
    title: 'readiness and liveness probes differ',
    rationale: 'Identical probes restart a pod whenever it is merely busy or not ready, cascading an overload into restarts.',
    fix: 'point livenessProbe at a different endpoint (e.g. /livez vs /readyz) or give it a higher failureThreshold',
    check: (ctx) => eachContainer(ctx.workloads, (_w, c) => (c.readinessProbe && c.livenessProbe
      && JSON.stringify(c.readinessProbe) === JSON.stringify(c.livenessProbe) ? 'readinessProbe and livenessProbe are identical' : undefined), false),
  },
  {
    id: 'HA011',
    severity: 'error',
    title: 'probes target a declared container port',
    rationale: 'A probe on a port nothing listens on fails forever: the pod never becomes ready or restarts in a loop.',
    fix: 'use a containerPort number or name declared in the pod template',
    check: (ctx) => eachContainer(ctx.workloads, (w, c) => {
      const bad = ['readinessProbe', 'livenessProbe', 'startupProbe'].filter((k) => {
        const port = probePort(c[k]);
        return port !== undefined && !containerPortsMatch(w.podSpec, port);
      });
      return bad.length ? `${bad.map((k) => `${k} port ${JSON.stringify(probePort(c[k]))}`).join(', ')} matches no containerPort` : undefined;
    }, false),
  },
  {
    id: 'HA012',
    severity: 'error',
    title: 'containers request CPU and memory',
    rationale: 'Without requests the scheduler packs pods blindly and they are the first evicted under node pressure.',
    fix: 'set resources.requests.cpu and resources.requests.memory',
    check: (ctx) => eachContainer(ctx.workloads, (_w, c) => {
      const missing = ['cpu', 'memory'].filter((r) => c.resources?.requests?.[r] === undefined);
      return missing.length ? `no resources.requests.${missing.join('/')}` : undefined;
    }),
  },
  {
    id: 'HA013',
    severity: 'error',
    title: 'containers set a memory limit',
    rationale: 'An unbounded container can exhaust its node and take every co-located replica with it.',
    fix: 'set resources.limits.memory',
    check: (ctx) => eachContainer(ctx.workloads, (_w, c) => (c.resources?.limits?.memory === undefined ? 'no resources.limits.memory' : undefined)),
  },
  {
    id: 'HA014',
    severity: 'error',
    title: 'rolling updates',
    rationale: 'Recreate (or OnDelete) replaces every pod at once (or never): a rollout becomes an outage (or never happens).',
    fix: 'use strategy.type RollingUpdate (Deployment) or updateStrategy.type RollingUpdate (StatefulSet)',
    check: (ctx) => ctx.replicated.flatMap((w) => {
      if (w.kind === 'Deployment' && w.obj.spec?.strategy?.type === 'Recreate') return [finding(w.obj, 'strategy.type is Recreate')];
      if (w.kind === 'StatefulSet' && w.obj.spec?.updateStrategy?.type === 'OnDelete') return [finding(w.obj, 'updateStrategy.type is OnDelete')];
      return [];
    }),
  },
  {
    id: 'HA015',
    severity: 'error',
    title: 'the workload selector matches its pod template',
    rationale: 'The API server rejects a selector that does not match the template; an empty one adopts foreign pods.',
    fix: 'make spec.selector.matchLabels a subset of spec.template.metadata.labels',
    check: (ctx) => ctx.workloads.filter((w) => ['Deployment', 'StatefulSet', 'ReplicaSet', 'DaemonSet'].includes(w.kind))
      .filter((w) => !selectorMatches(w.obj.spec?.selector, w.podLabels, false))
      .map((w) => finding(w.obj, `spec.selector ${JSON.stringify(w.obj.spec?.selector ?? null)} does not select the template labels ${JSON.stringify(w.podLabels)}`)),
  },
  {
    id: 'HA016',
    severity: 'error',
    title: 'each Service with a selector selects pods',
    rationale: 'A Service that selects no pod template has no endpoints: every request fails.',
    fix: 'make spec.selector match the labels of a workload\'s pod template in the same namespace',
    check: (ctx) => ctx.ofKind('Service').filter((o) => o.spec?.selector && Object.keys(o.spec.selector).length > 0)
      .filter((svc) => ctx.selectedBy(svc).length === 0)
      .map((svc) => finding(svc, `selector ${JSON.stringify(svc.spec.selector)} matches no pod template in namespace ${namespaceOf(svc)}`)),
  },
  {
    id: 'HA017',
    severity: 'error',
    title: 'Service targetPorts match container ports',
    rationale: 'A targetPort no selected container declares sends traffic to a closed port.',
    fix: 'set targetPort to a containerPort number or name of the selected pods',
    check: (ctx) => {
      const out: RawFinding[] = [];
      for (const svc of ctx.ofKind('Service').filter((o) => o.spec?.selector)) {
        const pods = ctx.selectedBy(svc);
        if (pods.length === 0) continue; // HA016 reports it
        for (const p of svc.spec?.ports ?? []) {
          const target = p.targetPort ?? p.port;
          const bad = pods.filter((w) => !containerPortsMatch(w.podSpec, target));
          if (bad.length) out.push(finding(svc, `port ${p.port} -> targetPort ${JSON.stringify(target)} is not a containerPort of ${bad.map((w) => w.ref).join(', ')}`));
        }
      }
      return out;
    },
  },
  {
    id: 'HA018',
    severity: 'error',
    title: 'each StatefulSet has a headless governing Service',
    rationale: 'Members need stable DNS names (pod.service) to find each other; that requires a headless Service.',
    fix: 'set spec.serviceName to a Service with clusterIP: None selecting the pods (publishNotReadyAddresses: true for quorum peers)',
    check: (ctx) => ctx.workloads.filter((w) => w.kind === 'StatefulSet').flatMap((w) => {
      const name = w.obj.spec?.serviceName;
      if (!name) return [finding(w.obj, 'spec.serviceName is not set')];
      const svc = ctx.find('Service', w.namespace, name);
      if (!svc) return [finding(w.obj, `serviceName '${name}' names no Service in namespace ${w.namespace}`)];
      if (svc.spec?.clusterIP !== 'None') return [finding(w.obj, `serviceName '${name}' is not headless (clusterIP is not None)`)];
      if (isQuorumWorkload(w) && svc.spec?.publishNotReadyAddresses !== true) {
        return [finding(w.obj, `quorum peers Service '${name}' does not set publishNotReadyAddresses: true, so members cannot find each other before they are ready`)];
      }
      return [];
    }),
  },
  {
    id: 'HA019',
    severity: 'error',
    title: 'HorizontalPodAutoscaler minReplicas >= 2',
    rationale: 'An HPA scales down to minReplicas at night: 1 is a single point of failure (and minReplicas defaults to 1).',
    fix: 'set spec.minReplicas to 2 or more',
    check: (ctx) => ctx.ofKind('HorizontalPodAutoscaler').filter((o) => !((o.spec?.minReplicas ?? 1) >= 2))
      .map((o) => finding(o, `minReplicas is ${o.spec?.minReplicas ?? '1 (default)'}`)),
  },
  {
    id: 'HA020',
    severity: 'error',
    title: 'HorizontalPodAutoscaler targets an existing workload',
    rationale: 'An HPA whose target is missing scales nothing.',
    fix: 'set scaleTargetRef kind/name to a Deployment or StatefulSet in the same namespace',
    check: (ctx) => ctx.ofKind('HorizontalPodAutoscaler')
      .filter((o) => !ctx.find(o.spec?.scaleTargetRef?.kind, namespaceOf(o), o.spec?.scaleTargetRef?.name))
      .map((o) => finding(o, `scaleTargetRef ${o.spec?.scaleTargetRef?.kind}/${o.spec?.scaleTargetRef?.name} does not exist in namespace ${namespaceOf(o)}`)),
  },
  {
    id: 'HA021',
    severity: 'warning',
    title: 'an autoscaled workload leaves spec.replicas unset',
    rationale: 'Every apply resets spec.replicas, fighting the HPA: a deploy at peak load scales the service down.',
    fix: 'remove spec.replicas from workloads an HPA manages',
    check: (ctx) => ctx.replicated.filter((w) => ctx.hpasOf(w).length > 0 && w.obj.spec?.replicas !== undefined)
      .map((w) => finding(w.obj, `sets spec.replicas (${w.obj.spec.replicas}) although an HPA manages it`)),
  },
  {
    id: 'HA022',
    severity: 'error',
    title: 'images are pinned (no latest, no missing tag)',
    rationale: 'A moving tag makes replicas run different code after a reschedule and rollbacks impossible.',
    fix: 'use an immutable version tag or a digest (image:1.2.3 or image@sha256:...)',
    check: (ctx) => eachContainer(ctx.workloads, (_w, c) => {
      const image = String(c.image ?? '');
      if (typeof parseImageReference(image) === 'string') return undefined; // HA034 reports it
      if (image.includes('@')) return undefined;
      const last = image.split('/').pop() ?? '';
      const tag = last.includes(':') ? last.split(':').pop() : undefined;
      return !tag || tag === 'latest' ? `image '${image}' is not pinned to a version` : undefined;
    }),
  },
  {
    id: 'HA023',
    severity: 'error',
    title: 'containers run as non-root',
    rationale: 'A root container turns any escape into root on the node.',
    fix: 'set securityContext.runAsNonRoot: true (and a non-zero runAsUser)',
    check: (ctx) => eachContainer(ctx.workloads, (w, c) => {
      const { pod, ctr } = securityOf(w.podSpec, c);
      const nonRoot = ctr.runAsNonRoot ?? pod.runAsNonRoot;
      const user = ctr.runAsUser ?? pod.runAsUser;
      if (user === 0) return 'runAsUser is 0';
      return nonRoot === true || (typeof user === 'number' && user > 0) ? undefined : 'runAsNonRoot is not true';
    }),
  },
  {
    id: 'HA024',
    severity: 'warning',
    title: 'read-only root filesystem',
    rationale: 'A writable root filesystem lets an attacker or a bug persist changes the next replica will not have.',
    fix: 'set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the process writes',
    check: (ctx) => eachContainer(ctx.workloads, (_w, c) => (c.securityContext?.readOnlyRootFilesystem === true ? undefined : 'readOnlyRootFilesystem is not true')),
  },
  {
    id: 'HA025',
    severity: 'error',
    title: 'no privilege escalation, not privileged',
    rationale: 'Privileged containers and setuid escalation defeat every other isolation control.',
    fix: 'set securityContext.allowPrivilegeEscalation: false and privileged: false',
    check: (ctx) => eachContainer(ctx.workloads, (_w, c) => {
      if (c.securityContext?.privileged === true) return 'privileged is true';
      return c.securityContext?.allowPrivilegeEscalation === false ? undefined : 'allowPrivilegeEscalation is not false';
    }),
  },
  {
    id: 'HA026',
    severity: 'warning',
    title: 'all capabilities dropped',
    rationale: 'Default capabilities (NET_RAW, ...) are rarely needed and widen the attack surface.',
    fix: 'set securityContext.capabilities.drop: ["ALL"] and add back only what is needed',
    check: (ctx) => eachContainer(ctx.workloads, (_w, c) => ((c.securityContext?.capabilities?.drop ?? []).includes('ALL') ? undefined : 'capabilities.drop does not include ALL')),
  },
  {
    id: 'HA027',
    severity: 'warning',
    title: 'seccomp profile set',
    rationale: 'Unconfined seccomp exposes every syscall of the node kernel.',
    fix: 'set securityContext.seccompProfile.type: RuntimeDefault (pod or container)',
    check: (ctx) => eachContainer(ctx.workloads, (w, c) => {
      const type = c.securityContext?.seccompProfile?.type ?? w.podSpec?.securityContext?.seccompProfile?.type;
      return type === 'RuntimeDefault' || type === 'Localhost' ? undefined : `seccompProfile is ${type ?? 'unset'}`;
    }),
  },
  {
    id: 'HA028',
    severity: 'error',
    title: 'no host namespaces',
    rationale: 'hostNetwork/hostPID/hostIPC give a pod the node\'s network and processes, and pin ports per node.',
    fix: 'remove hostNetwork, hostPID and hostIPC (or set them false)',
    check: (ctx) => ctx.workloads.flatMap((w) => {
      const set = ['hostNetwork', 'hostPID', 'hostIPC'].filter((k) => w.podSpec?.[k] === true);
      return set.length ? [finding(w.obj, `${set.join(', ')} set`)] : [];
    }),
  },
  {
    id: 'HA029',
    severity: 'warning',
    title: 'a NetworkPolicy selects each workload',
    rationale: 'Without one every pod in the cluster can reach the workload; a compromised neighbour reaches the data.',
    fix: 'add a NetworkPolicy whose podSelector matches the pod template labels, admitting only the clients it needs',
    check: (ctx) => ctx.workloads.filter((w) => ctx.policiesOf(w).length === 0)
      .map((w) => finding(w.obj, 'no NetworkPolicy selects its pods')),
  },
  {
    id: 'HA030',
    severity: 'warning',
    title: 'PodDisruptionBudgets let unhealthy pods be evicted',
    rationale: 'With the default IfHealthyBudget a crash-looping pod counts against the budget and can block every drain.',
    fix: 'set spec.unhealthyPodEvictionPolicy: AlwaysAllow (Kubernetes >= 1.27)',
    check: (ctx) => ctx.ofKind('PodDisruptionBudget').filter((o) => o.spec?.unhealthyPodEvictionPolicy !== 'AlwaysAllow')
      .map((o) => finding(o, `unhealthyPodEvictionPolicy is ${o.spec?.unhealthyPodEvictionPolicy ?? 'unset (IfHealthyBudget)'}`)),
  },
  {
    id: 'HA031',
    severity: 'error',
    title: 'quorum StatefulSets start members in parallel',
    rationale: 'OrderedReady creates member 1 only once member 0 is ready, and a member is ready only with a quorum: the cluster never forms.',
    fix: 'set spec.podManagementPolicy: Parallel',
    check: (ctx) => ctx.workloads.filter((w) => w.kind === 'StatefulSet' && isQuorumWorkload(w) && (w.replicas ?? 1) > 1
      && (w.obj.spec?.podManagementPolicy ?? 'OrderedReady') !== 'Parallel'
      && containersOf(w.podSpec).some((c) => c.readinessProbe))
      .map((w) => finding(w.obj, `podManagementPolicy is ${w.obj.spec?.podManagementPolicy ?? 'OrderedReady (default)'} and members have a readiness probe`)),
  },
  {
    id: 'HA032',
    severity: 'error',
    title: 'each object is declared once',
    rationale: 'Two objects with the same kind, namespace and name are one object on the cluster: kubectl apply keeps the last and silently drops the other.',
    fix: 'give each object a unique name (e.g. the `name` prop of one of the two constructs)',
    check: (ctx) => {
      const byId = new Map<string, any[]>();
      for (const o of ctx.objects.filter((x) => x.kind && x.metadata?.name)) {
        const id = identityOf(o);
        const list = byId.get(id);
        if (list) list.push(o); else byId.set(id, [o]);
      }
      return [...byId.values()].filter((list) => list.length > 1)
        .map((list) => finding(list[0], `declared ${list.length} times; kubectl apply keeps only the last`));
    },
  },
  {
    id: 'HA033',
    severity: 'error',
    title: 'lifecycle hooks (preStop, postStart) target a declared container port',
    rationale: 'A preStop hook on a port nothing listens on fails at once: the pod is killed without its graceful drain, and the requests in flight are lost.',
    fix: 'point the hook\'s httpGet/tcpSocket port at a containerPort number (1-65535) or name of the pod, or use an exec or sleep hook',
    check: (ctx) => eachContainer(ctx.workloads, (w, c) => {
      const problems = ['preStop', 'postStart'].flatMap((hook) => {
        const h = c.lifecycle?.[hook];
        const port = h?.httpGet?.port ?? h?.tcpSocket?.port;
        const problem = port === undefined ? undefined : hookPortProblem(w.podSpec, port);
        return problem ? [`${hook} hook ${problem}`] : [];
      });
      return problems.length ? problems.join(', ') : undefined;
    }),
  },
  {
    id: 'HA034',
    severity: 'error',
    title: 'image references follow the OCI reference grammar',
    rationale: 'The kubelet cannot pull an invalid reference (upper case, empty tag, spaces): every pod stays in InvalidImageName.',
    fix: 'write [registry[:port]/]lowercase/path[:tag][@sha256:digest], e.g. docker.io/library/nginx:1.27.3',
    check: (ctx) => eachContainer(ctx.workloads, (_w, c) => {
      const image = typeof c.image === 'string' ? c.image : '';
      const parsed = parseImageReference(image);
      return typeof parsed === 'string' ? `image ${JSON.stringify(image)} is not a valid reference: ${parsed}` : undefined;
    }),
  },
  {
    id: 'HA035',
    severity: 'warning',
    title: 'readiness and liveness probes use different handlers',
    rationale: 'kube-score\'s identical-probes check: a liveness probe asking the readiness question restarts pods that are only busy; with different timings (HA010 catches equal ones) the restart comes later but still comes.',
    fix: 'give liveness its own cheap check (e.g. /livez vs /readyz, or exec), or drop it when the process exits on a fatal error',
    check: (ctx) => eachContainer(ctx.workloads, (w, c) => {
      if (!c.readinessProbe || !c.livenessProbe || JSON.stringify(c.readinessProbe) === JSON.stringify(c.livenessProbe)) return undefined;
      const handler = handlerOf(c.readinessProbe, w.podSpec);
      return handler !== undefined && handler === handlerOf(c.livenessProbe, w.podSpec)
        ? `readinessProbe and livenessProbe use the same handler (${handler.split(' ')[0]} on port ${JSON.stringify(probePort(c.livenessProbe) ?? '-')})` : undefined;
    }, false),
  },
  {
    id: 'HA036',
    severity: 'warning',
    title: 'quorum peers talk over TLS (where the manifests tell)',
    rationale: 'Anyone who reaches a plaintext peer port can forge consensus messages: one forged message can stop or corrupt the whole cluster.',
    fix: 'turn on peer TLS with client-certificate checks (etcd: --peer-cert-file, --peer-key-file, --peer-trusted-ca-file, --peer-client-cert-auth, https:// peer URLs; ZooKeeper: sslQuorum=true; RabbitMQ: -proto_dist inet_tls; CockroachDB: certificates instead of --insecure)',
    check: (ctx) => ctx.replicated.filter(isQuorumWorkload).flatMap((w) => {
      const system = recogniseQuorumSystem(w);
      const reason = system ? plaintextPeers(w, system) : undefined;
      return reason ? [finding(w.obj, `${system!.system} peers talk in plaintext: ${reason}`)] : [];
    }),
  },
];

export { refOf };
