import { ApiObject } from 'cdk8s';
import { IConstruct } from 'constructs';
import { ManifestAvailability, ManifestAvailabilityOptions } from '../availability/manifests';
import { AvailabilityReport } from '../availability/model';

/**
 * Runs the availability model on the manifests a pattern renders (its own objects only), and returns the
 * report of `workload`. Reads the rendered manifests rather than the props, so customizations made through
 * the public children after construction are taken into account.
 */
export function availabilityOfWorkload(
  scope: IConstruct, workload: ApiObject, options: ManifestAvailabilityOptions | undefined,
): AvailabilityReport {
  const objects = scope.node.findAll().filter((c): c is ApiObject => ApiObject.isApiObject(c)).map((o) => o.toJson());
  const reports = ManifestAvailability.analyze(objects, options ?? {});
  const name = workload.name;
  const found = reports.find((r) => r.kind === workload.kind && r.name === name);
  if (!found) throw new Error(`${scope.node.path}: the availability model found no ${workload.kind} '${name}'`);
  return found.report;
}
