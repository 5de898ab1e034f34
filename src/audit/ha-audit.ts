import { ApiObject, App } from 'cdk8s';
import { IConstruct, IValidation } from 'constructs';
import { AuditFinding, AuditOptions, AuditSeverity, HaAuditor } from './engine';

/** Options of the HaAudit synthesis check. */
export interface HaAuditProps extends AuditOptions {
  /**
   * Write warnings to stderr during synthesis.
   * @default true
   */
  readonly printWarnings?: boolean;
}

// cdk8s validates the whole app once per chart it synthesizes (App.synth validates, then each chart's toJson validates
// again), so a plain validation would audit N+1 times. Synthesis entry points are wrapped to number each top-level
// call: within one call no user code runs between the validations, so the first audit's result stands for the rest.
// Within one call an object's rendering cannot change either, so ApiObject.toJson is remembered for the rest of the
// call: the audit renders every object once and cdk8s writes those same manifests instead of rendering them again.
const TRACKED = Symbol.for('cdk8s-ha.synthesis-tracked');
let synthDepth = 0;
let synthGeneration = 0;
const rendered = new WeakMap<object, { generation: number; json: any }>();

type Method = (this: any, ...args: any[]) => unknown;

/** Replaces `target[name]` by `wrapper(original)`, once however many HaAudits are created. */
function wrapOnce(target: any, name: string, wrapper: (original: Method) => Method): void {
  const original = target[name];
  if (typeof original !== 'function' || original[TRACKED]) return;
  const wrapped = wrapper(original);
  (wrapped as any)[TRACKED] = true;
  target[name] = wrapped;
}

function trackSynthesis(): void {
  const app = App as any;
  for (const [target, name] of [[app.prototype, 'synth'], [app.prototype, 'synthYaml'], [app, '_synthChart']] as const) {
    wrapOnce(target, name, (original) => function (this: unknown, ...args: unknown[]) {
      if (synthDepth === 0) synthGeneration++;
      synthDepth++;
      try {
        return original.apply(this, args);
      } finally {
        synthDepth--;
      }
    });
  }
  wrapOnce(ApiObject.prototype, 'toJson', (original) => function (this: object) {
    if (synthDepth === 0) return original.call(this);
    const hit = rendered.get(this);
    if (hit && hit.generation === synthGeneration) return hit.json;
    const json = original.call(this);
    rendered.set(this, { generation: synthGeneration, json });
    return json;
  });
}

/**
 * The HA audit as a synthesis check. cdk8s 2.68 has no `Aspects`, so it is a validation attached to a scope: one line,
 * `HaAudit.addTo(app, { ... })`, and `app.synth()` (and `Testing.synth`) fails on error findings with messages that
 * name the object, the rule and the fix. It audits every `ApiObject` under the scope from its `toJson()`: our
 * constructs, plain cdk8s-plus objects and `Include`d or Helm YAML alike, all together (cross-object rules span charts).
 * It audits once per synthesis call (`app.synth()`, `app.synthYaml()`, `chart.toJson()`, `Testing.synth()`), however
 * many charts the app has, and shares each object's rendering with the manifests written in that call; a validation
 * outside synthesis (`node.validate()`) always audits afresh.
 */
export class HaAudit implements IValidation {
  /** Attaches an audit of everything under `scope` (usually the App) to `scope`'s validations. */
  public static addTo(scope: IConstruct, props: HaAuditProps = {}): HaAudit {
    const audit = new HaAudit(scope, props);
    scope.node.addValidation(audit);
    return audit;
  }

  /** Findings of the last `validate()` run (empty before synthesis). */
  public findings: AuditFinding[] = [];
  // several synthesis calls of one app (one per chart in tests) print the same warnings only once
  private lastWarnings = '';
  /** The synthesis call the last audit ran in (0: outside any), and its error messages. */
  private auditedIn = 0;
  private lastErrors: string[] = [];

  private constructor(private readonly scope: IConstruct, private readonly props: HaAuditProps) {
    // validate now so a bad skip fails at the call site, not at synthesis
    HaAuditor.audit([], props);
    trackSynthesis();
  }

  /** Runs the audit (once per synthesis call); returns one message per error finding. */
  public validate(): string[] {
    if (synthDepth > 0 && this.auditedIn === synthGeneration) return this.lastErrors;
    this.auditedIn = synthDepth > 0 ? synthGeneration : 0;
    this.lastErrors = this.audit();
    return this.lastErrors;
  }

  private audit(): string[] {
    const objects = this.scope.node.findAll().filter((c) => ApiObject.isApiObject(c)).map((c) => (c as ApiObject).toJson());
    this.findings = HaAuditor.audit(objects, this.props);
    const errors = this.findings.filter((f) => f.severity === AuditSeverity.ERROR);
    const warnings = this.findings.filter((f) => f.severity === AuditSeverity.WARNING);
    const text = warnings.map((f) => `  ${f.ruleId} ${f.object}: ${f.message} (fix: ${f.fix})`).join('\n');
    if (warnings.length > 0 && (this.props.printWarnings ?? true) && text !== this.lastWarnings) {
      process.stderr.write(`HaAudit: ${warnings.length} warning(s)\n${text}\n`);
    }
    this.lastWarnings = text;
    return errors.map((f) => `HaAudit ${f.ruleId} ${f.object}: ${f.message}; fix: ${f.fix}`);
  }
}
