/**
 * The data types shared by the Raft core and its adapters (storage, transport).
 * This file is the contract between them: the core never does I/O, the adapters never
 * interpret Raft rules. Changing a field here changes the WAL and wire formats.
 */

/** What an entry carries. NORMAL entries hold client commands; CONF_CHANGE hold membership changes. */
export enum EntryType {
  NORMAL = 0,
  CONF_CHANGE = 1,
}

/** One log entry. `data` is opaque to Raft (the KV state machine encodes its commands in it). */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/**
 * The state that must be durable before the node sends any message that depends on it
 * (Raft paper, Figure 2 "Persistent state on all servers"): a vote or a term is never
 * forgotten by a restart, and `commit` lets a restarted node apply without waiting.
 */
export interface HardState {
  readonly term: number;
  /** The node voted for in `term`, or 0 for none. Node ids are positive integers. */
  readonly vote: number;
  readonly commit: number;
}

/** Cluster membership: voters, and learners that receive the log but do not vote. */
export interface ConfState {
  readonly voters: readonly number[];
  readonly learners: readonly number[];
  /** During joint consensus (Raft thesis 4.3): the outgoing voter set; empty otherwise. */
  readonly votersOutgoing: readonly number[];
}

/** Metadata of a snapshot: the last entry it covers and the membership at that point. */
export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

/** A state machine snapshot; `data` is produced and consumed by the state machine. */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

/** Raft message kinds (names follow etcd-io/raft so readers of either recognise them). */
export enum MessageType {
  /** Pre-vote request (Raft thesis 9.6): asks whether a campaign could win, without bumping terms. */
  PRE_VOTE = 0,
  PRE_VOTE_RESP = 1,
  VOTE = 2,
  VOTE_RESP = 3,
  /** AppendEntries; with no entries it doubles as a heartbeat-with-log-position probe. */
  APPEND = 4,
  APPEND_RESP = 5,
  HEARTBEAT = 6,
  HEARTBEAT_RESP = 7,
  /** InstallSnapshot for a follower whose next entry was compacted away. */
  SNAPSHOT = 8,
  /** Leadership transfer: tells the target to campaign at once (Raft thesis 3.10). */
  TIMEOUT_NOW = 9,
  /** ReadIndex forwarded from a follower to the leader, and the leader's answer. */
  READ_INDEX = 10,
  READ_INDEX_RESP = 11,
  /** A proposal forwarded from a follower to the leader. */
  PROPOSE = 12,
}

/**
 * A message between two Raft nodes. Fields not used by a message type are 0 / empty.
 * Only the transport serialises it; only the core interprets it.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: number;
  readonly to: number;
  readonly term: number;
  /** APPEND: term of the entry at `index` (the entry preceding `entries`). VOTE: last log term. */
  readonly logTerm: number;
  /** APPEND: index preceding `entries`. VOTE: last log index. *_RESP: the index acknowledged or rejected. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  /** On a rejected APPEND: the follower's hint for fast backtracking (a likely matching index). */
  readonly rejectHint: number;
  /** On a rejected APPEND: the term of the follower's entry at `rejectHint`. */
  readonly logTermHint: number;
  readonly snapshot?: Snapshot;
  /** Opaque request context: ReadIndex request ids, or a campaign-transfer marker on VOTE. */
  readonly context: Uint8Array;
}
