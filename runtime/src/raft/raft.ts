import { applyConfChange, ConfChange, decodeConfChange, encodeConfChange, validateConfChange } from './confchange';
import { ReadOnlyOption, ResolvedRaftConfig } from './config';
import { ProposalDroppedError, RaftConfigError } from './errors';
import { RaftLog } from './log';
import { Progress, ProgressState } from './progress';
import { committedIndex, majority, voteResult, VoteResult } from './quorum';
import { ReadOnly } from './read-only';
import { RaftStorage } from './storage';
import { ConfState, Entry, EntryType, HardState, Message, MessageType, Snapshot } from './types';

/** A node's role. Learners are followers that never campaign. */
export enum Role {
  FOLLOWER = 0,
  PRE_CANDIDATE = 1,
  CANDIDATE = 2,
  LEADER = 3,
}

/** A read that may be served once the local state machine has applied `index` (Raft thesis 6.4). */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

const EMPTY = new Uint8Array();
/** VOTE context marking a campaign started by TIMEOUT_NOW: voters in a leader lease still answer it. */
export const CAMPAIGN_TRANSFER = new TextEncoder().encode('CampaignTransfer');

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
}

/**
 * The Raft protocol as a deterministic state machine (after etcd-io/raft's `raft` struct).
 * Inputs: tick(), step(message), propose/readIndex/... ; outputs accumulate in `msgs`,
 * `readStates` and the log's unstable part, and are collected by RawNode.ready().
 * Nothing here does I/O, reads a clock, or draws randomness except through config.random.
 */
export class Raft {
  readonly id: number;
  term = 0;
  vote = 0;
  lead = 0;
  role = Role.FOLLOWER;
  readonly log: RaftLog;
  confState: ConfState;
  readonly prs = new Map<number, Progress>();
  msgs: Message[] = [];
  readStates: ReadState[] = [];

  private votes = new Map<number, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** Leader: the transfer target, 0 if none. */
  leadTransferee = 0;
  /** Leader: index of the last conf change appended; a new one waits until it is applied (one at a time). */
  private pendingConfIndex = 0;
  private readonly readOnly = new ReadOnly();
  /** Leader: read requests received before it committed an entry of its term. */

