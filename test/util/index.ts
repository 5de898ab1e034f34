import { crossCheck, Manifest } from './cross-checks';
import { checkCustomResource, CUSTOM_RESOURCE_VERSIONS } from './custom-resources';
import { validateAgainstK8s128 } from './k8s-schema';

export { allowedDisruptions, crossCheck, QUORUM_ANNOTATION } from './cross-checks';
export type { Manifest } from './cross-checks';
export { validateAgainstK8s128 } from './k8s-schema';
export { checkCustomResource } from './custom-resources';

/**
 * Fails (throws) unless every object passes strict Kubernetes 1.28 schema validation (custom resources: the
 * hand-written checks of custom-resources.ts) and the cross-object checks (selectors, ports, disruption-budget and
 * quorum math). Every construct test calls this.
 */
export function assertValidManifests(objects: Manifest[]): void {
  if (objects.length === 0) throw new Error('assertValidManifests: no objects to validate');
  const errors = [
    ...objects.flatMap((o) => (CUSTOM_RESOURCE_VERSIONS.includes(o.apiVersion) ? checkCustomResource(o, objects) : validateAgainstK8s128(o))),
    ...crossCheck(objects),
  ];
  if (errors.length > 0) {
    throw new Error(`${errors.length} manifest error(s):\n  ${errors.join('\n  ')}`);
  }
}

/** The objects of one `kind`. */
export function ofKind(objects: Manifest[], kind: string): Manifest[] {
  return objects.filter((o) => o.kind === kind);
}

/** The single object of `kind` (and `name`, when given); the test fails unless there is exactly one. */
export function one(objects: Manifest[], kind: string, name?: string): Manifest {
  const found = ofKind(objects, kind).filter((o) => name === undefined || o.metadata.name === name);
  expect(found).toHaveLength(1);
  return found[0];
}
