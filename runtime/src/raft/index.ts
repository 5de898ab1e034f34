/** The Raft core: a deterministic, I/O-free Raft state machine (see docs/raft.md). */
export * from './types';
export * from './errors';
export * from './config';
export * from './confchange';
export * from './storage';
export { Role, ReadState } from './raft';
export * from './rawnode';
export { ProgressState } from './progress';
export { majority, committedIndex, voteResult, VoteResult } from './quorum';
