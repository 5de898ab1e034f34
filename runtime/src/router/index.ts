/** The shard router: configuration and service. */
export { RouterConfig, ShardSource } from './config';
export { Router, Resolver } from './router';
