/**
 * Tests named after the claims of the Raft paper (Ongaro & Ousterhout 2014), section by section,
 * in the spirit of etcd-io/raft's raft_paper_test.go. PreVote and CheckQuorum are off unless a test
 * is about them, so the paper's basic algorithm is what runs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { config, entry, msg, Network } from './harness';
import { EntryType, MemoryStorage, MessageType, RawNode, Role } from '../../src/raft';

const basic = () => ({ preVote: false, checkQuorum: false });

function fresh(id: number, voters: number[], extra = basic()): { raw: RawNode; storage: MemoryStorage } {
  const storage = new MemoryStorage();
  RawNode.bootstrap(storage, voters);
  const raw = new RawNode(config(id, extra), storage);
  drain(raw, storage);
  return { raw, storage };
}

/** Persists and applies a node's Ready; returns its messages. */
function drain(raw: RawNode, storage: MemoryStorage) {
  const out = [];
  while (raw.hasReady()) {
    const rd = raw.ready();
    if (rd.snapshot) storage.applySnapshot(rd.snapshot);
    storage.append(rd.entries);
    if (rd.hardState) storage.setHardState(rd.hardState);
    out.push(...rd.messages);
    raw.advance(rd);
  }
  return out;
}

describe('5.1 terms', () => {
  it('a node that sees a higher term adopts it and becomes a follower', () => {
    for (const role of ['follower', 'candidate', 'leader']) {
      const net = new Network([1, 2, 3], basic);
      if (role === 'leader') net.elect(1);
      if (role === 'candidate') {
        net.isolate(1);
        net.elect(1);
      }
      const n = net.node(1);
      const term = n.raw.status().term;
      n.raw.step(msg({ type: MessageType.APPEND, from: 2, to: 1, term: term + 5, index: 0, logTerm: 0 }));
      assert.equal(n.raw.status().term, term + 5, role);
      assert.equal(n.raw.status().role, Role.FOLLOWER, role);
      assert.equal(n.raw.status().leader, 2, role);
    }
  });

  it('a message with a stale term is rejected', () => {
    const { raw, storage } = fresh(1, [1, 2, 3]);
    raw.step(msg({ type: MessageType.APPEND, from: 2, to: 1, term: 5, index: 3, logTerm: 1, commit: 3 }));
    drain(raw, storage);
    raw.step(msg({ type: MessageType.APPEND, from: 3, to: 1, term: 4, index: 3, logTerm: 1, entries: [entry(4, 4, 'x')] }));
    const out = drain(raw, storage);
    assert.equal(raw.status().lastIndex, 3, 'stale append must not change the log');
    assert.equal(raw.status().leader, 2);
    assert.equal(out.length, 0);
  });
});

