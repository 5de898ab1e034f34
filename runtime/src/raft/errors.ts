/** Errors the Raft core and its storage raise. Each names what happened and what the caller can do. */

/**
 * Thrown by `propose`, `proposeConfChange` and `readIndex` when the node cannot accept the request
 * right now: no known leader, a leadership transfer in progress, or too many uncommitted entries.
 * The request was NOT appended anywhere; the caller may retry (ideally on the leader).
 */
export class ProposalDroppedError extends Error {
  constructor(reason: string) {
    super(`proposal dropped: ${reason}`);
    this.name = 'ProposalDroppedError';
  }
}

/** Thrown by storage when the requested index has been compacted into a snapshot. */
export class CompactedError extends Error {
  constructor(index: number, firstIndex: number) {
    super(`index ${index} is compacted (first available index is ${firstIndex}); send or use a snapshot`);
    this.name = 'CompactedError';
  }
}

/** Thrown by storage when the requested index is beyond the last stored entry. */
export class UnavailableError extends Error {
  constructor(index: number, lastIndex: number) {
    super(`index ${index} is not available (last index is ${lastIndex})`);
    this.name = 'UnavailableError';
  }
}

/** Thrown when an argument breaks the API contract (bad config, out-of-order append, ...). */
export class RaftConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RaftConfigError';
  }
}

/**
 * Thrown by `RawNode.step` for a message no correct peer sends (a term or index beyond
 * {@link MAX_RAFT_INTEGER}, a non-integer): the node's state is unchanged and the caller drops it.
 */
export class InvalidMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidMessageError';
  }
}

/**
 * The largest term or index the core accepts from a message: 2^48, with a margin below 2^53 so
 * that term + 1 or index + n on an accepted value is still exact. Decoders check the same bound.
 */
export const MAX_RAFT_INTEGER = 2 ** 48;

/**
 * The furthest a message's term may be ahead of ours: 2^24 elections (months of back-to-back
 * elections; a real peer is never that far ahead). Dropping a message is always safe in Raft; this
 * bound means a forged message can raise the term only in small steps, so no single message can
 * push the cluster to the end of the term space.
 */
export const MAX_TERM_JUMP = 2 ** 24;
