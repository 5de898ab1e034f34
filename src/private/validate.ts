// Prop checks shared by every construct. Each error reads `<Construct> '<id>': <prop> (<value>) <problem>; <fix>`,
// so a user knows which prop to change, what it was and what to write instead.
import * as net from 'net';
import { Size, SizeRoundingBehavior } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
// The audit's parser of the OCI reference grammar: one parser for the constructs and the audit.
import { parseImageReference } from '../audit/image-reference';

/** A value already rendered with its unit (`256Mi`), shown unquoted. */
export class Raw {
  constructor(public readonly text: string) {}
}

/** Renders a value for an error message: strings quoted (so a trailing space shows), the rest as JSON. */
export function show(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (typeof value === 'string') return `'${value}'`;
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value);
}

/** Throws the project's error format. */
export function fail(owner: string, prop: string, value: unknown, problem: string, fix?: string): never {
  throw new Error(`${owner}: ${prop} (${show(value)}) ${problem}${fix ? `; ${fix}` : ''}`);
}

/** An integer in [min, max]. */
export function checkInt(owner: string, prop: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER, fix?: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
    fail(owner, prop, value, `must be an integer ${range}`, fix ?? `use a whole number ${range}`);
  }
  return value;
}

/** A TCP/UDP port number. */
export function checkPort(owner: string, prop: string, port: number): number {
  return checkInt(owner, prop, port, 1, 65535, 'use a port number such as 8080');
}

const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A DNS-1035 label (Service names): lowercase alphanumerics and '-', starting with a letter. */
export function checkDns1035(owner: string, prop: string, value: string, maxLength = 63): string {
  if (typeof value !== 'string' || !DNS1035_LABEL.test(value) || value.length > maxLength) {
    fail(owner, prop, value, `must be a DNS-1035 label of at most ${maxLength} characters (lowercase letters, digits, '-', starting with a letter)`, `e.g. '${suggestName(value)}'`);
  }
  return value;
}

/** A DNS-1123 subdomain (names of most objects: StorageClass, PriorityClass, Secret, ConfigMap, ...). */
export function checkDns1123Subdomain(owner: string, prop: string, value: string): string {
  const ok = typeof value === 'string' && value.length <= 253 && value.split('.').every((part) => DNS1123_LABEL.test(part));
  if (!ok) {
    fail(owner, prop, value, 'must be a DNS-1123 subdomain (lowercase letters, digits, \'-\' and \'.\', at most 253 characters)', `e.g. '${suggestName(value)}'`);
  }
  return value;
}

/** A DNS-1123 label (container names, volume names). */
export function checkDns1123Label(owner: string, prop: string, value: string): string {
  if (typeof value !== 'string' || !DNS1123_LABEL.test(value) || value.length > 63) {
    fail(owner, prop, value, 'must be a DNS-1123 label (lowercase letters, digits and \'-\', at most 63 characters)', `e.g. '${suggestName(value)}'`);
  }
  return value;
}

function suggestName(value: unknown): string {
  const s = String(value ?? '').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^[^a-z]+/, '').replace(/-+$/, '');
  return (s || 'my-app').slice(0, 40);
}

/** An IANA service name (named container ports). */
export function checkPortName(owner: string, prop: string, value: string): string {
  if (typeof value !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value) || value.length > 15 || !/[a-z]/.test(value) || value.includes('--')) {
    fail(owner, prop, value, 'must be an IANA_SVC_NAME (1-15 lowercase letters, digits, \'-\', with a letter)', "e.g. 'http'");
  }
  return value;
}

const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;

/** A label or annotation key: an optional DNS-1123 subdomain prefix and '/', then a name of at most 63 characters. */
export function isQualifiedName(key: string): boolean {
  if (typeof key !== 'string') return false;
  const parts = key.split('/');
  if (parts.length > 2) return false;
  const name = parts[parts.length - 1];
  if (parts.length === 2) {
    const prefix = parts[0];
    if (prefix.length === 0 || prefix.length > 253 || !prefix.split('.').every((p) => DNS1123_LABEL.test(p))) return false;
  }
  return name.length >= 1 && name.length <= 63 && LABEL_NAME.test(name);
}

/** A label value: empty, or at most 63 alphanumerics, '-', '_', '.', starting and ending alphanumeric. */
export function isLabelValue(value: string): boolean {
  return typeof value === 'string' && (value === '' || (value.length <= 63 && LABEL_NAME.test(value)));
}