describe('5.2 leader election', () => {
  it('nodes start as followers', () => {
    const { raw } = fresh(1, [1, 2, 3]);
    assert.equal(raw.status().role, Role.FOLLOWER);
    assert.equal(raw.status().leader, 0);
  });

  it('a leader sends heartbeats every heartbeatTick', () => {
    const net = new Network([1, 2, 3], basic);
    net.elect(1);
    net.hold = true;
    net.tick(1);
    const hb = net.held.filter((m) => m.type === MessageType.HEARTBEAT);
    assert.deepEqual(hb.map((m) => m.to).sort(), [2, 3]);
  });

  it('a follower that hears nothing for an election timeout campaigns: term+1, votes for itself, asks every voter', () => {
    const { raw, storage } = fresh(1, [1, 2, 3]);
    let out: ReturnType<typeof drain> = [];
    for (let i = 0; i < 20 && out.length === 0; i++) {
      raw.tick();
      out = drain(raw, storage);
    }
    const st = raw.status();
    assert.equal(st.role, Role.CANDIDATE);
    assert.equal(st.term, 2);
    assert.equal(st.vote, 1);
    assert.deepEqual(out.map((m) => [m.type, m.to, m.term, m.index, m.logTerm]), [
      [MessageType.VOTE, 2, 2, 3, 1], [MessageType.VOTE, 3, 2, 3, 1],
    ]);
    assert.equal(storage.getHardState().vote, 1, 'the self-vote is persisted before the requests go out');
  });

  it('election timeouts are randomized in [electionTick, 2*electionTick)', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 60; seed++) {
      const storage = new MemoryStorage();
      RawNode.bootstrap(storage, [1, 2, 3]);
      let r = seed;
      const raw = new RawNode({ ...config(1, basic()), random: () => ((r = (r * 7919 + 13) % 1000) / 1000) }, storage);
      drain(raw, storage);
      let ticks = 0;
      while (raw.status().role === Role.FOLLOWER) {
        raw.tick();
        ticks++;
        assert.ok(ticks < 20, 'must campaign before 2*electionTick');
      }
      assert.ok(ticks >= 10);
      seen.add(ticks);
    }
    assert.ok(seen.size > 3, `timeouts should vary, saw ${[...seen]}`);
  });

  it('a candidate with votes from a majority becomes leader; without, it stays candidate', () => {
    for (const [size, grants, expected] of [[3, 1, Role.LEADER], [3, 0, Role.CANDIDATE], [5, 2, Role.LEADER], [5, 1, Role.CANDIDATE]] as const) {
      const ids = Array.from({ length: size }, (_, i) => i + 1);
      const { raw, storage } = fresh(1, ids);
      raw.campaign();
      drain(raw, storage);
      for (let g = 0; g < grants; g++) raw.step(msg({ type: MessageType.VOTE_RESP, from: g + 2, to: 1, term: 2 }));
      assert.equal(raw.status().role, expected, `${size} nodes, ${grants} grants`);
    }
  });

  it('a candidate that collects a majority of rejections falls back to follower', () => {
    const { raw, storage } = fresh(1, [1, 2, 3]);
    raw.campaign();
    drain(raw, storage);
    raw.step(msg({ type: MessageType.VOTE_RESP, from: 2, to: 1, term: 2, reject: true }));
    raw.step(msg({ type: MessageType.VOTE_RESP, from: 3, to: 1, term: 2, reject: true }));
    assert.equal(raw.status().role, Role.FOLLOWER);
  });

  it('a follower votes at most once per term, first come first served, and remembers it across restarts', () => {
    const { raw, storage } = fresh(1, [1, 2, 3]);
    raw.step(msg({ type: MessageType.VOTE, from: 2, to: 1, term: 2, index: 3, logTerm: 1 }));
    let out = drain(raw, storage);
    assert.deepEqual(out.map((m) => [m.type, m.to, m.reject]), [[MessageType.VOTE_RESP, 2, false]]);
    const restarted = new RawNode(config(1, basic()), storage);
    restarted.step(msg({ type: MessageType.VOTE, from: 3, to: 1, term: 2, index: 3, logTerm: 1 }));
    out = drain(restarted, storage);
    assert.deepEqual(out.map((m) => [m.type, m.to, m.reject]), [[MessageType.VOTE_RESP, 3, true]]);
    restarted.step(msg({ type: MessageType.VOTE, from: 2, to: 1, term: 2, index: 3, logTerm: 1 }));
    out = drain(restarted, storage);
    assert.deepEqual(out.map((m) => [m.type, m.reject]), [[MessageType.VOTE_RESP, false]], 'the same candidate may ask again');
  });

  it('a candidate that receives an append from a leader of its term becomes follower', () => {
    const { raw, storage } = fresh(1, [1, 2, 3]);
    raw.campaign();
    drain(raw, storage);
    raw.step(msg({ type: MessageType.APPEND, from: 2, to: 1, term: 2, index: 3, logTerm: 1 }));
    assert.equal(raw.status().role, Role.FOLLOWER);
    assert.equal(raw.status().leader, 2);
  });
});

