/**
 * The client API and operations endpoints against a real three-member cluster (three processes
 * on loopback, ports 22000-22005): every documented status code of docs/api.md.
 */
import * as assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { keepAliveAgent, keyUrl, kvRequest } from '../support/kv-client';
import { KvCluster, KvMember } from '../support/kv-cluster';

let cluster: KvCluster;
let leader: KvMember;
let follower: KvMember;
const agent = keepAliveAgent(16);

before(async () => {
  cluster = await KvCluster.start({ size: 3, basePort: 22000, args: ['--max-key-bytes', '32', '--max-value-bytes', '1024', '--max-list-items', '5'] });
  leader = await cluster.waitForLeader(10_000);
  follower = cluster.members.find((m) => m !== leader)!;
}, { timeout: 30_000 });

after(async () => {
  agent.destroy();
  await cluster?.close();
});

const json = (body: Buffer): any => JSON.parse(body.toString());

test('put, get, delete round trip with a binary value', { timeout: 20_000 }, async () => {
  const value = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
  const put = await kvRequest(keyUrl(leader.url, 'bin/ä b'), { method: 'PUT', body: value, agent });
  assert.equal(put.status, 200, put.body.toString());
  assert.equal(json(put.body).existed, false);
  assert.ok(Number(put.headers['x-raft-index']) > 0);
  const get = await kvRequest(keyUrl(leader.url, 'bin/ä b'), { agent });
  assert.equal(get.status, 200);
  assert.equal(get.headers['content-type'], 'application/octet-stream');
  assert.deepEqual(get.body, value);
  const del = await kvRequest(keyUrl(leader.url, 'bin/ä b'), { method: 'DELETE', agent });
  assert.equal(del.status, 200);
  assert.equal(json(del.body).deleted, true);
  const gone = await kvRequest(keyUrl(leader.url, 'bin/ä b'), { agent });
  assert.equal(gone.status, 404);
  assert.equal(json(gone.body).error, 'key_not_found');
});

test('a follower answers writes with 307 to the leader\'s client URL; reads are served locally', { timeout: 20_000 }, async () => {
  const r = await kvRequest(keyUrl(follower.url, 'redir'), { method: 'PUT', body: 'x', agent, maxRedirects: 0 });
  assert.equal(r.status, 307);
  assert.equal(r.headers.location, `${leader.url}/v1/kv/redir`);
  assert.equal(json(r.body).error, 'not_leader');
  const followed = await kvRequest(keyUrl(follower.url, 'redir'), { method: 'PUT', body: 'x', agent });
  assert.equal(followed.status, 200);
  // A linearizable read on a follower (ReadIndex through the leader) sees the acknowledged write at once.
  const lin = await kvRequest(keyUrl(follower.url, 'redir'), { agent });
  assert.equal(lin.status, 200);
  assert.equal(lin.body.toString(), 'x');
  const ser = await kvRequest(keyUrl(follower.url, 'redir', 'consistency=serializable'), { agent });
  assert.ok(ser.status === 200 || ser.status === 404);
});

test('compare-and-swap: prev=VALUE, prev_exist=false, and 412 with the current value', { timeout: 20_000 }, async () => {
  const url = (q: string): string => keyUrl(leader.url, 'cas', q);
  assert.equal((await kvRequest(url('prev_exist=false'), { method: 'PUT', body: 'one', agent })).status, 200);
  const again = await kvRequest(url('prev_exist=false'), { method: 'PUT', body: 'two', agent });
  assert.equal(again.status, 412);
  assert.equal(Buffer.from(json(again.body).current, 'base64').toString(), 'one');
  assert.equal((await kvRequest(url('prev=wrong'), { method: 'PUT', body: 'two', agent })).status, 412);
  assert.equal((await kvRequest(url('prev=one'), { method: 'PUT', body: 'tw%o', agent })).status, 200);
  assert.equal((await kvRequest(url(`prev=${encodeURIComponent('tw%o')}`), { method: 'DELETE', agent })).status, 200);
  assert.equal((await kvRequest(url(''), { agent })).status, 404);
});

test('listing by prefix is sorted, bounded by limit and --max-list-items', { timeout: 20_000 }, async () => {
  for (const k of ['ls/b', 'ls/a', 'ls/c', 'other']) {
    assert.equal((await kvRequest(keyUrl(leader.url, k), { method: 'PUT', body: k.toUpperCase(), agent })).status, 200);
  }
  const r = await kvRequest(`${leader.url}/v1/kv/?prefix=ls%2F&limit=2`, { agent });
  assert.equal(r.status, 200);
  const body = json(r.body);
  assert.deepEqual(body.items.map((i: any) => [i.key, Buffer.from(i.value, 'base64').toString()]), [['ls/a', 'LS/A'], ['ls/b', 'LS/B']]);
  assert.equal(body.more, true);
  assert.equal((await kvRequest(`${leader.url}/v1/kv/?prefix=ls&limit=6`, { agent })).status, 400);
});

