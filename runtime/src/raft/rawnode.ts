import { ConfChange, ConfChangeType, encodeConfChange } from './confchange';
import { RaftConfig, resolveConfig } from './config';
import { InvalidMessageError, MAX_RAFT_INTEGER, MAX_TERM_JUMP, RaftConfigError } from './errors';
import { ProgressState } from './progress';
import { Raft, ReadState, Role } from './raft';
import { MemoryStorage, RaftStorage } from './storage';
import { ConfState, Entry, EntryType, HardState, Message, Snapshot } from './types';

/** Volatile state worth reporting: who leads and what this node is. */
export interface SoftState {
  readonly leader: number;
  readonly role: Role;
}

/**
 * One batch of work for the application. THE PERSISTENCE CONTRACT (Raft paper Figure 2):
 *  1. Persist `hardState`, `entries` and `snapshot` DURABLY (fsync) -- in that batch, atomically
 *     or in this order: snapshot, entries, hardState.
 *  2. Only then send `messages`: a vote response, an append acknowledgement or a leader's commit
 *     claim must never reach a peer before the state it vouches for is on disk, or a crash makes
 *     a node deny a vote it gave or lose an entry a quorum counted.
 *  3. Apply `snapshot` then `committedEntries`, in order, to the state machine.
 *  4. Serve each `readStates` item once the applied index reaches its `index`.
 *  5. Call `advance(ready)` before asking for the next Ready. CONF_CHANGE entries take effect in
 *     advance(); so take a snapshot (createSnapshot(applied, status().confState, ...)) only after
 *     advance, when status().confState is the membership as of the applied index.
 * `mustSync` says whether step 1 needs an fsync (false when only the commit index changed).
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  readonly entries: Entry[];
  readonly snapshot?: Snapshot;
  readonly committedEntries: Entry[];
  readonly messages: Message[];
  readonly readStates: ReadState[];
  readonly mustSync: boolean;
}

/** A peer's replication state as seen by the leader. */
export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
}

/** A snapshot of a node's state for monitoring and tests. */
export interface Status {
  readonly id: number;
  readonly term: number;
  readonly vote: number;
  readonly commit: number;
  readonly applied: number;
  readonly leader: number;
  readonly role: Role;
  /** Present on the leader only. */
  readonly progress?: Map<number, ProgressStatus>;
  /** Membership as of the applied index. */
  readonly confState: ConfState;
  readonly lastIndex: number;
  readonly leadTransferee: number;
}

/**
 * The application's handle on one Raft node (etcd-io/raft's RawNode): synchronous, single-threaded,
 * no I/O. The application drives it with tick/step/propose and drains it with ready/advance.
 */
export class RawNode {
  /**
   * Prepares empty storage for a brand-new cluster whose initial voters are `voters`: writes one
   * committed ADD_NODE entry per voter at term 1 (like etcd-io/raft), so the initial membership is in
   * the log and nodes added later learn it by replication. Every initial member bootstraps with the
   * same list; nodes added later start with empty storage. The application sees these entries as
   * CONF_CHANGE committed entries and should skip them. `context(id)`, if given, is each entry's
   * ConfChange.context (the application's description of that member).
   */
  static bootstrap(storage: MemoryStorage, voters: number[], context?: (id: number) => string): void {
    if (voters.length === 0) throw new RaftConfigError('RawNode.bootstrap: voters must not be empty');
    for (const v of voters) {
      if (!Number.isInteger(v) || v <= 0) throw new RaftConfigError(`RawNode.bootstrap: voter id ${v} must be a positive integer`);
    }
    if (new Set(voters).size !== voters.length) throw new RaftConfigError(`RawNode.bootstrap: duplicate voter ids in [${voters.join(',')}]`);
    if (storage.lastIndex() !== 0 || storage.initialState().hardState.term !== 0) {
      throw new RaftConfigError('RawNode.bootstrap: storage is not empty; bootstrap only a brand-new node');
    }
    const sorted = [...voters].sort((a, b) => a - b);
    storage.append(sorted.map((v, i) => ({
      term: 1,
      index: i + 1,
      type: EntryType.CONF_CHANGE,
      data: encodeConfChange({ type: ConfChangeType.ADD_NODE, nodeId: v, ...(context ? { context: context(v) } : {}) }),
    })));
    storage.setHardState({ term: 1, vote: 0, commit: sorted.length });
  }

  private readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;

  constructor(config: RaftConfig, storage: RaftStorage) {
    this.raft = new Raft(resolveConfig(config), storage);
    this.prevSoft = { leader: this.raft.lead, role: this.raft.role };
    this.prevHard = storage.initialState().hardState;
  }

  /** Advances logical time by one tick (drives election timeouts and heartbeats). */
  tick(): void {
    this.raft.tick();
  }

  /** Feeds a message received from a peer. Messages from unknown peers and stale terms are ignored. */
  step(m: Message): void {
    if (m.to !== this.raft.id) throw new RaftConfigError(`RawNode.step: message to ${m.to} delivered to node ${this.raft.id}`);
    checkMessage(m);
    if (m.term > this.raft.term + MAX_TERM_JUMP) {
      throw new InvalidMessageError(`RawNode.step: term ${m.term} is more than 2^24 ahead of our term ${this.raft.term}`);
    }
    this.raft.step(m);
  }

