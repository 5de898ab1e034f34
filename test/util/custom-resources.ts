// Hand-written strict checks of the custom resources the constructs render, which the Kubernetes 1.28 schema cannot
// know: Prometheus-operator ServiceMonitor/PodMonitor (monitoring.coreos.com/v1) and cert-manager Certificate
// (cert-manager.io/v1), Gateway API HTTPRoute (gateway.networking.k8s.io/v1). Field lists follow the v1 CRDs; an
// unknown field is an error, as in k8s-schema.ts.
import type { Manifest } from './cross-checks';

/** API groups checked here instead of by the 1.28 validator. */
export const CUSTOM_RESOURCE_VERSIONS = ['monitoring.coreos.com/v1', 'cert-manager.io/v1', 'gateway.networking.k8s.io/v1'];

// Prometheus duration: e.g. 30s, 1m30s (prometheus-operator's Duration pattern).
const PROM_DURATION = /^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/;
// Go duration, as cert-manager parses duration and renewBefore.
const GO_DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;
const ENDPOINT_KEYS = ['port', 'targetPort', 'path', 'scheme', 'interval', 'scrapeTimeout', 'honorLabels', 'honorTimestamps', 'params', 'relabelings', 'metricRelabelings', 'tlsConfig', 'bearerTokenSecret', 'authorization', 'basicAuth', 'oauth2', 'followRedirects', 'enableHttp2', 'filterRunning', 'proxyUrl'];
const USAGES = ['signing', 'digital signature', 'content commitment', 'key encipherment', 'key agreement', 'data encipherment', 'cert sign', 'crl sign', 'encipher only', 'decipher only', 'any', 'server auth', 'client auth', 'code signing', 'email protection', 's/mime', 'ipsec end system', 'ipsec tunnel', 'ipsec user', 'timestamping', 'ocsp signing', 'microsoft sgc', 'netscape sgc'];

function unknownKeys(where: string, obj: Manifest | undefined, allowed: string[]): string[] {
  return Object.keys(obj ?? {}).filter((k) => !allowed.includes(k)).map((k) => `${where}: unknown field '${k}'`);
}

function selectorErrors(where: string, s: Manifest | undefined): string[] {
  if (!s || typeof s !== 'object') return [`${where}.selector is required`];
  const errors = unknownKeys(`${where}.selector`, s, ['matchLabels', 'matchExpressions']);
  if (!s.matchLabels && !s.matchExpressions) errors.push(`${where}.selector selects everything; give it matchLabels`);
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) if (typeof v !== 'string') errors.push(`${where}.selector.matchLabels.${k} is not a string`);
  return errors;
}

function matches(selector: Manifest, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels?.[k] === v);
}

function monitorErrors(o: Manifest, all: Manifest[]): string[] {
  const where = `${o.kind}/${o.metadata?.name}`;
  const pod = o.kind === 'PodMonitor';
  const listKey = pod ? 'podMetricsEndpoints' : 'endpoints';
  const errors = [
    ...unknownKeys(where, o, ['apiVersion', 'kind', 'metadata', 'spec']).concat(o.spec ? [] : [`${where}: spec is required`]),
    ...unknownKeys(`${where}.spec`, o.spec, ['selector', listKey, 'namespaceSelector', 'jobLabel', 'podTargetLabels', 'targetLabels', 'sampleLimit']),
    ...selectorErrors(`${where}.spec`, o.spec?.selector),
  ];
  const endpoints: Manifest[] = o.spec?.[listKey] ?? [];
  if (endpoints.length === 0) errors.push(`${where}.spec.${listKey} is empty`);
  endpoints.forEach((e, i) => {
    const at = `${where}.spec.${listKey}[${i}]`;
    errors.push(...unknownKeys(at, e, ENDPOINT_KEYS));
    if (typeof e.port !== 'string' || e.port === '') errors.push(`${at}.port must name a port`);
    if (e.path !== undefined && !String(e.path).startsWith('/')) errors.push(`${at}.path must start with '/'`);
    if (e.interval !== undefined && !PROM_DURATION.test(e.interval)) errors.push(`${at}.interval '${e.interval}' is not a duration`);
    // The named port must exist on what the monitor selects, or Prometheus scrapes nothing.
    const targets = pod
      ? all.filter((w) => w.spec?.template && matches(o.spec.selector, w.spec.template.metadata?.labels))
        .flatMap((w) => w.spec.template.spec.containers.flatMap((c: Manifest) => c.ports ?? []))
      : all.filter((s) => s.kind === 'Service' && matches(o.spec.selector, s.metadata?.labels)).flatMap((s) => s.spec?.ports ?? []);
    if (!targets.some((p: Manifest) => p.name === e.port)) errors.push(`${at}.port '${e.port}' is not a port of what the selector selects`);
  });
  return errors;
}

