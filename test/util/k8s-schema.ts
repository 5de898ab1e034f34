// A strict, offline Kubernetes 1.28 schema validator.
//
// Source of truth: the official v1.28.0 OpenAPI definitions (the public Kubernetes API schema), copied to
// test/fixtures/k8s-1.28-definitions.json with the descriptions stripped. Stricter than the API server's
// default (which drops unknown fields with a warning): an unknown field is an error here, because in a
// construct library it is always a typo or a field of another Kubernetes version.
import { readFileSync } from 'fs';
import { join } from 'path';
import { SUPPLEMENTARY_ENUMS, SUPPLEMENTARY_ITEM_ENUMS } from './k8s-enums';

interface SchemaNode {
  readonly 'type'?: string;
  readonly 'format'?: string;
  readonly '$ref'?: string;
  readonly 'properties'?: Record<string, SchemaNode>;
  readonly 'additionalProperties'?: SchemaNode | boolean;
  readonly 'items'?: SchemaNode;
  readonly 'required'?: string[];
  readonly 'enum'?: unknown[];
  readonly 'oneOf'?: SchemaNode[];
  readonly 'x-kubernetes-list-type'?: string;
  readonly 'x-kubernetes-list-map-keys'?: string[];
  readonly 'x-kubernetes-patch-merge-key'?: string;
  readonly 'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[];
}

const definitions: Record<string, SchemaNode> = JSON.parse(
  readFileSync(join(__dirname, '..', 'fixtures', 'k8s-1.28-definitions.json'), 'utf8'),
).definitions;

// Enumerations known from the Go API types but absent from the OpenAPI document.
for (const [path, values] of Object.entries({ ...SUPPLEMENTARY_ENUMS, ...SUPPLEMENTARY_ITEM_ENUMS })) {
  if (values.length === 0) continue;
  const i = path.lastIndexOf('.');
  const prop = definitions[path.slice(0, i)]?.properties?.[path.slice(i + 1)] as any;
  if (!prop) throw new Error(`k8s-enums: ${path} is not in the 1.28 schema`);
  const target = prop.type === 'array' ? prop.items : prop;
  if (!target.enum) target.enum = values;
}

/** apiVersion/kind -> definition name, from the x-kubernetes-group-version-kind annotations. */
const definitionByKind = new Map<string, string>();
for (const [name, def] of Object.entries(definitions)) {
  for (const gvk of def['x-kubernetes-group-version-kind'] ?? []) {
    const apiVersion = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
    // WatchEvent/DeleteOptions carry many GVKs; a real kind maps to exactly one top-level definition.
    if (!definitionByKind.has(`${apiVersion}/${gvk.kind}`) || !name.includes('.meta.v1.')) {
      definitionByKind.set(`${apiVersion}/${gvk.kind}`, name);
    }
  }
}

function resolve(node: SchemaNode): SchemaNode {
  if (node.$ref) {
    const name = node.$ref.replace('#/definitions/', '');
    const def = definitions[name];
    if (!def) throw new Error(`schema: dangling $ref ${node.$ref}`);
    return def;
  }
  return node;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function matchesType(expected: string, value: unknown): boolean {
  const actual = typeOf(value);
  if (expected === 'number') return actual === 'number' || actual === 'integer';
  return actual === expected;
}

function validateNode(nodeIn: SchemaNode, value: unknown, path: string, errors: string[]): void {
  const node = resolve(nodeIn);
  if (node.oneOf) {
    // Only IntOrString and Quantity use oneOf, with primitive branches.
    if (!node.oneOf.some((branch) => branch.type && matchesType(branch.type, value))) {
      errors.push(`${path}: expected ${node.oneOf.map((b) => b.type).join(' or ')}, got ${typeOf(value)} ${JSON.stringify(value)}`);
    }
    return;
  }
  if (node.type === undefined && node.properties === undefined) {
    return; // RawExtension/JSON: free-form by design.
  }
  const expected = node.type ?? 'object';
  if (!matchesType(expected, value)) {
    errors.push(`${path}: expected ${expected}, got ${typeOf(value)} ${JSON.stringify(value)}`);
    return;
  }
  if (node.enum && !node.enum.includes(value)) {
    errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(node.enum)}`);
  }
  if (expected === 'integer' && node.format === 'int32' && (value as number) > 2147483647) {
    errors.push(`${path}: ${value} overflows int32`);
  }
  if (expected === 'array') {
    const items = value as unknown[];
    items.forEach((item, i) => node.items && validateNode(node.items, item, `${path}[${i}]`, errors));
    checkListUniqueness(node, items, path, errors);
    return;
  }
  if (expected !== 'object') return;
  const obj = value as Record<string, unknown>;
  for (const key of node.required ?? []) {
    if (obj[key] === undefined) errors.push(`${path}: missing required field '${key}'`);
  }
  for (const [key, child] of Object.entries(obj)) {
    if (child === undefined) continue;
    const childPath = `${path}.${key}`;
    const prop = node.properties?.[key];
    if (prop) {
      validateNode(prop, child, childPath, errors);
    } else if (node.additionalProperties && typeof node.additionalProperties === 'object') {
      validateNode(node.additionalProperties, child, childPath, errors);
    } else {
      errors.push(`${childPath}: unknown field '${key}' (not in the Kubernetes 1.28 schema)`);
    }
  }
}

/** Lists declared `x-kubernetes-list-type: map|set` must not repeat a key: the API server rejects it. */
function checkListUniqueness(node: SchemaNode, items: unknown[], path: string, errors: string[]): void {
  const listType = node['x-kubernetes-list-type'];
  const keys = node['x-kubernetes-list-map-keys'];
  if (listType === 'map' && keys) {
    const seen = new Set<string>();
    for (const item of items) {
      const k = JSON.stringify(keys.map((key) => (item as Record<string, unknown>)[key]));
      if (seen.has(k)) errors.push(`${path}: duplicate list-map key ${keys.join('/')}=${k}`);
      seen.add(k);
    }
  } else if (node['x-kubernetes-patch-merge-key'] === 'name') {
    // containers, volumes, env, ports...: the API server rejects two entries with one name.
    const names = items.map((i) => (i as Record<string, unknown>).name).filter((n) => n !== undefined);
    const dup = names.find((n, idx) => names.indexOf(n) !== idx);
    if (dup !== undefined) errors.push(`${path}: duplicate name ${JSON.stringify(dup)}`);
  } else if (listType === 'set') {
    const seen = new Set(items.map((i) => JSON.stringify(i)));
    if (seen.size !== items.length) errors.push(`${path}: duplicate entries in a set`);
  }
}

/**
 * Validates one manifest object against the Kubernetes 1.28 schema of its apiVersion/kind.
 * @returns the list of errors, each prefixed with `Kind/name` and a JSON path; empty when valid.
 */
export function validateAgainstK8s128(manifest: Record<string, unknown>): string[] {
  const apiVersion = String(manifest.apiVersion);
  const kind = String(manifest.kind);
  const name = (manifest.metadata as { name?: string } | undefined)?.name ?? '?';
  const definition = definitionByKind.get(`${apiVersion}/${kind}`);
  if (!definition) return [`${kind}/${name}: unknown apiVersion/kind ${apiVersion}/${kind} in Kubernetes 1.28`];
  const errors: string[] = [];
  validateNode({ $ref: `#/definitions/${definition}` }, manifest, `${kind}/${name}`, errors);
  if (!name || name === '?') errors.push(`${kind}: metadata.name is required`);
  return errors;
}