  /** Proposes a command. Throws ProposalDroppedError if it cannot be accepted (no leader, transfer, back-pressure). */
  propose(data: Uint8Array): void {
    this.raft.propose(data, EntryType.NORMAL);
  }

  /** Proposes a membership change (leader only; one at a time: throws ProposalDroppedError while one is pending). */
  proposeConfChange(cc: ConfChange): void {
    this.raft.proposeConfChange(cc);
  }

  /**
   * Requests a linearizable read point. The answer arrives as a ReadState with the same context in a
   * later Ready; the read may be served once applied >= its index. Contexts must be unique. No answer
   * (lost messages, leader change) means the client retries.
   */
  readIndex(context: Uint8Array): void {
    this.raft.readIndex(context);
  }

  /** Leader only: hands leadership to `to` once it is caught up (TimeoutNow). Proposals are dropped meanwhile. */
  transferLeadership(to: number): void {
    this.raft.transferLeadership(to);
  }

  /** The transport could not reach `id`: stop pipelining to it and probe instead. */
  reportUnreachable(id: number): void {
    this.raft.reportUnreachable(id);
  }

  /**
   * The transport finished (ok) or failed to send a snapshot to `id`. The transport MUST report every
   * SNAPSHOT message one way or the other: until it does, the leader sends that follower nothing else.
   */
  reportSnapshot(id: number, ok: boolean): void {
    this.raft.reportSnapshot(id, ok);
  }

  /** Starts an election now (tests, operator action). */
  campaign(): void {
    this.raft.hup(false);
  }

  private softState(): SoftState {
    return { leader: this.raft.lead, role: this.raft.role };
  }

  hasReady(): boolean {
    const r = this.raft;
    const s = this.softState();
    const h = r.hardState();
    return s.leader !== this.prevSoft.leader || s.role !== this.prevSoft.role ||
      h.term !== this.prevHard.term || h.vote !== this.prevHard.vote || h.commit !== this.prevHard.commit ||
      r.msgs.length > 0 || r.readStates.length > 0 || r.log.unstable().length > 0 ||
      r.log.pendingSnapshot() !== undefined || r.log.nextCommittedEntries(1).length > 0;
  }

  /** Collects the pending work. Call advance(ready) after handling it, before the next ready(). */
  ready(): Ready {
    const r = this.raft;
    const s = this.softState();
    const h = r.hardState();
    const softChanged = s.leader !== this.prevSoft.leader || s.role !== this.prevSoft.role;
    const hardChanged = h.term !== this.prevHard.term || h.vote !== this.prevHard.vote || h.commit !== this.prevHard.commit;
    const entries = r.log.unstable();
    const rd: Ready = {
      softState: softChanged ? s : undefined,
      hardState: hardChanged ? h : undefined,
      entries,
      snapshot: r.log.pendingSnapshot(),
      committedEntries: r.log.nextCommittedEntries(),
      messages: r.msgs,
      readStates: r.readStates,
      mustSync: entries.length > 0 || h.term !== this.prevHard.term || h.vote !== this.prevHard.vote,
    };
    r.msgs = [];
    r.readStates = [];
    if (softChanged) this.prevSoft = s;
    if (hardChanged) this.prevHard = h;
    return rd;
  }

  /** The application has persisted, sent and applied everything in `rd`. */
  advance(rd: Ready): void {
    const r = this.raft;
    if (rd.snapshot) {
      r.log.stableSnapTo(rd.snapshot.metadata.index);
      r.log.appliedTo(Math.max(rd.snapshot.metadata.index, r.log.applied));
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      r.log.stableTo(last.index, last.term);
      if (r.log.term(last.index) === last.term) r.selfPersisted(last.index);
    }
    for (const e of rd.committedEntries) {
      if (e.index <= r.log.applied) continue;
      r.log.appliedTo(e.index);
      // Membership changes take effect when applied (one server at a time, thesis 4.1).
      if (e.type === EntryType.CONF_CHANGE) r.applyConfChangeEntry(e);
    }
  }

  status(): Status {
    const r = this.raft;
    let progress: Map<number, ProgressStatus> | undefined;
    if (r.role === Role.LEADER) {
      progress = new Map();
      for (const [id, pr] of r.prs) progress.set(id, { match: pr.match, next: pr.next, state: pr.state });
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      leader: r.lead,
      role: r.role,
      progress,
      confState: r.confState,
      lastIndex: r.log.lastIndex(),
      leadTransferee: r.leadTransferee,
    };
  }
}

const BOUNDED_FIELDS = ['from', 'term', 'logTerm', 'index', 'commit', 'rejectHint', 'logTermHint'] as const;

function checkBounded(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0 || value >= MAX_RAFT_INTEGER) {
    throw new InvalidMessageError(`RawNode.step: ${what} ${value} is not an integer in [0, 2^48)`);
  }
}

/**
 * The defensive check at the core's boundary: decoders already validate what crosses the network,
 * but a term adopted here is persisted forever, so the core refuses absurd values itself too.
 */
function checkMessage(m: Message): void {
  for (const f of BOUNDED_FIELDS) checkBounded(m[f], f);
  for (const e of m.entries) { checkBounded(e.term, 'entry term'); checkBounded(e.index, 'entry index'); }
  if (m.snapshot) {
    checkBounded(m.snapshot.metadata.index, 'snapshot index');
    checkBounded(m.snapshot.metadata.term, 'snapshot term');
  }
}
