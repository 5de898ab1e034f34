/**
 * Leases. {@link LeaseTable} is the replicated part (applied from the log on every member): which leases
 * exist, their granted TTL, the remaining TTL of the last checkpoint, and the keys attached.
 * {@link LeaseClock} is the leader's part: deadlines in the leader's clock, driven with `nowMs` by the server
 * (it stays pure). Expiry is decided by the leader and replicated as a LeaseRevoke; the leader checkpoints
 * remaining TTLs through the log (LeaseCheckpoint) so a new leader resumes them instead of restarting them
 * at the full TTL (etcd 3.4 without --experimental-enable-lease-checkpoint restarts them).
 */
import { Errors } from './errors';
import { ByteString } from './keys';

/** etcd's MaxLeaseTTL (seconds). */
export const MAX_LEASE_TTL = 9_000_000_000;

/** One lease's replicated state. */
export interface Lease {
  readonly id: number;
  /** Granted TTL in seconds (raised to the store's minimum). */
  readonly ttl: number;
  /** Remaining TTL in seconds at the last checkpoint; 0 = none since grant or renewal (the full TTL). */
  remaining: number;
  readonly keys: Set<ByteString>;
}

/** The replicated lease table. Deterministic: IDs it picks depend only on the applied commands. */
export class LeaseTable {
  private readonly leases = new Map<number, Lease>();
  /** The next ID to try when the proposer left ID 0 (smallest unused ID from here, so members agree). */
  private nextId = 1;

  get size(): number { return this.leases.size; }

  get(id: number): Lease | undefined {
    return this.leases.get(id);
  }

  /** Every lease, by ID. */
  list(): Lease[] {
    return [...this.leases.values()].sort((a, b) => a.id - b.id);
  }

  /** Creates a lease; `id` 0 picks one. Throws leaseExists, leaseTtlTooLarge. */
  grant(id: number, ttl: number, minTtl: number): Lease {
    if (ttl > MAX_LEASE_TTL) throw Errors.leaseTtlTooLarge();
    if (id === 0) id = this.pickId();
    if (this.leases.has(id)) throw Errors.leaseExists();
    const lease: Lease = { id, ttl: Math.max(ttl, minTtl), remaining: 0, keys: new Set() };
    this.leases.set(id, lease);
    return lease;
  }

  /** Removes a lease, returning its keys sorted (the caller deletes them). Throws leaseNotFound. */
  remove(id: number): ByteString[] {
    const lease = this.leases.get(id);
    if (!lease) throw Errors.leaseNotFound();
    this.leases.delete(id);
    return [...lease.keys].sort();
  }

  attach(id: number, key: ByteString): void {
    this.leases.get(id)?.keys.add(key);
  }

  detach(id: number, key: ByteString): void {
    this.leases.get(id)?.keys.delete(key);
  }

  /** Records a checkpoint (unknown leases are ignored: they were revoked after the leader sent it). */
  checkpoint(id: number, remaining: number): void {
    const lease = this.leases.get(id);
    if (lease) lease.remaining = Math.max(0, remaining);
  }

  /** Restores a lease from a snapshot (keys are re-attached from the key records). */
  restore(id: number, ttl: number, remaining: number): void {
    this.leases.set(id, { id, ttl, remaining, keys: new Set() });
    this.nextId = Math.max(this.nextId, 1);
  }

  /** Snapshot state: the ID counter. */
  get idCounter(): number { return this.nextId; }
  set idCounter(v: number) { this.nextId = v; }

  private pickId(): number {
    while (this.leases.has(this.nextId)) this.nextId++;
    return this.nextId++;
  }
}

/** What the leader's clock decided for a renewal. */
export interface Renewal {
  /** The TTL granted again, seconds. */
  readonly TTL: number;
  /**
   * True when the replicated table still holds a partial remaining TTL from a checkpoint: the server should
   * propose a checkpoint with remaining_TTL 0 (the full TTL), so a new leader does not use the stale one.
   */
  readonly checkpointReset: boolean;
}

/**
 * The leader's lease deadlines. Contract with the server (the only one with a clock):
 * - create it (or call {@link reset}) when this member becomes leader; deadlines start from each lease's
 *   checkpointed remaining TTL (or its full TTL), counted from the first call that sees the lease;
 * - on each LeaseKeepAlive call {@link renew}; answer the client with its TTL;
 * - every ~500 ms call {@link expired} and propose a LeaseRevoke for each ID (an ID is offered again after
 *   `retryMs` if its revoke did not apply, e.g. lost with a leader change);
 * - every checkpoint interval propose a LeaseCheckpointRequest with {@link checkpoints};
 * - answer LeaseTimeToLive on the leader with {@link remainingSeconds}.
 * Followers need none of this: they hold the replicated table only.
 */
export class LeaseClock {
  private readonly deadlines = new Map<number, number>();

  constructor(private readonly table: () => LeaseTable, private readonly retryMs = 3000) {}

  /** Forgets every deadline (leadership lost or gained). */
  reset(): void {
    this.deadlines.clear();
  }

  /** Renews a lease at `nowMs`. Throws leaseNotFound. */
  renew(id: number, nowMs: number): Renewal {
    const lease = this.table().get(id);
    if (!lease) throw Errors.leaseNotFound();
    this.deadlines.set(id, nowMs + lease.ttl * 1000);
    return { TTL: lease.ttl, checkpointReset: lease.remaining !== 0 };
  }

  /** Remaining milliseconds of a lease at `nowMs` (negative once expired), undefined when it does not exist. */
  remainingMs(id: number, nowMs: number): number | undefined {
    const lease = this.table().get(id);
    return lease ? this.deadline(lease, nowMs) - nowMs : undefined;
  }

  /** Remaining whole seconds as etcd reports them (truncated, at least 0), -1 for an unknown lease. */
  remainingSeconds(id: number, nowMs: number): number {
    const ms = this.remainingMs(id, nowMs);
    return ms === undefined ? -1 : Math.max(0, Math.floor(ms / 1000));
  }

  /** IDs whose deadline passed, oldest deadline first, at most `max`; each is offered again after `retryMs`. */
  expired(nowMs: number, max = 1000): number[] {
    const due: [number, number][] = [];
    for (const lease of this.table().list()) {
      const d = this.deadline(lease, nowMs);
      if (d <= nowMs) due.push([d, lease.id]);
    }
    this.prune();
    due.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const ids = due.slice(0, max).map(([, id]) => id);
    for (const id of ids) this.deadlines.set(id, nowMs + this.retryMs);
    return ids;
  }

  /** Remaining TTLs (seconds, rounded up) to replicate, for leases whose checkpoint differs, at most `max`. */
  checkpoints(nowMs: number, max = 1000): { ID: number; remaining_TTL: number }[] {
    const out: { ID: number; remaining_TTL: number }[] = [];
    for (const lease of this.table().list()) {
      if (out.length >= max) break;
      const remaining = Math.max(1, Math.ceil((this.deadline(lease, nowMs) - nowMs) / 1000));
      if (remaining !== (lease.remaining || lease.ttl)) out.push({ ID: lease.id, remaining_TTL: remaining });
    }
    return out;
  }

  private deadline(lease: Lease, nowMs: number): number {
    let d = this.deadlines.get(lease.id);
    if (d === undefined) {
      d = nowMs + (lease.remaining || lease.ttl) * 1000;
      this.deadlines.set(lease.id, d);
    }
    return d;
  }

  private prune(): void {
    const table = this.table();
    for (const id of this.deadlines.keys()) if (!table.get(id)) this.deadlines.delete(id);
  }
}
