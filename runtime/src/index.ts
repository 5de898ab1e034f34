/**
 * The runtime's public API (`runtime/lib/index.js`): the linearizability checker and the
 * consistent-hash ring. The servers are started through the `ha-runtime` command (`main.ts`).
 */
export * from './lincheck';
export * from './ring';
export * from './router';
