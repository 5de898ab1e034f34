/**
 * The Raft KV member: drives a RawNode with a ticker, persists each Ready through a LogStore
 * before sending its messages (the persistence contract in docs/raft.md), applies committed
 * entries to the MVCC store (etcd's API and, through {@link V1Store}, /v1), and answers the APIs' proposals and reads.
 */
import { createHash, randomInt } from 'crypto';
import { Server } from 'http';
import { EtcdBackend, KvBackend, MembershipBackend } from './backend';
import { RaftServerConfig } from './config';
import { MvccHost, MvccOutcome, MvccWrite } from './mvcc-host';
import { ReadBatcher } from './read-batcher';
import { envelopeParts, unwrapSnapshot } from './snapshot-envelope';
import { encodeCheckedV1, V1_CHECKED_METADATA, V1_FOLD_ENTRY, V1_ON_MVCC_METADATA, V1Store } from './v1-store';
import { KvError, NotLeaderError, OutcomeUnknownError, QuotaExceededError, UnavailableError } from '../errors';
import { encodeCommand, KvCommand, KvResult } from '../kv/state-machine';
import {
  decodeMemberContext, encodeMemberContext, isPristine, MemberInfo, MemberRegistry, MemberRequest, MembershipManager, MembershipView, MemberStatus,
} from '../membership';
import { v1WriteCost, writeCost } from '../mvcc';
import { registerEtcdMetrics } from './etcd-metrics';
import { Logger } from '../observability/logger';
import { MetricsRegistry, Counter, Histogram, registerProcessMetrics } from '../observability/metrics';
import {
  EntryType, HardState, MemoryStorage, ProgressState, Message, MessageType, ProposalDroppedError, RawNode, Ready, Role, Entry,
  ConfChangeType, decodeConfChange, RELEASED_SNAPSHOT_DATA, Snapshot,
} from '../raft';
import { isReserved } from '../shardmap';
import { LogStore, RecoveredState, SnapshotFileCrc, StorageFailedError } from '../storage';
import { Transport } from '../transport';
import { collectGarbage } from '../util/collect-garbage';

