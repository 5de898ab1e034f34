/**
 * etcd's Lock (v3lockpb) and Election (v3electionpb) services over gRPC and the JSON gateway, the same expectations
 * against a three-member runtime cluster and against real etcd 3.4 (ports 24660-24665 and 24670-24675). Lock: the key
 * format, waiting in creation order (also through a follower), release by Unlock and by the lease's revocation,
 * re-entry with the same lease, a cancelled waiter giving its key up. Election: campaigning in creation order, Leader,
 * Observe's stream of leaders and values, Proclaim and Resign only for the current LeaderKey, a cancelled campaign
 * resigning. Both: etcd's errors (its lock and election servers answer UNKNOWN, not NOT_FOUND, for a missing lease).
 */
import * as assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startEtcd, startRuntime, Target } from './etcd-clients';
import { etcdPackageDefinition } from '../../src/api/etcd/proto';
import { sleep } from '../support/kv-cluster';
import { testsNeeding } from '../support/prerequisite';

type Obj = Record<string, any>;

const TARGETS: [string, () => Promise<Target | undefined>][] = [
  ['runtime', () => startRuntime(24660)],
  ['etcd 3.4', () => startEtcd(24670)],
];

/** grpc-js stubs for one member: KV, Lease, Lock and Election. */
class Member {
  private static readonly pkg = grpc.loadPackageDefinition(etcdPackageDefinition());
  readonly kv: grpc.Client;
  readonly lease: grpc.Client;
  readonly lockClient: grpc.Client;
  readonly election: grpc.Client;

  constructor(readonly endpoint: string) {
    const make = (pkg: string, svc: string): grpc.Client => {
      const ctor = (Member.pkg[pkg] as grpc.GrpcObject)[svc] as grpc.ServiceClientConstructor;
      return new ctor(endpoint, grpc.credentials.createInsecure());
    };
    [this.kv, this.lease, this.lockClient, this.election] =
      [make('etcdserverpb', 'KV'), make('etcdserverpb', 'Lease'), make('v3lockpb', 'Lock'), make('v3electionpb', 'Election')];
  }

  call(client: grpc.Client, method: string, req: Obj, deadlineMs = 15_000): Promise<Obj> {
    return new Promise((resolve, reject) => {
      const done = (err: grpc.ServiceError | null, resp: Obj): void => (err ? reject(err) : resolve(resp));
      (client as any)[method](req, { deadline: Date.now() + deadlineMs }, done);
    });
  }

  grant = async (): Promise<string> => (await this.call(this.lease, 'LeaseGrant', { TTL: 60 })).ID as string;
  revoke = (ID: string): Promise<Obj> => this.call(this.lease, 'LeaseRevoke', { ID });
  keys = async (prefix: string): Promise<string[]> => {
    const end = Buffer.from(prefix);
    end[end.length - 1]++;
    return ((await this.call(this.kv, 'Range', { key: Buffer.from(prefix), range_end: end })).kvs as Obj[]).map((kv) => kv.key.toString());
  };

  lock = (name: string, lease: string, deadlineMs?: number): Promise<Obj> =>
    this.call(this.lockClient, 'Lock', { name: Buffer.from(name), lease }, deadlineMs);
  unlock = (key: Buffer): Promise<Obj> => this.call(this.lockClient, 'Unlock', { key });

  campaign = (name: string, lease: string, value: string, deadlineMs?: number): Promise<Obj> =>
    this.call(this.election, 'Campaign', { name: Buffer.from(name), lease, value: Buffer.from(value) }, deadlineMs);
  leader = async (name: string): Promise<string> => (await this.call(this.election, 'Leader', { name: Buffer.from(name) })).kv.value.toString();
  proclaim = (leader: Obj, value: string): Promise<Obj> => this.call(this.election, 'Proclaim', { leader, value: Buffer.from(value) });
  resign = (leader: Obj): Promise<Obj> => this.call(this.election, 'Resign', { leader });

  /** An Observe stream: the values it has received so far, and a way to end it. */
  observe(name: string): { values: string[]; cancel: () => void } {
    const values: string[] = [];
    const stream = (this.election as any).Observe({ name: Buffer.from(name) }) as grpc.ClientReadableStream<Obj>;
    stream.on('data', (resp: Obj) => values.push(resp.kv.value.toString()));
    stream.on('error', () => undefined); // the cancel at the end
    return { values, cancel: () => stream.cancel() };
  }

  close(): void { for (const c of [this.kv, this.lease, this.lockClient, this.election]) c.close(); }
}

