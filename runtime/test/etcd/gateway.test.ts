/**
 * The JSON gateway compared byte for byte with etcd 3.4's: the same script of requests goes to a fresh
 * runtime cluster (ports 23760-23765) and a fresh etcd cluster (23770-23775) and every answer must be the
 * same JSON (status code, field names, int64 as strings, base64 bytes, omitted defaults, error bodies),
 * after masking what legitimately differs: member and cluster IDs, the Raft term, lease IDs (etcd picks
 * random ones). Also: /version, /health, the /v3beta prefix, camelCase input, streaming /v3/watch.
 * Without etcd installed only the runtime's own checks run.
 */
import * as assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { startEtcd, startRuntime, Target } from './etcd-clients';
import { skipUnlessCi } from '../support/prerequisite';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** One gateway exchange: status and parsed JSON body. */
async function post(endpoint: string, path: string, body: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(`http://${endpoint}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        try { resolve({ status: res.statusCode!, json: JSON.parse(text) }); } catch { resolve({ status: res.statusCode!, json: text }); }
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${path} timed out`)));
    req.end(data);
  });
}

async function get(endpoint: string, path: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    request(`http://${endpoint}${path}`, { timeout: 5000 }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
    }).on('error', reject).end();
  });
}

/** Masks what differs legitimately between two clusters. */
function mask(v: any, leases: Map<string, string>): any {
  if (Array.isArray(v)) return v.map((x) => mask(x, leases));
  if (v === null || typeof v !== 'object') return v;
  const out: any = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === 'cluster_id' || k === 'member_id' || k === 'raft_term') {out[k] = '<id>';} else if ((k === 'ID' || k === 'lease') && typeof x === 'string') {
      if (!leases.has(x)) leases.set(x, `<lease${leases.size + 1}>`);
      out[k] = leases.get(x);
    } else {out[k] = mask(x, leases);}
  }
  return out;
}

/** The script: each step may use the lease ID granted earlier (`$lease`). */
const SCRIPT: [string, any][] = [
  ['/v3/kv/put', { key: b64('a'), value: b64('1') }],
  ['/v3/kv/put', { key: b64('a'), value: b64('2'), prev_kv: true }],
  ['/v3/kv/put', { key: b64('b'), value: b64('') }],
  ['/v3/kv/range', { key: b64('a') }],
  ['/v3/kv/range', { key: b64('a'), range_end: b64('c'), limit: 1 }],
  ['/v3/kv/range', { key: b64('a'), range_end: b64('c'), count_only: true }],
  ['/v3/kv/range', { key: b64('a'), range_end: b64('c'), keys_only: true, sort_order: 'DESCEND', sort_target: 'MOD' }],
  ['/v3/kv/range', { key: b64('a'), revision: '2' }],
  ['/v3/kv/range', { key: b64('zz') }],
  ['/v3/kv/range', { key: b64('a'), revision: 100 }],
  ['/v3/kv/range', { key: '' }],
  ['/v3/kv/txn', {
    compare: [{ key: b64('a'), target: 'VALUE', result: 'EQUAL', value: b64('2') }],
    success: [{ request_put: { key: b64('a'), value: b64('3') } }, { request_range: { key: b64('b') } }],
    failure: [{ request_delete_range: { key: b64('a') } }],
  }],
  ['/v3/kv/txn', { compare: [{ key: b64('a'), target: 'MOD', result: 'LESS', mod_revision: '2' }], failure: [{ request_range: { key: b64('a') } }] }],
  ['/v3/kv/txn', { success: [{ request_put: { key: b64('d'), value: b64('x') } }, { request_put: { key: b64('d'), value: b64('y') } }] }],
  ['/v3/lease/grant', { TTL: 60 }],
  ['/v3/kv/put', { key: b64('l'), value: b64('v'), lease: '$lease' }],
  ['/v3/kv/put', { key: b64('l2'), value: b64('v'), lease: '999' }],
  ['/v3/lease/keepalive', { ID: '$lease' }],
  ['/v3/lease/timetolive', { ID: '$lease', keys: true }],
  ['/v3/kv/lease/timetolive', { ID: '123' }],
  ['/v3/lease/revoke', { ID: '$lease' }],
  ['/v3/lease/revoke', { ID: '$lease' }],
  ['/v3/kv/range', { key: b64('l') }],
  ['/v3/kv/deleterange', { key: b64('a'), range_end: b64('c'), prev_kv: true }],
  ['/v3/kv/compaction', { revision: 3 }],
  ['/v3/kv/range', { key: b64('a'), revision: 2 }],
  ['/v3beta/kv/range', { key: b64('d') }],
  ['/v3/kv/range', { key: b64('d'), rangeEnd: b64('e'), keysOnly: true }],
];

