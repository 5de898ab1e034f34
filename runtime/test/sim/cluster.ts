import { InvariantViolation, SafetyChecker } from './invariants';
import { KvCommand, KvFunction, KvStateMachine } from './kv';
import { Rng } from './rng';
import { HistoryEvent } from '../../src/lincheck';
import {
  ConfChangeType, EntryType, MemoryStorage, Message, MessageType, ProposalDroppedError, RawNode, Ready, ReadOnlyOption, Role,
} from '../../src/raft';

/** A value as the linearizability checker sees it (strings; null = absent). */
type CheckerValue = HistoryEvent['value'];

function toCheckerValue(v: number | null | [number | null, number]): CheckerValue {
  if (v === null) return null;
  if (Array.isArray(v)) return [v[0] === null ? null : String(v[0]), String(v[1])];
  return String(v);
}

/** Which faults a run injects. Every probability is per tick. */
export interface FaultOptions {
  readonly loss: number;
  readonly duplicate: number;
  /** Maximum message delay in ticks; random delays reorder messages. */
  readonly maxDelay: number;
  readonly partition: number;
  readonly crash: number;
  readonly membership: number;
  readonly transfer: number;
  /** Compact a node's log after this many applied entries past its snapshot (0: never). */
  readonly snapshotEvery: number;
  /** Probability a node skips a tick (clock drift). */
  readonly clockSkew: number;
  /**
   * Probability per tick that a node's clock stalls for up to 3 election timeouts while it keeps
   * handling messages (a VM pause or a stuck timer): what breaks lease-based reads.
   */
  readonly clockStall: number;
}

export const ALL_FAULTS: FaultOptions = {
  loss: 0.05,
  duplicate: 0.03,
  maxDelay: 3,
  partition: 0.02,
  crash: 0.01,
  membership: 0.01,
  transfer: 0.01,
  snapshotEvery: 15,
  clockSkew: 0.05,
  clockStall: 0.005,
};

export const NO_FAULTS: FaultOptions = {
  loss: 0, duplicate: 0, maxDelay: 0, partition: 0, crash: 0, membership: 0, transfer: 0, snapshotEvery: 0, clockSkew: 0, clockStall: 0,
};

/** What one simulation run did. */
export interface SimResult {
  readonly seed: number;
  readonly steps: number;
  readonly ticks: number;
  readonly faults: Record<string, number>;
  readonly history: HistoryEvent[];
  readonly okOps: number;
  readonly maxCommitted: number;
  readonly leaders: number;
}

export interface SimOptions {
  readonly seed: number;
  /** Ticks with faults on, followed by a healed phase that must make progress. */
  readonly ticks?: number;
  readonly faults?: FaultOptions;
  readonly clients?: number;
  /** How reads are confirmed. LEASE_BASED is clock dependent: clock stalls break it (see sim.test.ts). @default SAFE */
  readonly readOnlyOption?: ReadOnlyOption;
  /** Called with one line per notable event (replay with --seed S for a trace). */
  readonly trace?: (line: string) => void;
}

interface SimNode {
  readonly id: number;
  readonly storage: MemoryStorage;
  raw?: RawNode;
  sm?: KvStateMachine;
  /** Reads whose ReadState arrived, waiting for applied >= index. */
  readsReady: { ctx: string; index: number }[];
  removed: boolean;
  /** Asynchronous disk: the Ready being written, and when the write completes. */
  pendingReady?: { rd: Ready; at: number; sentEarly: boolean };
}

interface InFlight {
  readonly at: number;
  readonly order: number;
  readonly m: Message;
}

interface PendingOp {
  readonly process: number;
  readonly f: KvFunction;
  readonly key: string;
  readonly value: number | null | [number | null, number];
  readonly node: number;
  readonly deadline: number;
  readonly id: string;
  /** The client gave up waiting; its process was replaced, the outcome is recorded if it is ever applied. */
  retired?: boolean;
}

const ELECTION_TICK = 10;
const ENC = new TextEncoder();
const DEC = new TextDecoder();

/**
 * A deterministic Raft cluster simulation: N RawNodes over an in-memory network that loses,
 * duplicates, delays and reorders messages, with partitions, crashes (losing all volatile state),
 * restarts, membership changes, leadership transfers and snapshots, driven by one seeded RNG.
 * Safety invariants are checked after every step; client operations form a history.
 */
