/** Errors the KV server reports to clients, each mapped to one HTTP status and a JSON body. */

/** A client-visible error: `status` and `code` go to the wire as `{"error": code, "message": ..., "retryable": ...}`. */
export class KvError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** True when the same request may succeed if retried (after a leader change, a timeout). */
    readonly retryable = false,
    /** Extra fields of the JSON body (e.g. `leader`, `outcome`). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'KvError';
  }
}

/** This member is not the leader; `leaderUrl` is the leader's advertised client URL when known. */
export class NotLeaderError extends KvError {
  constructor(readonly leaderUrl: string | undefined) {
    super(leaderUrl ? 307 : 503, leaderUrl ? 'not_leader' : 'no_leader',
      leaderUrl ? `this member is not the leader; retry on ${leaderUrl}` : 'no leader is known right now; retry shortly',
      // Answered before the request reached Raft: it surely did not apply (docs/api.md promises the field).
      true, leaderUrl ? { leader: leaderUrl, outcome: 'not_applied' } : { outcome: 'not_applied' });
  }
}

/**
 * A proposal whose outcome is unknown: it was handed to Raft but leadership was lost, the member is
 * stopping, or the request timed out before it applied. It may or may not take effect later.
 */
export class OutcomeUnknownError extends KvError {
  constructor(code: 'leadership_lost' | 'timeout' | 'stopping' | 'storage_failed', message: string) {
    super(503, code, message, true, { outcome: 'unknown' });
  }
}

/** A read or write that never reached Raft: retrying cannot apply it twice. */
export class UnavailableError extends KvError {
  constructor(code: string, message: string) {
    super(503, code, message, true, { outcome: 'not_applied' });
  }
}
