// The public API of cdk8s-ha: this file only re-exports, one concept per module.
export * from './availability';
export * from './audit';
