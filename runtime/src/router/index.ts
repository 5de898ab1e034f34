/** The shard router: configuration and service. */
export { RouterConfig, ShardSource } from './config';
export { Router, Resolver } from './router';
export { Migrator, MigratorOptions, MigrationSummary, MigrationStep } from './migrator';
export { ShardClient } from './shard-client';
