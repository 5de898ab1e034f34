/** Member identity, membership changes and safe rejoin (issue 12). */
export * from './registry';
export * from './manager';
export * from './discovery';
export * from './force';