describe('5.3 log replication', () => {
  it('the leader appends a proposal and sends it with the preceding index and term and its commit index', () => {
    const net = new Network([1, 2, 3], basic);
    net.elect(1);
    net.hold = true;
    net.propose(1, 'x');
    const apps = net.held.filter((m) => m.type === MessageType.APPEND);
    assert.deepEqual(apps.map((m) => [m.to, m.index, m.logTerm, m.commit, m.entries.map((e) => [e.index, e.term])]), [
      [2, 4, 2, 4, [[5, 2]]], [3, 4, 2, 4, [[5, 2]]],
    ]);
  });

  it('an entry is committed once stored on a majority, and the commit reaches followers', () => {
    const net = new Network([1, 2, 3, 4, 5], basic);
    net.elect(1);
    net.isolate(4);
    net.isolate(5);
    net.propose(1, 'x');
    assert.equal(net.node(1).raw.status().commit, 7);
    assert.deepEqual(net.appliedText(1), ['x']);
    net.tick(1);
    assert.deepEqual(net.appliedText(2), ['x']);
    assert.deepEqual(net.appliedText(4), []);
  });

  it('an entry on a minority is not committed', () => {
    const net = new Network([1, 2, 3, 4, 5], basic);
    net.elect(1);
    for (const id of [3, 4, 5]) net.isolate(id);
    net.propose(1, 'x');
    assert.equal(net.node(1).raw.status().commit, 6, 'only the leader\'s empty entry from before the cut');
    assert.deepEqual(net.appliedText(1), []);
  });

  it('the leader does not count itself until its own append is durable', () => {
    const storage = new MemoryStorage();
    RawNode.bootstrap(storage, [1]);
    const raw = new RawNode(config(1, basic()), storage);
    drain(raw, storage);
    raw.campaign();
    drain(raw, storage);
    raw.propose(new TextEncoder().encode('x'));
    const rd = raw.ready();
    assert.equal(rd.entries.length, 1);
    assert.equal(rd.committedEntries.length, 0, 'a single node commits only after persisting');
    storage.append(rd.entries);
    raw.advance(rd);
    const rd2 = raw.ready();
    assert.deepEqual(rd2.committedEntries.map((e) => e.index), [3]);
  });

  it('a follower rejects an append whose previous entry does not match, with a backtracking hint', () => {
    const { raw, storage } = fresh(1, [1, 2, 3]);
    raw.step(msg({ type: MessageType.APPEND, from: 2, to: 1, term: 2, index: 3, logTerm: 1, entries: [entry(4, 2, 'a'), entry(5, 2, 'b')] }));
    drain(raw, storage);
    raw.step(msg({ type: MessageType.APPEND, from: 2, to: 1, term: 2, index: 7, logTerm: 2 }));
    const out = drain(raw, storage);
    assert.deepEqual(out.map((m) => [m.type, m.reject, m.index, m.rejectHint, m.logTermHint]), [[MessageType.APPEND_RESP, true, 7, 5, 2]]);
  });

  it('a follower deletes a conflicting suffix and appends the leader\'s entries', () => {
    const { raw, storage } = fresh(1, [1, 2, 3]);
    raw.step(msg({ type: MessageType.APPEND, from: 2, to: 1, term: 2, index: 3, logTerm: 1, entries: [entry(4, 2, 'a'), entry(5, 2, 'b'), entry(6, 2, 'c')] }));
    drain(raw, storage);
    raw.step(msg({ type: MessageType.APPEND, from: 3, to: 1, term: 3, index: 4, logTerm: 2, entries: [entry(5, 3, 'B')] }));
    drain(raw, storage);
    assert.deepEqual(storage.entries(4, storage.lastIndex() + 1).map((e) => [e.index, e.term]), [[4, 2], [5, 3]]);
  });

  it('a follower commits up to min(leader commit, last new entry)', () => {
    const { raw, storage } = fresh(1, [1, 2, 3]);
    raw.step(msg({ type: MessageType.APPEND, from: 2, to: 1, term: 2, index: 3, logTerm: 1, entries: [entry(4, 2, 'a')], commit: 10 }));
    drain(raw, storage);
    assert.equal(raw.status().commit, 4);
  });

  it('the leader brings divergent follower logs in line with its own (Figure 7)', () => {
    // Followers with missing entries, extra uncommitted entries and entries of other terms.
    const net = new Network([1, 2, 3, 4, 5], basic);
    net.elect(1);
    net.propose(1, 'a');
    net.isolate(2);
    net.propose(1, 'b');
    net.recover();
    net.isolate(1);
    net.isolate(4);
    net.isolate(5);
    net.elect(3); // wins only node 2's vote: a candidate of term 3 with a longer log than 2
    net.recover();
    net.isolate(2);
    net.propose(1, 'lost'); // node 3's higher term deposes 1; this entry of term 2 never commits
    net.recover();
    net.tickAll(60);
    const leader = net.leader();
    assert.notEqual(leader, 0);
    net.propose(leader, 'c');
    net.tickAll(3);
    const logs = [...net.nodes.values()].map((n) => n.storage.entries(1, n.storage.lastIndex() + 1).map((e) => e.term).join(','));
    assert.equal(new Set(logs).size, 1, `logs differ: ${logs.join(' | ')}`);
    for (const id of [1, 2, 3, 4, 5]) assert.deepEqual(net.appliedText(id).filter((t) => t !== 'lost'), ['a', 'b', 'c'], `node ${id}`);
  });
});

