/**
 * Membership changes on a running cluster, one server at a time (docs/raft.md): add a learner,
 * promote it when caught up, remove, update addresses, and `join` (the automatic replacement of a
 * member that lost its disk: its old id is removed and a learner with a new id is added, which the
 * leader promotes by itself once caught up). Every operation runs on the leader and resolves when
 * its change has been applied locally.
 */
import { KvError, NotLeaderError, OutcomeUnknownError, UnavailableError } from '../errors';
import { ConfChange, ConfChangeType, ProposalDroppedError, RaftConfigError, Role, Status } from '../raft';
import { encodeMemberContext, MemberAttributes, MemberInfo, MemberRegistry } from './registry';

/** What the manager needs from the member that runs it. */
export interface MembershipHost {
  status(): Status;
  proposeConfChange(cc: ConfChange): void;
  transferLeadership(to: number): void;
  /** The leader's client URL, for redirects. */
  leaderClientUrl(): string | undefined;
  /** Whether the leader heard from voter `id` within about an election timeout (quorum check on removal). */
  isActive?(id: number): boolean;
}

/** A member as listed by the API. */
export interface MemberStatus extends MemberInfo {
  readonly role: 'voter' | 'learner';
  /** Leader only: the highest log index known replicated to it. */
  readonly match?: number;
  readonly isLeader: boolean;
}

/** Tunables. */
export interface MembershipOptions {
  /** A learner is caught up when its match index is within this many entries of the commit index. */
  readonly catchUpEntries: number;
  /** How long an operation waits for its change to apply. */
  readonly timeoutMs: number;
  /** How long a leader removing itself waits for the transfer. */
  readonly transferTimeoutMs: number;
  /**
   * The desired member count (StatefulSet replicas), if the deployment says: the leader removes
   * members whose name ends in an ordinal `-K` with K >= it, highest first, and refuses to take
   * such a member (back) in. Undefined: membership only changes through the API and rejoins.
   */
  readonly desiredMembers?: () => number | undefined;
}