export class Simulation {
  private readonly rng: Rng;
  private readonly netRng: Rng;
  private readonly opts: Required<Omit<SimOptions, 'trace'>> & { trace?: (line: string) => void };
  private readonly nodes = new Map<number, SimNode>();
  private readonly checker = new SafetyChecker();
  private network: InFlight[] = [];
  private blocked = new Set<string>();
  private healAt = 0;
  private now = 0;
  private steps = 0;
  private order = 0;
  private nextNodeId = 1;
  private nextProcess = 0;
  private nextValue = 1;
  private readonly history: HistoryEvent[] = [];
  private readonly pending = new Map<string, PendingOp>();
  private readonly idleProcesses: number[] = [];
  private readonly restartAt = new Map<number, number>();
  private readonly faults: Record<string, number> = {};
  private okOps = 0;
  private faultsOn = true;
  private leaderTerms = new Set<number>();
  private readonly stalledUntil = new Map<number, number>();
  /** Flow-control settings drawn per seed: small batches expose ordering bugs big ones hide. */
  private readonly maxEntriesPerMsg: number;
  private readonly maxInflightMsgs: number;
  private readonly checkQuorum: boolean;
  private readonly preVote: boolean;
  /** Whether Ready writes take time (and overlap with message handling), drawn per seed. */
  private readonly asyncDisk: boolean;

  constructor(options: SimOptions) {
    this.opts = { ticks: 400, faults: ALL_FAULTS, clients: 4, readOnlyOption: ReadOnlyOption.SAFE, ...options };
    this.rng = new Rng(options.seed);
    this.netRng = this.rng.fork();
    const n = this.rng.pick([3, 3, 5]);
    this.maxEntriesPerMsg = this.rng.pick([1, 2, 8, 64]);
    this.maxInflightMsgs = this.rng.pick([1, 4, 256]);
    // LEASE_BASED requires checkQuorum; otherwise both protections are drawn per seed.
    this.checkQuorum = this.opts.readOnlyOption === ReadOnlyOption.LEASE_BASED || this.rng.chance(0.75);
    this.preVote = this.rng.chance(0.75);
    this.asyncDisk = this.rng.chance(0.5);
    const ids: number[] = [];
    for (let i = 0; i < n; i++) ids.push(this.nextNodeId++);
    for (const id of ids) {
      const storage = new MemoryStorage();
      RawNode.bootstrap(storage, ids);
      this.nodes.set(id, { id, storage, readsReady: [], removed: false });
      this.start(id);
    }
    for (let p = 0; p < this.opts.clients; p++) this.idleProcesses.push(this.nextProcess++);
  }

  private trace(line: string): void {
    this.opts.trace?.(`t=${this.now} ${line}`);
  }

  private count(fault: string): void {
    this.faults[fault] = (this.faults[fault] ?? 0) + 1;
  }

  // ------------------------------------------------------------------ node lifecycle

  private start(id: number): void {
    const node = this.nodes.get(id)!;
    const snap = node.storage.snapshot();
    const nodeRng = this.rng.fork();
    node.sm = KvStateMachine.restore(snap.data, snap.metadata.index);
    node.raw = new RawNode({
      id,
      electionTick: ELECTION_TICK,
      heartbeatTick: 1,
      random: () => nodeRng.next(),
      maxInflightMsgs: this.maxInflightMsgs,
      maxEntriesPerMsg: this.maxEntriesPerMsg,
      applied: snap.metadata.index,
      checkQuorum: this.checkQuorum,
      preVote: this.preVote,
      readOnlyOption: this.opts.readOnlyOption,
    }, node.storage);
    node.readsReady = [];
    this.checker.checkDigest(id, snap.metadata.index, node.sm.digest);
    this.trace(`start node ${id} (snapshot ${snap.metadata.index}, last ${node.storage.lastIndex()})`);
  }

  private crash(id: number): void {
    const node = this.nodes.get(id)!;
    node.raw = undefined;
    node.sm = undefined;
    if (node.pendingReady) this.count('crash-lost-write');
    node.pendingReady = undefined; // the write in progress is lost
    node.readsReady = [];
    this.trace(`crash node ${id}`);
  }