describe('5.4 safety', () => {
  it('a voter rejects a candidate whose log is less up-to-date (5.4.1)', () => {
    const cases: [number, number, boolean][] = [[3, 1, false], [2, 1, true], [1, 2, false], [9, 1, false], [1, 3, false]];
    for (const [index, logTerm, reject] of cases) {
      const { raw, storage } = fresh(1, [1, 2, 3]);
      raw.step(msg({ type: MessageType.APPEND, from: 2, to: 1, term: 2, index: 3, logTerm: 1, entries: [entry(4, 2)] }));
      drain(raw, storage);
      // our log: last index 4, last term 2
      const lastIdx = index + 2;
      raw.step(msg({ type: MessageType.VOTE, from: 3, to: 1, term: 5, index: lastIdx, logTerm: logTerm + (index === 1 ? 1 : 0) }));
      const out = drain(raw, storage).filter((m) => m.type === MessageType.VOTE_RESP);
      const expectReject = !(logTerm + (index === 1 ? 1 : 0) > 2 || (logTerm + (index === 1 ? 1 : 0) === 2 && lastIdx >= 4));
      assert.equal(out[0].reject, expectReject, `candidate last (${lastIdx}, ${logTerm + (index === 1 ? 1 : 0)}) ${reject}`);
    }
  });

  it('the leader commits only entries of its own term by counting replicas (5.4.2, Figure 8)', () => {
    const { raw, storage } = fresh(1, [1, 2, 3]);
    // Our log has an uncommitted entry of term 2; we become leader in term 3.
    raw.step(msg({ type: MessageType.APPEND, from: 2, to: 1, term: 2, index: 3, logTerm: 1, entries: [entry(4, 2, 'old')] }));
    drain(raw, storage);
    raw.campaign();
    drain(raw, storage);
    raw.step(msg({ type: MessageType.VOTE_RESP, from: 3, to: 1, term: 3 }));
    drain(raw, storage);
    assert.equal(raw.status().role, Role.LEADER);
    assert.equal(raw.status().lastIndex, 5, 'the new leader appended its empty entry');
    // Follower 3 acknowledges only the old-term entry: a majority holds it, but it is not of term 3.
    raw.step(msg({ type: MessageType.APPEND_RESP, from: 3, to: 1, term: 3, index: 4 }));
    drain(raw, storage);
    assert.equal(raw.status().commit, 3, 'an old-term entry on a majority must not be committed by counting');
    raw.step(msg({ type: MessageType.APPEND_RESP, from: 3, to: 1, term: 3, index: 5 }));
    drain(raw, storage);
    assert.equal(raw.status().commit, 5, 'committing the current-term entry commits everything before it');
  });

  it('a leader never overwrites or deletes its own entries (leader append-only)', () => {
    const net = new Network([1, 2, 3], basic);
    net.elect(1);
    net.propose(1, 'a');
    const before = net.node(1).storage.entries(1, net.node(1).storage.lastIndex() + 1);
    const raw = net.node(1).raw;
    raw.step(msg({ type: MessageType.APPEND, from: 2, to: 1, term: 2, index: 3, logTerm: 1, entries: [entry(4, 2, 'evil')] }));
    net.flush(net.node(1));
    const after = net.node(1).storage.entries(1, before.length + 1);
    assert.deepEqual(after.map((e) => e.term), before.map((e) => e.term));
  });
});

describe('entry types', () => {
  it('bootstrap writes the initial membership as committed conf change entries', () => {
    const storage = new MemoryStorage();
    RawNode.bootstrap(storage, [3, 1, 2]);
    assert.deepEqual(storage.entries(1, 4).map((e) => e.type), [EntryType.CONF_CHANGE, EntryType.CONF_CHANGE, EntryType.CONF_CHANGE]);
    const raw = new RawNode(config(1), storage);
    drain(raw, storage);
    assert.deepEqual(raw.status().confState.voters, [1, 2, 3]);
    assert.throws(() => RawNode.bootstrap(storage, [1]), /not empty/);
  });
});
