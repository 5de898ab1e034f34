/** The shard router: configuration and service. */
export { parseRouterConfig, routerUsage, RouterConfig, RouterUsageError, ShardSource } from './config';
export { Router, Resolver } from './router';
