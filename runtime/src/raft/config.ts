import { RaftConfigError } from './errors';

/** How ReadIndex confirms leadership. */
export enum ReadOnlyOption {
  /**
   * The leader confirms it is still leader with a heartbeat round before answering (Raft thesis 6.4).
   * Correct under any clock behaviour. The default.
   */
  SAFE = 0,
  /**
   * The leader answers from its lease without a round trip. CLOCK DEPENDENT: correct only if clocks
   * drift less than the election timeout allows (a paused or skewed leader may serve stale reads).
   * Requires checkQuorum. Off by default.
   */
  LEASE_BASED = 1,
}

/** The configuration of one Raft node. */
export interface RaftConfig {
  /** This node's id: a positive integer, unique in the cluster. */
  readonly id: number;
  /** Election timeout in ticks; each term's timeout is drawn from [electionTick, 2*electionTick). Must exceed heartbeatTick. */
  readonly electionTick: number;
  /** Ticks between leader heartbeats. */
  readonly heartbeatTick: number;
  /** Injected randomness in [0,1): the core never calls Math.random, so a seeded source makes runs replayable. */
  readonly random: () => number;
  /** Run a pre-vote round before a real election so a partitioned node cannot disrupt the cluster by bumping terms (thesis 9.6). @default true */
  readonly preVote?: boolean;
  /** A leader that has not heard from a quorum within an election timeout steps down (thesis 6.2). @default true */
  readonly checkQuorum?: boolean;
  /** Pipelining window: APPEND messages in flight to one follower. @default 256 */
  readonly maxInflightMsgs?: number;
  /** Batching bound: entries per APPEND message. @default 512 */
  readonly maxEntriesPerMsg?: number;
  /**
   * Batching bound in bytes of entry data per APPEND message (etcd-io/raft's MaxSizePerMsg): at least
   * one entry is always sent, so the largest message is about max(this, one entry). It keeps peer
   * frames below the transport's frame limit. @default Infinity
   */
  readonly maxBytesPerMsg?: number;
  /** Back-pressure: the leader drops proposals once this many entries are uncommitted. @default Infinity */
  readonly maxUncommittedEntries?: number;
  /** How reads confirm leadership. @default ReadOnlyOption.SAFE */
  readonly readOnlyOption?: ReadOnlyOption;
  /** The last applied index on restart: committed entries up to it are not handed out again. @default 0 */
  readonly applied?: number;
}

/** A RaftConfig with every default filled in and every value checked. */
export interface ResolvedRaftConfig extends Required<RaftConfig> {}

/** Fills defaults and checks the config; throws RaftConfigError naming the bad value and the fix. */
export function resolveConfig(c: RaftConfig): ResolvedRaftConfig {
  const posInt = (name: string, v: number): void => {
    if (!Number.isInteger(v) || v <= 0) throw new RaftConfigError(`RaftConfig.${name} must be a positive integer, got ${v}`);
  };
  posInt('id', c.id);
  posInt('electionTick', c.electionTick);
  posInt('heartbeatTick', c.heartbeatTick);
  if (c.electionTick <= c.heartbeatTick) {
    throw new RaftConfigError(`RaftConfig.electionTick (${c.electionTick}) must be greater than heartbeatTick (${c.heartbeatTick}); 10x is typical`);
  }
  if (typeof c.random !== 'function') throw new RaftConfigError('RaftConfig.random must be a function returning a number in [0,1)');
  const r: ResolvedRaftConfig = {
    id: c.id,
    electionTick: c.electionTick,
    heartbeatTick: c.heartbeatTick,
    random: c.random,
    preVote: c.preVote ?? true,
    checkQuorum: c.checkQuorum ?? true,
    maxInflightMsgs: c.maxInflightMsgs ?? 256,
    maxEntriesPerMsg: c.maxEntriesPerMsg ?? 512,
    maxBytesPerMsg: c.maxBytesPerMsg ?? Infinity,
    maxUncommittedEntries: c.maxUncommittedEntries ?? Infinity,
    readOnlyOption: c.readOnlyOption ?? ReadOnlyOption.SAFE,
    applied: c.applied ?? 0,
  };
  posInt('maxInflightMsgs', r.maxInflightMsgs);
  posInt('maxEntriesPerMsg', r.maxEntriesPerMsg);
  if (!(r.maxBytesPerMsg > 0)) throw new RaftConfigError(`RaftConfig.maxBytesPerMsg must be > 0, got ${r.maxBytesPerMsg}`);
  if (!(r.maxUncommittedEntries > 0)) throw new RaftConfigError(`RaftConfig.maxUncommittedEntries must be > 0, got ${r.maxUncommittedEntries}`);
  if (!Number.isInteger(r.applied) || r.applied < 0) throw new RaftConfigError(`RaftConfig.applied must be a non-negative integer, got ${r.applied}`);
  if (r.readOnlyOption === ReadOnlyOption.LEASE_BASED && !r.checkQuorum) {
    throw new RaftConfigError('RaftConfig.readOnlyOption LEASE_BASED requires checkQuorum: true (a lease is only valid while a quorum is known to follow)');
  }
  return r;
}
