/**
 * Linearizable reads through ReadIndex (Raft thesis 6.4), batched: one round serves every read queued
 * before it started, as etcd does. A waiter resolves once the round's index has been applied locally.
 */
import { KvError, NotLeaderError, UnavailableError } from '../errors';
import { ProposalDroppedError } from '../raft';

interface ReadWaiter {
  timer: NodeJS.Timeout;
  done: boolean;
  resolve(): void;
  reject(e: KvError): void;
}

interface ReadRound {
  readonly id: number;
  readonly waiters: ReadWaiter[];
  readonly startedTick: number;
  /** Set once the ReadState arrived: serve when applied reaches it. */
  index?: number;
}

/** What the batcher needs from its member. */
export interface ReadBatcherOptions {
  readonly memberId: number;
  /** Random per process: tells this incarnation's rounds from a previous one's (see {@link ReadBatcher.wait}). */
  readonly processEpoch: number;
  readonly timeoutMs: number;
  /** Re-issue a round whose answer did not come within this many ticks (it can be lost in a leader change). */
  readonly expireTicks: number;
  /** Starts a ReadIndex round on the Raft node (RawNode.readIndex); throws ProposalDroppedError without a leader. */
  readonly readIndex: (context: Uint8Array) => void;
  /** Called when a round starts (metrics) and when the node has new work (run the Ready loop). */
  readonly onRoundStarted: () => void;
}

/** Queues reads, runs one ReadIndex round at a time, releases reads as the applied index advances. */
export class ReadBatcher {
  private queue: ReadWaiter[] = [];
  private round: ReadRound | undefined;
  private roundCounter = 0;
  private readonly confirmed: ReadRound[] = [];
  private tickCount = 0;

  constructor(private readonly options: ReadBatcherOptions) {}

  /** Resolves when a read may be served from the local state machine; rejects on timeout or no leader. */
  wait(): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter: ReadWaiter = {
        resolve,
        reject,
        done: false,
        timer: setTimeout(() => {
          if (waiter.done) return;
          waiter.done = true;
          reject(new UnavailableError('timeout', `read not confirmed by a quorum within ${this.options.timeoutMs} ms; retry`));
        }, this.options.timeoutMs),
      };
      this.queue.push(waiter);
      this.startRound();
    });
  }

  /** A ReadState from the node: if it answers the current round, that round waits for `index` to apply. */
  onReadState(index: number, context: Uint8Array): void {
    if (!this.round || context.length !== 16) return;
    const ctx = Buffer.from(context.buffer, context.byteOffset, context.byteLength);
    if (ctx.readUInt32BE(0) !== this.options.memberId || ctx.readUInt32BE(4) !== this.options.processEpoch ||
      ctx.readDoubleBE(8) !== this.round.id) return;
    this.round.index = index;
    this.confirmed.push(this.round);
    this.round = undefined;
    this.startRound();
  }

  /** Releases every confirmed round whose index is applied. */
  serve(applied: number): void {
    for (let i = 0; i < this.confirmed.length;) {
      const round = this.confirmed[i];
      if (round.index! <= applied) {
        for (const w of round.waiters) settle(w);
        this.confirmed.splice(i, 1);
      } else {
        i++;
      }
    }
  }

  /** One Raft tick: a round unanswered for an election timeout is re-issued. */
  tick(): void {
    this.tickCount++;
    if (this.round && this.tickCount - this.round.startedTick >= this.options.expireTicks) this.restart(true);
  }

  /**
   * The leader changed or was lost: the current round's answer may never come. Its waiters move to a
   * fresh round started now, which is after each of them arrived: still linearizable.
   */
  restart(leaderKnown: boolean): void {
    if (!this.round) return;
    this.queue = [...this.round.waiters, ...this.queue];
    this.round = undefined;
    if (leaderKnown) this.startRound();
  }

  /** Fails every waiting read (storage failure, shutdown). */
  failAll(err: KvError): void {
    const rounds = [...this.confirmed, ...(this.round ? [this.round] : [])];
    for (const w of [...this.queue, ...rounds.flatMap((r) => r.waiters)]) settle(w, err);
    this.queue = [];
    this.round = undefined;
    this.confirmed.length = 0;
  }

  private startRound(): void {
    if (this.round || this.queue.length === 0) return;
    const waiters = this.queue.filter((w) => !w.done);
    this.queue = [];
    if (waiters.length === 0) return;
    const id = ++this.roundCounter;
    // The process epoch is part of the context: the leader may answer a ReadIndex sent by a previous
    // incarnation of this member (killed and restarted) after the restart, and that answer's index
    // predates the new reads, so it must not match a new round with the same counter value.
    const ctx = Buffer.allocUnsafe(16);
    ctx.writeUInt32BE(this.options.memberId, 0);
    ctx.writeUInt32BE(this.options.processEpoch, 4);
    ctx.writeDoubleBE(id, 8);
    try {
      this.options.readIndex(ctx);
    } catch (e) {
      const err = e instanceof ProposalDroppedError ? new NotLeaderError(undefined) : e as KvError;
      for (const w of waiters) settle(w, err);
      return;
    }
    this.round = { id, waiters, startedTick: this.tickCount };
    this.options.onRoundStarted();
  }
}

function settle(w: ReadWaiter, err?: KvError): void {
  if (w.done) return;
  w.done = true;
  clearTimeout(w.timer);
  if (err) w.reject(err); else w.resolve();
}
