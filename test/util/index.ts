import { crossCheck, Manifest } from './cross-checks';
import { validateAgainstK8s128 } from './k8s-schema';

export { allowedDisruptions, crossCheck, QUORUM_ANNOTATION } from './cross-checks';
export type { Manifest } from './cross-checks';
export { validateAgainstK8s128 } from './k8s-schema';

/**
 * Fails (throws) unless every object passes strict Kubernetes 1.28 schema validation and the cross-object
 * checks (selectors, ports, disruption-budget and quorum math). Every construct test calls this.
 */
export function assertValidManifests(objects: Manifest[]): void {
  if (objects.length === 0) throw new Error('assertValidManifests: no objects to validate');
  const errors = [
    ...objects.flatMap((o) => validateAgainstK8s128(o)),
    ...crossCheck(objects),
  ];
  if (errors.length > 0) {
    throw new Error(`${errors.length} manifest error(s):\n  ${errors.join('\n  ')}`);
  }
}
