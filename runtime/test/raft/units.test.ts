/** Unit tests of the core's small modules: quorum math against a brute-force reference, progress, log, storage. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { entry, seeded } from './harness';
import {
  CompactedError, committedIndex, ConfChangeType, decodeConfChange, encodeConfChange, majority, MemoryStorage, ProgressState,
  UnavailableError, voteResult, VoteResult,
} from '../../src/raft';
import { RaftLog } from '../../src/raft/log';
import { Progress } from '../../src/raft/progress';

describe('quorum', () => {
  it('committedIndex equals the largest index held by a majority (brute force over 2000 random configs)', () => {
    const rnd = seeded(7);
    for (let t = 0; t < 2000; t++) {
      const n = 1 + Math.floor(rnd() * 7);
      const voters = Array.from({ length: n }, (_, i) => i + 1);
      const match = new Map(voters.map((v) => [v, Math.floor(rnd() * 10)]));
      let expected = 0;
      for (let idx = 0; idx <= 10; idx++) {
        if (voters.filter((v) => match.get(v)! >= idx).length >= Math.floor(n / 2) + 1) expected = idx;
      }
      assert.equal(committedIndex(voters, (id) => match.get(id)!), expected);
    }
  });

  it('voteResult is WON with a majority of grants, LOST once a majority is out of reach', () => {
    const rnd = seeded(9);
    for (let t = 0; t < 2000; t++) {
      const n = 1 + Math.floor(rnd() * 7);
      const voters = Array.from({ length: n }, (_, i) => i + 1);
      const votes = new Map<number, boolean>();
      for (const v of voters) {
        const r = rnd();
        if (r < 0.4) votes.set(v, true);
        else if (r < 0.8) votes.set(v, false);
      }
      const yes = [...votes.values()].filter(Boolean).length;
      const no = [...votes.values()].filter((x) => !x).length;
      const expected = yes >= majority(n) ? VoteResult.WON : n - no < majority(n) ? VoteResult.LOST : VoteResult.PENDING;
      assert.equal(voteResult(voters, votes), expected);
    }
  });
});

describe('progress', () => {
  it('probe sends one message at a time; replicate is bounded by the in-flight window', () => {
    const pr = new Progress(5, 2, false);
    assert.equal(pr.state, ProgressState.PROBE);
    assert.equal(pr.isPaused(), false);
    pr.probeSent = true;
    assert.equal(pr.isPaused(), true);
    pr.maybeUpdate(4);
    pr.becomeReplicate();
    assert.equal(pr.next, 5);
    pr.inflights.add(6);
    pr.inflights.add(8);
    assert.equal(pr.isPaused(), true);
    pr.inflights.freeLE(6);
    assert.equal(pr.isPaused(), false);
  });

  it('ignores stale rejections and backtracks to the hint', () => {
    const pr = new Progress(10, 4, false);
    assert.equal(pr.maybeDecrTo(7, 3), false, 'rejects an index we did not send');
    assert.equal(pr.maybeDecrTo(9, 3), true);
    assert.equal(pr.next, 4);
    pr.maybeUpdate(5);
    pr.becomeReplicate();
    assert.equal(pr.maybeDecrTo(4, 0), false, 'a rejection at or below match is stale');
  });

  it('leaves SNAPSHOT state probing after the snapshot', () => {
    const pr = new Progress(3, 4, false);
    pr.becomeSnapshot(20);
    assert.equal(pr.isPaused(), true);
    pr.becomeProbe();
    assert.equal(pr.next, 21);
  });
});

describe('RaftLog', () => {
  function log(terms: number[]): RaftLog {
    const s = new MemoryStorage();
    s.append(terms.map((t, i) => entry(i + 1, t)));
    return new RaftLog(s, 0, 0);
  }

  it('findConflictByTerm skips every entry of a larger term', () => {
    const l = log([1, 1, 2, 2, 4, 4, 4]);
    assert.equal(l.findConflictByTerm(7, 3), 4);
    assert.equal(l.findConflictByTerm(7, 4), 7);
    assert.equal(l.findConflictByTerm(4, 1), 2);
    assert.equal(l.findConflictByTerm(7, 0), 0);
  });

  it('maybeAppend truncates from the first conflict and refuses to touch committed entries', () => {
    const l = log([1, 1, 1]);
    assert.equal(l.maybeAppend(1, 1, 0, [entry(2, 2), entry(3, 2)]), 3);
    assert.deepEqual(l.slice(1, 4)!.map((e) => e.term), [1, 2, 2]);
    assert.equal(l.maybeAppend(3, 9, 0, []), undefined, 'previous term mismatch');
    l.commitTo(3);
    assert.throws(() => l.maybeAppend(1, 1, 3, [entry(2, 5)]), /conflicts with committed/);
  });

  it('isUpToDate compares last term, then last index (paper 5.4.1)', () => {
    const l = log([1, 2, 2]);
    assert.equal(l.isUpToDate(3, 2), true);
    assert.equal(l.isUpToDate(2, 2), false);
    assert.equal(l.isUpToDate(1, 3), true);
    assert.equal(l.isUpToDate(9, 1), false);
  });

  it('commit never moves backwards and never passes the last index', () => {
    const l = log([1, 1]);
    l.commitTo(2);
    l.commitTo(1);
    assert.equal(l.committed, 2);
    assert.throws(() => l.commitTo(3), /beyond last index/);
  });
});

describe('MemoryStorage', () => {
  it('serves [lo, hi), throws Compacted below the snapshot and Unavailable past the end', () => {
    const s = new MemoryStorage();
    s.append([entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2)]);
    s.createSnapshot(2, { voters: [1], learners: [], votersOutgoing: [] }, new Uint8Array([1]));
    s.compact(2);
    assert.equal(s.firstIndex(), 3);
    assert.equal(s.term(2), 1);
    assert.throws(() => s.entries(2, 4), CompactedError);
    assert.throws(() => s.entries(3, 6), UnavailableError);
    assert.deepEqual(s.entries(3, 5).map((e) => e.index), [3, 4]);
  });

  it('append overwrites a conflicting suffix and rejects a gap', () => {
    const s = new MemoryStorage();
    s.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
    s.append([entry(2, 3)]);
    assert.equal(s.lastIndex(), 2);
    assert.equal(s.term(2), 3);
    assert.throws(() => s.append([entry(5, 3)]), /gap/);
  });

  it('applySnapshot replaces the log; an older snapshot is ignored', () => {
    const s = new MemoryStorage();
    s.append([entry(1, 1)]);
    const snap = { metadata: { index: 10, term: 3, confState: { voters: [1, 2], learners: [], votersOutgoing: [] } }, data: new Uint8Array() };
    s.applySnapshot(snap);
    assert.equal(s.firstIndex(), 11);
    assert.equal(s.lastIndex(), 10);
    assert.deepEqual(s.initialState().confState.voters, [1, 2]);
    s.applySnapshot({ ...snap, metadata: { ...snap.metadata, index: 5 } });
    assert.equal(s.snapshot().metadata.index, 10);
  });
});

describe('conf change encoding', () => {
  it('round-trips and rejects garbage', () => {
    const cc = { type: ConfChangeType.ADD_LEARNER, nodeId: 7 };
    assert.deepEqual(decodeConfChange(encodeConfChange(cc)), cc);
    assert.throws(() => decodeConfChange(new TextEncoder().encode('{"type":9,"nodeId":1}')), /malformed/);
    assert.throws(() => decodeConfChange(new TextEncoder().encode('nope')), /not valid JSON/);
  });
});
