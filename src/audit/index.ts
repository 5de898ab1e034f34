export { AuditSeverity, AuditRuleInfo, AuditFinding, AuditRuleSkip, AuditOptions, AUDIT_SKIP_ANNOTATION, HaAuditor } from './engine';
export { HaAuditProps, HaAudit } from './ha-audit';
