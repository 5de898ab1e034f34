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
