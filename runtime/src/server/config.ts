/** The resolved configuration of one Raft KV member (the CLI parses it from flags and env: cli/raft-config.ts). */
import { JwtOptions } from './auth-tokens';

/** One member of `--initial-cluster`: its name, numeric Raft id (1-based position) and peer address. */
export interface ClusterMember {
  readonly name: string;
  readonly id: number;
  readonly peerHost: string;
  readonly peerPort: number;
  /** The address other members should use, if it differs from peerHost:peerPort (this member's view). */
  readonly advertisePeer?: string;
}

/** Request limits; every one is a flag (see docs/api.md). */
export interface KvLimits {
  /** Longest key, in UTF-8 bytes after percent-decoding. */
  readonly maxKeyBytes: number;
  /** Largest value (request body), in bytes. */
  readonly maxValueBytes: number;
  /** Most items one prefix listing returns. */
  readonly maxListItems: number;
}

/** The resolved configuration of one Raft KV member. */
export interface RaftServerConfig {
  readonly name: string;
  readonly id: number;
  readonly dataDir: string;
  readonly listenClient: { host: string; port: number };
  readonly listenPeer: { host: string; port: number };
  readonly advertiseClient: string;
  readonly members: readonly ClusterMember[];
  /** Peers reject handshakes carrying another token: two clusters never cross-talk. */
  readonly clusterToken: string;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** A proposal or read not answered within this time fails with a retryable 503. */
  readonly requestTimeoutMs: number;
  /** Take a state machine snapshot and compact the log every this many applied entries. */
  readonly snapshotEntries: number;
  /** Entries kept in memory behind a snapshot for lagging followers (beyond them, the leader sends the snapshot). */
  readonly snapshotCatchupEntries: number;
  /** SIGTERM: the most time spent transferring leadership and draining before closing anyway. */
  readonly shutdownTimeoutMs: number;
  /** Write-ahead log segment size in bytes. */
  readonly walSegmentBytes: number;
  readonly limits: KvLimits;
  /** A learner may be promoted once within this many entries of the commit index. @default 1000 */
  readonly learnerCatchUpEntries?: number;
  /** `new`: a blank member may bootstrap (only if every initial member is blank); `existing`: it only ever joins. */
  readonly initialClusterState?: 'new' | 'existing';
  /** The desired member count (scale-down: the leader removes members whose name ordinal is >= it). */
  readonly desiredMembers?: number;
  /** A file holding the desired member count, re-read every 2 s (a mounted ConfigMap: no restart needed). */
  readonly desiredMembersFile?: string;
  /** Make this member the only member of a new cluster before starting (membership/force.ts). */
  readonly forceNewCluster?: boolean;
  /** This member's peer address as others dial it (HOST:PORT). */
  readonly advertisePeer?: string;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** etcd API history retention (the leader proposes compactions); absent = keep everything. */
  readonly autoCompaction?: { readonly mode: 'periodic' | 'revision'; readonly retention: number };
  /**
   * The space quota (etcd's --quota-backend-bytes): the leader refuses a write that would take the store's size
   * (mvcc/quota.ts) past it, before it reaches the log. Absent or 0: no quota.
   */
  readonly quotaBytes?: number;
  /** How long an etcd API auth token lives without use (etcd's --auth-token-ttl). @default 300000 */
  readonly authTokenTtlMs?: number;
  /** etcd's `--auth-token jwt,...`: signed tokens (auth-tokens.ts). Absent: simple tokens. */
  readonly jwt?: JwtOptions;
}