/** The StatefulSet ordinal at the end of a member name (`kv-3` -> 3), if any. */
export function ordinalOf(name: string): number | undefined {
  const m = /-(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** A membership request a client may send (POST /v1/members, join). */
export interface MemberRequest {
  readonly name: string;
  readonly peerUrl: string;
  readonly clientUrl?: string;
}

/** See the module comment. */
export class MembershipManager {
  private promoting = false;

  constructor(private readonly host: MembershipHost, readonly registry: MemberRegistry, private readonly options: MembershipOptions) {}

  /** Voters and learners with their attributes. */
  list(): MemberStatus[] {
    const st = this.host.status();
    const cs = st.confState;
    const ids = [...cs.voters, ...cs.learners];
    return ids.sort((a, b) => a - b).map((id) => {
      const info = this.registry.member(id) ?? { id, name: '', peerUrl: '', clientUrl: '', autoPromote: false };
      const match = st.progress?.get(id)?.match;
      return {
        ...info,
        role: cs.voters.includes(id) ? 'voter' as const : 'learner' as const,
        isLeader: st.leader === id,
        ...(match !== undefined ? { match } : {}),
      };
    });
  }

  /**
   * Adds a learner (never a voter directly: it would count toward quorum with an empty log). An empty
   * name is an unstarted member (etcd's MemberAdd carries only peer URLs): the process that later
   * joins with this peer URL gives it its name (see join).
   */
  async addLearner(req: MemberRequest, autoPromote = false): Promise<MemberInfo> {
    this.requireLeader();
    checkRequest(req, { unnamed: req.name === '' });
    const clash = this.list().find((m) => (req.name !== '' && m.name === req.name) || m.peerUrl === req.peerUrl);
    if (clash) {
      throw new KvError(409, 'member_exists', `member ${clash.id} already has name '${clash.name}' or peer URL ${clash.peerUrl}; ` +
        'remove it first, or use POST /v1/members/join to replace it');
    }
    const id = this.registry.nextId();
    const attrs: MemberAttributes = { name: req.name, peerUrl: req.peerUrl, clientUrl: req.clientUrl ?? '', autoPromote };
    await this.change({ type: ConfChangeType.ADD_LEARNER, nodeId: id, context: encodeMemberContext(attrs) },
      () => this.host.status().confState.learners.includes(id));
    return { id, ...attrs };
  }

  /** Promotes a learner once caught up; refuses (412 learner_not_ready) before. */
  async promote(id: number): Promise<MemberInfo> {
    this.requireLeader();
    const st = this.host.status();
    if (st.confState.voters.includes(id)) throw new KvError(409, 'already_voter', `member ${id} is already a voter`);
    if (!st.confState.learners.includes(id)) throw memberNotFound(id);
    if (!this.caughtUp(id)) {
      const started = this.started(id) ? `is ${this.lag(id)} entries behind the commit index` : 'has not replicated anything yet (is its process running?)';
      throw new KvError(412, 'learner_not_ready', `learner ${id} ${started}; it may be promoted within ` +
        `${this.options.catchUpEntries} entries; retry when it has caught up`, true);
    }
    const info = this.registry.member(id);
    await this.change({ type: ConfChangeType.ADD_NODE, nodeId: id, ...(info ? { context: encodeMemberContext(info) } : {}) },
      () => this.host.status().confState.voters.includes(id));
    return this.registry.member(id) ?? { id, name: '', peerUrl: '', clientUrl: '', autoPromote: false };
  }

  /** Removes a member; the leader removing itself first hands leadership to the most caught-up voter. */
  async remove(id: number): Promise<void> {
    this.requireLeader();
    const st = this.host.status();
    if (!st.confState.voters.includes(id) && !st.confState.learners.includes(id)) throw memberNotFound(id);
    if (st.confState.voters.length === 1 && st.confState.voters[0] === id) {
      throw new KvError(400, 'last_voter', `member ${id} is the last voter; a cluster cannot remove its last voter`);
    }
    if (st.confState.voters.includes(id)) this.checkQuorumAfterRemoving(id);
    if (id === st.id) {
      await this.transferAway();
      throw new NotLeaderError(this.host.leaderClientUrl()); // the new leader removes us: the client retries there
    }
    await this.change({ type: ConfChangeType.REMOVE_NODE, nodeId: id }, () => this.registry.isRemoved(id));
  }

  /** Updates a member's addresses (a re-add with its current role and the new context). */
  async update(id: number, peerUrl: string, clientUrl: string | undefined): Promise<MemberInfo> {
    this.requireLeader();
    const st = this.host.status();
    const voter = st.confState.voters.includes(id);
    if (!voter && !st.confState.learners.includes(id)) throw memberNotFound(id);
    const old = this.registry.member(id);
    const clash = this.list().find((m) => m.id !== id && m.peerUrl === peerUrl);
    if (clash) throw new KvError(409, 'member_exists', `member ${clash.id} already has peer URL ${peerUrl}`);
    checkRequest({ name: old?.name || 'x', peerUrl, clientUrl }); // the name is not changed here
    const attrs: MemberAttributes = { name: old?.name ?? '', peerUrl, clientUrl: clientUrl ?? old?.clientUrl ?? '', autoPromote: old?.autoPromote ?? false };
    await this.change({ type: voter ? ConfChangeType.ADD_NODE : ConfChangeType.ADD_LEARNER, nodeId: id, context: encodeMemberContext(attrs) },
      () => this.registry.member(id)?.peerUrl === peerUrl);
    return { id, ...attrs };
  }

  /**
   * A member restarted with a blank data directory asks to be taken back: every id holding its
   * name is removed (one change at a time), then it is added as a learner with a fresh id and
   * promoted automatically once caught up. Its old id can never vote again.
   */
  async join(req: MemberRequest): Promise<MemberInfo> {
    this.requireLeader();
    checkRequest(req);
    const desired = this.options.desiredMembers?.();
    const ordinal = ordinalOf(req.name);
    if (desired !== undefined && ordinal !== undefined && ordinal >= desired) {
      throw new KvError(409, 'member_not_wanted', `'${req.name}' has ordinal ${ordinal} but the cluster wants ${desired} members (--desired-members); ` +
        'it is being scaled away', true);
    }
    const st = this.host.status();
    const same = this.list().filter((m) => m.name === req.name || m.peerUrl === req.peerUrl);
    if (same.length === 1 && same[0].role === 'learner' && same[0].name === '' && same[0].peerUrl === req.peerUrl) {
      // Added unstarted (etcd's MemberAdd) for this peer URL: the process names it, as an etcd member publishes its name.
      const attrs: MemberAttributes = { name: req.name, peerUrl: req.peerUrl, clientUrl: req.clientUrl ?? '', autoPromote: same[0].autoPromote };
      await this.change({ type: ConfChangeType.ADD_LEARNER, nodeId: same[0].id, context: encodeMemberContext(attrs) },
        () => this.registry.member(same[0].id)?.name === req.name);
      return { id: same[0].id, ...attrs };
    }
    if (same.length === 1 && same[0].role === 'learner' && same[0].name === req.name) {
      // A learner never counts toward a quorum, so it may come back blank under its id: this is
      // how a process added with POST /v1/members starts (and a learner that lost its disk resumes).
      return same[0];
    }
    for (const old of same) {
      if (old.id === st.id) {
        throw new KvError(409, 'member_exists', `'${req.name}' is the leader's own name: the leader has its data; a blank process ` +
          'with the same name is a configuration error (two processes, one name)');
      }
      await this.change({ type: ConfChangeType.REMOVE_NODE, nodeId: old.id }, () => this.registry.isRemoved(old.id));
    }
    return this.addLearner(req, true);
  }

  /** Leader only, every tick: promotes one caught-up auto-promote learner at a time. */
  tick(): void {
    const st = this.host.status();
    if (st.role !== Role.LEADER || this.promoting) return;
    if (this.shrinkToDesired()) return;
    const ready = st.confState.learners.find((id) => this.registry.member(id)?.autoPromote && this.caughtUp(id));
    if (ready === undefined) return;
    this.promoting = true;
    this.promote(ready).catch(() => undefined).finally(() => { this.promoting = false; });
  }

  /** Starts removing one member beyond the desired count (highest ordinal first); true if it did. */
  private shrinkToDesired(): boolean {
    const desired = this.options.desiredMembers?.();
    if (desired === undefined || desired < 1) return false;
    const extra = this.list()
      .map((m) => ({ m, ordinal: ordinalOf(m.name) }))
      .filter((x) => x.ordinal !== undefined && x.ordinal >= desired)
      .sort((a, b) => b.ordinal! - a.ordinal!)[0];
    if (!extra || this.list().filter((m) => m.role === 'voter').length <= 1) return false;
    this.promoting = true;
    this.remove(extra.m.id).catch(() => undefined).finally(() => { this.promoting = false; });
    return true;
  }

  /**
   * etcd's strict reconfiguration check: removing voter `id` must leave a quorum of the remaining
   * voters that the leader recently heard from (a member that is down may always be removed).
   */
  private checkQuorumAfterRemoving(id: number): void {
    if (!this.host.isActive) return;
    const st = this.host.status();
    const remaining = st.confState.voters.filter((v) => v !== id);
    const up = remaining.filter((v) => v === st.id || this.host.isActive!(v)).length;
    if (up < Math.floor(remaining.length / 2) + 1) {
      throw new KvError(412, 'would_lose_quorum', `removing member ${id} would leave ${up} of ${remaining.length} remaining voters reachable, ` +
        'fewer than a quorum; bring the others back first');
    }
  }

  /**
   * In sync enough to vote: it has replicated from this leader (an unstarted member, added but never run,
   * has match 0), was heard from recently, and is within catchUpEntries of the commit index.
   */
  private caughtUp(id: number): boolean {
    return this.started(id) && this.lag(id) <= this.options.catchUpEntries;
  }

  private started(id: number): boolean {
    const match = this.host.status().progress?.get(id)?.match ?? 0;
    return match > 0 && (this.host.isActive?.(id) ?? true);
  }

  private lag(id: number): number {
    const st = this.host.status();
    const match = st.progress?.get(id)?.match ?? 0;
    return Math.max(0, st.commit - match);
  }

  private requireLeader(): void {
    if (this.host.status().role !== Role.LEADER) throw new NotLeaderError(this.host.leaderClientUrl());
  }

  private async transferAway(): Promise<void> {
    const st = this.host.status();
    const target = [...(st.progress ?? new Map()).entries()]
      .filter(([id]) => id !== st.id && st.confState.voters.includes(id))
      .sort((a, b) => b[1].match - a[1].match)[0];
    if (!target) throw new KvError(400, 'last_voter', 'no other voter to hand leadership to');
    this.host.transferLeadership(target[0]);
    await this.waitFor(() => this.host.status().role !== Role.LEADER, this.options.transferTimeoutMs).catch(() => {
      throw new UnavailableError('transfer_failed', `leadership transfer to ${target[0]} did not complete; retry`);
    });
  }

  /** Proposes `cc` and waits until `applied()` holds. */
  private async change(cc: ConfChange, applied: () => boolean): Promise<void> {
    try {
      this.host.proposeConfChange(cc);
    } catch (e) {
      if (e instanceof ProposalDroppedError) {
        throw new UnavailableError('conf_change_pending', `another membership change is in progress (${e.message}); retry once it has applied`);
      }
      if (e instanceof RaftConfigError) throw new KvError(400, 'bad_conf_change', e.message);
      throw e;
    }
    await this.waitFor(applied, this.options.timeoutMs).catch(() => {
      throw new OutcomeUnknownError('timeout', `membership change ${ConfChangeType[cc.type]} ${cc.nodeId} not applied within ${this.options.timeoutMs} ms; it may still apply`);
    });
  }

  /** Polls `pred` (conf changes apply in the member's loop, leadership may move meanwhile). */
  private waitFor(pred: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (pred()) { clearInterval(timer); resolve(); } else if (Date.now() >= deadline) { clearInterval(timer); reject(new Error('timeout')); }
      };
      const timer = setInterval(check, 20);
      check();
    });
  }
}

function memberNotFound(id: number): KvError {
  return new KvError(404, 'member_not_found', `no voter or learner has id ${id}; GET /v1/members lists them`);
}

/** Validates names and addresses of a request (400 naming the field). */
export function checkRequest(req: MemberRequest, options: { unnamed?: boolean } = {}): void {
  const nameOk = options.unnamed ? req.name === '' : typeof req.name === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(req.name);
  if (!nameOk) {
    throw new KvError(400, 'bad_member', `name '${String(req.name)}' must be 1-63 letters, digits, '.', '_' or '-'`);
  }
  if (typeof req.peerUrl !== 'string' || !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(req.peerUrl)) {
    throw new KvError(400, 'bad_member', `peerUrl '${String(req.peerUrl)}' must be HOST:PORT`);
  }
  if (req.clientUrl !== undefined && (typeof req.clientUrl !== 'string' || !/^https?:\/\/[^/\s]+$/.test(req.clientUrl))) {
    throw new KvError(400, 'bad_member', `clientUrl '${String(req.clientUrl)}' must be a URL like http://host:port`);
  }
}
