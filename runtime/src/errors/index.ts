/**
 * The one error vocabulary of the runtime's HTTP APIs, shared by the members (api/http-v1.ts) and
 * the router: a code, an HTTP status, whether a retry may succeed, and for writes the `outcome`
 * (`not_applied`: surely did not take effect; `unknown`: may have). docs/api.md lists every code.
 */
import type { ServerResponse } from 'node:http';

/** The etcd v3 API's errors (gRPC codes, etcd's messages, the JSON gateway's statuses). */
export * from './etcd';

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
  constructor(code: 'leadership_lost' | 'timeout' | 'stopping' | 'storage_failed' | 'no_space' | 'outcome_unknown', message: string) {
    super(503, code, message, true, { outcome: 'unknown' });
  }
}

/** A read or write that never reached Raft: retrying cannot apply it twice. */
export class UnavailableError extends KvError {
  constructor(code: string, message: string) {
    super(503, code, message, true, { outcome: 'not_applied' });
  }
}

/**
 * The store would grow past its space quota (--quota-backend-bytes): refused before it reached Raft. A retry fails
 * until keys are deleted or history compacted (the quota never refuses those), or the quota is raised.
 */
export class QuotaExceededError extends KvError {
  constructor(sizeBytes: number, costBytes: number, quotaBytes: number) {
    const why = `the store holds ${sizeBytes} bytes and this write adds about ${costBytes}, over the space quota of ${quotaBytes} bytes`;
    const fix = 'delete keys or compact history (etcdctl compact), or raise --quota-backend-bytes';
    super(507, 'quota_exceeded', `${why}; ${fix}`, false, { outcome: 'not_applied', sizeBytes, quotaBytes });
  }
}

/**
 * The key's slot belongs to another shard in this shard's slot map (docs/resharding.md): nothing
 * was read or written. A router refreshes its map when `epoch` is newer than its own, and retries.
 */
export class WrongShardError extends KvError {
  constructor(slot: number, epoch: number, owner: string) {
    super(421, 'wrong_shard', `slot ${slot} belongs to shard '${owner}' in slot map epoch ${epoch}, not to this shard; refresh the map and retry there`,
      true, { slot, epoch, owner, outcome: 'not_applied' });
  }
}

/** The key's slot is frozen while its keys move to another shard (a few milliseconds): the write did not apply. */
export class SlotFrozenError extends KvError {
  constructor(slot: number, epoch: number) {
    super(503, 'slot_frozen', `slot ${slot} is frozen while it moves to another shard (slot map epoch ${epoch}); retry shortly`,
      true, { slot, epoch, outcome: 'not_applied' });
  }
}

/** The JSON body every API answers an error with: `{"error", "message", "retryable", ...details}`. */
export function errorBody(err: KvError): Record<string, unknown> {
  return { error: err.code, message: err.message, retryable: err.retryable, ...err.details };
}

/** Writes `body` as a JSON response (newline-terminated, with Content-Length). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Answers with `err`; a retryable 503 carries `Retry-After: 1`. */
export function sendError(res: ServerResponse, err: KvError, headers: Record<string, string> = {}): void {
  const h: Record<string, string> = { ...headers };
  if (err.retryable && err.status === 503) h['Retry-After'] = '1';
  sendJson(res, err.status, errorBody(err), h);
}

/** Wraps anything thrown into the `internal` 500 (a bug: the message says what broke). */
export function internalError(err: unknown): KvError {
  return err instanceof KvError ? err : new KvError(500, 'internal', `internal error: ${err instanceof Error ? err.message : String(err)}`);
}