/** True for a storage failure caused by a full disk (ENOSPC): the NOSPACE alarm, not a crash. */
export function isNoSpace(err: Error | undefined): boolean {
  if (!err) return false;
  const cause = err instanceof StorageFailedError ? err.cause : err;
  return (cause as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC' || /ENOSPC/.test(err.message);
}

/** Who this member is (membership/, the identity file) and how it starts. */
export interface MemberIdentity {
  readonly clusterId: string;
  /** Must equal config.id. */
  readonly memberId: number;
  /** Joined a running cluster as a learner (rather than bootstrapping it). */
  readonly joined: boolean;
}

/** How {@link RaftKvServer.create} treats an empty log. */
export interface StartOptions {
  readonly identity: MemberIdentity;
  /**
   * Empty storage: bootstrap the initial voters of --initial-cluster (only when discovery decided
   * so, membership/discovery.ts); otherwise start empty as a learner that the leader fills.
   */
  readonly bootstrap: boolean;
  /** Members as the cluster reported them when this member joined (until its log says otherwise). */
  readonly seedMembers?: readonly MemberInfo[];
  /** The desired member count, read from the deployment (--desired-members / --desired-members-file). */
  readonly desiredMembers?: () => number | undefined;
}

interface PendingProposal {
  started: bigint;
  timer: NodeJS.Timeout;
  /** A /v1 KvResult or an MVCC command's {@link MvccOutcome}. */
  resolve(r: unknown): void;
  reject(e: KvError): void;
}

/** A running member. Create with {@link RaftKvServer.create}, then {@link start}. */
export class RaftKvServer implements KvBackend, EtcdBackend, MembershipBackend, MembershipView {
  /**
   * Builds a member from recovered storage; nothing runs until {@link start}. With empty storage
   * and `start.bootstrap`, it writes the initial membership of --initial-cluster (each entry naming
   * its member) and makes it durable first, so a restart finds the same log on every member. With
   * empty storage and no bootstrap it is a learner that joined: the leader sends it everything.
   */
  static async create(config: RaftServerConfig, store: LogStore, transport: Transport, recovered: RecoveredState,
    logger: Logger, start: StartOptions): Promise<RaftKvServer> {
    if (start.identity.memberId !== config.id) throw new Error(`identity member id ${start.identity.memberId} is not config.id ${config.id}`);
    const fresh = !recovered.snapshot && recovered.entries.length === 0 && recovered.hardState.term === 0;
    if (fresh && start.bootstrap) {
      const boot = new MemoryStorage();
      // Same voters and contexts on every member: the ids are positions in --initial-cluster.
      RawNode.bootstrap(boot, config.members.map((m) => m.id), (id) => {
        const m = config.members.find((x) => x.id === id)!;
        return encodeMemberContext({ name: m.name, peerUrl: m.advertisePeer ?? `${m.peerHost}:${m.peerPort}`, clientUrl: '', autoPromote: false });
      });
      const hardState = boot.getHardState();
      const entries = boot.entries(boot.firstIndex(), boot.lastIndex() + 1);
      await store.save({ hardState, entries });
      recovered = { hardState, entries };
      logger.info('bootstrapped a new member', { voters: config.members.map((m) => m.id), clusterId: start.identity.clusterId });
    } else if (fresh) {
      logger.info('starting empty as a learner; the leader will send the log or a snapshot', { id: config.id });
    }
    return new RaftKvServer(config, store, transport, recovered, logger, start);
  }
  /** The etcd v3 state machine (MVCC store, watchers, the leader's lease clock). */
  readonly mvcc: MvccHost;
  /** What /v1 reads and writes: the MVCC store (after the fold of an older release's /v1 map, v1-store.ts). */
  readonly v1: V1Store;
  /** When this leader last proposed the fold (Date.now()), so it proposes it again only after a while. */
  private foldProposedAt = 0;
  private readonly node: RawNode;
  private readonly storage = new MemoryStorage();
  /** This member's metrics (/metrics); the CLI adds the client port's gRPC counters to them. */
  readonly metrics = new MetricsRegistry();
  private readonly pending = new Map<number, PendingProposal>();
  private requestCounter = 0;
  private readonly requestEpoch = randomInt(2 ** 24);
  private readonly reads: ReadBatcher;
  /** etcd's cluster ID: the same on every member of one cluster (derived from --cluster-token), below 2^53. */
  private readonly etcdClusterId: string;
  readonly registry: MemberRegistry;
  private readonly membership: MembershipManager;
  private removedLogged = false;
  /** When each peer was last heard from (Date.now()), for the quorum check before removing a voter. */
  private readonly lastHeard = new Map<number, number>();
  /** A conf change or snapshot was applied in this Ready: the transport follows after advance(). */
  private membershipChanged = false;
  private ticker: NodeJS.Timeout | undefined;
  private loopScheduled = false;
  private loopRunning = false;
  private loopIdle: Promise<void> = Promise.resolve();
  private leader = 0;
  private role: Role = Role.FOLLOWER;
  private stopping = false;
  private failed: Error | undefined;
  /** The cost of the last write refused for the space quota (0: none refused since the last accepted one). */
  private quotaRefusedCost = 0;
  private readyCommitTarget: number | undefined;
  private lastSnapshotIndex = 0;
  /**
   * The term of the entry at the applied index. Committed entries are applied before the same Ready's new entries
   * reach the in-memory log (handleReady), so the log cannot be asked for it.
   */
  private appliedTerm = 0;
  private snapshotting = false;
  private readonly log: Logger;
  private readonly proposalLatency: Histogram;
  readonly fsyncLatency: Histogram;
  private readonly persistLatency: Histogram;
  private readonly entriesPersisted: Counter;
  private readonly leaderChanges: Counter;
  private readonly proposalsFailed: Counter;
  private readonly httpRequests: Counter;
  private persistedTerm = -1;
  private latestHardState: HardState | undefined;
  private persistedVote = -1;
  /** Snapshots being read back from the store for lagging followers, by index. */
  private readonly snapshotReads = new Map<number, Promise<Snapshot>>();
  /** A received snapshot is being checked (see checkSnapshotThenStep). */
  private checkingSnapshot = false;
  /** Set by the CLI through {@link onFatal}: called once when the member must stop (storage failure). */
  private fatalHandler: ((err: Error) => void) | undefined;

  private constructor(
    readonly config: RaftServerConfig,
    private readonly store: LogStore,
    private readonly transport: Transport,
    recovered: RecoveredState,
    logger: Logger,
    private readonly start_: StartOptions,
  ) {
    this.log = logger;
    this.mvcc = new MvccHost(logger.child({ component: 'mvcc' }), config.authTokenTtlMs, config.jwt);
    this.v1 = new V1Store(this.mvcc);
    this.etcdClusterId = String(parseInt(createHash('sha256').update(config.clusterToken).digest('hex').slice(0, 13), 16));
    this.registry = new MemberRegistry((id) => this.fallbackMember(id));
    const snap = recovered.snapshot;
    if (snap && snap.metadata.index > 0) this.installSnapshot(snap);
    // The registry as of the durable commit point, so the transport knows every peer before the
    // committed entries are applied again (applying them twice is harmless: apply is idempotent).
    for (const e of recovered.entries) {
      if (e.type === EntryType.CONF_CHANGE && e.index <= recovered.hardState.commit) this.registry.apply(decodeConfChange(e.data));
    }
    this.storage.setHardState(recovered.hardState);
    this.persistedTerm = recovered.hardState.term;
    this.persistedVote = recovered.hardState.vote;
    const snapshotIndex = this.storage.snapshot().metadata.index;
    const entries = recovered.entries.filter((e) => e.index > snapshotIndex);
    for (let i = 0; i < entries.length; i += RECOVERED_BATCH) this.storage.append(retainable(entries.slice(i, i + RECOVERED_BATCH)));
    this.node = new RawNode({
      id: config.id,
      electionTick: config.electionTicks,
      heartbeatTick: config.heartbeatTicks,
      random: Math.random,
      applied: this.v1.appliedIndex,
      maxUncommittedEntries: 50_000,
      // Keeps APPEND frames far below the transport's frame limit (--max-peer-frame-bytes).
      maxBytesPerMsg: 1024 * 1024,
    }, this.storage);
    this.membership = new MembershipManager({
      status: () => this.node.status(),
      proposeConfChange: (cc) => { this.checkServing(); this.node.proposeConfChange(cc); this.scheduleLoop(); },
      transferLeadership: (to) => { this.node.transferLeadership(to); this.scheduleLoop(); },
      leaderClientUrl: () => this.leaderClientUrl(),
      isActive: (id) => Date.now() - (this.lastHeard.get(id) ?? 0) < 2 * config.electionTicks * config.tickMs,
    }, this.registry, {
      catchUpEntries: config.learnerCatchUpEntries ?? 1000,
      timeoutMs: config.requestTimeoutMs * 2,
      transferTimeoutMs: Math.max(1000, config.electionTicks * config.tickMs * 2),
      desiredMembers: start_.desiredMembers,
    });
    this.refreshPeers();

    const m = this.metrics;
    registerProcessMetrics(m);
    m.gauge('ha_raft_term', 'Current Raft term.', () => this.node.status().term);
    m.gauge('ha_raft_commit_index', 'Highest log index known committed.', () => this.node.status().commit);
    m.gauge('ha_raft_applied_index', 'Highest log index applied to the key-value state machine.', () => this.v1.appliedIndex);
    m.gauge('ha_raft_last_index', 'Last log index on this member.', () => this.node.status().lastIndex);
    m.gauge('ha_raft_is_leader', '1 if this member is the leader.', () => (this.role === Role.LEADER ? 1 : 0));
    m.gauge('ha_raft_has_leader', '1 if a leader is known.', () => (this.leader !== 0 ? 1 : 0));
    m.gauge('ha_raft_snapshot_index', 'Index of the latest durable snapshot.', () => this.lastSnapshotIndex);
    m.gauge('ha_alarm_nospace', '1 while the NOSPACE alarm is raised (disk full, or the store at its space quota).',
      () => (isNoSpace(this.failed) || this.quotaAlarm() ? 1 : 0));
    m.gauge('ha_mvcc_store_bytes', 'Bytes the store\'s retained keys, values and history take (what the space quota counts).', () => this.mvcc.store.sizeBytes);
    m.gauge('ha_mvcc_quota_bytes', 'The space quota (--quota-backend-bytes; 0: none).', () => this.config.quotaBytes ?? 0);
    m.gauge('ha_kv_keys', 'Number of live keys /v1 serves (after the fold: every key of the MVCC store).', () => this.v1.size);
    m.gauge('ha_raft_pending_proposals', 'Proposals waiting to be applied.', () => this.pending.size);
    this.leaderChanges = m.counter('ha_raft_leader_changes_total', 'Times the known leader changed.');
    this.proposalsFailed = m.counter('ha_raft_proposals_failed_total', 'Proposals that failed, by reason.');
    const readIndexRounds = m.counter('ha_raft_read_index_total', 'ReadIndex rounds started (each serves a batch of reads).');
    this.reads = new ReadBatcher({
      memberId: config.id,
      processEpoch: this.requestEpoch,
      timeoutMs: config.requestTimeoutMs,
      expireTicks: config.electionTicks,
      readIndex: (ctx) => this.node.readIndex(ctx),
      onRoundStarted: () => { readIndexRounds.inc(); this.scheduleLoop(); },
    });
    this.httpRequests = m.counter('ha_http_requests_total', 'HTTP requests answered, by route and status code.');
    this.proposalLatency = m.histogram('ha_raft_proposal_duration_seconds', 'Time from proposal to applied result on the leader.');
    this.persistLatency = m.histogram('ha_raft_persist_duration_seconds', 'Time to make one Ready durable (write, group commit, fdatasync).');
    this.entriesPersisted = m.counter('ha_raft_entries_persisted_total', 'Log entries made durable (divide by persist count for the batch size).');
    this.fsyncLatency = m.histogram('ha_raft_fsync_duration_seconds', 'Write-ahead log fdatasync latency.');
    registerEtcdMetrics(m, {
      memberId: config.id,
      hasLeader: () => this.leader !== 0,
      isLeader: () => this.role === Role.LEADER,
      isLearner: () => this.node.status().confState.learners.includes(config.id),
      commitIndex: () => this.node.status().commit,
      appliedIndex: () => this.v1.appliedIndex,
      pendingProposals: () => this.pending.size,
      storeBytes: () => this.mvcc.store.sizeBytes,
      quotaBytes: () => this.config.quotaBytes ?? 0,
      keys: () => this.mvcc.store.keyCount,
      peers: () => this.transport.stats(),
      leaderChanges: this.leaderChanges,
      proposalsFailed: this.proposalsFailed,
      fsyncLatency: this.fsyncLatency,
    });

    transport.onMessage((msg) => this.receive(msg));
    const unreachable = m.counter('ha_raft_peer_unreachable_total', 'Times the transport reported a peer unreachable.');
    transport.onUnreachable((id) => { unreachable.inc(); this.node.reportUnreachable(id); this.scheduleLoop(); });
  }

  /** The CLI's hook: `handler` runs once when the member must stop (storage failure). */
  set onFatal(handler: (err: Error) => void) {
    this.fatalHandler = handler;
  }

  /** Starts the ticker. */
  start(): void {
    this.log.info('raft member starting', {
      id: this.config.id,
      applied: this.v1.appliedIndex,
      lastIndex: this.storage.lastIndex(),
      members: this.config.members.map((m) => `${m.name}=${m.id}`),
      quotaBytes: this.config.quotaBytes ?? 0,
    });
    this.ticker = setInterval(() => {
      this.node.tick();
      this.reads.tick();
      if (this.role === Role.LEADER) { this.membership.tick(); this.proposeFoldWhenAllCan(); }
      this.scheduleLoop();
    }, this.config.tickMs);
    this.mvcc.startLeaderTimers(this, { autoCompaction: this.config.autoCompaction });
  }

  // ------------------------------------------------------------------ KvBackend

  isLeader(): boolean {
    return this.role === Role.LEADER && !this.stopping;
  }

  leaderClientUrl(): string | undefined {
    if (this.leader === 0) return undefined;
    if (this.leader === this.config.id) return this.stopping ? undefined : this.config.advertiseClient;
    return this.transport.peerMetadata(this.leader)?.clientUrl || this.registry.member(this.leader)?.clientUrl || undefined;
  }

  /**
   * Replicates a /v1 write. With `caller` (etcd auth is on and checked the write for that user), the entry carries
   * the caller so every member checks its permissions again when applying it, once every member can (an older
   * release's member would not know that entry: until it is replaced, only this leader's check applies).
   */
  propose(cmd: Omit<KvCommand, 'requestId'>, caller?: string): Promise<KvResult> {
    this.checkServing();
    if (this.role !== Role.LEADER) return Promise.reject(new NotLeaderError(this.leaderClientUrl()));
    // The shard map's reserved keys stay writable over the quota: moving slots away is how a full shard is relieved.
    const overQuota = this.quotaRefusal(isReserved(cmd.key) ? 0 : v1WriteCost(cmd));
    if (overQuota) return Promise.reject(overQuota);
    const requestId = this.nextRequestId();
    const data = encodeCommand({ ...cmd, requestId });
    const checked = caller !== undefined && this.everyMemberAdvertises(V1_CHECKED_METADATA);
    return this.proposeEntry(requestId, checked ? encodeCheckedV1(caller, data) : data) as Promise<KvResult>;
  }

  /** Whether every voter and learner but this member told the transport `name=value` (what its release supports). */
  private everyMemberAdvertises([name, value]: readonly [string, string]): boolean {
    const cs = this.node.status().confState;
    return [...cs.voters, ...cs.learners].every((id) => id === this.config.id || this.transport.peerMetadata(id)?.[name] === value);
  }

  /** Replicates an MVCC command; resolves with its applied outcome (an etcd response or the store's rejection). */
  proposeMvcc(cmd: MvccWrite): Promise<MvccOutcome> {
    try { this.checkServing(); } catch (e) { return Promise.reject(e); }
    if (this.role !== Role.LEADER) return Promise.reject(new NotLeaderError(this.leaderClientUrl()));
    const overQuota = this.quotaRefusal(writeCost(cmd));
    if (overQuota) return Promise.reject(overQuota);
    const requestId = this.nextRequestId();
    let data: Buffer;
    try {
      data = MvccHost.encodeEntry({ ...cmd, requestId } as Parameters<typeof MvccHost.encodeEntry>[0]);
    } catch (e) { return Promise.reject(e); }
    return this.proposeEntry(requestId, data) as Promise<MvccOutcome>;
  }

  /**
   * The leader proposes the fold (v1-store.ts) while it has not applied one, once every voter and learner told the
   * transport it knows the entry; again after an election timeout if it has not applied by then.
   */
  private proposeFoldWhenAllCan(): void {
    if (this.v1.folded || this.failed || this.stopping) return;
    const retryMs = this.config.electionTicks * this.config.tickMs;
    if (Date.now() - this.foldProposedAt < retryMs) return;
    if (!this.everyMemberAdvertises(V1_ON_MVCC_METADATA)) return;
    this.foldProposedAt = Date.now();
    try {
      this.node.propose(V1_FOLD_ENTRY);
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e;
      return;
    }
    const cs = this.node.status().confState;
    this.log.info('proposed moving /v1 onto the MVCC store: every member supports it', { members: cs.voters.length + cs.learners.length });
  }

  /** member (8 bits) | process epoch (24 bits) | counter (21 bits): unique across members and restarts, so an
   * entry proposed by a previous incarnation never resolves a new waiter. */
  private nextRequestId(): number {
    this.requestCounter = (this.requestCounter + 1) % 2 ** 21;
    return (this.config.id % 256) * 2 ** 45 + this.requestEpoch * 2 ** 21 + this.requestCounter;
  }

  private proposeEntry(requestId: number, data: Uint8Array): Promise<unknown> {
    try {
      this.node.propose(data);
    } catch (e) {
      if (e instanceof ProposalDroppedError) {
        this.proposalsFailed.inc({ reason: 'dropped' });
        return Promise.reject(new UnavailableError('proposal_dropped', `${e.message}; retry`));
      }
      throw e;
    }
    this.scheduleLoop();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(requestId)) {
          this.proposalsFailed.inc({ reason: 'timeout' });
          reject(new OutcomeUnknownError('timeout', `not applied within ${this.config.requestTimeoutMs} ms (--request-timeout-ms); it may still apply`));
        }
      }, this.config.requestTimeoutMs);
      this.pending.set(requestId, { resolve, reject, started: process.hrtime.bigint(), timer });
    });
  }

  linearizableBarrier(): Promise<void> {
    if (isNoSpace(this.failed)) {
      // This member cannot take part in Raft until space returns; the leader can answer.
      const url = this.leader !== this.config.id ? this.leaderClientUrl() : undefined;
      return Promise.reject(url ? new NotLeaderError(url) : this.noSpaceError());
    }
    try { this.checkServing(); } catch (e) { return Promise.reject(e); }
    if (this.leader === 0) return Promise.reject(new NotLeaderError(undefined));
    return this.reads.wait();
  }

  /**
   * etcd's space quota, checked by the leader before a write reaches the log (so members with different quotas never
   * apply differently): refuses a write whose cost (mvcc/quota.ts) would take the store past --quota-backend-bytes.
   * Writes that cost nothing (deletes, compactions, auth) always pass: they are how an operator gets back under it.
   */
  private quotaRefusal(cost: number): KvError | undefined {
    const quota = this.config.quotaBytes ?? 0;
    if (quota <= 0 || cost === 0) return undefined;
    const size = this.mvcc.store.sizeBytes;
    this.quotaRefusedCost = size + cost > quota ? cost : 0;
    if (this.quotaRefusedCost === 0) return undefined;
    this.proposalsFailed.inc({ reason: 'quota' });
    return new QuotaExceededError(size, cost, quota);
  }

  /**
   * The space quota's NOSPACE alarm: on while the store has reached the quota, or the last write refused for it would
   * still not fit; it clears by itself once deletes or compaction make room (etcd's waits for `alarm disarm`).
   */
  quotaAlarm(): boolean {
    const quota = this.config.quotaBytes ?? 0;
    return quota > 0 && this.mvcc.store.sizeBytes + this.quotaRefusedCost >= quota;
  }

  /** A reason to refuse writes before they reach Raft (the NOSPACE alarm), if any. */
  writeBlocked(): KvError | undefined {
    return isNoSpace(this.failed) ? this.noSpaceError() : undefined;
  }

  private noSpaceError(): KvError {
    return new UnavailableError('no_space', `NOSPACE alarm: this member's disk is full (${this.failed?.message ?? ''}); ` +
      'it refuses writes until space is freed and then resumes by itself; serializable reads are served; retry on another member');
  }

  readiness(): { ready: boolean; reason: string } {
    if (isNoSpace(this.failed)) return { ready: false, reason: 'NOSPACE alarm: disk full' };
    if (this.failed) return { ready: false, reason: `storage failed: ${this.failed.message}` };
    if (this.stopping) return { ready: false, reason: 'shutting down' };
    if (this.registry.isRemoved(this.config.id)) return { ready: false, reason: 'removed from the cluster (a newer incarnation replaced this member, or it was removed)' };
    if (this.leader === 0) return { ready: false, reason: 'no known leader' };
    const st = this.node.status();
    if (this.readyCommitTarget === undefined) this.readyCommitTarget = st.commit;
    if (this.v1.appliedIndex < this.readyCommitTarget) {
      return { ready: false, reason: `applied ${this.v1.appliedIndex} of commit ${this.readyCommitTarget}` };
    }
    return { ready: true, reason: `leader ${this.leader}, term ${st.term}, applied ${this.v1.appliedIndex}` };
  }

  liveness(): { live: boolean; reason: string } {
    // A full disk is not cured by a restart: stay alive (reads, status) and resume when space returns.
    if (isNoSpace(this.failed)) return { live: true, reason: 'NOSPACE alarm: waiting for disk space' };
    return this.failed ? { live: false, reason: `storage failed: ${this.failed.message}` } : { live: true, reason: 'ok' };
  }

  metricsText(): string {
    return this.metrics.render();
  }

  status(): Record<string, unknown> {
    const st = this.node.status();
    return {
      name: this.config.name,
      id: st.id,
      term: st.term,
      role: Role[st.role].toLowerCase(),
      leader: st.leader,
      leaderName: this.registry.member(st.leader)?.name ?? null,
      leaderClientUrl: this.leaderClientUrl() ?? null,
      commit: st.commit,
      applied: this.v1.appliedIndex,
      lastIndex: st.lastIndex,
      snapshotIndex: this.lastSnapshotIndex,
      keys: this.v1.size,
      v1OnMvcc: this.v1.folded,
      clusterId: this.clusterId,
      alarms: isNoSpace(this.failed) || this.quotaAlarm() ? ['NOSPACE'] : [],
      storeBytes: this.mvcc.store.sizeBytes,
      quotaBytes: this.config.quotaBytes ?? 0,
      voters: st.confState.voters,
      learners: st.confState.learners,
      removed: this.registry.isRemoved(this.config.id),
      progress: st.progress ? Object.fromEntries([...st.progress].map(([id, p]) => [id, {
        match: p.match,
        next: p.next,
        state: ProgressState[p.state].toLowerCase(),
      }])) : undefined,
    };
  }

  header(): { cluster_id: string; member_id: string; raft_term: string } {
    return { cluster_id: this.etcdClusterId, member_id: String(this.config.id), raft_term: String(this.node.status().term) };
  }

  raftProgress(): { leader: number; term: number; commit: number; applied: number } {
    const st = this.node.status();
    return { leader: st.leader, term: st.term, commit: st.commit, applied: this.v1.appliedIndex };
  }

  async moveLeader(targetId: number): Promise<'moved' | 'not_leader' | 'not_voter' | 'timeout'> {
    if (!this.isLeader()) return 'not_leader';
    if (targetId === this.config.id) return 'moved';
    if (!this.node.status().confState.voters.includes(targetId)) return 'not_voter';
    this.node.transferLeadership(targetId);
    this.scheduleLoop();
    const deadline = Date.now() + this.config.requestTimeoutMs;
    while (this.leader !== targetId && Date.now() < deadline) await sleep(this.config.tickMs);
    return this.leader === targetId ? 'moved' : 'timeout';
  }

  private memberClientUrls(id: number): string[] {
    if (id === this.config.id) return [this.config.advertiseClient];
    const url = this.transport.peerMetadata(id)?.clientUrl;
    return url ? [url] : [];
  }

  countRequest(route: string, status: number): void {
    this.httpRequests.inc({ route, code: String(status) });
  }

  // ------------------------------------------------------------------ the Ready loop

  private receive(m: Message): void {
    if (this.failed) return;
    // A removed id is a replaced incarnation (or a member that left): it must never count again.
    if (this.registry.isRemoved(m.from)) return;
    this.lastHeard.set(m.from, Date.now());
    if (m.type === MessageType.SNAPSHOT && m.snapshot) {
      void this.checkSnapshotThenStep(m);
      return;
    }
    const invalid = this.refusedPeerInput(m);
    if (invalid) {
      this.log.warn('dropped a forged or malformed peer message', { from: m.from, type: MessageType[m.type], reason: invalid });
      return;
    }
    this.step(m);
  }

  /**
   * A received snapshot must restore before the core adopts it (afterwards it would be persisted and fail on every
   * restart). Restoring a large store takes long, so it runs in steps between other work, one snapshot at a time;
   * one that arrives meanwhile is dropped (the leader sends it again when the follower still lags).
   */
  private async checkSnapshotThenStep(m: Message): Promise<void> {
    if (this.checkingSnapshot) return;
    this.checkingSnapshot = true;
    try {
      const snapshot = m.snapshot!;
      let invalid: string | undefined;
      try {
        await this.v1.check(unwrapSnapshot(snapshot.data).stateMachine);
      } catch (e) {
        invalid = `snapshot at index ${snapshot.metadata.index} is not restorable: ${(e as Error).message}`;
      }
      if (this.failed || this.stopping) return;
      if (invalid) {
        this.log.warn('dropped a forged or malformed peer message', { from: m.from, type: MessageType[m.type], reason: invalid });
        return;
      }
      this.step(m);
    } finally {
      this.checkingSnapshot = false;
    }
  }

  private step(m: Message): void {
    try {
      this.node.step(m);
    } catch (e) {
      this.log.warn('dropped a peer message the core rejected', { from: m.from, type: MessageType[m.type], err: e });
      return;
    }
    this.scheduleLoop();
  }

  /**
   * Input checks the core cannot make: this member proposes only as leader, so a PROPOSE from the
   * network is forged; a snapshot whose data the state machine cannot restore must be refused
   * before the core adopts it (afterwards it would be persisted and fail on every restart).
   */
  private refusedPeerInput(m: Message): string | undefined {
    return m.type === MessageType.PROPOSE ? 'members never forward proposals' : undefined;
  }

  private scheduleLoop(): void {
    if (this.loopScheduled || this.failed) return;
    this.loopScheduled = true;
    setImmediate(() => {
      this.loopScheduled = false;
      if (this.loopRunning) return; // the running loop re-checks hasReady before it exits
      this.loopRunning = true;
      this.loopIdle = this.runLoop().finally(() => { this.loopRunning = false; });
    });
  }

  private async runLoop(): Promise<void> {
    try {
      while (!this.failed && this.node.hasReady()) {
        const rd = this.node.ready();
        await this.handleReady(rd);
        this.node.advance(rd);
        this.afterAdvance();
      }
    } catch (e) {
      this.fail(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState) this.onSoftState(rd.softState.leader, rd.softState.role);
    // A leader may send its appends while its own write is in flight (Raft thesis 10.2.1): it only
    // counts itself toward commit once advance() reports its entries durable. Anything that carries
    // a new term or vote must wait for the disk.
    const termOrVoteChanged = rd.hardState !== undefined && (this.persistedTerm !== rd.hardState.term || this.persistedVote !== rd.hardState.vote);
    const sendEarly = this.role === Role.LEADER && !termOrVoteChanged && rd.snapshot === undefined;
    if (sendEarly) this.sendMessages(rd.messages);
    // Committed entries are durable on a quorum already: apply them (and answer their clients) now,
    // not after this Ready's unrelated new entries are synced, which would add an fsync to every
    // write's latency. A snapshot must be installed first, so that case keeps the strict order.
    const applyEarly = rd.snapshot === undefined;
    if (applyEarly) this.applyAndServe(rd);
    if (rd.hardState) this.latestHardState = rd.hardState;
    if (rd.snapshot || rd.entries.length > 0 || termOrVoteChanged) {
      const hardState = this.latestHardState;
      const saveStarted = process.hrtime.bigint();
      await this.store.save({ hardState, entries: rd.entries, snapshot: rd.snapshot });
      this.persistLatency.observe(Number(process.hrtime.bigint() - saveStarted) / 1e9);
      this.entriesPersisted.inc({}, rd.entries.length);
      if (hardState) { this.persistedTerm = hardState.term; this.persistedVote = hardState.vote; }
      this.latestHardState = undefined;
    }
    // A Ready where only the commit index moved is not synced on its own: nobody relies on a durable
    // commit index (a restart re-learns it from the leader), so it rides along with the next save
    // instead of costing an fsync per commit on the write path.

    if (rd.snapshot) {
      this.installSnapshot(rd.snapshot);
      this.membershipChanged = true;
      this.log.info('installed snapshot from leader', { index: rd.snapshot.metadata.index });
    }
    if (rd.hardState) this.storage.setHardState(rd.hardState);
    if (rd.entries.length > 0) this.storage.append(retainable(rd.entries));
    if (!sendEarly) this.sendMessages(rd.messages);
    if (!applyEarly) this.applyAndServe(rd);
  }

  /**
   * A durable snapshot (recovered, or just persisted from the leader) becomes the state: the core's storage keeps its
   * metadata only, the state machines are restored from its bytes, and a large one is followed by a full GC (once its
   * bytes are garbage, they would otherwise stay the member's memory peak).
   */
  private installSnapshot(snap: Snapshot): void {
    this.storage.applySnapshot(snap);
    this.restoreSnapshotData(snap.metadata.index, snap.data);
    this.storage.releaseSnapshotData(snap.metadata.index);
    this.lastSnapshotIndex = snap.metadata.index;
    this.appliedTerm = snap.metadata.term;
    if (snap.data.length >= LARGE_SNAPSHOT_BYTES) setImmediate(collectGarbage);
  }

  private applyAndServe(rd: Ready): void {
    this.applyEntries(rd.committedEntries);
    for (const rs of rd.readStates) this.reads.onReadState(rs.index, rs.context);
    this.reads.serve(this.v1.appliedIndex);
  }

  private sendMessages(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    let inMemory = messages;
    if (messages.some((m) => m.type === MessageType.SNAPSHOT)) {
      inMemory = messages.filter((m) => m.snapshot?.data !== RELEASED_SNAPSHOT_DATA);
      for (const m of messages) if (m.snapshot?.data === RELEASED_SNAPSHOT_DATA) void this.sendSnapshotFromStore(m);
    }
    this.transport.send(inMemory);
    for (const m of inMemory) if (m.type === MessageType.SNAPSHOT) this.node.reportSnapshot(m.to, true);
  }

  /**
   * A lagging follower needs the snapshot whose bytes were released from memory: read them back from the store
   * (one read shared by every follower that needs it), then send. A failed read reports the snapshot failed, so
   * the core retries with the newest snapshot.
   */
  private async sendSnapshotFromStore(m: Message): Promise<void> {
    const index = m.snapshot!.metadata.index;
    let read = this.snapshotReads.get(index);
    if (!read) {
      read = this.store.readSnapshot(index).finally(() => this.snapshotReads.delete(index));
      this.snapshotReads.set(index, read);
    }
    try {
      const snapshot = await read;
      if (this.failed || this.stopping) return;
      this.transport.send([{ ...m, snapshot }]);
      this.node.reportSnapshot(m.to, true);
      this.log.info('sent a snapshot read back from disk to a lagging follower', { to: m.to, index, bytes: snapshot.data.length });
    } catch (e) {
      this.log.warn('could not read back the snapshot a lagging follower needs; the leader will retry', { to: m.to, index, err: (e as Error).message });
      this.node.reportSnapshot(m.to, false);
    }
    this.scheduleLoop();
  }

  private applyEntries(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.index <= this.v1.appliedIndex) continue;
      this.appliedTerm = e.term;
      if (e.type === EntryType.CONF_CHANGE) this.applyConfChange(e);
      if (e.type !== EntryType.NORMAL) {
        this.v1.skip(e.index);
        continue;
      }
      const wasFolded = this.v1.folded;
      const { kind, requestId, result } = this.v1.applyEntry(e.index, e.data);
      if (kind === 'fold' && !wasFolded) this.log.info('/v1 now reads and writes the MVCC store (the etcd API\'s keys)', { index: e.index, keys: this.v1.size });
      if (kind === 'v1' && result.undecodable) this.log.warn('applied an undecodable entry as a rejected command', { index: e.index, reason: result.undecodable });
      const waiter = this.pending.get(requestId);
      if (waiter) {
        this.pending.delete(requestId);
        clearTimeout(waiter.timer);
        this.proposalLatency.observe(Number(process.hrtime.bigint() - waiter.started) / 1e9);
        waiter.resolve(result);
      }
    }
  }

  private afterAdvance(): void {
    if (this.membershipChanged) {
      // The core applied the change in advance(): now the transport follows it.
      this.membershipChanged = false;
      this.refreshPeers();
    }
    const applied = this.v1.appliedIndex;
    if (!this.snapshotting && applied - this.lastSnapshotIndex >= this.config.snapshotEntries) {
      this.snapshotting = true;
      // A member that is stopping abandons its snapshot (the store closes under it); that is no failure.
      this.takeSnapshot(applied).catch((e) => { if (!this.stopping) this.fail(e); }).finally(() => { this.snapshotting = false; });
    }
  }

  /**
   * The state as a snapshot's parts: the head {@link V1Store.snapshotHead} writes (before the fold, the /v1 map),
   * then the MVCC store. The state is captured now (consistent with `appliedIndex`); the MVCC part is serialized from
   * a copy-on-write view, one chunk per event-loop turn as the parts are consumed, so a large store never stalls
   * heartbeats and client requests.
   */
  private stateMachineParts(): AsyncIterable<Uint8Array> {
    const head = this.v1.snapshotHead();
    const { chunks } = this.mvcc.machine.snapshot();
    return oneChunkPerTurn(head, chunks);
  }

  /**
   * Snapshots the state machines at `index` straight to disk (serialized as it is written, never whole in memory),
   * then records it in memory without its bytes and compacts memory and the WAL.
   */
  private async takeSnapshot(index: number): Promise<void> {
    const started = Date.now();
    const confState = this.node.status().confState;
    const metadata = { index, term: this.storage.term(index), confState };
    const parts = envelopeParts(this.registry.toJSON(), this.stateMachineParts()); // captures the state before any await
    const bytes = await this.store.saveSnapshotParts(metadata, parts);
    // A snapshot from the leader may have been installed meanwhile: ours is then older and useless.
    if (this.storage.snapshot().metadata.index >= index) return;
    this.storage.createSnapshot(index, confState, RELEASED_SNAPSHOT_DATA);
    this.lastSnapshotIndex = index;
    const compactTo = index - this.config.snapshotCatchupEntries;
    if (compactTo > this.storage.firstIndex()) this.storage.compact(compactTo);
    await this.store.compact(index);
    this.log.info('snapshot taken', { index, bytes, ms: Date.now() - started });
  }

  // ------------------------------------------------------------------ membership

  private applyConfChange(e: Entry): void {
    const cc = decodeConfChange(e.data);
    this.registry.apply(cc);
    this.membershipChanged = true;
    this.log.info('membership change applied', { index: e.index, change: ConfChangeType[cc.type], id: cc.nodeId, memberName: decodeMemberContext(cc.context)?.name });
    if (cc.nodeId === this.config.id && this.registry.isRemoved(cc.nodeId) && !this.removedLogged) {
      this.removedLogged = true;
      this.log.warn('this member was removed from the cluster; it no longer takes part (restart it with a blank data dir to rejoin)');
    }
  }

  private restoreSnapshotData(index: number, data: Uint8Array): void {
    const { registry, stateMachine } = unwrapSnapshot(data);
    if (registry !== undefined) this.registry.restore(registry);
    this.v1.restore(index, stateMachine);
  }

  /** Attributes of ids whose adding entry named no member: --initial-cluster positions, then what the join answered. */
  private fallbackMember(id: number): { name: string; peerUrl: string; clientUrl: string; autoPromote: boolean } | undefined {
    const seeded = this.start_.seedMembers?.find((m) => m.id === id);
    if (seeded) return seeded;
    if (this.start_.identity.joined) return undefined;
    const m = this.config.members.find((x) => x.id === id);
    return m ? { name: m.name, peerUrl: `${m.peerHost}:${m.peerPort}`, clientUrl: '', autoPromote: false } : undefined;
  }

  /**
   * Points the transport at every voter and learner. A name listed in --initial-cluster is dialled
   * at the address given there (this member's view, e.g. through a test proxy); others at the
   * peer URL the cluster replicated.
   */
  private refreshPeers(): void {
    const cs = this.node.status().confState;
    const peers = new Map<number, string>();
    const seeded = (this.start_.seedMembers ?? []).map((m) => m.id);
    const ids = new Set([...cs.voters, ...cs.learners, ...this.registry.list().map((m) => m.id), ...seeded]);
    for (const id of ids) {
      if (id === this.config.id || this.registry.isRemoved(id)) continue;
      const info = this.registry.member(id);
      if (!info) continue;
      const local = this.config.members.find((m) => m.name === info.name);
      peers.set(id, local ? `${local.peerHost}:${local.peerPort}` : info.peerUrl);
    }
    this.transport.setPeers(peers);
  }

  // MembershipView (the transport's handshake may consult it)
  get clusterId(): string {
    return this.start_.identity.clusterId;
  }

  isKnown(id: number): boolean {
    const cs = this.node.status().confState;
    return cs.voters.includes(id) || cs.learners.includes(id);
  }

  isRemoved(id: number): boolean {
    return this.registry.isRemoved(id);
  }

  member(id: number): MemberInfo | undefined {
    return this.registry.member(id);
  }

  /** What this member answers a discovery probe (membership/discovery.ts). */
  probeInfo(): Record<string, string> {
    const st = this.node.status();
    const pristine = isPristine({
      joined: this.start_.identity.joined, term: st.term, lastIndex: st.lastIndex, hasSnapshot: this.lastSnapshotIndex !== 0,
    }, this.config.members.length);
    return {
      state: 'member',
      clusterId: this.start_.identity.clusterId,
      memberId: String(this.config.id),
      pristine: pristine ? '1' : '0',
      clientUrl: this.config.advertiseClient,
      leaderClientUrl: this.leaderClientUrl() ?? '',
    };
  }

  // MembershipBackend (/v1/members, etcd's Cluster service)
  listMembers(): { clusterId: string; leader: number; members: MemberStatus[] } {
    // Initial members register no client URL; fill it in from what they told us in the peer handshake.
    const members = this.membership.list().map((m) => (m.clientUrl ? m : { ...m, clientUrl: this.memberClientUrls(m.id)[0] ?? '' }));
    return { clusterId: this.clusterId, leader: this.leader, members };
  }

  addMember(req: MemberRequest, autoPromote = false): Promise<MemberInfo> {
    return this.membership.addLearner(req, autoPromote);
  }

  joinMember(req: MemberRequest): Promise<MemberInfo> {
    return this.membership.join(req);
  }

  promoteMember(id: number): Promise<MemberInfo> {
    return this.membership.promote(id);
  }

  removeMember(id: number): Promise<void> {
    return this.membership.remove(id);
  }

  updateMember(id: number, peerUrl: string, clientUrl?: string): Promise<MemberInfo> {
    return this.membership.update(id, peerUrl, clientUrl);
  }

  /**
   * A backup (GET /v1/snapshot, etcd's Maintenance.Snapshot): a snapshot file (the on-disk format of
   * docs/storage.md) of this member's applied state after a linearizable barrier, so it holds every
   * write acknowledged before the request: the MVCC store (keys, revisions, history, leases; before the
   * fold also the older release's /v1 map), as a member snapshot holds them. The MVCC part is serialized a chunk per event-loop turn.
   */
  async backupSnapshot(): Promise<{ index: number; length: number; chunks: AsyncIterable<Uint8Array> }> {
    await this.linearizableBarrier();
    const index = this.v1.appliedIndex;
    const metadata = { index, term: this.appliedTerm, confState: this.node.status().confState };
    const registry = this.registry.toJSON();
    // The state (the MVCC store, and before the fold the /v1 map), captured before the first await, then serialized
    // twice: once for the header's CRC and the length, once as it is sent. A backup is never whole in memory.
    const head = this.v1.snapshotHead();
    const mvcc = this.mvcc.machine.snapshotSource();
    const parts = (): AsyncIterable<Uint8Array> => envelopeParts(registry, oneChunkPerTurn(head, mvcc.chunks()));
    const crc = new SnapshotFileCrc(metadata);
    let length = 0;
    for await (const part of parts()) {
      await crc.update(part);
      length += part.byteLength;
    }
    return { index, length: crc.header.length + length, chunks: prepend(crc.header, parts()) };
  }

  private onSoftState(leader: number, role: Role): void {
    const wasLeader = this.role === Role.LEADER;
    if (leader !== this.leader) {
      this.leaderChanges.inc();
      this.log.info('leader changed', { from: this.leader, to: leader, role: Role[role] });
      this.readyCommitTarget = undefined;
    }
    this.leader = leader;
    this.role = role;
    if (wasLeader !== (role === Role.LEADER)) this.mvcc.onLeadershipChange();
    if (wasLeader && role !== Role.LEADER) {
      this.failPending(new OutcomeUnknownError('leadership_lost', 'leadership was lost before this write applied; it may still apply'), 'leadership_lost');
    }
    if (leader === 0 || (wasLeader && role !== Role.LEADER)) this.reads.restart(leader !== 0);
  }

  private failPending(err: KvError, reason: string): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      this.proposalsFailed.inc({ reason });
      p.reject(err);
    }
  }

  // ------------------------------------------------------------------ failure and shutdown

  private checkServing(): void {
    if (isNoSpace(this.failed)) throw this.noSpaceError();
    if (this.failed) throw new UnavailableError('storage_failed', `this member stopped after a storage failure: ${this.failed.message}`);
    if (this.stopping) throw new UnavailableError('stopping', 'this member is shutting down; retry on another member');
  }

  /** Storage failed (ENOSPC, EIO) or the loop broke an invariant: stop acknowledging anything, tell the CLI. */
  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    this.log.error('member failed: no further acknowledgements', { err: err.message });
    if (this.ticker) clearInterval(this.ticker);
    const code = isNoSpace(err) ? 'no_space' : 'storage_failed';
    this.failPending(new OutcomeUnknownError(code, `storage failed: ${err.message}`), code);
    this.reads.failAll(new UnavailableError('storage_failed', err.message));
    this.fatalHandler?.(err);
  }

  /** After a NOSPACE failure: releases the store (the member restarts in-process from disk later). */
  async closeStore(): Promise<void> {
    await this.loopIdle.catch(() => undefined);
    await this.store.close().catch(() => undefined);
  }

  /**
   * Graceful stop (SIGTERM): hand leadership to the most caught-up voter, wait for in-flight
   * requests on `httpServer` to finish, then close the transport and the store. Bounded by
   * --shutdown-timeout-ms.
   */
  async shutdown(httpServer?: Server): Promise<void> {
    const deadline = Date.now() + this.config.shutdownTimeoutMs;
    this.log.info('shutting down', { role: Role[this.role] });
    if (this.role === Role.LEADER && !this.failed) {
      const st = this.node.status();
      const target = [...(st.progress ?? new Map()).entries()]
        .filter(([id]) => id !== this.config.id && st.confState.voters.includes(id))
        .sort((a, b) => b[1].match - a[1].match)[0];
      if (target) {
        this.node.transferLeadership(target[0]);
        this.scheduleLoop();
        const transferDeadline = Math.min(deadline, Date.now() + Math.max(1000, this.config.shutdownTimeoutMs / 2));
        while (this.role === Role.LEADER && Date.now() < transferDeadline) await sleep(this.config.tickMs / 2);
        this.log.info(this.role === Role.LEADER ? 'leadership transfer timed out' : 'leadership transferred', { to: target[0] });
      }
    }
    this.stopping = true;
    if (httpServer) {
      const closed = new Promise<void>((r) => httpServer.close(() => r()));
      httpServer.closeIdleConnections();
      const remaining = Math.max(0, deadline - Date.now());
      await Promise.race([closed, sleep(remaining)]);
      httpServer.closeAllConnections();
    }
    if (this.ticker) clearInterval(this.ticker);
    this.mvcc.stop();
    this.failPending(new OutcomeUnknownError('stopping', 'the member stopped before this write applied; it may still apply'), 'stopping');
    this.reads.failAll(new UnavailableError('stopping', 'member stopping'));
    await Promise.race([this.loopIdle, sleep(Math.max(0, deadline - Date.now()))]);
    await this.transport.close();
    await this.store.close();
    this.log.info('stopped');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `first`, then each of `chunks` in its own event-loop turn (each chunk is serialized when it is pulled). */
async function* oneChunkPerTurn(first: readonly Uint8Array[], chunks: Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* first;
  for (const chunk of chunks) {
    yield chunk;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A restored snapshot at least this large is followed by one full garbage collection (util/collect-garbage.ts). */
const LARGE_SNAPSHOT_BYTES = 64 * 1024 * 1024;

/** Recovered entries are copied for the in-memory log this many at a time. */
const RECOVERED_BATCH = 1024;

/**
 * Entries as the in-memory log keeps them until compaction (up to --snapshot-entries of them): their data copied
 * into one buffer per batch. As they arrive, entry data are views into network frames or WAL segments, and
 * proposals are slices of Node's shared 8 KiB Buffer pool: kept as they are, each would hold its whole frame,
 * segment or pool slab until compacted (measured: 100-200 MiB of Buffers for 100,000 entries of 300 B).
 */
function retainable(entries: readonly Entry[]): Entry[] {
  let size = 0;
  for (const e of entries) size += e.data.byteLength;
  const buf = Buffer.allocUnsafeSlow(size); // its own memory, never a pool slab
  let at = 0;
  return entries.map((e) => {
    buf.set(e.data, at);
    const data = buf.subarray(at, at + e.data.byteLength);
    at += e.data.byteLength;
    return { index: e.index, term: e.term, type: e.type, data };
  });
}

async function* prepend(first: Uint8Array, rest: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield first;
  yield* rest;
}