function certificateErrors(o: Manifest, all: Manifest[]): string[] {
  const where = `Certificate/${o.metadata?.name}`;
  const s = o.spec ?? {};
  const errors = [
    ...unknownKeys(`${where}.spec`, s, ['secretName', 'issuerRef', 'commonName', 'dnsNames', 'ipAddresses', 'uris', 'duration', 'renewBefore', 'usages', 'privateKey', 'isCA', 'subject', 'secretTemplate']),
    ...unknownKeys(`${where}.spec.issuerRef`, s.issuerRef, ['name', 'kind', 'group']),
    ...unknownKeys(`${where}.spec.privateKey`, s.privateKey, ['algorithm', 'size', 'rotationPolicy', 'encoding']),
  ];
  if (typeof s.secretName !== 'string' || s.secretName === '') errors.push(`${where}.spec.secretName is required`);
  if (typeof s.issuerRef?.name !== 'string') errors.push(`${where}.spec.issuerRef.name is required`);
  if (s.issuerRef?.kind !== undefined && !['Issuer', 'ClusterIssuer'].includes(s.issuerRef.kind)) errors.push(`${where}.spec.issuerRef.kind '${s.issuerRef.kind}'`);
  for (const k of ['duration', 'renewBefore']) if (s[k] !== undefined && !GO_DURATION.test(s[k])) errors.push(`${where}.spec.${k} '${s[k]}' is not a Go duration`);
  for (const u of s.usages ?? []) if (!USAGES.includes(u)) errors.push(`${where}.spec.usages: unknown usage '${u}'`);
  if (s.privateKey?.algorithm && !['RSA', 'ECDSA', 'Ed25519'].includes(s.privateKey.algorithm)) errors.push(`${where}.spec.privateKey.algorithm '${s.privateKey.algorithm}'`);
  if (s.privateKey?.rotationPolicy && !['Never', 'Always'].includes(s.privateKey.rotationPolicy)) errors.push(`${where}.spec.privateKey.rotationPolicy`);
  if ((s.dnsNames ?? []).length === 0 && !s.commonName) errors.push(`${where}.spec needs dnsNames or commonName`);
  const mounted = all.some((w) => (w.spec?.template?.spec?.volumes ?? []).some((v: Manifest) => v.secret?.secretName === s.secretName));
  if (!mounted) errors.push(`${where}: no workload mounts its Secret '${s.secretName}'`);
  return errors;
}

function httpRouteErrors(o: Manifest, all: Manifest[]): string[] {
  const where = `HTTPRoute/${o.metadata?.name}`;
  const s = o.spec ?? {};
  const errors = unknownKeys(`${where}.spec`, s, ['parentRefs', 'hostnames', 'rules']);
  if ((s.parentRefs ?? []).length === 0) errors.push(`${where}.spec.parentRefs is empty`);
  for (const ref of s.parentRefs ?? []) {
    errors.push(...unknownKeys(`${where}.spec.parentRefs[]`, ref, ['group', 'kind', 'namespace', 'name', 'sectionName', 'port']));
    if (typeof ref.name !== 'string' || ref.name === '') errors.push(`${where}.spec.parentRefs[].name is required`);
  }
  for (const rule of s.rules ?? []) {
    errors.push(...unknownKeys(`${where}.spec.rules[]`, rule, ['matches', 'filters', 'backendRefs', 'timeouts']));
    for (const m of rule.matches ?? []) {
      if (m.path && !['Exact', 'PathPrefix', 'RegularExpression'].includes(m.path.type)) errors.push(`${where}: path type '${m.path.type}'`);
      if (m.path && !String(m.path.value).startsWith('/')) errors.push(`${where}: path '${m.path.value}' must start with '/'`);
    }
    for (const b of rule.backendRefs ?? []) {
      errors.push(...unknownKeys(`${where}.spec.rules[].backendRefs[]`, b, ['group', 'kind', 'name', 'namespace', 'port', 'weight', 'filters']));
      const svc = all.find((x) => x.kind === 'Service' && x.metadata?.name === b.name);
      if (!svc) errors.push(`${where}: backend Service '${b.name}' is not rendered`);
      else if (!(svc.spec?.ports ?? []).some((p: Manifest) => p.port === b.port)) errors.push(`${where}: Service '${b.name}' has no port ${b.port}`);
    }
  }
  return errors;
}

/** Errors of one custom resource, in the context of every object rendered with it. */
export function checkCustomResource(o: Manifest, all: Manifest[]): string[] {
  const meta = o.metadata ?? {};
  const errors: string[] = [];
  if (typeof meta.name !== 'string' || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(meta.name)) errors.push(`${o.kind}: metadata.name '${meta.name}' is not a DNS-1123 subdomain`);
  if (o.apiVersion === 'monitoring.coreos.com/v1' && ['ServiceMonitor', 'PodMonitor'].includes(o.kind)) return [...errors, ...monitorErrors(o, all)];
  if (o.apiVersion === 'cert-manager.io/v1' && o.kind === 'Certificate') return [...errors, ...certificateErrors(o, all)];
  if (o.apiVersion === 'gateway.networking.k8s.io/v1' && o.kind === 'HTTPRoute') return [...errors, ...httpRouteErrors(o, all)];
  return [...errors, `${o.apiVersion}/${o.kind}: not a custom resource this checker knows`];
}
