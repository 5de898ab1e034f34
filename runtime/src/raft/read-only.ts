/**
 * ReadIndex bookkeeping on the leader (Raft thesis 6.4; etcd-io/raft's `read_only.go`): reads wait
 * until the leader has committed an entry of its term, then until a quorum acknowledges a heartbeat
 * sent after the read arrived. Pure: the caller sends the heartbeats and answers the reads.
 */

/** A read whose index is fixed and that waits for a quorum of heartbeat acks. */
export interface PendingRead {
  readonly index: number;
  readonly context: Uint8Array;
  /** The node that asked (the leader itself, or a follower that forwarded READ_INDEX). */
  readonly from: number;
  readonly acks: Set<number>;
}

/** A read that arrived before the leader committed an entry of its term. */
export interface ReadAwaitingCommit {
  readonly from: number;
  readonly context: Uint8Array;
}

function bytesKey(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** The leader's queues of reads, in arrival order. Reset on every role change. */
export class ReadOnly {
  private pending: PendingRead[] = [];
  private awaitingCommit: ReadAwaitingCommit[] = [];

  /** Forgets every queued read (a new term or role: the askers retry). */
  reset(): void {
    this.pending = [];
    this.awaitingCommit = [];
  }

  /** Queues a read that must wait for the leader's first commit in its term. */
  awaitCommit(from: number, context: Uint8Array): void {
    this.awaitingCommit.push({ from, context });
  }

  /** Removes and returns the reads that waited for a commit in the current term. */
  takeAwaitingCommit(): ReadAwaitingCommit[] {
    const waiting = this.awaitingCommit;
    this.awaitingCommit = [];
    return waiting;
  }

  /** Queues a read at `index`; the leader's own ack counts at once. */
  add(selfId: number, from: number, index: number, context: Uint8Array): void {
    this.pending.push({ index, context, from, acks: new Set([selfId]) });
  }

  /** The context of the newest pending read: heartbeats carry it so acks can be matched. */
  lastContext(): Uint8Array | undefined {
    return this.pending.length > 0 ? this.pending[this.pending.length - 1].context : undefined;
  }

  /**
   * Records `from`'s ack of the heartbeat that carried `context`. Once `hasQuorum(acks)` holds for
   * that read, it and every earlier read are confirmed (a quorum confirmed leadership after each of
   * them arrived) and returned, oldest first.
   */
  recvAck(from: number, context: Uint8Array, hasQuorum: (acks: ReadonlySet<number>) => boolean): PendingRead[] {
    const key = bytesKey(context);
    const i = this.pending.findIndex((r) => bytesKey(r.context) === key);
    if (i < 0) return [];
    this.pending[i].acks.add(from);
    if (!hasQuorum(this.pending[i].acks)) return [];
    return this.pending.splice(0, i + 1);
  }
}
