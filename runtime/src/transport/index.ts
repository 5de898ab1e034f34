/** Peer transports for the Raft server: the contract, TCP, in-memory, and the wire codec. */
export * from './transport';
export * from './tcp-transport';
export * from './memory-transport';
export { encodeMessage, decodeMessage } from './codec';
export * from './probe';
