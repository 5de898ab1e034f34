/**
 * Scripted interaction scenarios (after etcd-io/raft's testdata/*.txt): PreVote, CheckQuorum,
 * leadership transfer, ReadIndex, snapshots, membership changes, flow control and back-pressure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { config, msg, Network } from './harness';
import {
  ConfChangeType, encodeConfChange, MemoryStorage, MessageType, ProgressState, ProposalDroppedError, RaftConfigError, RawNode,
  ReadOnlyOption, Role,
} from '../../src/raft';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe('PreVote (thesis 9.6)', () => {
  it('a partitioned node does not bump its term, and does not disrupt the leader when it returns', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    const term = net.node(1).raw.status().term;
    net.isolate(3);
    net.tick(3, 100);
    assert.equal(net.node(3).raw.status().term, term, 'pre-votes do not increase the term');
    assert.equal(net.role(3), Role.PRE_CANDIDATE);
    net.recover();
    net.tickAll(2);
    assert.equal(net.leader(), 1);
    assert.equal(net.node(1).raw.status().term, term);
    assert.equal(net.role(3), Role.FOLLOWER);
  });

  it('without PreVote, the returning node forces a new election (the problem PreVote solves)', () => {
    const net = new Network([1, 2, 3], () => ({ preVote: false, checkQuorum: false }));
    net.elect(1);
    const term = net.node(1).raw.status().term;
    net.isolate(3);
    net.tick(3, 100);
    assert.ok(net.node(3).raw.status().term > term + 3);
    net.recover();
    net.tickAll(25); // 3 ignores the stale leader's heartbeats and campaigns with its inflated term
    assert.ok(net.node(1).raw.status().term > term + 3, 'the old leader was deposed by the higher term');
  });

  it('a pre-vote is granted only to a candidate whose log is up to date', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.propose(1, 'a');
    net.recover();
    net.isolate(1);
    // 3 lacks 'a': 2 refuses its pre-vote, so 3 cannot start a real election.
    net.node(3).raw.campaign();
    net.deliver(net.flush(net.node(3)));
    assert.notEqual(net.role(3), Role.LEADER);
    assert.equal(net.node(3).raw.status().term, net.node(2).raw.status().term, 'no real election started');
  });
});

describe('CheckQuorum (thesis 6.2)', () => {
  it('a leader that cannot hear from a majority steps down within two election timeouts', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(1);
    net.tick(1, 19);
    assert.equal(net.role(1), Role.LEADER, 'the first check still sees the answers from before the cut');
    net.tick(1, 1);
    assert.equal(net.role(1), Role.FOLLOWER);
  });

  it('a leader that hears from a majority stays leader', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.tickAll(50);
    assert.equal(net.leader(), 1);
  });

  it('a follower in a leader lease ignores a vote request of a higher term', () => {
    const net = new Network([1, 2, 3], () => ({ preVote: false }));
    net.elect(1);
    const raw2 = net.node(2).raw;
    const term = raw2.status().term;
    raw2.step(msg({ type: MessageType.VOTE, from: 3, to: 2, term: term + 1, index: 100, logTerm: 100 }));
    assert.equal(raw2.status().term, term);
    assert.equal(net.flush(net.node(2)).length, 0);
  });
});

describe('leadership transfer (thesis 3.10)', () => {
  it('transfers to an up-to-date voter, which wins without waiting for a timeout', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    net.node(1).raw.transferLeadership(2);
    net.deliver(net.flush(net.node(1)));
    assert.equal(net.leader(), 2);
  });

  it('catches a lagging target up first, and drops proposals meanwhile', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.propose(1, 'a');
    net.recover();
    net.drop(MessageType.APPEND); // keep 3 lagging
    net.node(1).raw.transferLeadership(3);
    net.deliver(net.flush(net.node(1)));
    assert.equal(net.leader(), 1);
    assert.throws(() => net.node(1).raw.propose(enc('b')), ProposalDroppedError);
    net.recover();
    net.tick(1);
    assert.equal(net.leader(), 3);
    assert.ok(net.appliedText(3).includes('a'));
  });

  it('an unfinished transfer is abandoned after an election timeout', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.node(1).raw.transferLeadership(3);
    net.tick(1, 10);
    assert.equal(net.node(1).raw.status().leadTransferee, 0);
    net.node(1).raw.propose(enc('b'));
  });

  it('rejects a target that is not a voter', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    assert.throws(() => net.node(1).raw.transferLeadership(9), RaftConfigError);
  });
});

describe('ReadIndex (thesis 6.4)', () => {
  it('the leader answers after a heartbeat round confirms it is still leader', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    net.hold = true;
    net.node(1).raw.readIndex(enc('r1'));
    net.deliver(net.flush(net.node(1)));
    assert.equal(net.node(1).readStates.length, 0, 'no answer before the quorum round');
    const held = net.held;
    net.held = [];
    net.hold = false;
    net.deliver(held);
    assert.deepEqual(net.node(1).readStates.map((r) => [r.index, dec(r.context)]), [[5, 'r1']]);
  });

  it('an isolated leader never answers', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(1);
    net.node(1).raw.readIndex(enc('r1'));
    net.tick(1, 5);
    assert.equal(net.node(1).readStates.length, 0);
  });

  it('a follower forwards to the leader and gets the leader\'s commit index', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    net.node(2).raw.readIndex(enc('f1'));
    net.deliver(net.flush(net.node(2)));
    assert.deepEqual(net.node(2).readStates.map((r) => [r.index, dec(r.context)]), [[5, 'f1']]);
  });

  it('a new leader answers only after committing an entry of its term', () => {
    const net = new Network([1, 2, 3], () => ({ preVote: false, checkQuorum: false }));
    net.elect(1);
    net.drop(MessageType.APPEND_RESP);
    net.elect(2);
    assert.equal(net.leader(), 2);
    net.node(2).raw.readIndex(enc('r'));
    net.deliver(net.flush(net.node(2)));
    assert.equal(net.node(2).readStates.length, 0);
    net.recover();
    net.tick(2);
    assert.equal(net.node(2).readStates.length, 1);
    assert.equal(net.node(2).readStates[0].index, net.node(2).raw.status().commit);
  });

  it('LEASE_BASED answers without a round trip and requires checkQuorum', () => {
    const net = new Network([1, 2, 3], () => ({ readOnlyOption: ReadOnlyOption.LEASE_BASED }));
    net.elect(1);
    net.hold = true;
    net.node(1).raw.readIndex(enc('l'));
    net.flush(net.node(1));
    assert.equal(net.node(1).readStates.length, 1);
    const storage = new MemoryStorage();
    assert.throws(() => new RawNode(config(1, { readOnlyOption: ReadOnlyOption.LEASE_BASED, checkQuorum: false }), storage), /requires checkQuorum/);
  });

  it('throws ProposalDroppedError when there is no leader', () => {
    const net = new Network([1, 2, 3]);
    assert.throws(() => net.node(1).raw.readIndex(enc('x')), ProposalDroppedError);
  });
});

describe('snapshots and compaction (paper 7)', () => {
  it('a follower behind the leader\'s compacted log gets a snapshot and then the rest', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 10; i++) net.propose(1, `v${i}`);
    const leader = net.node(1);
    const applied = leader.raw.status().applied;
    leader.storage.createSnapshot(applied, leader.raw.status().confState, enc('state-at-' + applied));
    leader.storage.compact(applied);
    net.propose(1, 'after');
    net.recover();
    net.tick(1, 3);
    const f = net.node(3);
    assert.equal(f.storage.snapshot().metadata.index, applied);
    assert.equal(dec(f.storage.snapshot().data), 'state-at-' + applied);
    assert.deepEqual(net.appliedText(3), ['after']);
    assert.equal(f.raw.status().commit, leader.raw.status().commit);
    assert.equal(leader.raw.status().progress!.get(3)!.state, ProgressState.REPLICATE);
  });

  it('a failed snapshot send is retried after reportSnapshot(false)', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 5; i++) net.propose(1, `v${i}`);
    const leader = net.node(1);
    const applied = leader.raw.status().applied;
    leader.storage.createSnapshot(applied, leader.raw.status().confState, enc('s'));
    leader.storage.compact(applied);
    net.recover();
    net.drop(MessageType.SNAPSHOT);
    net.tick(1, 2);
    assert.equal(leader.raw.status().progress!.get(3)!.state, ProgressState.SNAPSHOT);
    leader.raw.reportSnapshot(3, false);
    net.recover();
    net.tick(1, 3);
    assert.equal(net.node(3).storage.snapshot().metadata.index, applied);
  });

  it('a restarted node recovers its membership from snapshot plus log', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    const n = net.node(2);
    const st = n.raw.status();
    n.storage.createSnapshot(st.applied, st.confState, enc('s'));
    n.storage.compact(st.applied);
    net.restart(2);
    assert.deepEqual(net.node(2).raw.status().confState.voters, [1, 2, 3]);
  });
});

describe('membership changes, one server at a time (thesis 4)', () => {
  it('a new node joins as a learner, catches up without voting, then is promoted', () => {
    const net = new Network([1, 2, 3, 4], () => ({}), [1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    net.node(1).raw.proposeConfChange({ type: ConfChangeType.ADD_LEARNER, nodeId: 4 });
    net.deliver(net.flush(net.node(1)));
    net.tickAll(3);
    assert.deepEqual(net.node(1).raw.status().confState.learners, [4]);
    assert.deepEqual(net.appliedText(4), ['a']);
    assert.deepEqual(net.node(4).raw.status().confState.voters, [1, 2, 3], 'the learner learned the initial membership from the log');
    // A learner never campaigns.
    net.tick(4, 100);
    assert.equal(net.leader(), 1);
    // Learners do not count toward the quorum: 1 + learner 4 cannot commit.
    net.isolate(2);
    net.isolate(3);
    net.propose(1, 'b');
    assert.ok(!net.appliedText(1).includes('b'));
    net.recover();
    net.tickAll(2);
    net.node(1).raw.proposeConfChange({ type: ConfChangeType.ADD_NODE, nodeId: 4 });
    net.deliver(net.flush(net.node(1)));
    net.tickAll(2);
    assert.deepEqual(net.node(1).raw.status().confState.voters, [1, 2, 3, 4]);
    assert.deepEqual(net.node(4).raw.status().confState.voters, [1, 2, 3, 4]);
  });

  it('only one conf change may be pending at a time', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.hold = true;
    net.node(1).raw.proposeConfChange({ type: ConfChangeType.ADD_LEARNER, nodeId: 4 });
    assert.throws(() => net.node(1).raw.proposeConfChange({ type: ConfChangeType.ADD_LEARNER, nodeId: 5 }), ProposalDroppedError);
  });

  it('a new leader accepts a conf change only after it applied an entry of its own term', () => {
    const net = new Network([1, 2, 3]);
    net.drop(MessageType.APPEND_RESP);
    net.elect(1);
    // Leader of term 2 elected, but its empty entry is not committed yet.
    assert.equal(net.leader(), 1);
    assert.throws(() => net.node(1).raw.proposeConfChange({ type: ConfChangeType.ADD_LEARNER, nodeId: 4 }), ProposalDroppedError);
  });

  it('removing the leader makes it step down; the rest elect a new leader', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.node(1).raw.proposeConfChange({ type: ConfChangeType.REMOVE_NODE, nodeId: 1 });
    net.deliver(net.flush(net.node(1)));
    assert.equal(net.role(1), Role.FOLLOWER);
    net.tickAll(40);
    const leader = net.leader();
    assert.ok(leader === 2 || leader === 3, `leader ${leader}`);
    assert.deepEqual(net.node(leader).raw.status().confState.voters, [2, 3]);
    net.propose(leader, 'x');
    assert.deepEqual(net.appliedText(leader === 2 ? 3 : 2), ['x']);
  });

  it('a node does not campaign while a committed conf change is not yet applied', () => {
    const storage = new MemoryStorage();
    RawNode.bootstrap(storage, [1, 2, 3]);
    const raw = new RawNode(config(1, { preVote: false }), storage);
    const boot = raw.ready();
    raw.advance(boot);
    const cc = { index: 4, term: 2, type: 1, data: encodeConfChange({ type: ConfChangeType.REMOVE_NODE, nodeId: 3 }) };
    raw.step(msg({ type: MessageType.APPEND, from: 2, to: 1, term: 2, index: 3, logTerm: 1, entries: [cc], commit: 4 }));
    raw.campaign();
    assert.equal(raw.status().role, Role.FOLLOWER, 'the quorum may be about to change');
    const rd = raw.ready();
    storage.append(rd.entries);
    if (rd.hardState) storage.setHardState(rd.hardState);
    raw.advance(rd);
    assert.deepEqual(raw.status().confState.voters, [1, 2]);
    raw.campaign();
    assert.equal(raw.status().role, Role.CANDIDATE);
  });

  it('rejects removing the last voter', () => {
    const net = new Network([1]);
    net.elect(1);
    assert.throws(() => net.node(1).raw.proposeConfChange({ type: ConfChangeType.REMOVE_NODE, nodeId: 1 }), /last voter/);
  });
});

describe('flow control', () => {
  it('pipelines at most maxInflightMsgs appends to a silent follower', () => {
    const net = new Network([1, 2, 3], () => ({ maxInflightMsgs: 3, maxEntriesPerMsg: 1 }));
    net.elect(1);
    net.drop(MessageType.APPEND_RESP);
    const before = net.delivered.length;
    for (let i = 0; i < 10; i++) net.propose(1, `v${i}`);
    const apps = net.delivered.slice(before).filter((m) => m.type === MessageType.APPEND && m.to === 2);
    assert.equal(apps.length, 3);
  });

  it('batches at most maxEntriesPerMsg entries per append', () => {
    const net = new Network([1, 2, 3], () => ({ maxEntriesPerMsg: 2 }));
    net.elect(1);
    net.isolate(2);
    for (let i = 0; i < 7; i++) net.propose(1, `v${i}`);
    net.recover();
    const before = net.delivered.length;
    net.tick(1);
    const apps = net.delivered.slice(before).filter((m) => m.type === MessageType.APPEND && m.to === 2 && m.entries.length > 0);
    assert.ok(apps.length >= 4);
    assert.ok(apps.every((m) => m.entries.length <= 2));
    assert.equal(net.appliedText(2).length, 7);
  });

  it('backtracks over a long conflicting suffix in a few round trips, not one per entry', () => {
    const net = new Network([1, 2, 3], () => ({ maxEntriesPerMsg: 1000 }));
    net.elect(1);
    net.isolate(1);
    for (let i = 0; i < 50; i++) net.node(1).raw.propose(enc(`stale${i}`));
    net.flush(net.node(1));
    net.tick(2, 30);
    net.tick(3, 30);
    const leader = net.leader() === 1 ? 0 : [2, 3].find((id) => net.role(id) === Role.LEADER)!;
    assert.ok(leader);
    for (let i = 0; i < 5; i++) net.propose(leader, `new${i}`);
    net.recover();
    const before = net.delivered.length;
    net.tickAll(3);
    const rejects = net.delivered.slice(before).filter((m) => m.type === MessageType.APPEND_RESP && m.reject && m.from === 1);
    assert.ok(rejects.length <= 2, `${rejects.length} rejections`);
    assert.deepEqual(net.appliedText(1).filter((t) => t.startsWith('new')), ['new0', 'new1', 'new2', 'new3', 'new4']);
  });

  it('drops proposals beyond maxUncommittedEntries', () => {
    const net = new Network([1, 2, 3], () => ({ maxUncommittedEntries: 3 }));
    net.elect(1);
    net.isolate(1);
    net.node(1).raw.propose(enc('a'));
    net.node(1).raw.propose(enc('b'));
    net.node(1).raw.propose(enc('c'));
    assert.throws(() => net.node(1).raw.propose(enc('d')), /maxUncommittedEntries=3/);
  });

  it('a follower forwards proposals to the leader; with no leader it throws', () => {
    const net = new Network([1, 2, 3]);
    assert.throws(() => net.node(2).raw.propose(enc('x')), ProposalDroppedError);
    net.elect(1);
    net.propose(2, 'x');
    assert.deepEqual(net.appliedText(1), ['x']);
  });
});

describe('config validation', () => {
  it('names the bad value and the fix', () => {
    const s = new MemoryStorage();
    assert.throws(() => new RawNode(config(0), s), /RaftConfig.id must be a positive integer, got 0/);
    assert.throws(() => new RawNode(config(1, { electionTick: 1, heartbeatTick: 1 }), s), /electionTick \(1\) must be greater than heartbeatTick \(1\)/);
    assert.throws(() => new RawNode(config(1, { maxInflightMsgs: 0 }), s), /maxInflightMsgs/);
  });
});

describe('driving RawNode with an asynchronous disk', () => {
  it('an entry overwritten between ready() and advance() stays unstable and is handed out again', () => {
    const storage = new MemoryStorage();
    RawNode.bootstrap(storage, [1, 2, 3]);
    const raw = new RawNode(config(1, { preVote: false }), storage);
    const first = raw.ready();
    storage.append(first.entries);
    raw.advance(first);
    raw.step(msg({ type: MessageType.APPEND, from: 2, to: 1, term: 2, index: 3, logTerm: 1, entries: [{ index: 4, term: 2, type: 0, data: enc('old') }] }));
    const rd1 = raw.ready();
    assert.deepEqual(rd1.entries.map((e) => [e.index, e.term]), [[4, 2]]);
    // While rd1 is being written, a newer leader overwrites index 4.
    raw.step(msg({ type: MessageType.APPEND, from: 3, to: 1, term: 3, index: 3, logTerm: 1, entries: [{ index: 4, term: 3, type: 0, data: enc('new') }] }));
    storage.append(rd1.entries);
    if (rd1.hardState) storage.setHardState(rd1.hardState);
    raw.advance(rd1);
    const rd2 = raw.ready();
    assert.deepEqual(rd2.entries.map((e) => [e.index, e.term, dec(e.data)]), [[4, 3, 'new']]);
    assert.ok(rd2.messages.some((m) => m.type === MessageType.APPEND_RESP && m.to === 3 && m.index === 4 && !m.reject),
      'the acknowledgement of the new entry leaves with the Ready that persists it');
  });

  it('messages produced while a Ready is outstanding leave only with a later Ready', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    const f = net.node(2);
    f.raw.step(msg({ type: MessageType.APPEND, from: 1, to: 2, term: 2, index: 4, logTerm: 2, entries: [{ index: 5, term: 2, type: 0, data: enc('x') }] }));
    const rd1 = f.raw.ready();
    assert.equal(rd1.entries.length, 1);
    f.raw.step(msg({ type: MessageType.HEARTBEAT, from: 1, to: 2, term: 2, commit: 4 }));
    assert.equal(rd1.messages.filter((m) => m.type === MessageType.HEARTBEAT_RESP).length, 0);
    f.storage.append(rd1.entries);
    f.raw.advance(rd1);
    assert.equal(f.raw.ready().messages.filter((m) => m.type === MessageType.HEARTBEAT_RESP).length, 1);
  });
});