/** Whether `p` settled within `ms` (without waiting for it otherwise). */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  p.then(() => { settled = true; }, () => { settled = true; });
  await sleep(ms);
  return settled;
}

async function until(what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const unknown = (message: string) => (e: grpc.ServiceError): boolean => e.code === grpc.status.UNKNOWN && e.details === message;

for (const [label, start] of TARGETS) {
  describe(`the Lock and Election services against ${label}`, () => {
    let t: Target | undefined;
    let leader: Member;
    let follower: Member;

    before(async () => {
      t = await start();
      if (!t) return;
      leader = new Member(t.endpoints[t.leaderIndex]);
      follower = new Member(t.endpoints[(t.leaderIndex + 1) % 3]);
    }, { timeout: 40_000 });
    after(async () => {
      leader?.close();
      follower?.close();
      await t?.close();
    });

    const it = testsNeeding(() => t, 'etcd is not installed', 60_000);

    it('waiters get the lock in creation order; Unlock and a revoked lease release it; the same lease re-enters', async () => {
      const [a, b, c] = [await leader.grant(), await leader.grant(), await leader.grant()];
      const first = await leader.lock('jobs', a);
      assert.equal(first.key.toString(), `jobs/${BigInt(a).toString(16)}`);
      assert.ok(Number(first.header.revision) > 0);

      const second = follower.lock('jobs', b); // waits, through a follower
      assert.equal(await settledWithin(second, 500), false, 'the second lease must wait while the first holds the lock');
      const third = leader.lock('jobs', c);
      assert.equal(await settledWithin(third, 200), false);
      assert.deepEqual(await leader.keys('jobs/'), [first.key.toString(), `jobs/${BigInt(b).toString(16)}`, `jobs/${BigInt(c).toString(16)}`].sort());

      const unlocked = await leader.unlock(first.key);
      assert.ok(Number(unlocked.header.revision) > Number(first.header.revision));
      const got = await second;
      assert.equal(got.key.toString(), `jobs/${BigInt(b).toString(16)}`);
      assert.equal(await settledWithin(third, 300), false, 'the third waits for the second');
      // The holder's lease locks again at once: its key is already the oldest.
      assert.equal((await leader.lock('jobs', b)).key.toString(), got.key.toString());

      await leader.revoke(b); // the lease's end deletes its key, as a crashed holder's expiry would
      assert.equal((await third).key.toString(), `jobs/${BigInt(c).toString(16)}`);
      await leader.unlock(Buffer.from(`jobs/${BigInt(c).toString(16)}`));
      assert.deepEqual(await leader.keys('jobs/'), []);
    });

    it('a waiter whose deadline passes gives its key up; the holder keeps the lock', async () => {
      const [a, b] = [await leader.grant(), await leader.grant()];
      const held = await leader.lock('cron', a);
      await assert.rejects(follower.lock('cron', b, 800), (e: grpc.ServiceError) => e.code === grpc.status.DEADLINE_EXCEEDED);
      await sleep(500);
      assert.deepEqual(await leader.keys('cron/'), [held.key.toString()]);
      await leader.unlock(held.key);
    });

    it('a lease of 0 gets a session lease; an unknown lease is refused as etcd does; Unlock of a missing key answers OK', async () => {
      const session = await leader.lock('solo', '0');
      assert.match(session.key.toString(), /^solo\/[0-9a-f]+$/);
      await leader.unlock(session.key);
      await assert.rejects(leader.lock('solo', '12345'), unknown('etcdserver: requested lease not found'));
      assert.ok(Number((await leader.unlock(Buffer.from('solo/none'))).header.revision) > 0);
    });

    it('the gateway serves /v3/lock/lock and /v3/lock/unlock', async () => {
      const lease = await leader.grant();
      const post = async (path: string, body: Obj): Promise<Obj> => {
        const res = await fetch(`http://${follower.endpoint}/v3/lock/${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
        assert.equal(res.status, 200, await res.clone().text());
        return res.json() as Promise<Obj>;
      };
      const locked = await post('lock', { name: Buffer.from('gw').toString('base64'), lease });
      assert.equal(Buffer.from(locked.key, 'base64').toString(), `gw/${BigInt(lease).toString(16)}`);
      assert.match(locked.header.revision, /^\d+$/);
      await post('unlock', { key: locked.key });
      assert.deepEqual(await leader.keys('gw/'), []);
    });
    it('candidates lead in creation order; Observe follows leaders and values; Proclaim and Resign need the current key', async () => {
      const [a, b] = [await leader.grant(), await leader.grant()];
      const first = await leader.campaign('svc', a, 'a1');
      assert.equal(first.leader.key.toString(), `svc/${BigInt(a).toString(16)}`);
      assert.equal(first.leader.name.toString(), 'svc');
      assert.equal(first.leader.lease, a);
      assert.ok(Number(first.leader.rev) > 0);
      assert.equal(await follower.leader('svc'), 'a1');

      const watch = follower.observe('svc');
      await until('the current leader on Observe', () => watch.values.length === 1);
      const second = follower.campaign('svc', b, 'b1');
      assert.equal(await settledWithin(second, 500), false, 'the second candidate waits while the first leads');

      await leader.proclaim(first.leader, 'a2');
      assert.equal(await leader.leader('svc'), 'a2');
      await assert.rejects(leader.proclaim({ ...first.leader, rev: String(Number(first.leader.rev) + 1000) }, 'x'), unknown('election: not leader'));

      await leader.resign(first.leader);
      const next = await second;
      assert.equal(next.leader.key.toString(), `svc/${BigInt(b).toString(16)}`);
      assert.equal(await leader.leader('svc'), 'b1');
      await until('b1 on Observe', () => watch.values.includes('b1'));
      assert.deepEqual(watch.values, ['a1', 'a2', 'b1']);
      // An old LeaderKey can no longer proclaim; resigning with it is a no-op that answers OK, as in etcd.
      await assert.rejects(leader.proclaim(first.leader, 'stale'), unknown('election: not leader'));
      await leader.resign(first.leader);
      assert.equal(await leader.leader('svc'), 'b1');

      await leader.resign(next.leader);
      await assert.rejects(leader.leader('svc'), unknown('election: no leader'));
      // Observe waits for the next candidate: the first one to campaign leads.
      await leader.campaign('svc', a, 'a3');
      await until('a3 on Observe', () => watch.values.includes('a3'));
      watch.cancel();
    });

    it('a campaign whose deadline passes resigns; the same lease campaigning again keeps its place with the new value', async () => {
      const [a, b] = [await leader.grant(), await leader.grant()];
      const held = await leader.campaign('db', a, 'one');
      await assert.rejects(follower.campaign('db', b, 'two', 800), (e: grpc.ServiceError) => e.code === grpc.status.DEADLINE_EXCEEDED);
      await sleep(500);
      const again = await leader.campaign('db', a, 'uno');
      assert.equal(again.leader.rev, held.leader.rev);
      assert.equal(await leader.leader('db'), 'uno');
      await leader.resign(again.leader);
      await assert.rejects(leader.leader('db'), unknown('election: no leader'));
    });

    it('errors as etcd: no LeaderKey, an unknown lease', async () => {
      await assert.rejects(leader.call(leader.election, 'Proclaim', { value: Buffer.from('x') }), unknown('"leader" field must be provided'));
      await assert.rejects(leader.call(leader.election, 'Resign', {}), unknown('"leader" field must be provided'));
      await assert.rejects(leader.campaign('x', '12345', 'v'), unknown('etcdserver: requested lease not found'));
    });

    it('the gateway serves campaign, leader, proclaim, resign and a streamed observe', async () => {
      const lease = await leader.grant();
      const post = async (path: string, body: Obj): Promise<Obj> => {
        const res = await fetch(`http://${follower.endpoint}/v3/election/${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
        assert.equal(res.status, 200, await res.clone().text());
        return res.json() as Promise<Obj>;
      };
      const b64 = (s: string): string => Buffer.from(s).toString('base64');
      const won = await post('campaign', { name: b64('gw'), lease, value: b64('v1') });
      assert.equal(Buffer.from(won.leader.key, 'base64').toString(), `gw/${BigInt(lease).toString(16)}`);
      assert.equal(Buffer.from((await post('leader', { name: b64('gw') })).kv.value, 'base64').toString(), 'v1');
      await post('proclaim', { leader: won.leader, value: b64('v2') });
      const observed = await fetch(`http://${follower.endpoint}/v3/election/observe`, { method: 'POST', body: JSON.stringify({ name: b64('gw') }) });
      const reader = observed.body!.getReader();
      const line = JSON.parse(Buffer.from((await reader.read()).value!).toString().split('\n')[0]);
      assert.equal(Buffer.from(line.result.kv.value, 'base64').toString(), 'v2');
      await reader.cancel();
      await post('resign', { leader: won.leader });
    });
  });
}