  private live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.raw !== undefined);
  }

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.live()) {
      const st = n.raw!.status();
      if (st.role === Role.LEADER && (!best || st.term > best.raw!.status().term)) best = n;
    }
    return best;
  }

  // ------------------------------------------------------------------ ready handling (the persistence contract)

  private handleReady(node: SimNode): void {
    const raw = node.raw!;
    if (this.asyncDisk) {
      // Like a server with an asynchronous disk: one Ready at a time, written over 0..2 ticks while
      // the node keeps receiving messages and ticks; a crash meanwhile loses the whole Ready.
      if (node.pendingReady || !raw.hasReady()) return;
      const rd = raw.ready();
      const hs = node.storage.getHardState();
      const termOrVote = rd.hardState !== undefined && (rd.hardState.term !== hs.term || rd.hardState.vote !== hs.vote);
      // A leader may send its appends before its own write completes (thesis 10.2.1).
      const sentEarly = raw.status().role === Role.LEADER && !termOrVote && !rd.snapshot;
      if (sentEarly) for (const m of rd.messages) this.send(m);
      node.pendingReady = { rd, at: this.now + this.rng.int(0, 2), sentEarly };
      if (node.pendingReady.at <= this.now) this.completeReady(node);
      else this.count('slow-write');
      return;
    }
    while (raw.hasReady()) {
      const rd = raw.ready();
      this.persist(node, rd);
      for (const m of rd.messages) this.send(m);
      this.apply(node, rd);
      raw.advance(rd);
      // Only after advance: status().confState then matches the applied index (seed 11722).
      this.maybeSnapshot(node);
    }
  }

  /** Asynchronous disk: the pending Ready is durable now; send, apply, advance. */
  private completeReady(node: SimNode): void {
    const pending = node.pendingReady;
    if (!pending || !node.raw) return;
    node.pendingReady = undefined;
    const { rd, sentEarly } = pending;
    this.persist(node, rd);
    if (!sentEarly) for (const m of rd.messages) this.send(m);
    this.apply(node, rd);
    node.raw.advance(rd);
    this.maybeSnapshot(node);
    this.handleReady(node);
  }

  private persist(node: SimNode, rd: Ready): void {
    const { storage } = node;
    if (rd.snapshot) storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) {
      storage.append(rd.entries);
      this.checker.persisted(node.id, storage, rd.entries);
    }
    if (rd.hardState) {
      storage.setHardState(rd.hardState);
      this.checker.committed(node.id, storage, rd.hardState.commit);
    }
    if (rd.softState?.role === Role.LEADER) {
      const st = node.raw!.status();
      this.leaderTerms.add(st.term);
      this.checker.leader(st.term, node.id, storage);
      this.trace(`node ${node.id} is leader of term ${st.term}`);
    }
  }

  private apply(node: SimNode, rd: Ready): void {
    const sm = node.sm!;
    if (rd.snapshot) {
      node.sm = KvStateMachine.restore(rd.snapshot.data, rd.snapshot.metadata.index);
      this.checker.checkDigest(node.id, rd.snapshot.metadata.index, node.sm.digest);
      this.trace(`node ${node.id} installed snapshot ${rd.snapshot.metadata.index}`);
    }
    for (const e of rd.committedEntries) {
      const cur = node.sm!;
      if (e.index <= cur.appliedIndex) continue;
      let cmd: KvCommand | undefined;
      if (e.type === EntryType.NORMAL && e.data.byteLength > 0) cmd = JSON.parse(DEC.decode(e.data)) as KvCommand;
      if (e.type === EntryType.CONF_CHANGE) this.trace(`node ${node.id} applies conf change at ${e.index}: ${DEC.decode(e.data)}`);
      const result = cur.apply(e.index, cmd);
      this.checker.applied(node.id, e, cur.digest);
      if (cmd && !result.duplicate) {
        // The client learns the outcome when any node first applies its command (as if every node
        // notified it): commit precedes that first apply, so the reported window still contains the
        // write's linearization point, and fewer unknown outcomes keep the check tractable.
        const op = this.pending.get(cmd.id);
        if (op) {
          const ok = op.f !== 'cas' || result.ok;
          this.complete(op, ok ? 'ok' : 'fail', op.value);
        }
      }
    }
    void sm;
    for (const rs of rd.readStates) node.readsReady.push({ ctx: DEC.decode(rs.context), index: rs.index });
    this.serveReads(node);
  }

  private serveReads(node: SimNode): void {
    const sm = node.sm!;
    node.readsReady = node.readsReady.filter((r) => {
      if (sm.appliedIndex < r.index) return true;
      const op = this.pending.get(r.ctx);
      if (op && op.node === node.id) this.complete(op, 'ok', sm.get(op.key));
      return false;
    });
  }

  private maybeSnapshot(node: SimNode): void {
    const every = this.opts.faults.snapshotEvery;
    if (every <= 0) return;
    const applied = node.sm!.appliedIndex;
    const snapIndex = node.storage.snapshot().metadata.index;
    if (applied - snapIndex < every || applied > node.storage.lastIndex()) return;
    node.storage.createSnapshot(applied, node.raw!.status().confState, node.sm!.serialize());
    // Keep a few entries so slightly lagging followers catch up from the log, not a snapshot.
    node.storage.compact(Math.max(snapIndex, applied - this.rng.int(0, 5)));
    this.count('snapshot');
  }

  // ------------------------------------------------------------------ network

  private send(m: Message): void {
    const f = this.faultsOn ? this.opts.faults : NO_FAULTS;
    const lost = this.blocked.has(`${m.from}>${m.to}`) || this.netRng.chance(f.loss);
    if (lost) {
      this.count(this.blocked.has(`${m.from}>${m.to}`) ? 'partitioned-msg' : 'lost-msg');
      // A real transport learns that a stream broke: report it, as the contract asks.
      const from = this.nodes.get(m.from);
      if (from?.raw) {
        if (m.type === MessageType.SNAPSHOT) from.raw.reportSnapshot(m.to, false);
        from.raw.reportUnreachable(m.to);
      }
      return;
    }
    const copies = this.netRng.chance(f.duplicate) ? 2 : 1;
    if (copies === 2) this.count('duplicated-msg');
    for (let c = 0; c < copies; c++) {
      this.network.push({ at: this.now + this.netRng.int(0, f.maxDelay), order: this.netRng.next(), m });
    }
  }

  private deliverDue(): void {
    const due = this.network.filter((x) => x.at <= this.now).sort((a, b) => a.at - b.at || a.order - b.order);
    this.network = this.network.filter((x) => x.at > this.now);
    for (const { m } of due) {
      const to = this.nodes.get(m.to);
      if (!to?.raw) continue; // crashed: the message is lost
      to.raw.step(m);
      this.steps++;
      this.handleReady(to);
      if (m.type === MessageType.SNAPSHOT) {
        const from = this.nodes.get(m.from);
        if (from?.raw) {
          from.raw.reportSnapshot(m.to, true);
          this.handleReady(from);
        }
      }
    }
  }

  // ------------------------------------------------------------------ clients

  private invoke(): void {
    if (this.idleProcesses.length === 0) return;
    const live = this.live().filter((n) => !n.removed);
    if (live.length === 0) return;
    const process = this.idleProcesses.shift()!;
    const node = this.rng.pick(live);
    const f = this.rng.pick<KvFunction>(['get', 'get', 'put', 'put', 'delete', 'cas']);
    const key = `k${this.rng.int(0, 2)}`;
    let value: number | null | [number | null, number] = null;
    if (f === 'put') value = this.nextValue++;
    if (f === 'cas') value = [this.rng.chance(0.2) ? null : this.rng.int(Math.max(1, this.nextValue - 5), this.nextValue), this.nextValue++];
    const id = `p${process}-${this.now}-${this.order++}`;
    const op: PendingOp = { process, f, key, value, node: node.id, deadline: this.now + 4 * ELECTION_TICK, id };
    this.history.push({ process, type: 'invoke', f, key, value: f === 'get' || f === 'delete' ? undefined : toCheckerValue(value) });
    this.pending.set(id, op);
    try {
      if (f === 'get') {node.raw!.readIndex(ENC.encode(id));} else {
        const cmd: KvCommand = f === 'delete' ? { id, f, key } : { id, f, key, value: value as number | [number | null, number] };
        node.raw!.propose(ENC.encode(JSON.stringify(cmd)));
      }
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e;
      // Dropped before it was appended anywhere: it definitely did not happen.
      this.complete(op, 'fail', value);
      return;
    }
    this.handleReady(node);
  }

  private complete(op: PendingOp, type: 'ok' | 'fail' | 'info', value: number | null | [number | null, number]): void {
    if (!this.pending.delete(op.id)) return;
    // Only a successful get reports a value: the one it read.
    const reported = op.f === 'get' && type === 'ok' ? toCheckerValue(value) : undefined;
    this.history.push({ process: op.process, type, f: op.f, key: op.key, value: reported });
    if (type === 'ok') this.okOps++;
    if (!op.retired) this.idleProcesses.push(op.process);
  }

  private expireOps(): void {
    for (const op of [...this.pending.values()]) {
      if (op.deadline > this.now || op.retired) continue;
      if (op.f === 'get') {
        this.complete(op, 'fail', null); // a read that timed out had no effect
        continue;
      }
      // A write may still be applied later. Its client gives up, and a new process takes its place
      // (a process never has two operations open); if the write is ever applied, the outcome is
      // recorded then, as an observer of every node would see it; if not, the history ends with it
      // open, which the checker reads as unknown (info).
      op.retired = true;
      this.idleProcesses.push(this.nextProcess++);
    }
  }

  // ------------------------------------------------------------------ faults

  private injectFaults(): void {
    const f = this.opts.faults;
    if (this.blocked.size > 0 && this.now >= this.healAt) {
      this.blocked.clear();
      this.trace('heal partition');
    }
    if (this.blocked.size === 0 && this.rng.chance(f.partition)) this.partition();
    for (const [id, at] of this.restartAt) {
      if (at <= this.now) {
        this.restartAt.delete(id);
        this.start(id);
        this.count('restart');
      }
    }
    if (this.rng.chance(f.crash)) {
      const live = this.live();
      // Keep a majority of the nodes up most of the time, but sometimes crash past it.
      if (live.length > 1) {
        const victim = this.rng.chance(0.3) ? (this.leader() ?? this.rng.pick(live)) : this.rng.pick(live);
        this.crash(victim.id);
        this.restartAt.set(victim.id, this.now + this.rng.int(1, 4 * ELECTION_TICK));
        this.count('crash');
      }
    }
    if (this.rng.chance(f.clockStall)) {
      const live = this.live();
      if (live.length > 0) {
        const victim = this.rng.chance(0.5) ? (this.leader() ?? this.rng.pick(live)) : this.rng.pick(live);
        this.stalledUntil.set(victim.id, this.now + this.rng.int(ELECTION_TICK, 3 * ELECTION_TICK));
        this.count('clock-stall');
        this.trace(`clock of node ${victim.id} stalls`);
      }
    }
    if (this.rng.chance(f.membership)) this.changeMembership();
    if (this.rng.chance(f.transfer)) {
      const lead = this.leader();
      if (lead) {
        const voters = lead.raw!.status().confState.voters.filter((v) => v !== lead.id);
        if (voters.length > 0) {
          const to = this.rng.pick(voters);
          lead.raw!.transferLeadership(to);
          this.count('transfer');
          this.trace(`transfer leadership ${lead.id} -> ${to}`);
          this.handleReady(lead);
        }
      }
    }
  }

  private partition(): void {
    const ids = [...this.nodes.keys()];
    const kind = this.rng.pick(['symmetric', 'asymmetric', 'isolate-leader']);
    this.healAt = this.now + this.rng.int(ELECTION_TICK, 6 * ELECTION_TICK);
    if (kind === 'symmetric') {
      const shuffled = this.rng.shuffle([...ids]);
      const cut = this.rng.int(1, shuffled.length - 1);
      const a = new Set(shuffled.slice(0, cut));
      for (const x of ids) for (const y of ids) if (a.has(x) !== a.has(y)) this.blocked.add(`${x}>${y}`);
      this.trace(`partition symmetric {${[...a].join(',')}} | rest`);
    } else if (kind === 'asymmetric') {
      const x = this.rng.pick(ids);
      const inbound = this.rng.chance(0.5);
      for (const y of ids) if (y !== x) this.blocked.add(inbound ? `${y}>${x}` : `${x}>${y}`);
      this.trace(`partition asymmetric: node ${x} ${inbound ? 'cannot receive' : 'cannot send'}`);
    } else {
      const lead = this.leader();
      const x = lead ? lead.id : this.rng.pick(ids);
      for (const y of ids) {
        if (y !== x) {
          this.blocked.add(`${x}>${y}`);
          this.blocked.add(`${y}>${x}`);
        }
      }
      this.trace(`partition: isolate node ${x}`);
    }
    this.count(`partition-${kind}`);
  }

  /**
   * One-server-at-a-time membership changes: remove a voter (keeping at least 3), or add a brand-new
   * node as a learner and promote it to voter once it has caught up.
   */
  private changeMembership(): void {
    const lead = this.leader();
    if (!lead) return;
    const st = lead.raw!.status();
    const cs = st.confState;
    try {
      const caughtUp = cs.learners.find((l) => (st.progress?.get(l)?.match ?? 0) >= st.commit);
      if (caughtUp !== undefined) {
        lead.raw!.proposeConfChange({ type: ConfChangeType.ADD_NODE, nodeId: caughtUp });
        this.count('promote-learner');
        this.trace(`propose promote learner ${caughtUp}`);
      } else if (cs.learners.length === 0 && cs.voters.length <= 3) {
        const id = this.nextNodeId++;
        this.nodes.set(id, { id, storage: new MemoryStorage(), readsReady: [], removed: false });
        this.start(id);
        lead.raw!.proposeConfChange({ type: ConfChangeType.ADD_LEARNER, nodeId: id });
        this.count('add-learner');
        this.trace(`propose add learner ${id}`);
      } else if (cs.voters.length > 3) {
        const victim = this.rng.pick(cs.voters);
        lead.raw!.proposeConfChange({ type: ConfChangeType.REMOVE_NODE, nodeId: victim });
        this.nodes.get(victim)!.removed = true; // clients stop using it; it keeps running until the end
        this.count('remove-node');
        this.trace(`propose remove node ${victim}`);
      }
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e;
    }
    this.handleReady(lead);
  }

  /** One line per node: role, term, log position and membership, for failure reports. */
  describeNodes(): string[] {
    return [...this.nodes.values()].map((n) => {
      if (!n.raw) return `node ${n.id}: down (durable last ${n.storage.lastIndex()}, hard ${JSON.stringify(n.storage.getHardState())})`;
      const st = n.raw.status();
      return `node ${n.id}: ${Role[st.role]} term ${st.term} vote ${st.vote} lead ${st.leader} commit ${st.commit} applied ${st.applied} last ${st.lastIndex} ` +
        `voters [${st.confState.voters}] learners [${st.confState.learners}]`;
    });
  }

  // ------------------------------------------------------------------ main loop

  private tickAll(skew: number): void {
    for (const node of this.live()) {
      if (this.rng.chance(skew)) continue;
      if ((this.stalledUntil.get(node.id) ?? 0) > this.now) continue;
      node.raw!.tick();
      this.steps++;
      this.handleReady(node);
    }
  }

  private oneTick(): void {
    this.now++;
    for (const node of this.live()) if (node.pendingReady && node.pendingReady.at <= this.now) this.completeReady(node);
    this.tickAll(this.faultsOn ? this.opts.faults.clockSkew : 0);
    this.deliverDue();
    if (this.faultsOn) this.injectFaults();
    if (this.rng.chance(0.6)) this.invoke();
    this.expireOps();
    this.checkOneLeaderPerTerm();
  }

  private checkOneLeaderPerTerm(): void {
    const seen = new Map<number, number>();
    for (const n of this.live()) {
      const st = n.raw!.status();
      if (st.role !== Role.LEADER) continue;
      const other = seen.get(st.term);
      if (other !== undefined) throw new InvariantViolation('election safety', `nodes ${other} and ${n.id} both lead term ${st.term}`);
      seen.set(st.term, n.id);
    }
  }

  /** Runs the faulty phase, then heals everything and requires the cluster to serve a write again. */
  run(): SimResult {
    const { ticks } = this.opts;
    for (let i = 0; i < ticks; i++) this.oneTick();
    // Heal: no new faults, partitions lifted, crashed nodes restarted.
    this.faultsOn = false;
    this.blocked.clear();
    this.stalledUntil.clear();
    for (const id of this.restartAt.keys()) this.start(id);
    this.restartAt.clear();
    this.trace('healed: all faults off');
    const okBefore = this.okOps;
    for (let i = 0; i < 30 * ELECTION_TICK && (this.okOps - okBefore < 3 || [...this.pending.values()].some((o) => !o.retired)); i++) this.oneTick();
    if (this.okOps - okBefore < 3) {
      throw new InvariantViolation('liveness', `no progress within ${30 * ELECTION_TICK} ticks after healing (leader: ${this.leader()?.id ?? 'none'})`);
    }
    return {
      seed: this.opts.seed,
      steps: this.steps,
      ticks: this.now,
      faults: this.faults,
      history: this.history,
      okOps: this.okOps,
      maxCommitted: this.checker.maxCommitted,
      leaders: this.leaderTerms.size,
    };
  }
}

/** Runs one seed; a violation is rethrown with the seed so it can be replayed with `--seed`. */
export function runSeed(options: SimOptions): SimResult {
  const sim = new Simulation(options);
  try {
    return sim.run();
  } catch (e) {
    for (const line of sim.describeNodes()) options.trace?.(line);
    if (e instanceof Error) e.message = `seed ${options.seed}: ${e.message}`;
    throw e;
  }
}