async function runScript(t: Target): Promise<{ status: number; json: any }[]> {
  const ep = t.endpoints[t.leaderIndex];
  let lease = '0';
  const out = [];
  for (const [path, body] of SCRIPT) {
    const b = JSON.parse(JSON.stringify(body).replace(/"\$lease"/g, JSON.stringify(lease)));
    let r = await post(ep, path, b);
    if (path === '/v3/lease/keepalive' && r.json.result?.TTL !== undefined) {
      r = { status: r.status, json: { result: { ...r.json.result, TTL: r.json.result.TTL <= '60' ? '<ttl>' : r.json.result.TTL } } };
    }
    if (path === '/v3/lease/timetolive' && r.json.TTL) r.json.TTL = Number(r.json.TTL) >= 58 ? '<ttl>' : r.json.TTL;
    if (path === '/v3/lease/grant') lease = r.json.ID;
    out.push(r);
  }
  return out;
}

let runtime: Target;
let etcd: Target | undefined;

before(async () => {
  runtime = await startRuntime(23760);
  etcd = await startEtcd(23770);
}, { timeout: 60_000 });

after(async () => {
  await runtime?.close();
  await etcd?.close();
});

test('the gateway answers every request of the script exactly as etcd 3.4 does', { timeout: 60_000 }, async (t) => {
  const ours = await runScript(runtime);
  if (!etcd) { skipUnlessCi(t, 'etcd is not installed: no reference to compare with'); return; }
  const theirs = await runScript(etcd);
  const leasesA = new Map<string, string>();
  const leasesB = new Map<string, string>();
  for (let i = 0; i < SCRIPT.length; i++) {
    assert.deepEqual({ status: ours[i].status, json: mask(ours[i].json, leasesA) }, { status: theirs[i].status, json: mask(theirs[i].json, leasesB) },
      `step ${i}: POST ${SCRIPT[i][0]} ${JSON.stringify(SCRIPT[i][1])}`);
  }
});

test('/version and /health as etcd answers them; GET on a gateway path is refused', { timeout: 10_000 }, async () => {
  const ep = runtime.endpoints[0];
  assert.deepEqual((await get(ep, '/version')).json, { etcdserver: '3.4.0', etcdcluster: '3.4.0' });
  assert.deepEqual(await get(ep, '/health'), { status: 200, json: { health: 'true' } });
  assert.equal((await get(ep, '/v3/kv/range')).status, 405);
});

test('streaming /v3/watch: created, then events as newline-delimited {"result": ...} objects, from a follower', { timeout: 20_000 }, async () => {
  const follower = runtime.endpoints[(runtime.leaderIndex + 1) % 3];
  const lines: any[] = [];
  const req = request(`http://${follower}/v3/watch`, { method: 'POST' }, (res) => {
    let buf = '';
    res.on('data', (c: Buffer) => {
      buf += c.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        lines.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
    });
  });
  req.end(JSON.stringify({ create_request: { key: b64('w/'), range_end: b64('w0'), prev_kv: true } }));
  try {
    const until = async (n: number): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (lines.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    };
    await until(1);
    assert.equal(lines[0].result.created, true);
    await post(runtime.endpoints[runtime.leaderIndex], '/v3/kv/put', { key: b64('w/k'), value: b64('1') });
    await post(follower, '/v3/kv/put', { key: b64('w/k'), value: b64('2') });
    await post(follower, '/v3/kv/deleterange', { key: b64('w/k') });
    await until(4);
    const events = lines.slice(1).flatMap((l) => l.result.events);
    assert.deepEqual(events.map((e: any) => [e.type ?? 'PUT', Buffer.from(e.kv.key, 'base64').toString(), e.prev_kv ? Buffer.from(e.prev_kv.value, 'base64').toString() : null]),
      [['PUT', 'w/k', null], ['PUT', 'w/k', '1'], ['DELETE', 'w/k', '2']]);
  } finally {
    req.destroy();
  }
});
