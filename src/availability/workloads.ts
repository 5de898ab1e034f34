// Reading workloads, selectors and their related objects out of plain Kubernetes manifest objects (internal).
import { SpreadStrictness } from './inputs';
import { membersRequired, recogniseQuorumSystem } from '../audit/quorum-systems';
import { majorityQuorum } from '../private/quorum';

/** Kinds whose pods are replicated and meant to stay available. */
export const REPLICATED_KINDS = ['Deployment', 'StatefulSet', 'ReplicaSet'];
/** Kinds that carry a pod template (or are a pod). */
export const POD_KINDS = ['Deployment', 'StatefulSet', 'ReplicaSet', 'DaemonSet', 'Job', 'CronJob', 'Pod'];

/** Annotation marking a workload as a majority-quorum system ("true"/"false"). */
export const QUORUM_ANNOTATION = 'ha.cdk8s.io/quorum';
export const HOSTNAME_KEY = 'kubernetes.io/hostname';
export const ZONE_KEY = 'topology.kubernetes.io/zone';

/** A pod-carrying object with its pod template resolved. */
export interface Workload {
  readonly obj: any;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  /** `Kind/namespace/name`. */
  readonly ref: string;
  readonly podLabels: Record<string, string>;
  readonly podSpec: any;
  readonly podMetadata: any;
  /** spec.replicas (default 1) for replicated kinds, undefined for others. */
  readonly replicas: number | undefined;
  /** Data of the ConfigMaps the pod mounts, joined (quorum-system heuristics read config files); set by workloadsOf. */
  readonly mountedConfig?: string;
}

/** Flattens `kind: List` objects and drops non-objects. */
export function flatten(manifests: any[]): any[] {
  const out: any[] = [];
  for (const m of manifests) {
    if (!m || typeof m !== 'object') continue;
    if (m.kind === 'List' || (typeof m.kind === 'string' && m.kind.endsWith('List') && Array.isArray(m.items))) {
      out.push(...flatten(m.items ?? []));
    } else {
      out.push(m);
    }
  }
  return out;
}

export function namespaceOf(obj: any): string {
  return obj?.metadata?.namespace ?? 'default';
}

export function refOf(obj: any): string {
  return `${obj?.kind ?? '?'}/${namespaceOf(obj)}/${obj?.metadata?.name ?? '?'}`;
}

/** Reads a workload's pod template; undefined for kinds without pods. */
export function toWorkload(obj: any): Workload | undefined {
  if (!obj || !POD_KINDS.includes(obj.kind)) return undefined;
  let template: any;
  if (obj.kind === 'Pod') template = { metadata: obj.metadata, spec: obj.spec };
  else if (obj.kind === 'CronJob') template = obj.spec?.jobTemplate?.spec?.template;
  else template = obj.spec?.template;
  const replicated = REPLICATED_KINDS.includes(obj.kind);
  return {
    obj,
    kind: obj.kind,
    name: obj.metadata?.name ?? '?',
    namespace: namespaceOf(obj),
    ref: refOf(obj),
    podLabels: template?.metadata?.labels ?? {},
    podMetadata: template?.metadata ?? {},
    podSpec: template?.spec ?? {},
    replicas: replicated ? (typeof obj.spec?.replicas === 'number' ? obj.spec.replicas : 1) : undefined,
  };
}

export function workloadsOf(objects: any[]): Workload[] {
  const configMaps = new Map<string, any>();
  for (const o of objects) if (o?.kind === 'ConfigMap') configMaps.set(`${namespaceOf(o)}/${o.metadata?.name}`, o);
  return objects.map(toWorkload).filter((w): w is Workload => w !== undefined).map((w) => {
    const names = mountedConfigMapNames(w.podSpec);
    if (names.length === 0) return w;
    const text = names.map((n) => configMaps.get(`${w.namespace}/${n}`)).filter((cm) => cm)
      .flatMap((cm) => Object.values(cm.data ?? {})).map(String).join('\n');
    return { ...w, mountedConfig: text };
  });
}

function mountedConfigMapNames(podSpec: any): string[] {
  const volumes: any[] = Array.isArray(podSpec?.volumes) ? podSpec.volumes : [];
  return volumes.flatMap((v) => [v.configMap?.name, ...(v.projected?.sources ?? []).map((s: any) => s.configMap?.name)])
    .filter((n): n is string => typeof n === 'string');
}

/**
 * Whether a LabelSelector selects `labels`. `emptyMatchesAll`: an empty selector `{}` matches every pod for a
 * PodDisruptionBudget (policy/v1) and a NetworkPolicy podSelector; a missing selector matches nothing.
 */
export function selectorMatches(selector: any, labels: Record<string, string>, emptyMatchesAll = true): boolean {
  if (selector === undefined || selector === null) return false;
  const matchLabels: Record<string, string> = selector.matchLabels ?? {};
  const exprs: any[] = selector.matchExpressions ?? [];
  if (Object.keys(matchLabels).length === 0 && exprs.length === 0) return emptyMatchesAll;
  for (const [k, v] of Object.entries(matchLabels)) {
    if (labels[k] !== v) return false;
  }
  for (const e of exprs) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const values: string[] = e.values ?? [];
    switch (e.operator) {
      case 'In': if (!has || !values.includes(labels[e.key])) return false; break;
      case 'NotIn': if (has && values.includes(labels[e.key])) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false;
    }
  }
  return true;
}

