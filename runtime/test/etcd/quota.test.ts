/**
 * The space quota (etcd's --quota-backend-bytes) on three members started with a small quota, through real clients:
 * the JSON gateway, etcdctl 3.4 and /v1. A write that would take the store past the quota is refused as etcd refuses
 * it (RESOURCE_EXHAUSTED "etcdserver: mvcc: database space exceeded", through a follower too; /v1: 507), the NOSPACE
 * alarm shows in `alarm list` and `endpoint status`, reads and deletes keep working, and once a delete and a
 * compaction free room, writes succeed again and the alarm clears (ports 24800-24805).
 */
import * as assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { etcdctl } from './etcd-clients';
import { KvCluster } from '../support/kv-cluster';
import { testsNeeding } from '../support/prerequisite';

const QUOTA = 100_000;
const VALUE = 'v'.repeat(1000);
const b64 = (s: string): string => Buffer.from(s).toString('base64');

void describe('space quota (--quota-backend-bytes)', () => {
  let c: KvCluster | undefined;
  let leader: string;
  let follower: string;
  let all: string[];

  before(async () => {
    c = await KvCluster.start({ size: 3, basePort: 24800, args: ['--quota-backend-bytes', String(QUOTA)] });
    const l = await c.waitForLeader(15_000);
    leader = `127.0.0.1:${l.clientPort}`;
    follower = `127.0.0.1:${c.members.find((m) => m !== l)!.clientPort}`;
    all = c.members.map((m) => `127.0.0.1:${m.clientPort}`);
  }, { timeout: 40_000 });
  after(async () => { await c?.close(); });

  const it = testsNeeding(() => c, 'the cluster did not start', 60_000);
  const gatewayPut = async (endpoint: string, key: string, value: string): Promise<{ status: number; body: any }> => {
    const res = await fetch(`http://${endpoint}/v3/kv/put`, {
      method: 'POST', body: JSON.stringify({ key: b64(key), value: b64(value) }), signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: await res.json() };
  };
  const ctl = async (endpoints: string[], args: string[]): Promise<string> => {
    const r = await etcdctl(endpoints, args);
    assert.equal(r.code, 0, `etcdctl ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };

  it('refuses writes past the quota with etcd\'s error, raises NOSPACE, and recovers after delete and compact', async () => {
    // Fill: each put costs its key, 1000 bytes of value and the 150-byte entry overhead.
    let accepted = 0;
    let refused: { status: number; body: any } | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const r = await gatewayPut(leader, `q/${String(i).padStart(4, '0')}`, VALUE);
      if (r.status === 200) accepted++; else refused = r;
    }
    assert.ok(refused, 'no write was refused');
    assert.equal(refused.status, 429);
    assert.equal(refused.body.code, 8); // RESOURCE_EXHAUSTED
    assert.equal(refused.body.message, 'etcdserver: mvcc: database space exceeded');
    assert.ok(accepted >= 80 && accepted <= 90, `accepted ${accepted} puts of ~1.16 KB under a ${QUOTA}-byte quota`);

    // etcdctl through a follower (forwarded to the leader) gets the same error; reads still work.
    const viaFollower = await etcdctl([follower], ['put', 'q/more', VALUE]);
    assert.notEqual(viaFollower.code, 0);
    assert.match(viaFollower.stderr, /etcdserver: mvcc: database space exceeded/);
    assert.equal((await ctl([follower], ['get', 'q/', '--prefix', '--limit', '1', '-w', 'json'])).match(/"count":(\d+)/)?.[1], String(accepted));

    // The alarm, as etcdctl shows it; Status reports the store's size as dbSize.
    assert.match(await ctl([leader], ['alarm', 'list']), /^memberID:\d+ alarm:NOSPACE \n$/);
    const status = JSON.parse(await ctl([leader], ['endpoint', 'status', '-w', 'json']))[0].Status;
    assert.ok(status.dbSize > QUOTA - 1200 && status.dbSize <= QUOTA, `dbSize ${status.dbSize}`);
    assert.equal(status.errors.length, 1);
    assert.match(status.errors[0], /alarm:NOSPACE/);

    // /v1 refuses its writes too: 507 with the sizes; its reads work.
    const v1 = await fetch(`http://${leader}/v1/kv/q%2Fv1`, { method: 'PUT', body: VALUE, signal: AbortSignal.timeout(10_000) });
    assert.equal(v1.status, 507);
    const v1Body = await v1.json() as Record<string, unknown>;
    assert.equal(v1Body.error, 'quota_exceeded');
    assert.equal(v1Body.outcome, 'not_applied');
    assert.equal(v1Body.quotaBytes, QUOTA);
    assert.equal((await fetch(`http://${leader}/v1/kv/q%2F0000`, { signal: AbortSignal.timeout(10_000) })).status, 200);

    // Deleting is always allowed; the history keeps the values until a compaction frees them.
    assert.equal(await ctl(all, ['del', 'q/', '--prefix']), `${accepted}\n`);
    const rev = JSON.parse(await ctl([leader], ['get', 'q/0000', '-w', 'json'])).header.revision;
    assert.equal((await gatewayPut(leader, 'q/after-delete', VALUE)).status, 429, 'deleted values still held by the history');
    await ctl([leader], ['compact', String(rev)]);
    assert.equal((await gatewayPut(leader, 'q/after-compact', VALUE)).status, 200);
    assert.equal(await ctl([leader], ['alarm', 'list']), '');
    const freed = JSON.parse(await ctl([leader], ['endpoint', 'status', '-w', 'json']))[0].Status;
    // What remains: the tombstones at the compaction revision (etcd keeps them too) and the new key.
    assert.ok(freed.dbSize < QUOTA / 4, `dbSize after compaction ${freed.dbSize}`);
    assert.equal(freed.errors, undefined);
  });
});
