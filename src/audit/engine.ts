import { RawFinding, RULES, contextOf, refOf } from './rules';

/** How bad a finding is. */
export enum AuditSeverity {
  /** Fails `cdk8s synth` (HaAudit) and makes the CLI exit 1. */
  ERROR = 'error',
  /** Reported, never fails anything unless `warningsAsErrors`. */
  WARNING = 'warning',
}

/** A rule the audit runs. */
export interface AuditRuleInfo {
  /** Stable id, e.g. `HA002`. */
  readonly id: string;
  /** Severity of its findings. */
  readonly severity: AuditSeverity;
  /** What the rule requires, in a few words. */
  readonly title: string;
  /** Why, in one line. */
  readonly rationale: string;
  /** How to fix a finding. */
  readonly fix: string;
}

/** One object breaking one rule. */
export interface AuditFinding {
  /** Rule id, e.g. `HA002` (`HA000` for a skip annotation without a reason). */
  readonly ruleId: string;
  /** Severity. */
  readonly severity: AuditSeverity;
  /** The object: `Kind/namespace/name`. */
  readonly object: string;
  /** What is wrong with this object. */
  readonly message: string;
  /** How to fix it. */
  readonly fix: string;
}

/** A rule switched off for the whole audit, with the reason it does not apply. */
export interface AuditRuleSkip {
  /** The rule id, e.g. `HA029`. */
  readonly ruleId: string;
  /** Why the rule does not apply; required, so the decision is recorded. */
  readonly reason: string;
}

/** Options of an audit. */
export interface AuditOptions {
  /**
   * Rules skipped for every object, each with a reason.
   * @default - none
   */
  readonly skip?: AuditRuleSkip[];
  /**
   * Treat warnings as errors.
   * @default false
   */
  readonly warningsAsErrors?: boolean;
}

/**
 * Annotation skipping rules on one object (workload, Service, PDB, HPA): `"HA006=single-node dev cluster,HA029=..."`.
 * Every id needs a reason after `=`.
 */
export const AUDIT_SKIP_ANNOTATION = 'ha.cdk8s.io/audit-skip';

/**
 * The HA audit over plain Kubernetes manifest objects: what cdk8s synthesizes, `Include`d YAML and Helm output.
 * Cross-object rules (PDB arithmetic, Service and HPA targets, NetworkPolicy coverage) look at all objects given.
 */
export class HaAuditor {
  /** Every rule, in id order. */
  public static rules(): AuditRuleInfo[] {
    return RULES.map((r) => ({ id: r.id, severity: r.severity as AuditSeverity, title: r.title, rationale: r.rationale, fix: r.fix }));
  }

  /**
   * Audits `manifests` (objects as `toJson()` or a YAML parser returns them; `kind: List` is flattened).
   * Findings are sorted by object, then rule id.
   * @throws when a global skip names an unknown rule or has no reason
   */
  public static audit(manifests: any[], options: AuditOptions = {}): AuditFinding[] {
    const known = new Set(RULES.map((r) => r.id));
    const globalSkips = new Set<string>();
    for (const s of options.skip ?? []) {
      if (!known.has(s.ruleId)) throw new Error(`audit skip: unknown rule id '${s.ruleId}'; known ids are ${[...known].join(', ')}`);
      if (!s.reason || !s.reason.trim()) throw new Error(`audit skip of ${s.ruleId}: a reason is required, e.g. { ruleId: '${s.ruleId}', reason: 'single-node dev cluster' }`);
      globalSkips.add(s.ruleId);
    }
    const ctx = contextOf(manifests);
    const findings: AuditFinding[] = [];
    const skipCache = new Map<any, { skips: Set<string>; problems: string[] }>();
    const skipsOf = (obj: any) => {
      let s = skipCache.get(obj);
      if (!s) { s = parseSkipAnnotation(obj?.metadata?.annotations?.[AUDIT_SKIP_ANNOTATION], known); skipCache.set(obj, s); }
      return s;
    };
    for (const obj of ctx.objects) {
      for (const problem of skipsOf(obj).problems) {
        findings.push({ ruleId: 'HA000', severity: AuditSeverity.ERROR, object: refOf(obj), message: problem, fix: `write ${AUDIT_SKIP_ANNOTATION}: "HA006=why it does not apply,HA029=why"` });
      }
    }
    for (const rule of RULES) {
      if (globalSkips.has(rule.id)) continue;
      const severity = options.warningsAsErrors ? AuditSeverity.ERROR : rule.severity as AuditSeverity;
      const seen = new Set<string>();
      for (const raw of rule.check(ctx) as RawFinding[]) {
        if (skipsOf(raw.obj).skips.has(rule.id)) continue;
        const key = `${refOf(raw.obj)}\0${raw.message}`;
        if (seen.has(key)) continue;
        seen.add(key);
        findings.push({ ruleId: rule.id, severity, object: refOf(raw.obj), message: raw.message, fix: rule.fix });
      }
    }
    return findings.sort((a, b) => (a.object < b.object ? -1 : a.object > b.object ? 1 : a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0));
  }

  /** Human-readable report, one finding per line plus its fix, and a summary line. */
  public static format(findings: AuditFinding[]): string {
    const lines: string[] = [];
    for (const f of findings) {
      lines.push(`${f.severity === AuditSeverity.ERROR ? 'error  ' : 'warning'} ${f.ruleId} ${f.object}: ${f.message}`);
      lines.push(`        fix: ${f.fix}`);
    }
    const errors = findings.filter((f) => f.severity === AuditSeverity.ERROR).length;
    lines.push(`${errors} error(s), ${findings.length - errors} warning(s)`);
    return lines.join('\n') + '\n';
  }

  private constructor() {}
}

function parseSkipAnnotation(raw: unknown, known: Set<string>): { skips: Set<string>; problems: string[] } {
  const skips = new Set<string>();
  const problems: string[] = [];
  if (raw === undefined || raw === null) return { skips, problems };
  for (const part of String(raw).split(',').map((x) => x.trim()).filter((x) => x.length > 0)) {
    const eq = part.indexOf('=');
    const id = (eq < 0 ? part : part.slice(0, eq)).trim();
    const reason = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!known.has(id)) { problems.push(`${AUDIT_SKIP_ANNOTATION} names unknown rule '${id}'`); continue; }
    if (!reason) { problems.push(`${AUDIT_SKIP_ANNOTATION} skips ${id} without a reason`); continue; }
    skips.add(id);
  }
  return { skips, problems };
}