/** Label keys and values. */
export function checkLabels(owner: string, prop: string, labels: { [key: string]: string } | undefined): void {
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (!isQualifiedName(k)) {
      fail(owner, `${prop} key`, k, 'is not a valid label key (optional DNS-1123 prefix and \'/\', then at most 63 alphanumerics, \'-\', \'_\', \'.\')', "e.g. 'app.kubernetes.io/name'");
    }
    if (!isLabelValue(v)) {
      fail(owner, `${prop}['${k}']`, v, 'is not a valid label value (at most 63 alphanumerics, \'-\', \'_\', \'.\', starting and ending alphanumeric)', `e.g. '${suggestName(v)}'`);
    }
  }
}

/** Annotation keys (qualified names) and a total size under the API server's 256 KiB limit. */
export function checkAnnotations(owner: string, prop: string, annotations: { [key: string]: string } | undefined): void {
  let total = 0;
  for (const [k, v] of Object.entries(annotations ?? {})) {
    if (!isQualifiedName(k)) fail(owner, `${prop} key`, k, 'is not a valid annotation key', "e.g. 'example.com/owner'");
    if (typeof v !== 'string') fail(owner, `${prop}['${k}']`, v, 'must be a string', 'quote numbers and booleans');
    total += k.length + v.length;
  }
  if (total > 256 * 1024) fail(owner, prop, new Raw(`${total} bytes`), 'exceed the 256 KiB annotation limit', 'store large data in a ConfigMap');
}

/** A construct id that becomes a label value (`app.kubernetes.io/name`). */
export function checkIdAsLabel(owner: string, id: string): void {
  if (!isLabelValue(id) || id === '') {
    fail(owner, 'construct id', id, 'becomes the app.kubernetes.io/name label and is not a valid label value (at most 63 alphanumerics, \'-\', \'_\', \'.\')', `use an id like '${suggestName(id)}'`);
  }
}

/** A CIDR, parsed for real: an IPv4 or IPv6 address and a prefix length within the family's bits. */
export function isCidr(cidr: string): boolean {
  if (typeof cidr !== 'string') return false;
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(cidr);
  if (!m) return false;
  const family = net.isIP(m[1]);
  if (family === 0) return false;
  const bits = Number(m[2]);
  return bits <= (family === 4 ? 32 : 128) && !(family === 4 && m[1].split('.').some((o) => o.length > 1 && o.startsWith('0')));
}

/** Checks one CIDR. */
export function checkCidr(owner: string, prop: string, cidr: string): void {
  if (!isCidr(cidr)) fail(owner, prop, cidr, 'is not a CIDR (an IPv4 or IPv6 address and a prefix length within 0..32 or 0..128)', "e.g. '10.0.0.0/8' or 'fd00::/8'");
}

/** An environment variable name as Kubernetes 1.28 accepts it (IsEnvVarName). */
export function checkEnvName(owner: string, prop: string, name: string): void {
  if (typeof name !== 'string' || !/^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(name) || name === '.' || name === '..' || name.startsWith('..')) {
    fail(owner, prop, name, 'is not a valid environment variable name (letters, digits, \'_\', \'-\', \'.\', not starting with a digit)', `e.g. '${String(name ?? '').toUpperCase().replace(/[^A-Z0-9_]/g, '_').replace(/^[0-9]/, '_$&') || 'MY_VAR'}'`);
  }
}

/** An absolute, normalised path (no '..', no '//', no trailing '/', not '/'). */
export function checkAbsolutePath(owner: string, prop: string, path: string): string {
  const ok = typeof path === 'string' && path.startsWith('/') && path !== '/' && !path.endsWith('/')
    && !path.includes('//') && !path.split('/').includes('..') && !path.split('/').includes('.') && !/[\s:]/.test(path);
  if (!ok) fail(owner, prop, path, "must be an absolute path below '/' without '.', '..', ':', spaces or a trailing '/'", "e.g. '/tmp'");
  return path;
}

/** No duplicates in a list (paths, names, ports). */
export function checkUnique(owner: string, prop: string, values: ReadonlyArray<string | number>): void {
  const seen = new Set<string | number>();
  for (const v of values) {
    if (seen.has(v)) fail(owner, prop, v, 'appears twice', 'list each value once');
    seen.add(v);
  }
}

