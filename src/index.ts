// The public API of cdk8s-ha: this file only re-exports, one concept per module.
export * from './probes';
export * from './pre-stop';
export * from './topology-spread';
export * from './service-exposure';
export * from './network-policy';
export * from './disruption-budget';
export * from './highly-available-service';
export * from './raft-runtime';
export * from './peer-tls';
export * from './raft-cluster';
export * from './sharded-key-value-store';
export * from './availability';
export * from './audit';