  constructor(readonly cfg: ResolvedRaftConfig, storage: RaftStorage) {
    this.id = cfg.id;
    const { hardState, confState } = storage.initialState();
    this.log = new RaftLog(storage, hardState.commit, cfg.applied);
    let cs = confState;
    // Conf changes are applied when applied; replay those between the snapshot and `applied`.
    const applied = this.log.applied;
    const replay = this.log.slice(storage.firstIndex(), applied + 1) ?? [];
    for (const e of replay) if (e.type === EntryType.CONF_CHANGE) cs = applyConfChange(cs, decodeConfChange(e.data));
    this.confState = cs;
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.resetProgress();
    this.becomeFollower(this.term, 0);
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** A voter in the current configuration, with no snapshot pending: it may campaign. */
  promotable(): boolean {
    return this.confState.voters.includes(this.id) && this.log.pendingSnapshot() === undefined;
  }

  private electionTimeout(): number {
    return this.cfg.electionTick;
  }

  // ---------------------------------------------------------------- role changes

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = 0;
    }
    this.lead = 0;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTick + Math.floor(this.cfg.random() * this.cfg.electionTick);
    this.votes.clear();
    this.leadTransferee = 0;
    this.readOnly.reset();
    for (const [id, pr] of this.prs) {
      const fresh = new Progress(this.log.lastIndex() + 1, this.cfg.maxInflightMsgs, pr.isLearner);
      if (id === this.id) fresh.match = this.stableLastIndex();
      this.prs.set(id, fresh);
    }
  }

  /** The last index known durable locally: what the leader may count for itself. */
  private stableLastIndex(): number {
    const unstable = this.log.unstable();
    if (unstable.length > 0) return unstable[0].index - 1;
    return this.log.pendingSnapshot() ? 0 : this.log.lastIndex();
  }

  becomeFollower(term: number, lead: number): void {
    this.reset(term);
    this.lead = lead;
    this.role = Role.FOLLOWER;
  }

  private becomePreCandidate(): void {
    if (this.role === Role.LEADER) throw new RaftConfigError('invalid transition: leader -> pre-candidate');
    // Pre-vote changes neither term nor vote (thesis 9.6), so a partitioned node cannot disrupt anyone.
    this.votes.clear();
    this.lead = 0;
    this.role = Role.PRE_CANDIDATE;
  }

  private becomeCandidate(): void {
    if (this.role === Role.LEADER) throw new RaftConfigError('invalid transition: leader -> candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.CANDIDATE;
  }

  private becomeLeader(): void {
    if (this.role === Role.FOLLOWER) throw new RaftConfigError('invalid transition: follower -> leader');
    this.reset(this.term);
    this.lead = this.id;
    this.role = Role.LEADER;
    const self = this.prs.get(this.id);
    if (self) self.becomeReplicate();
    // The empty entry lets the leader commit everything before it (paper 8, thesis 6.4).
    this.appendEntries([{ type: EntryType.NORMAL, data: EMPTY }]);
    // Conf changes wait until this empty entry is applied: with one-server-at-a-time changes a
    // leader must commit an entry of its own term first (Ongaro's fix for the single-server change
    // bug, raft-dev 2015), and any conf change left by the previous leader is applied by then.
    this.pendingConfIndex = this.log.lastIndex();
  }

  private resetProgress(): void {
    this.prs.clear();
    const next = this.log.lastIndex() + 1;
    for (const v of this.confState.voters) this.prs.set(v, new Progress(next, this.cfg.maxInflightMsgs, false));
    for (const l of this.confState.learners) this.prs.set(l, new Progress(next, this.cfg.maxInflightMsgs, true));
  }

  // ---------------------------------------------------------------- ticks

  tick(): void {
    if (this.role === Role.LEADER) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout()) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.quorumActive()) {
        // CheckQuorum (thesis 6.2): a leader cut off from a majority steps down instead of serving stale reads.
        this.becomeFollower(this.term, 0);
        return;
      }
      // A transfer that did not finish within an election timeout is abandoned (thesis 3.10).
      if (this.leadTransferee !== 0) this.leadTransferee = 0;
    }
    if (this.role !== Role.LEADER) return;
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const v of this.confState.voters) {
      const pr = this.prs.get(v);
      if (v === this.id || pr?.recentActive) active++;
    }
    for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false;
    return active >= Math.floor(this.confState.voters.length / 2) + 1;
  }

  // ---------------------------------------------------------------- elections

  /** Starts an election (after a pre-vote round unless `transfer` or preVote is off). */
  hup(transfer: boolean): void {
    if (this.role === Role.LEADER || !this.promotable()) return;
    // An unapplied conf change might remove us or change the quorum: wait until it is applied.
    const pending = this.log.slice(this.log.applied + 1, this.log.committed + 1) ?? [];
    if (pending.some((e) => e.type === EntryType.CONF_CHANGE)) return;
    if (this.cfg.preVote && !transfer) this.campaign(true, false);
    else this.campaign(false, transfer);
  }

  private campaign(pre: boolean, transfer: boolean): void {
    let term: number;
    if (pre) {
      this.becomePreCandidate();
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      term = this.term;
    }
    if (this.poll(this.id, true) === VoteResult.WON) {
      if (pre) this.campaign(false, transfer);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const v of this.confState.voters) {
      if (v === this.id) continue;
      this.send({
        type: pre ? MessageType.PRE_VOTE : MessageType.VOTE,
        to: v,
        term,
        index: lastIndex,
        logTerm: lastTerm,
        context: transfer ? CAMPAIGN_TRANSFER : EMPTY,
      });
    }
  }

  private poll(id: number, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return voteResult(this.confState.voters, this.votes);
  }

  // ---------------------------------------------------------------- step

  /** Feeds one message received from a peer. Unknown or stale messages are ignored. */
  step(m: Message): void {
    if (m.type === MessageType.PROPOSE || m.type === MessageType.READ_INDEX) {
      // Forwarded requests are term-less: whoever is leader when they arrive serves them.
      this.stepByRole(m);
      return;
    }
    if (m.term > this.term) {
      if (m.type === MessageType.VOTE || m.type === MessageType.PRE_VOTE) {
        const force = bytesEqual(m.context, CAMPAIGN_TRANSFER);
        const inLease = this.cfg.checkQuorum && this.lead !== 0 && this.electionElapsed < this.electionTimeout();
        // Within a lease we heard from a live leader: ignore disruptive candidates (thesis 4.2.3).
        if (!force && inLease) return;
      }
      if (m.type === MessageType.PRE_VOTE) {
        // A pre-vote never changes our term.
      } else if (m.type === MessageType.PRE_VOTE_RESP && !m.reject) {
        // The future term of our own pre-vote: adopted only if we win it.
      } else if (m.type === MessageType.APPEND || m.type === MessageType.HEARTBEAT || m.type === MessageType.SNAPSHOT) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, 0);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === MessageType.APPEND || m.type === MessageType.HEARTBEAT)) {
        // A stale leader (e.g. back from a partition) learns the new term and steps down, instead of
        // being ignored forever while our pre-votes cannot reach it.
        this.send({ type: MessageType.APPEND_RESP, to: m.from });
      } else if (m.type === MessageType.PRE_VOTE) {
        this.send({ type: MessageType.PRE_VOTE_RESP, to: m.from, reject: true });
      }
      return;
    }

    if (m.type === MessageType.VOTE || m.type === MessageType.PRE_VOTE) {
      const canVote = this.vote === m.from || (this.vote === 0 && this.lead === 0) ||
        (m.type === MessageType.PRE_VOTE && m.term > this.term);
      const resp = m.type === MessageType.VOTE ? MessageType.VOTE_RESP : MessageType.PRE_VOTE_RESP;
      if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
        // The vote is in HardState; RawNode hands it out for persistence before this response is sent.
        this.send({ type: resp, to: m.from, term: m.term });
        if (m.type === MessageType.VOTE) {
          this.electionElapsed = 0;
          this.vote = m.from;
        }
      } else {
        this.send({ type: resp, to: m.from, reject: true });
      }
      return;
    }
    this.stepByRole(m);
  }

  private stepByRole(m: Message): void {
    switch (this.role) {
      case Role.LEADER:
        return this.stepLeader(m);
      case Role.CANDIDATE:
      case Role.PRE_CANDIDATE:
        return this.stepCandidate(m);
      case Role.FOLLOWER:
        return this.stepFollower(m);
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.PROPOSE:
      case MessageType.READ_INDEX:
        if (this.lead !== 0) this.send({ ...m, to: this.lead, term: 0 }); // forward; dropped if no leader
        return;
      case MessageType.APPEND:
        this.electionElapsed = 0;
        this.lead = m.from;
        return this.handleAppend(m);
      case MessageType.HEARTBEAT:
        this.electionElapsed = 0;
        this.lead = m.from;
        return this.handleHeartbeat(m);
      case MessageType.SNAPSHOT:
        this.electionElapsed = 0;
        this.lead = m.from;
        return this.handleSnapshot(m);
      case MessageType.TIMEOUT_NOW:
        // Leadership transfer: campaign at once, skipping pre-vote (thesis 3.10).
        this.hup(true);
        return;
      case MessageType.READ_INDEX_RESP:
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    const myResp = this.role === Role.PRE_CANDIDATE ? MessageType.PRE_VOTE_RESP : MessageType.VOTE_RESP;
    switch (m.type) {
      case MessageType.APPEND:
        this.becomeFollower(m.term, m.from);
        return this.handleAppend(m);
      case MessageType.HEARTBEAT:
        this.becomeFollower(m.term, m.from);
        return this.handleHeartbeat(m);
      case MessageType.SNAPSHOT:
        this.becomeFollower(m.term, m.from);
        return this.handleSnapshot(m);
      case myResp: {
        const r = this.poll(m.from, !m.reject);
        if (r === VoteResult.WON) {
          if (this.role === Role.PRE_CANDIDATE) {this.campaign(false, false);} else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (r === VoteResult.LOST) {
          this.becomeFollower(this.term, 0);
        }
        return;
      }
      default:
        return; // proposals and reads are dropped: there is no leader to serve them
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.PROPOSE:
        if (this.canAccept(m.entries.length) === undefined) {
          this.appendEntries(m.entries.map((e) => ({ type: EntryType.NORMAL, data: e.data })));
          this.bcastAppend();
        }
        return;
      case MessageType.READ_INDEX:
        this.leaderReadIndex(m.from, m.context);
        return;
      default:
        break;
    }
    const pr = this.prs.get(m.from);
    if (!pr) return; // not (or no longer) a member
    switch (m.type) {
      case MessageType.APPEND_RESP:
        pr.recentActive = true;
        if (m.reject) {
          if (m.index <= pr.match && m.rejectHint < pr.match) {
            // The follower rejects a point it had acknowledged: it lost entries it promised were durable
            // (a wiped disk under the same id). Its match is a promise it cannot keep; probe from what it
            // still holds, so it catches up under this leader instead of waiting for a leader change.
            pr.match = m.rejectHint;
            pr.becomeProbe();
            this.sendAppend(m.from);
            return;
          }
          let hint = m.rejectHint;
          if (m.logTermHint > 0) hint = this.log.findConflictByTerm(m.rejectHint, m.logTermHint);
          if (pr.maybeDecrTo(m.index, hint)) {
            if (pr.state === ProgressState.REPLICATE) pr.becomeProbe();
            this.sendAppend(m.from);
          }
          return;
        }
        {
          const wasPaused = pr.isPaused();
          // An ack at exactly our match point answers a probe: the follower's log matches up to it.
          const updated = pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressState.PROBE);
          if (!updated) return;
          if (pr.state === ProgressState.PROBE) {
            pr.becomeReplicate();
          } else if (pr.state === ProgressState.SNAPSHOT && pr.match + 1 >= this.log.firstIndex()) {
            pr.becomeProbe();
            pr.becomeReplicate();
          } else if (pr.state === ProgressState.REPLICATE) {pr.inflights.freeLE(m.index);}
          if (this.maybeCommit()) this.bcastAppend();
          else if (wasPaused) this.sendAppend(m.from);
          // Pipelining: keep sending while the window has room and there are entries.
          while (this.sendAppend(m.from, false)) { /* fill the window */ }
          if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
        }
        return;
      case MessageType.HEARTBEAT_RESP:
        pr.recentActive = true;
        pr.probeSent = false;
        if (pr.state === ProgressState.REPLICATE && pr.inflights.full()) pr.inflights.freeFirstOne();
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
        if (this.cfg.readOnlyOption === ReadOnlyOption.SAFE && m.context.byteLength > 0) this.ackRead(m.from, m.context);
        return;
      default:
        return;
    }
  }

  // ---------------------------------------------------------------- replication

  private canAccept(n: number): string | undefined {
    if (this.role !== Role.LEADER) return this.lead === 0 ? 'no leader' : `not the leader (leader is ${this.lead})`;
    if (this.leadTransferee !== 0) return `leadership transfer to ${this.leadTransferee} in progress`;
    const uncommitted = this.log.lastIndex() - this.log.committed;
    if (uncommitted + n > this.cfg.maxUncommittedEntries) {
      return `${uncommitted} uncommitted entries, limit maxUncommittedEntries=${this.cfg.maxUncommittedEntries}`;
    }
    return undefined;
  }

  /** Client proposal on this node: appended if leader, forwarded to the leader if follower. */
  propose(data: Uint8Array, type = EntryType.NORMAL): void {
    if (this.role !== Role.LEADER) {
      if (this.lead === 0 || this.role !== Role.FOLLOWER) throw new ProposalDroppedError('no leader');
      if (type !== EntryType.NORMAL) throw new ProposalDroppedError(`conf changes must be proposed on the leader (${this.lead})`);
      this.send({ type: MessageType.PROPOSE, to: this.lead, term: 0, entries: [{ term: 0, index: 0, type, data }] });
      return;
    }
    const reason = this.canAccept(1);
    if (reason !== undefined) throw new ProposalDroppedError(reason);
    if (type === EntryType.CONF_CHANGE) {
      if (this.pendingConfIndex > this.log.applied) {
        throw new ProposalDroppedError(`a conf change (or the leader's first entry) at index ${this.pendingConfIndex} is not applied yet (applied ${this.log.applied}); retry later`);
      }
      this.pendingConfIndex = this.log.lastIndex() + 1;
    }
    this.appendEntries([{ type, data }]);
    this.bcastAppend();
  }

  proposeConfChange(cc: ConfChange): void {
    validateConfChange(this.confState, cc);
    this.propose(encodeConfChange(cc), EntryType.CONF_CHANGE);
  }

  private appendEntries(es: readonly { type: EntryType; data: Uint8Array }[]): void {
    let index = this.log.lastIndex();
    const ents: Entry[] = es.map((e) => ({ term: this.term, index: ++index, type: e.type, data: e.data }));
    this.log.append(ents);
    // The leader counts itself only once RawNode.advance reports these entries durable.
  }

  /** Leader: the entries up to `index` are durable locally (called from RawNode.advance). */
  selfPersisted(index: number): void {
    if (this.role !== Role.LEADER) return;
    const self = this.prs.get(this.id);
    if (self && self.maybeUpdate(index) && this.maybeCommit()) this.bcastAppend();
  }

  private maybeCommit(): boolean {
    const idx = committedIndex(this.confState.voters, (id) => this.prs.get(id)?.match ?? 0);
    if (!Number.isFinite(idx)) return false;
    const before = this.log.committed;
    if (!this.log.maybeCommit(idx, this.term)) return false;
    if (before < this.log.committed) this.releaseReadsAwaitingCommit();
    return true;
  }

  private bcastAppend(): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.sendAppend(id);
  }

  /** Sends entries (or a snapshot if they are compacted) to `to`; returns whether anything was sent. */
  private sendAppend(to: number, sendIfEmpty = true): boolean {
    const pr = this.prs.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const ents = limitBytes(this.log.slice(pr.next, Infinity, this.cfg.maxEntriesPerMsg), this.cfg.maxBytesPerMsg);
    if (ents !== undefined && ents.length === 0 && !sendIfEmpty) return false;
    if (prevTerm === undefined || ents === undefined) {
      // The follower needs entries we compacted: send the snapshot (paper 7, InstallSnapshot).
      const snap = this.log.snapshot();
      if (snap.metadata.index === 0) return false;
      this.send({ type: MessageType.SNAPSHOT, to, snapshot: snap });
      pr.becomeSnapshot(snap.metadata.index);
      return true;
    }
    this.send({ type: MessageType.APPEND, to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed });
    if (ents.length > 0) {
      if (pr.state === ProgressState.REPLICATE) {
        const last = ents[ents.length - 1].index;
        pr.next = last + 1;
        pr.inflights.add(last);
      } else if (pr.state === ProgressState.PROBE) {pr.probeSent = true;}
    } else if (pr.state === ProgressState.PROBE) {pr.probeSent = true;}
    return true;
  }

  private bcastHeartbeat(): void {
    const ctx = this.readOnly.lastContext() ?? EMPTY;
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      // Never tell a follower to commit beyond what it is known to have.
      this.send({ type: MessageType.HEARTBEAT, to: id, commit: Math.min(pr.match, this.log.committed), context: ctx });
    }
  }

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send({ type: MessageType.APPEND_RESP, to: m.from, index: this.log.committed });
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      // Sent only after the appended entries are durable (RawNode's contract).
      this.send({ type: MessageType.APPEND_RESP, to: m.from, index: lastNew });
      return;
    }
    // Fast backtracking: point the leader at our last entry whose term could match.
    const hintIndex = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({
      type: MessageType.APPEND_RESP,
      to: m.from,
      index: m.index,
      reject: true,
      rejectHint: hintIndex,
      logTermHint: this.log.term(hintIndex) ?? 0,
    });
  }

  private handleHeartbeat(m: Message): void {
    if (m.commit > this.log.committed) this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({ type: MessageType.HEARTBEAT_RESP, to: m.from, context: m.context });
  }

  private handleSnapshot(m: Message): void {
    const snap = m.snapshot;
    if (!snap) return;
    if (this.restore(snap)) this.send({ type: MessageType.APPEND_RESP, to: m.from, index: this.log.lastIndex() });
    else this.send({ type: MessageType.APPEND_RESP, to: m.from, index: this.log.committed });
  }

  /** Installs a leader's snapshot; returns false if it brings nothing new. */
  private restore(snap: Snapshot): boolean {
    const { index, term } = snap.metadata;
    if (index <= this.log.committed) return false;
    if (this.log.matchTerm(index, term)) {
      // We already hold the snapshot's last entry: just fast-forward the commit index.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(snap);
    this.confState = snap.metadata.confState;
    this.resetProgress();
    return true;
  }

  // ---------------------------------------------------------------- membership

  /** Applies a committed conf change entry (called as the application applies it). */
  applyConfChangeEntry(e: Entry): void {
    const cc = decodeConfChange(e.data);
    const before = this.confState;
    this.confState = applyConfChange(before, cc);
    const next = this.log.lastIndex() + 1;
    for (const id of [...this.prs.keys()]) {
      if (!this.confState.voters.includes(id) && !this.confState.learners.includes(id)) this.prs.delete(id);
    }
    for (const v of this.confState.voters) {
      const pr = this.prs.get(v);
      if (pr) pr.isLearner = false;
      else this.prs.set(v, this.newPeerProgress(next));
    }
    for (const l of this.confState.learners) {
      if (!this.prs.has(l)) {
        const pr = this.newPeerProgress(next);
        pr.isLearner = true;
        this.prs.set(l, pr);
      }
    }
    if (this.role !== Role.LEADER) return;
    if (!this.confState.voters.includes(this.id)) {
      // The leader was removed: step down; the remaining voters elect a new leader.
      this.becomeFollower(this.term, 0);
      return;
    }
    if (this.leadTransferee !== 0 && !this.confState.voters.includes(this.leadTransferee)) this.leadTransferee = 0;
    // The quorum changed: something may now be committed; new peers need their first append.
    this.maybeCommit();
    this.bcastAppend();
  }

  private newPeerProgress(next: number): Progress {
    const pr = new Progress(next, this.cfg.maxInflightMsgs, false);
    pr.recentActive = true; // do not count a brand-new peer as lost before it could answer
    return pr;
  }

  // ---------------------------------------------------------------- leadership transfer

  transferLeadership(to: number): void {
    if (this.role !== Role.LEADER) throw new ProposalDroppedError(`transferLeadership must be called on the leader (leader is ${this.lead || 'unknown'})`);
    if (to === this.id) return;
    if (!this.confState.voters.includes(to)) throw new RaftConfigError(`transferLeadership: node ${to} is not a voter (voters: ${this.confState.voters.join(',')})`);
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    this.electionElapsed = 0; // the transfer must finish within one election timeout
    const pr = this.prs.get(to)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to);
  }

  private sendTimeoutNow(to: number): void {
    this.send({ type: MessageType.TIMEOUT_NOW, to });
  }

  // ---------------------------------------------------------------- reads

  readIndex(context: Uint8Array): void {
    if (this.role === Role.LEADER) {
      this.leaderReadIndex(this.id, context);
      return;
    }
    if (this.role !== Role.FOLLOWER || this.lead === 0) throw new ProposalDroppedError('no leader to confirm a read');
    this.send({ type: MessageType.READ_INDEX, to: this.lead, term: 0, context });
  }

  private committedInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private leaderReadIndex(from: number, context: Uint8Array): void {
    if (!this.committedInCurrentTerm()) {
      // Until the leader commits an entry of its term it does not know the true commit index (thesis 6.4 step 1).
      this.readOnly.awaitCommit(from, context);
      return;
    }
    const index = this.log.committed;
    if (this.confState.voters.length === 1 || this.cfg.readOnlyOption === ReadOnlyOption.LEASE_BASED) {
      this.respondRead(from, index, context);
      return;
    }
    this.readOnly.add(this.id, from, index, context);
    this.bcastHeartbeat();
  }

  private releaseReadsAwaitingCommit(): void {
    if (!this.committedInCurrentTerm()) return;
    for (const r of this.readOnly.takeAwaitingCommit()) this.leaderReadIndex(r.from, r.context);
  }

  private ackRead(from: number, context: Uint8Array): void {
    const voters = this.confState.voters;
    const confirmed = this.readOnly.recvAck(from, context,
      (acks) => voters.filter((v) => acks.has(v)).length >= majority(voters.length));
    for (const r of confirmed) this.respondRead(r.from, r.index, r.context);
  }

  private respondRead(from: number, index: number, context: Uint8Array): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send({ type: MessageType.READ_INDEX_RESP, to: from, index, context });
  }

  // ---------------------------------------------------------------- flow-control reports

  reportUnreachable(id: number): void {
    const pr = this.prs.get(id);
    if (this.role === Role.LEADER && pr && pr.state === ProgressState.REPLICATE) pr.becomeProbe();
  }

  reportSnapshot(id: number, ok: boolean): void {
    const pr = this.prs.get(id);
    if (this.role !== Role.LEADER || !pr || pr.state !== ProgressState.SNAPSHOT) return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the follower's answer (or the next heartbeat) before probing again.
    pr.probeSent = true;
  }

  // ---------------------------------------------------------------- output

  private send(m: Partial<Message> & { type: MessageType; to: number }): void {
    const term = m.term ?? this.term;
    this.msgs.push({
      type: m.type,
      from: this.id,
      to: m.to,
      term,
      logTerm: m.logTerm ?? 0,
      index: m.index ?? 0,
      entries: m.entries ?? [],
      commit: m.commit ?? 0,
      reject: m.reject ?? false,
      rejectHint: m.rejectHint ?? 0,
      logTermHint: m.logTermHint ?? 0,
      snapshot: m.snapshot,
      context: m.context ?? EMPTY,
    });
  }
}

/** The longest prefix of `ents` whose data fits in `maxBytes`, but at least one entry. */
function limitBytes(ents: Entry[] | undefined, maxBytes: number): Entry[] | undefined {
  if (ents === undefined || maxBytes === Infinity) return ents;
  let total = 0;
  for (let i = 0; i < ents.length; i++) {
    total += ents[i].data.length;
    if (total > maxBytes && i > 0) return ents.slice(0, i);
  }
  return ents;
}