/** A PercentOrAbsolute: a non-negative integer or a percentage in 0..100. */
export function checkPercentOrAbsolute(owner: string, prop: string, value: kplus.PercentOrAbsolute): void {
  const raw = value.value;
  if (typeof raw === 'number') {
    checkInt(owner, prop, raw, 0, Number.MAX_SAFE_INTEGER, 'use PercentOrAbsolute.absolute(1)');
    return;
  }
  const pct = Number(String(raw).replace(/%$/, ''));
  if (!/^\d+%$/.test(String(raw)) || pct > 100) {
    fail(owner, prop, raw, 'must be an integer percentage in 0..100', 'use PercentOrAbsolute.percent(25)');
  }
}

/** Millicores of a cdk8s-plus Cpu (`250m` or `2`). */
export function cpuMillis(cpu: kplus.Cpu): number {
  const a = String(cpu.amount);
  return a.endsWith('m') ? Number(a.slice(0, -1)) : Number(a) * 1000;
}

function sizeMib(size: Size): number {
  return size.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
}

/** Requests, a memory limit, positive quantities and every limit >= its request. */
export function checkResources(owner: string, prop: string, r: kplus.ContainerResources): void {
  const missing = [
    r.cpu?.request ? undefined : 'cpu.request',
    r.memory?.request ? undefined : 'memory.request',
    r.memory?.limit ? undefined : 'memory.limit',
  ].filter((x) => x !== undefined);
  if (missing.length > 0) {
    fail(owner, prop, new Raw(`${missing.join(', ')} unset`), 'lacks requests or a memory limit: pods must be scheduled honestly and a leak must not take the node',
      'set them, e.g. cpu: { request: Cpu.millis(100) }, memory: { request: Size.mebibytes(128), limit: Size.mebibytes(256) }');
  }
  const pairs: [string, number | undefined, number | undefined, string][] = [
    ['cpu', r.cpu?.request && cpuMillis(r.cpu.request), r.cpu?.limit && cpuMillis(r.cpu.limit), 'm'],
    ['memory', r.memory?.request && sizeMib(r.memory.request), r.memory?.limit && sizeMib(r.memory.limit), 'Mi'],
    ['ephemeralStorage', r.ephemeralStorage?.request && sizeMib(r.ephemeralStorage.request), r.ephemeralStorage?.limit && sizeMib(r.ephemeralStorage.limit), 'Mi'],
  ];
  for (const [what, request, limit, unit] of pairs) {
    for (const [kind, v] of [['request', request], ['limit', limit]] as const) {
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) fail(owner, `${prop}.${what}.${kind}`, new Raw(`${v}${unit}`), 'must be a positive quantity', 'e.g. Cpu.millis(100) or Size.mebibytes(128)');
      if (v !== undefined && what === 'cpu' && !Number.isInteger(v)) fail(owner, `${prop}.${what}.${kind}`, new Raw(`${v}${unit}`), 'must be a whole number of millicores', 'e.g. Cpu.millis(250)');
    }
    if (request !== undefined && limit !== undefined && limit < request) {
      fail(owner, `${prop}.${what}.limit`, new Raw(`${limit}${unit}`), `is below ${what}.request (${request}${unit})`, 'raise the limit to at least the request');
    }
  }
}

/** A whole number of mebibytes >= 1 (volume sizes). */
export function checkStorageSize(owner: string, prop: string, size: Size): number {
  const mib = sizeMib(size);
  if (!Number.isInteger(mib) || mib < 1) fail(owner, prop, new Raw(`${mib}Mi`), 'must be a whole number of mebibytes >= 1', 'e.g. Size.gibibytes(10)');
  return mib;
}

/** A parseable image reference, pinned by a tag other than `latest` or by a digest. */
export function checkImage(owner: string, prop: string, image: string): void {
  if (typeof image !== 'string' || image.length === 0) {
    fail(owner, prop, image, 'is empty', "set an image reference such as 'nginx:1.27.3'");
  }
  const ref = parseImageReference(image);
  if (typeof ref === 'string') {
    const guess = image.trim().toLowerCase().replace(/:$/, '');
    fail(owner, prop, image, `is not a valid image reference (OCI grammar): ${ref}`, `e.g. '${guess}${/:[\w][\w.-]*$/.test(guess) ? '' : ':1.0.0'}'`);
  }
  if (!ref.digest && (ref.tag === undefined || ref.tag === 'latest')) {
    const name = ref.domain ? `${ref.domain}/${ref.path}` : ref.path;
    fail(owner, prop, image, 'is not pinned', `use an immutable tag or digest such as '${name}:1.0.0'`);
  }
}
