/**
 * What the leader knows about each follower's log (Raft paper 5.3 nextIndex/matchIndex), plus the
 * flow-control state of etcd-io/raft: PROBE (one message at a time until the match point is found),
 * REPLICATE (pipelined, bounded by an in-flight window), SNAPSHOT (waiting for a snapshot to land).
 */

/** The replication mode toward one follower. */
export enum ProgressState {
  PROBE = 0,
  REPLICATE = 1,
  SNAPSHOT = 2,
}

/** A bounded FIFO of the last index of each APPEND in flight to one follower. */
export class Inflights {
  private readonly queue: number[] = [];
  constructor(readonly capacity: number) {}
  /** Records a sent APPEND ending at `lastIndex`. */
  add(lastIndex: number): void {
    this.queue.push(lastIndex);
  }
  /** Frees every message acknowledged by an ack up to `index`. */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.queue.length && this.queue[n] <= index) n++;
    this.queue.splice(0, n);
  }
  /** Frees the oldest message (a heartbeat response proves the follower is alive: let one more through). */
  freeFirstOne(): void {
    this.queue.shift();
  }
  full(): boolean {
    return this.queue.length >= this.capacity;
  }
  count(): number {
    return this.queue.length;
  }
  reset(): void {
    this.queue.length = 0;
  }
}

/** The leader's view of one peer. */
export class Progress {
  match = 0;
  next: number;
  state = ProgressState.PROBE;
  /** In SNAPSHOT state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /** In PROBE state: a probe is in flight, wait for its answer (or a heartbeat) before the next. */
  probeSent = false;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number, public isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === ProgressState.SNAPSHOT) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.PROBE);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.PROBE);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.REPLICATE);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.SNAPSHOT);
    this.pendingSnapshot = snapshotIndex;
  }

  /** Records an acknowledgement up to `n`; returns false if it was stale (no news). */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * Handles a rejected APPEND at `rejected`, moving `next` back to `matchHint + 1` (fast backtracking,
   * thesis 5.3 optimisation). Returns false if the rejection is stale (answers an older message).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.REPLICATE) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  /** Whether the leader must hold back APPENDs to this peer. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.PROBE:
        return this.probeSent;
      case ProgressState.REPLICATE:
        return this.inflights.full();
      case ProgressState.SNAPSHOT:
        return true;
    }
  }
}
