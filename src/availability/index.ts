export * from './inputs';
export * from './model';
export * from './manifests';
