/**
 * Test harness after etcd-io/raft's `network`: RawNodes over a synchronous in-memory network that can
 * cut links, isolate nodes and drop message types. Each node persists its Ready into MemoryStorage
 * before its messages are sent, exactly as the persistence contract requires.
 */
import { Entry, EntryType, MemoryStorage, Message, MessageType, RaftConfig, RawNode, ReadState, Role } from '../../src/raft';

export interface TestNode {
  readonly id: number;
  raw: RawNode;
  readonly storage: MemoryStorage;
  applied: Entry[];
  readStates: ReadState[];
}

/** A deterministic random source for tests. */
export function seeded(seed = 1): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

export function config(id: number, extra: Partial<RaftConfig> = {}): RaftConfig {
  return { id, electionTick: 10, heartbeatTick: 1, random: seeded(id), ...extra };
}

export class Network {
  readonly nodes = new Map<number, TestNode>();
  private readonly cut = new Set<string>();
  private readonly droppedTypes = new Set<MessageType>();
  /** Every message delivered, for assertions. */
  readonly delivered: Message[] = [];
  /** Messages held back (not delivered) while `hold` is on. */
  held: Message[] = [];
  hold = false;

  constructor(ids: number[], extra: (id: number) => Partial<RaftConfig> = () => ({}), voters: number[] = ids) {
    for (const id of ids) {
      const storage = new MemoryStorage();
      if (voters.includes(id)) RawNode.bootstrap(storage, voters);
      this.nodes.set(id, { id, storage, raw: new RawNode(config(id, extra(id)), storage), applied: [], readStates: [] });
    }
    for (const n of this.nodes.values()) this.flush(n); // apply the bootstrap entries
  }

  node(id: number): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Handles one node's Ready: persist, then collect messages, then apply; returns the messages. */
  flush(n: TestNode): Message[] {
    const out: Message[] = [];
    while (n.raw.hasReady()) {
      const rd = n.raw.ready();
      if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
      n.storage.append(rd.entries);
      if (rd.hardState) n.storage.setHardState(rd.hardState);
      out.push(...rd.messages);
      n.applied.push(...rd.committedEntries.filter((e) => e.type === EntryType.NORMAL && e.data.byteLength > 0));
      n.readStates.push(...rd.readStates);
      n.raw.advance(rd);
    }
    return out;
  }

  /** Delivers messages (and everything they cause) until the network is quiet. */
  deliver(msgs: Message[]): void {
    const queue = [...msgs];
    let guard = 0;
    while (queue.length > 0) {
      if (++guard > 100_000) throw new Error('network did not quiesce');
      const m = queue.shift()!;
      if (this.cut.has(`${m.from}>${m.to}`) || this.droppedTypes.has(m.type) || !this.nodes.has(m.to)) continue;
      if (this.hold) {
        this.held.push(m);
        continue;
      }
      this.delivered.push(m);
      const to = this.node(m.to);
      to.raw.step(m);
      queue.push(...this.flush(to));
    }
  }

  /** Flushes every node and delivers what they send. */
  settle(): void {
    for (const n of this.nodes.values()) this.deliver(this.flush(n));
  }

  tick(id: number, times = 1): void {
    for (let i = 0; i < times; i++) {
      const n = this.node(id);
      n.raw.tick();
      this.deliver(this.flush(n));
    }
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) for (const id of this.nodes.keys()) this.tick(id);
  }

  /** Makes `id` campaign and delivers the whole election. */
  elect(id: number): void {
    const n = this.node(id);
    n.raw.campaign();
    this.deliver(this.flush(n));
  }

  propose(id: number, text: string): void {
    const n = this.node(id);
    n.raw.propose(new TextEncoder().encode(text));
    this.deliver(this.flush(n));
  }

  isolate(id: number): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  cutLink(a: number, b: number): void {
    this.cut.add(`${a}>${b}`);
    this.cut.add(`${b}>${a}`);
  }

  drop(type: MessageType): void {
    this.droppedTypes.add(type);
  }

  recover(): void {
    this.cut.clear();
    this.droppedTypes.clear();
  }

  /** Simulates a crash and restart: everything not in storage is lost. */
  restart(id: number, extra: Partial<RaftConfig> = {}): void {
    const n = this.node(id);
    n.raw = new RawNode(config(id, { applied: n.storage.snapshot().metadata.index, ...extra }), n.storage);
    n.applied = [];
  }

  role(id: number): Role {
    return this.node(id).raw.status().role;
  }

  leader(): number {
    const leaders = [...this.nodes.values()].filter((n) => n.raw.status().role === Role.LEADER);
    return leaders.length === 1 ? leaders[0].id : 0;
  }

  appliedText(id: number): string[] {
    return this.node(id).applied.map((e) => new TextDecoder().decode(e.data));
  }
}

/** Builds a message with defaults for fields a test does not care about. */
export function msg(m: Partial<Message> & { type: MessageType; from: number; to: number }): Message {
  return {
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    logTermHint: 0,
    context: new Uint8Array(),
    ...m,
  };
}

export function entry(index: number, term: number, text = ''): Entry {
  return { index, term, type: EntryType.NORMAL, data: new TextEncoder().encode(text) };
}
