// Cross-object checks a schema cannot express: selectors that select the right pods, ports that line up,
// disruption-budget math that allows a drain without losing a quorum.

/** A synthesized manifest object (loose: the schema validator has already typed it). */
export type Manifest = Record<string, any>;

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** The annotation RaftCluster puts on a quorum StatefulSet: members that must stay up for the quorum. */
export const QUORUM_ANNOTATION = 'ha.cdk8s.io/quorum';

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'ReplicaSet', 'DaemonSet']);

function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  const ml = selector.matchLabels ?? {};
  const me = selector.matchExpressions ?? [];
  if (Object.keys(ml).length === 0 && me.length === 0) return true; // empty selector selects everything
  for (const [k, v] of Object.entries(ml)) if (labels[k] !== v) return false;
  for (const e of me) {
    const has = e.key in labels;
    switch (e.operator) {
      case 'In': if (!has || !(e.values ?? []).includes(labels[e.key])) return false; break;
      case 'NotIn': if (has && (e.values ?? []).includes(labels[e.key])) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false;
    }
  }
  return true;
}

function ns(o: Manifest): string {
  return o.metadata?.namespace ?? 'default';
}

function id(o: Manifest): string {
  return `${o.kind}/${o.metadata?.name}`;
}

function podContainers(w: Manifest): Manifest[] {
  return w.spec?.template?.spec?.containers ?? [];
}

/** Does `port` (number or name) name a containerPort of one of these containers? */
function portMatches(containers: Manifest[], port: number | string): boolean {
  return containers.some((c) => (c.ports ?? []).some((p: Manifest) =>
    (typeof port === 'number' ? p.containerPort === port : p.name === port)));
}

/** Replicas a workload runs in steady state: HPA minReplicas when an autoscaler owns `replicas`. */
function steadyReplicas(w: Manifest, all: Manifest[]): number {
  const hpa = all.find((o) => o.kind === 'HorizontalPodAutoscaler' && ns(o) === ns(w)
    && o.spec?.scaleTargetRef?.kind === w.kind && o.spec?.scaleTargetRef?.name === w.metadata?.name);
  if (hpa) return hpa.spec.minReplicas ?? 1;
  return w.spec?.replicas ?? 1;
}

/** Voluntary disruptions a PDB allows with `replicas` healthy pods (percentages round up, as the API does). */
export function allowedDisruptions(pdbSpec: Manifest, replicas: number): number {
  const value = (v: number | string, roundUp: boolean): number => {
    if (typeof v === 'number') return v;
    const pct = Number(v.replace('%', '')) / 100 * replicas;
    return roundUp ? Math.ceil(pct) : Math.floor(pct);
  };
  if (pdbSpec.maxUnavailable !== undefined) return Math.min(replicas, value(pdbSpec.maxUnavailable, true));
  if (pdbSpec.minAvailable !== undefined) return Math.max(0, replicas - value(pdbSpec.minAvailable, true));
  return replicas; // neither: the API treats it as minAvailable 0... but our constructs always set one
}

function probePorts(c: Manifest): { probe: string; port: number | string }[] {
  const out: { probe: string; port: number | string }[] = [];
  for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
    const p = c[probe];
    if (!p) continue;
    const port = p.httpGet?.port ?? p.tcpSocket?.port ?? p.grpc?.port;
    if (port !== undefined) out.push({ probe, port });
  }
  const preStop = c.lifecycle?.preStop;
  const hookPort = preStop?.httpGet?.port ?? preStop?.tcpSocket?.port;
  if (hookPort !== undefined) out.push({ probe: 'lifecycle.preStop', port: hookPort });
  return out;
}

/**
 * Checks the relationships between synthesized objects.
 * @returns human-readable errors; empty when every check passes.
 */