/** Whether a Service's plain `spec.selector` map selects `labels` (an empty/missing selector selects nothing). */
export function serviceSelects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export function containersOf(podSpec: any): any[] {
  return Array.isArray(podSpec?.containers) ? podSpec.containers : [];
}

export function allContainersOf(podSpec: any): any[] {
  const init = Array.isArray(podSpec?.initContainers) ? podSpec.initContainers : [];
  return [...init, ...containersOf(podSpec)];
}

/**
 * Whether a workload is a quorum system: the `ha.cdk8s.io/quorum` annotation on the object or its pod template
 * decides when present (`"true"`: majority quorum; an integer: that many members form a quorum; `"false"`: not a
 * quorum system); otherwise a StatefulSet the audit's heuristics recognise (docs/audit.md) is.
 */
export function isQuorumWorkload(w: Workload): boolean {
  const annotated = quorumAnnotation(w);
  if (annotated !== undefined) return annotated.toLowerCase() !== 'false';
  return recogniseQuorumSystem(w) !== undefined;
}

export function quorumAnnotation(w: Workload): string | undefined {
  const v = w.obj.metadata?.annotations?.[QUORUM_ANNOTATION] ?? w.podMetadata?.annotations?.[QUORUM_ANNOTATION];
  return v === undefined || v === null ? undefined : String(v).trim();
}

/**
 * Members a quorum workload needs with `replicas` members: the annotated integer, else the majority
 * `floor(replicas/2)+1`; undefined when it is not a quorum workload.
 * @throws when the annotation is neither true/false nor a positive integer
 */
export function quorumRequirement(w: Workload, replicas: number): number | undefined {
  if (!isQuorumWorkload(w)) return undefined;
  const annotated = quorumAnnotation(w);
  if (annotated !== undefined && annotated.toLowerCase() !== 'true') {
    if (!/^\d+$/.test(annotated) || Number(annotated) < 1) {
      throw new Error(`${w.ref}: annotation ${QUORUM_ANNOTATION} ("${annotated}") must be "true", "false" or the quorum size as a positive integer`);
    }
    return Number(annotated);
  }
  const recognised = annotated === undefined ? recogniseQuorumSystem(w) : undefined;
  return recognised ? membersRequired(recognised, replicas) : majorityQuorum(replicas);
}

/** The spreading a pod template asks for on one topology key. */
export interface SpreadOnKey {
  readonly strictness: SpreadStrictness;
  readonly maxSkew: number;
}

/**
 * Strongest spreading of `w`'s own pods on `topologyKey`, from pod anti-affinity (required = maxSkew 1) and
 * topologySpreadConstraints (DoNotSchedule = required with its maxSkew). Terms whose selector does not select the
 * workload's own pods do not spread it and are ignored.
 */
export function spreadOn(w: Workload, topologyKey: string): SpreadOnKey {
  let best: SpreadOnKey = { strictness: SpreadStrictness.NONE, maxSkew: 1 };
  const consider = (s: SpreadOnKey) => {
    const rank = (x: SpreadStrictness) => (x === SpreadStrictness.REQUIRED ? 2 : x === SpreadStrictness.PREFERRED ? 1 : 0);
    if (rank(s.strictness) > rank(best.strictness) || (rank(s.strictness) === rank(best.strictness) && s.maxSkew < best.maxSkew)) best = s;
  };
  const anti = w.podSpec?.affinity?.podAntiAffinity;
  for (const term of anti?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
    if (term.topologyKey === topologyKey && selectorMatches(term.labelSelector, w.podLabels, false)) {
      consider({ strictness: SpreadStrictness.REQUIRED, maxSkew: 1 });
    }
  }
  for (const weighted of anti?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
    const term = weighted.podAffinityTerm ?? {};
    if (term.topologyKey === topologyKey && selectorMatches(term.labelSelector, w.podLabels, false)) {
      consider({ strictness: SpreadStrictness.PREFERRED, maxSkew: 1 });
    }
  }
  for (const c of w.podSpec?.topologySpreadConstraints ?? []) {
    if (c.topologyKey !== topologyKey || !selectorMatches(c.labelSelector, w.podLabels, false)) continue;
    const strictness = c.whenUnsatisfiable === 'ScheduleAnyway' ? SpreadStrictness.PREFERRED : SpreadStrictness.REQUIRED;
    consider({ strictness, maxSkew: typeof c.maxSkew === 'number' && c.maxSkew >= 1 ? c.maxSkew : 1 });
  }
  return best;
}

/** PodDisruptionBudgets in `w`'s namespace whose selector selects its pods. */
export function pdbsFor(w: Workload, objects: any[]): any[] {
  return objects.filter((o) => o.kind === 'PodDisruptionBudget' && namespaceOf(o) === w.namespace
    && selectorMatches(o.spec?.selector, w.podLabels, true));
}

/** HorizontalPodAutoscalers in `w`'s namespace whose scaleTargetRef names it. */
export function hpasFor(w: Workload, objects: any[]): any[] {
  return objects.filter((o) => o.kind === 'HorizontalPodAutoscaler' && namespaceOf(o) === w.namespace
    && o.spec?.scaleTargetRef?.kind === w.kind && o.spec?.scaleTargetRef?.name === w.name);
}
