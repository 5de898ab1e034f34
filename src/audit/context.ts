// What the audit rules read, indexed once per audit so every cross-object lookup is near constant time (internal).
// Without the indexes each workload scanned every object for its PDBs, HPAs and policies: quadratic in objects.
import {
  flatten, namespaceOf, REPLICATED_KINDS, selectorMatches, serviceSelects, Workload, workloadsOf,
} from '../availability/workloads';

/** Objects with a label selector, bucketed so that a pod's labels find the candidates without a scan. */
class SelectorIndex {
  /** `ns\0key\0value` of the selector's first matchLabels entry -> objects. */
  private readonly byLabel = new Map<string, any[]>();
  /** Per namespace, selectors without matchLabels (empty, or expressions only): always candidates. */
  private readonly unkeyed = new Map<string, any[]>();
  private readonly order = new Map<any, number>();

  constructor(objects: any[], private readonly selectorOf: (o: any) => any, private readonly emptyMatchesAll: boolean) {
    objects.forEach((o, i) => {
      this.order.set(o, i);
      const first = Object.entries(selectorOf(o)?.matchLabels ?? {})[0];
      const key = first ? `${namespaceOf(o)}\0${first[0]}\0${first[1]}` : namespaceOf(o);
      push(first ? this.byLabel : this.unkeyed, key, o);
    });
  }

  /** Objects in `w`'s namespace whose selector selects its pod labels, in manifest order. */
  public select(w: Workload): any[] {
    const candidates = [...(this.unkeyed.get(w.namespace) ?? [])];
    for (const [k, v] of Object.entries(w.podLabels)) candidates.push(...(this.byLabel.get(`${w.namespace}\0${k}\0${v}`) ?? []));
    return candidates.filter((o) => selectorMatches(this.selectorOf(o), w.podLabels, this.emptyMatchesAll))
      .sort((a, b) => this.order.get(a)! - this.order.get(b)!);
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value); else map.set(key, [value]);
}

function memo<K extends object, V>(f: (k: K) => V): (k: K) => V {
  const cache = new Map<K, V>();
  return (k) => {
    if (!cache.has(k)) cache.set(k, f(k));
    return cache.get(k)!;
  };
}

/** Everything a rule may look at, computed once per audit. */
export class AuditContext {
  public readonly objects: any[];
  public readonly workloads: Workload[];
  /** Replicated workloads (Deployment, StatefulSet, ReplicaSet). */
  public readonly replicated: Workload[];
  /** PodDisruptionBudgets in `w`'s namespace selecting its pods. */
  public readonly pdbsOf: (w: Workload) => any[];
  /** NetworkPolicies in `w`'s namespace whose podSelector selects its pods (an empty selector selects all). */
  public readonly policiesOf: (w: Workload) => any[];
  /** HorizontalPodAutoscalers in `w`'s namespace whose scaleTargetRef names it. */
  public readonly hpasOf: (w: Workload) => any[];
  /** Workloads in a Service's namespace whose pod labels its selector selects. */
  public readonly selectedBy: (svc: any) => Workload[];
  private readonly byKind = new Map<string, any[]>();
  private readonly byRef = new Map<string, any[]>();
  private readonly hpasByTarget = new Map<string, any[]>();
  private readonly workloadsByLabel = new Map<string, Workload[]>();
  private pdbTargets?: Map<any, Workload[]>;

  constructor(manifests: any[]) {
    this.objects = flatten(manifests);
    this.workloads = workloadsOf(this.objects);
    this.replicated = this.workloads.filter((w) => REPLICATED_KINDS.includes(w.kind));
    for (const o of this.objects) {
      push(this.byKind, o.kind, o);
      push(this.byRef, `${o.kind}\0${namespaceOf(o)}\0${o.metadata?.name}`, o);
      if (o.kind === 'HorizontalPodAutoscaler') {
        const t = o.spec?.scaleTargetRef;
        push(this.hpasByTarget, `${namespaceOf(o)}\0${t?.kind}\0${t?.name}`, o);
      }
    }
    for (const w of this.workloads) {
      for (const [k, v] of Object.entries(w.podLabels)) push(this.workloadsByLabel, `${w.namespace}\0${k}\0${v}`, w);
    }
    const pdbs = new SelectorIndex(this.ofKind('PodDisruptionBudget'), (o) => o.spec?.selector, true);
    // a NetworkPolicy without podSelector is read as {} (all pods), as the API server defaults it
    const policies = new SelectorIndex(this.ofKind('NetworkPolicy'), (o) => o.spec?.podSelector ?? {}, true);
    this.pdbsOf = memo((w) => pdbs.select(w));
    this.policiesOf = memo((w) => policies.select(w));
    this.hpasOf = (w) => this.hpasByTarget.get(`${w.namespace}\0${w.kind}\0${w.name}`) ?? [];
    this.selectedBy = memo((svc) => {
      const first = Object.entries(svc.spec?.selector ?? {})[0];
      if (!first) return [];
      return (this.workloadsByLabel.get(`${namespaceOf(svc)}\0${first[0]}\0${first[1]}`) ?? [])
        .filter((w) => serviceSelects(svc.spec.selector, w.podLabels));
    });
  }

  /** Objects of one kind, in manifest order. */
  public ofKind(kind: string): any[] {
    return this.byKind.get(kind) ?? [];
  }

  /** The first object with this kind, namespace and name. */
  public find(kind: string, namespace: string, name: string): any | undefined {
    return this.byRef.get(`${kind}\0${namespace}\0${name}`)?.[0];
  }

  /** Replicated workloads a PodDisruptionBudget selects. */
  public replicatedSelectedBy(pdb: any): Workload[] {
    if (!this.pdbTargets) {
      this.pdbTargets = new Map();
      for (const w of this.replicated) for (const p of this.pdbsOf(w)) push(this.pdbTargets, p, w);
    }
    return this.pdbTargets.get(pdb) ?? [];
  }
}