export function crossCheck(objects: Manifest[]): string[] {
  const errors: string[] = [];
  const seen = new Set<string>();
  for (const o of objects) {
    const key = `${o.apiVersion}/${o.kind}/${ns(o)}/${o.metadata?.name}`;
    if (seen.has(key)) errors.push(`${id(o)}: two objects of this kind share the name in namespace ${ns(o)}`);
    seen.add(key);
  }
  const workloads = objects.filter((o) => WORKLOAD_KINDS.has(o.kind));
  const podsOf = (w: Manifest) => w.spec?.template?.metadata?.labels ?? {};
  const selected = (o: Manifest, selector: LabelSelector | undefined) =>
    workloads.filter((w) => ns(w) === ns(o) && selects(selector, podsOf(w)));

  for (const w of workloads) {
    if (!selects(w.spec?.selector, podsOf(w))) errors.push(`${id(w)}: spec.selector does not select its own pod template`);
    for (const c of podContainers(w)) {
      for (const { probe, port } of probePorts(c)) {
        if (!portMatches([c], port)) errors.push(`${id(w)}: container '${c.name}' ${probe} uses port ${port}, which is not a containerPort`);
      }
      const r = c.readinessProbe;
      const l = c.livenessProbe;
      if (r && l && JSON.stringify(r) === JSON.stringify(l)) {
        errors.push(`${id(w)}: container '${c.name}' readiness and liveness probes are identical (a slow dependency restarts every pod)`);
      }
    }
  }

  for (const pdb of objects.filter((o) => o.kind === 'PodDisruptionBudget')) {
    const targets = selected(pdb, pdb.spec?.selector);
    if (targets.length !== 1) {
      errors.push(`${id(pdb)}: selector must select the pods of exactly one workload, selects ${targets.length}`);
      continue;
    }
    const w = targets[0];
    const replicas = steadyReplicas(w, objects);
    const allowed = allowedDisruptions(pdb.spec, replicas);
    if (allowed < 1) errors.push(`${id(pdb)}: allows ${allowed} disruptions of ${replicas} replicas: every drain would block`);
    const quorum = w.metadata?.annotations?.[QUORUM_ANNOTATION];
    if (quorum !== undefined && replicas - allowed < Number(quorum)) {
      errors.push(`${id(pdb)}: allows ${allowed} disruptions of ${replicas} members, leaving fewer than the quorum ${quorum}`);
    }
  }

  for (const svc of objects.filter((o) => o.kind === 'Service' && o.spec?.selector)) {
    const targets = selected(svc, { matchLabels: svc.spec.selector });
    if (targets.length === 0) {
      errors.push(`${id(svc)}: selector ${JSON.stringify(svc.spec.selector)} selects no workload's pods`);
      continue;
    }
    for (const p of svc.spec.ports ?? []) {
      const target = p.targetPort ?? p.port;
      for (const w of targets) {
        if (!portMatches(podContainers(w), target)) errors.push(`${id(svc)}: port ${p.port} targets ${target}, not a containerPort of ${id(w)}`);
      }
    }
  }

  for (const np of objects.filter((o) => o.kind === 'NetworkPolicy')) {
    const targets = selected(np, np.spec?.podSelector);
    // A CronJob's pods (e.g. a RaftCluster's backup) have a policy but no workload selector of their own.
    const jobPods = objects.filter((o) => o.kind === 'CronJob' && ns(o) === ns(np)
      && selects(np.spec?.podSelector, o.spec?.jobTemplate?.spec?.template?.metadata?.labels ?? {}));
    if (targets.length === 0 && jobPods.length === 0) {
      errors.push(`${id(np)}: podSelector selects no workload's pods`);
      continue;
    }
    for (const rule of np.spec?.ingress ?? []) {
      for (const p of rule.ports ?? []) {
        for (const w of targets) {
          if (!portMatches(podContainers(w), p.port)) errors.push(`${id(np)}: ingress port ${p.port} is not a containerPort of ${id(w)}`);
        }
      }
    }
  }

  for (const hpa of objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')) {
    const ref = hpa.spec?.scaleTargetRef;
    const w = workloads.find((x) => x.kind === ref?.kind && x.metadata?.name === ref?.name && ns(x) === ns(hpa));
    if (!w) errors.push(`${id(hpa)}: scaleTargetRef ${ref?.kind}/${ref?.name} does not exist`);
    else if (w.spec?.replicas !== undefined) errors.push(`${id(hpa)}: ${id(w)} sets spec.replicas, which fights the autoscaler`);
  }
  return errors;
}
