/**
 * membership/discovery.ts: how a blank initial member decides to bootstrap, join or wait from the other members'
 * probe answers, and when a running member still counts as pristine (only the bootstrap entries).
 */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideStart, isPristine, PeerAnswer } from '../../src/membership';

const CLUSTER = 'c0ffee';
const blank = (name: string): PeerAnswer => ({ name, info: { state: 'blank' } });
const member = (name: string, pristine: boolean, clusterId = CLUSTER): PeerAnswer =>
  ({ name, info: { state: 'member', pristine: pristine ? '1' : '0', clusterId, clientUrl: `http://${name}:2379` } });

void describe('discovery', () => {
  void it('a member holding only the bootstrap entries is pristine; an election, a join, a snapshot or more entries end that', () => {
    const bootstrapped = { joined: false, term: 1, lastIndex: 4, hasSnapshot: false };
    assert.equal(isPristine(bootstrapped, 4), true);
    assert.equal(isPristine({ joined: false, term: 0, lastIndex: 0, hasSnapshot: false }, 4), true, 'a blank data dir (bootstrapping now)');
    assert.equal(isPristine({ ...bootstrapped, term: 2 }, 4), false);
    assert.equal(isPristine({ ...bootstrapped, lastIndex: 5 }, 4), false);
    assert.equal(isPristine({ ...bootstrapped, joined: true }, 4), false);
    assert.equal(isPristine({ ...bootstrapped, hasSnapshot: true }, 4), false);
  });

  void it('a blank member bootstraps beside members that just bootstrapped, and joins a cluster that has data', () => {
    // Two of four bootstrapped a moment ago (pristine); the fourth is still deciding: bootstrap with them. Joining
    // instead would wait forever for a leader that needs this member's vote.
    assert.deepEqual(decideStart('new', CLUSTER, [member('kv-0', true), member('kv-2', true), blank('kv-3')]), { kind: 'bootstrap' });
    assert.deepEqual(decideStart('new', CLUSTER, [member('kv-0', false), blank('kv-2'), blank('kv-3')]), { kind: 'join', via: ['http://kv-0:2379'] });
    assert.deepEqual(decideStart('new', CLUSTER, [member('kv-0', true, 'other'), blank('kv-2')]), { kind: 'join', via: ['http://kv-0:2379'] });
    assert.equal(decideStart('new', CLUSTER, [member('kv-0', true), { name: 'kv-2', error: 'ECONNREFUSED' }]).kind, 'wait');
  });
});
