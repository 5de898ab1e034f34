export { SpreadStrictness, DisruptionBudgetLimit } from './inputs';
export { AvailabilityInput, AvailabilityReport, AvailabilityModel } from './model';
export { ManifestAvailabilityOptions, WorkloadAvailability, ManifestAvailability } from './manifests';
