/**
 * The runtime's public API (`runtime/lib/index.js`). The servers are started through the
 * `ha-runtime` command (`main.ts`); these modules are for embedding and testing:
 * the Raft core and its adapters, the linearizability checker, the hash ring and the router.
 */
export * from './raft';
export * from './storage';
export * from './transport';
export * from './lincheck';
export * from './ring';
export * from './router';
export * from './shardmap';
