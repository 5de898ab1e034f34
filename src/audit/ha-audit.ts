import { ApiObject } from 'cdk8s';
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

/**
 * The HA audit as a synthesis check. cdk8s 2.68 has no `Aspects`, so it is a validation attached to a scope: one line,
 * `HaAudit.addTo(app, { ... })`, and `app.synth()` (and `Testing.synth`) fails on error findings with messages that
 * name the object, the rule and the fix. It audits every `ApiObject` under the scope from its `toJson()`: our
 * constructs, plain cdk8s-plus objects and `Include`d or Helm YAML alike, all together (cross-object rules span charts).
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
  // cdk8s validates the whole app once per chart synthesized: print the same warnings only once
  private lastWarnings = '';

  private constructor(private readonly scope: IConstruct, private readonly props: HaAuditProps) {
    // validate now so a bad skip fails at the call site, not at synthesis
    HaAuditor.audit([], props);
  }

  /** Runs the audit; returns one message per error finding. */
  public validate(): string[] {
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
