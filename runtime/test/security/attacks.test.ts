/**
 * The forged-peer attacks of issue 14, replayed against a default 3-member cluster (plaintext
 * peers, as `ha-runtime raft` runs without cert flags). Each attack must leave every member running,
 * apply no forged write, hijack no redirect and keep memory bounded.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { ForgedPeer, forgedMessage, frameHeader, rssBytes } from './forger';
import { encodeCommand, KvOp } from '../../src/kv/state-machine';
import { MessageType } from '../../src/raft/types';
import { kvRequest } from '../support/kv-client';
import { KvCluster, sleep, type KvMember } from '../support/kv-cluster';

// Ports 24100-24199 belong to this file.
const BASE = 24100;

async function statusOf(m: KvMember): Promise<Record<string, any>> {
  const s = await m.status(2000);
  assert.ok(s, `${m.name} answers /v1/status`);
  return s;
}

function allRunning(cluster: KvCluster, except: KvMember[] = []): void {
  for (const m of cluster.members) {
    if (except.includes(m)) continue;
    assert.ok(m.running, `${m.name} is still running (exit ${m.exitCode}, signal ${m.exitSignal})\n${m.log().split('\n').slice(-20).join('\n')}`);
  }
}

async function put(m: KvMember, key: string, value: string): Promise<number> {
  const r = await kvRequest(`${m.url}/v1/kv/${key}`, { method: 'PUT', body: value, timeoutMs: 5000 });
  return r.status;
}

async function readEverywhere(cluster: KvCluster, key: string, members = cluster.members): Promise<number[]> {
  return Promise.all(members.map(async (m) => (await kvRequest(`${m.url}/v1/kv/${key}?consistency=serializable`, { timeoutMs: 2000 })).status));
}

describe('forged peer traffic against a default 3-member cluster', () => {
  let cluster: KvCluster;
  before(async () => { cluster = await KvCluster.start({ size: 3, basePort: BASE }); });
  after(async () => { await cluster?.close(); });

  it('refuses every forged identity while all members run: running member ids, unknown id 99, id 0', async () => {
    // Members dial each other at start; give the mesh a moment to be complete.
    await sleep(500);
    for (const target of cluster.members) {
      for (const senderId of [1, 2, 3, 99, 0]) {
        const forger = await ForgedPeer.connect({ port: target.peerPort, senderId, targetId: target.id, metadata: { clientUrl: 'http://127.0.0.1:1/attacker' } });
        forger.close();
        assert.equal(forger.outcome?.kind, 'reject', `member ${target.id} must refuse sender ${senderId}: ${JSON.stringify(forger.outcome)}`);
        const reason = (forger.outcome as { reason: string }).reason;
        if (senderId === 99) assert.match(reason, /sender id 99 is not a member of this cluster/);
        else if (senderId === 0 || senderId === target.id) assert.match(reason, /is not a valid peer id/);
        else assert.match(reason, /already connected/);
      }
    }
    allRunning(cluster);
  });

  describe('a forger posing as a member that is down (the only identity plaintext cannot protect)', () => {
    let down: KvMember;
    let live: KvMember[];
    let leader: KvMember;
    let follower: KvMember;
    /** Finds the current leader among the two running members; the other is the follower. */
    async function roles(): Promise<void> {
      leader = await cluster.waitForLeader(15_000, live);
      follower = live.find((m) => m !== leader)!;
    }
    before(async () => {
      leader = await cluster.waitForLeader(10_000);
      down = cluster.members.find((m) => m !== leader)!;
      live = cluster.members.filter((m) => m !== down);
      await down.signal('SIGTERM');
      await roles();
      assert.equal(await put(leader, 'before', 'x'), 200);
    });

    async function forge(target: KvMember, metadata: Record<string, string> = {}): Promise<ForgedPeer> {
      const f = await ForgedPeer.connect({ port: target.peerPort, senderId: down.id, targetId: target.id, metadata });
      assert.ok(f.welcomed, `the forger is admitted as member ${down.id} while it is down: ${JSON.stringify(f.outcome)}`);
      return f;
    }

    it('drops a term of 2^53-2 at decode, and a term more than 2^24 ahead at the core: no term adopted, nobody exits', async () => {
      const initial = await statusOf(follower);
      const f = await forge(follower);
      await f.send(forgedMessage({ type: MessageType.HEARTBEAT, from: down.id, to: follower.id, term: 2 ** 53 - 2 }));
      assert.ok(await f.closedWithin(2000), 'the member closes a connection carrying an undecodable term');
      const g = await forge(follower);
      await g.send(forgedMessage({ type: MessageType.VOTE, from: down.id, to: follower.id, term: 2 ** 48 - 1, index: 2 ** 40, logTerm: 2 ** 47 }));
      await g.send(forgedMessage({ type: MessageType.HEARTBEAT, from: down.id, to: follower.id, term: initial.term + 2 ** 24 + 1 }));
      await sleep(500);
      g.close();
      const now = await statusOf(follower);
      assert.ok(now.term < initial.term + 5, `term ${now.term} was not pushed up (was ${initial.term})`);
      assert.match(follower.log(), /not below 2\^48/);
      assert.match(follower.log(), /more than 2\^24 ahead/);
      allRunning(cluster, [down]);
      assert.equal(await put(leader, 'after-term', 'x'), 200);
    });

    it('drops a forged proposal (a write that would commit as if a client had sent it)', async () => {
      const f = await forge(leader);
      const data = encodeCommand({ op: KvOp.PUT, requestId: 0, key: 'forged-propose', value: Buffer.from('evil') });
      await f.send(forgedMessage({ type: MessageType.PROPOSE, from: down.id, to: leader.id, entries: [{ term: 0, index: 0, type: 0, data }] }));
      await sleep(500);
      f.close();
      assert.equal(await put(leader, 'after-propose', 'x'), 200);
      assert.deepEqual(await readEverywhere(cluster, 'forged-propose', [leader, follower]), [404, 404]);
      assert.match(leader.log(), /members never forward proposals/);
    });

    it('refuses a forged snapshot before the core adopts it: the follower keeps running and serving', async () => {
      const st = await statusOf(follower);
      const f = await forge(follower);
      const confState = { voters: [1, 2, 3], learners: [], votersOutgoing: [] };
      // Claims 7 keys, holds one byte: a restore would fail after the core adopted it.
      const snapshot = { metadata: { index: st.commit + 1000, term: st.term, confState }, data: Buffer.from([7, 0, 0, 0, 1]) };
      await f.send(forgedMessage({ type: MessageType.SNAPSHOT, from: down.id, to: follower.id, term: st.term, snapshot }));
      await sleep(500);
      f.close();
      assert.match(follower.log(), /is not restorable/);
      allRunning(cluster, [down]);
      await roles();
      assert.equal(await put(leader, 'after-snapshot', 'x'), 200);
    });

    it('applies a committed 3-byte poison entry as a rejected command on every member, without an exit', async () => {
      await roles();
      const st = await statusOf(follower);
      const f = await forge(follower);
      // Pose as the leader of the next term: append a poison entry after the follower's log and commit it.
      const term = st.term + 1;
      const entries = [{ term, index: st.lastIndex + 1, type: 0, data: Buffer.from([1, 2, 3]) }];
      const append = { type: MessageType.APPEND, from: down.id, to: follower.id, term, index: st.lastIndex, logTerm: st.term };
      await f.send(forgedMessage({ ...append, entries, commit: st.lastIndex + 1 }));
      await sleep(800);
      f.close();
      assert.match(follower.log(), /applied an undecodable entry as a rejected command/);
      await roles();
      allRunning(cluster, [down]);
      assert.equal(await put(leader, 'after-poison', 'x'), 200);
      // Restarting replays the poison entry from the log: it must apply the same way again.
      await follower.signal('SIGTERM');
      follower.start();
      await roles();
      assert.equal(await put(leader, 'after-poison-restart', 'x'), 200);
      allRunning(cluster, [down]);
    });

    it('a forger posing as leader cannot make followers redirect writes to it, during or after the attack', async () => {
      await roles();
      const attacker = 'http://127.0.0.1:1/attacker';
      const f = await forge(follower, { clientUrl: attacker, leader: 'true' });
      const st = await statusOf(follower);
      const locations: (string | undefined)[] = [];
      const end = Date.now() + 1500;
      while (Date.now() < end) {
        await f.send(forgedMessage({ type: MessageType.HEARTBEAT, from: down.id, to: follower.id, term: st.term + 1, commit: 0 }));
        const r = await kvRequest(`${follower.url}/v1/kv/redirect-me`, { method: 'PUT', body: 'secret', maxRedirects: 0, timeoutMs: 2000 });
        locations.push(typeof r.headers.location === 'string' ? r.headers.location : undefined);
        await sleep(50);
      }
      f.close();
      assert.ok(!locations.some((l) => l?.includes('attacker')), `no redirect to the attacker: ${locations.join(', ')}`);
      await roles();
      const r = await kvRequest(`${follower.url}/v1/kv/after-redirect`, { method: 'PUT', body: 'x', maxRedirects: 0, timeoutMs: 2000 });
      assert.equal(r.status, 307);
      assert.equal(r.headers.location, `${leader.url}/v1/kv/after-redirect`);
      allRunning(cluster, [down]);
    });

    it('refuses frames announcing 256 MiB from their header, and a second connection for the same id: memory stays bounded', async () => {
      await roles();
      const pid = leader.proc!.pid!;
      const rssBefore = rssBytes(pid);
      const junk = Buffer.alloc(1 << 20, 0x41);
      for (let round = 0; round < 4; round++) {
        const dial = (): Promise<ForgedPeer> => ForgedPeer.connect({ port: leader.peerPort, senderId: down.id, targetId: leader.id });
        const forgers = await Promise.all([dial(), dial(), dial(), dial()]);
        assert.ok(forgers.filter((f) => f.welcomed).length <= 1, 'at most one connection per member id');
        for (const f of forgers) {
          await f.write(frameHeader(256 * 1024 * 1024));
          for (let i = 0; i < 16 && !f.socket.destroyed; i++) await f.write(junk);
        }
        for (const f of forgers) assert.ok(await f.closedWithin(2000), 'an oversize frame closes the connection');
      }
      await sleep(300);
      const grown = rssBytes(pid) - rssBefore;
      assert.ok(grown < 64 * 1024 * 1024, `leader RSS grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
      assert.match(leader.log(), /frame length 268435456 is outside/);
      allRunning(cluster, [down]);
      assert.equal(await put(leader, 'after-frames', 'x'), 200);
    });

    it('nothing forged was applied anywhere', async () => {
      down.start();
      await cluster.waitForLeader(15_000);
      await sleep(500);
      assert.deepEqual(await readEverywhere(cluster, 'forged-propose'), [404, 404, 404]);
      assert.deepEqual(await readEverywhere(cluster, 'redirect-me'), [404, 404, 404]);
      allRunning(cluster);
    });
  });
});
