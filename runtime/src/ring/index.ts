/** The consistent-hash ring and its hash function. */
export { HashRing, HashRingOptions, RingNode } from './hash-ring';
export { murmur3, murmur3Bytes } from './murmur3';