test('bad requests get a 4xx with a JSON error body', { timeout: 20_000 }, async () => {
  const cases: [string, { method?: string; body?: Buffer | string }, number, string][] = [
    [keyUrl(leader.url, 'k'.repeat(33)), { method: 'PUT', body: 'x' }, 400, 'key_too_long'],
    [keyUrl(leader.url, 'big'), { method: 'PUT', body: Buffer.alloc(1025) }, 413, 'value_too_large'],
    [`${leader.url}/v1/kv/bad%zz`, {}, 400, 'bad_encoding'],
    [`${leader.url}/v1/kv/%ff%fe`, {}, 400, 'bad_encoding'],
    [`${leader.url}/v1/kv/`, {}, 400, 'bad_key'],
    [keyUrl(leader.url, 'k', 'consistency=eventual'), {}, 400, 'bad_query'],
    [keyUrl(leader.url, 'k', 'wat=1'), {}, 400, 'bad_query'],
    [keyUrl(leader.url, 'k', 'prev_exist=true'), { method: 'PUT', body: 'x' }, 400, 'bad_query'],
    [`${leader.url}/v2/keys/k`, {}, 404, 'not_found'],
    [keyUrl(leader.url, 'k'), { method: 'POST', body: 'x' }, 405, 'method_not_allowed'],
  ];
  for (const [url, opts, status, code] of cases) {
    const r = await kvRequest(url, { ...opts, agent: undefined });
    assert.equal(r.status, status, `${opts.method ?? 'GET'} ${url}: ${r.body.toString()}`);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(json(r.body).error, code);
    assert.equal(typeof json(r.body).message, 'string');
  }
  // A client still sending a large refused body gets the 413 (the member reads and drops the rest), not a reset.
  for (let i = 0; i < 3; i++) {
    const r = await kvRequest(keyUrl(leader.url, 'huge'), { method: 'PUT', body: Buffer.alloc(16 * 1024 * 1024), agent });
    assert.equal(r.status, 413, r.body.toString());
  }
  // A keep-alive connection still works after an error.
  assert.equal((await kvRequest(keyUrl(leader.url, 'after-errors'), { method: 'PUT', body: 'ok', agent })).status, 200);
});

test('/livez, /readyz and /metrics', { timeout: 20_000 }, async () => {
  for (const m of cluster.members) {
    assert.equal((await kvRequest(`${m.url}/livez`, { agent })).status, 200);
    // A follower is ready once it has applied what was committed when first asked: poll, bounded.
    const readyBy = Date.now() + 10_000;
    let ready = await kvRequest(`${m.url}/readyz`, { agent });
    while (ready.status !== 200 && Date.now() < readyBy) {
      await new Promise((r) => setTimeout(r, 100));
      ready = await kvRequest(`${m.url}/readyz`, { agent });
    }
    assert.equal(ready.status, 200, `${m.name}: ${ready.body.toString()}`);
  }
  const metrics = (await kvRequest(`${leader.url}/metrics`, { agent })).body.toString();
  for (const name of ['ha_raft_term', 'ha_raft_commit_index', 'ha_raft_applied_index', 'ha_raft_leader_changes_total',
    'ha_raft_proposal_duration_seconds_bucket', 'ha_raft_fsync_duration_seconds_count', 'ha_raft_is_leader 1']) {
    assert.ok(metrics.includes(name), `missing ${name} in\n${metrics}`);
  }
  assert.match(metrics, /ha_raft_fsync_duration_seconds_count [1-9]/);
  assert.match(metrics, /ha_raft_proposal_duration_seconds_count [1-9]/);
  // Memory under prom-client's names, so a dashboard or an alert on the pod's memory limit works unchanged.
  const rss = Number(/^process_resident_memory_bytes (\d+)$/m.exec(metrics)?.[1]);
  const heapUsed = Number(/^nodejs_heap_size_used_bytes (\d+)$/m.exec(metrics)?.[1]);
  assert.ok(rss > 20e6 && rss < 4e9 && heapUsed > 1e6 && heapUsed < rss, `rss ${rss}, heap used ${heapUsed}`);
  const lagMax = Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(metrics)?.[1]);
  assert.ok(lagMax >= 0 && lagMax < 10, `event-loop lag max ${lagMax}`);
});

test('logs are JSON lines', () => {
  const lines = leader.log().trim().split('\n').filter((l) => l.startsWith('{'));
  assert.ok(lines.length > 0);
  for (const l of lines) {
    const rec = JSON.parse(l);
    assert.equal(typeof rec.ts, 'string');
    assert.equal(typeof rec.msg, 'string');
    assert.equal(rec.member, leader.name);
  }
});
