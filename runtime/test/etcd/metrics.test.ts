/**
 * etcd's metric names on a runtime member (server/etcd-metrics.ts, api/etcd/grpc-metrics.ts): every name we export
 * under etcd's vocabulary has the type and label names a real etcd 3.4 gives it (so etcd's alerting rules and
 * dashboards read both alike), and the values follow the member: a leader, its changes, committed and applied
 * proposals, fsyncs, keys, the quota, and gRPC calls counted by method and status code.
 * Ports 24840-24845 (runtime) and 24850-24855 (etcd).
 */
import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { etcdctl, startEtcd, startRuntime, Target } from './etcd-clients';

/** The etcd 3.4 names this runtime exports. */
const ETCD_NAMES = [
  'etcd_server_has_leader', 'etcd_server_is_leader', 'etcd_server_is_learner', 'etcd_server_id', 'etcd_server_version',
  'etcd_server_leader_changes_seen_total', 'etcd_server_proposals_committed_total', 'etcd_server_proposals_applied_total',
  'etcd_server_proposals_pending', 'etcd_server_proposals_failed_total', 'etcd_disk_wal_fsync_duration_seconds',
  'etcd_mvcc_db_total_size_in_bytes', 'etcd_mvcc_db_total_size_in_use_in_bytes', 'etcd_server_quota_backend_bytes',
  'etcd_debugging_mvcc_keys_total', 'grpc_server_started_total', 'grpc_server_handled_total',
  'etcd_network_peer_sent_failures_total', 'etcd_network_peer_sent_bytes_total',
];

interface Family { type: string; labels: Set<string>; samples: { name: string; labels: Record<string, string>; value: number }[] }

/** Parses a Prometheus text exposition into families by name (enough for these checks). */
function parse(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) families.set(name, f = { type: '', labels: new Set(), samples: [] });
    return f;
  };
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) { family(type[1]).type = type[2]; continue; }
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) continue;
    const name = sample[1].replace(/_(bucket|sum|count)$/, '');
    const base = families.has(sample[1]) ? sample[1] : name;
    const labels: Record<string, string> = {};
    for (const m of (sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]] = m[2];
    const f = family(base);
    for (const l of Object.keys(labels)) if (l !== 'le') f.labels.add(l);
    f.samples.push({ name: sample[1], labels, value: Number(sample[3]) });
  }
  return families;
}

async function scrape(endpoint: string): Promise<Map<string, Family>> {
  const res = await fetch(`http://${endpoint}/metrics`);
  assert.equal(res.status, 200);
  return parse(await res.text());
}

/** The first sample named `name` (a histogram's `_count` too) whose labels include `labels`. */
const value = (f: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined =>
  (f.get(name) ?? f.get(name.replace(/_(bucket|sum|count)$/, '')))?.samples
    .find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('etcd metric names on a runtime member', () => {
  let runtime: Target;
  let etcd: Target | undefined;
  before(async () => {
    runtime = await startRuntime(24840, ['--quota-backend-bytes', String(64 * 1024 * 1024)]);
    etcd = await startEtcd(24850);
  }, { timeout: 40_000 });
  after(async () => {
    await runtime?.close();
    await etcd?.close();
  });

  /** Writes two keys, reads one, and makes one call fail with OUT_OF_RANGE (a future revision). */
  async function traffic(t: Target): Promise<void> {
    const ep = [t.endpoints[t.leaderIndex]];
    for (const [k, v] of [['m/a', '1'], ['m/b', '2']]) assert.equal((await etcdctl(ep, ['put', k, v])).code, 0);
    assert.equal((await etcdctl(ep, ['get', 'm/a'])).code, 0);
    assert.notEqual((await etcdctl(ep, ['get', 'm/a', '--rev=999999'])).code, 0);
  }

  it('follows the member: one leader, commits and applies, fsyncs, keys, quota, gRPC starts', { timeout: 30_000 }, async () => {
    await traffic(runtime);
    const all = await Promise.all(runtime.endpoints.map(scrape));
    assert.deepEqual(all.map((f) => value(f, 'etcd_server_has_leader')), [1, 1, 1]);
    assert.equal(all.reduce((n, f) => n + value(f, 'etcd_server_is_leader')!, 0), 1);
    assert.ok(all.every((f) => f.get('etcd_network_peer_sent_bytes_total')!.samples.length === 2), 'bytes sent to each peer');
    const leader = all[runtime.leaderIndex];
    assert.equal(value(leader, 'etcd_server_is_leader'), 1);
    assert.equal(value(leader, 'etcd_server_is_learner'), 0);
    assert.ok(value(leader, 'etcd_server_leader_changes_seen_total')! >= 1);
    assert.ok(value(leader, 'etcd_server_proposals_committed_total')! >= value(leader, 'etcd_server_proposals_applied_total')!);
    assert.ok(value(leader, 'etcd_server_proposals_applied_total')! >= 4);
    assert.ok(value(leader, 'etcd_disk_wal_fsync_duration_seconds_count')! > 0);
    assert.equal(value(leader, 'etcd_debugging_mvcc_keys_total'), 2);
    assert.equal(value(leader, 'etcd_server_quota_backend_bytes'), 64 * 1024 * 1024);
    assert.ok(value(leader, 'etcd_mvcc_db_total_size_in_bytes')! > 0);
    assert.equal(value(leader, 'etcd_server_version', { server_version: '3.4.0' }), 1);
    const started = value(leader, 'grpc_server_started_total', { grpc_method: 'Put', grpc_type: 'unary' })!;
    const handled = value(leader, 'grpc_server_handled_total', { grpc_method: 'Put', grpc_code: 'OK' })!;
    assert.ok(started >= 2 && handled === started, `Put started ${started}, handled OK ${handled}`);
    // A streaming call: LeaseKeepAlive (bidi) is counted as it starts.
    const ep = [runtime.endpoints[runtime.leaderIndex]];
    const lease = /lease ([0-9a-f]+) granted/.exec((await etcdctl(ep, ['lease', 'grant', '60'])).stdout)![1];
    assert.equal((await etcdctl(ep, ['lease', 'keep-alive', '--once', lease])).code, 0);
    const later = await scrape(ep[0]);
    assert.ok(value(later, 'grpc_server_started_total', { grpc_method: 'LeaseKeepAlive', grpc_type: 'bidi_stream', grpc_service: 'etcdserverpb.Lease' })! >= 1);
  });

  it('gives each name the type and label names etcd 3.4 gives it (with a member down, for the send failures)', { timeout: 30_000 }, async (t) => {
    if (!etcd) { t.skip('etcd is not installed'); return; }
    await traffic(runtime);
    await traffic(etcd);
    // A member down: the leader's sends to it fail (etcd_network_peer_sent_failures_total appears in etcd then).
    const down = (runtime.leaderIndex + 1) % 3;
    await runtime.kill(down);
    await etcd.kill((etcd.leaderIndex + 1) % 3);
    await traffic(runtime);
    await traffic(etcd);
    await new Promise((r) => setTimeout(r, 2000));
    const ours = await scrape(runtime.endpoints[runtime.leaderIndex]);
    const theirs = await scrape(etcd.endpoints[etcd.leaderIndex]);
    for (const name of ETCD_NAMES) {
      const [o, e] = [ours.get(name), theirs.get(name)];
      assert.ok(e, `etcd 3.4 exports ${name}`);
      assert.ok(o, `the runtime exports ${name}`);
      assert.equal(o.type, e.type, `${name}: type`);
      assert.deepEqual([...o.labels].sort(), [...e.labels].sort(), `${name}: label names`);
    }
    // Both count the failures to the member that is down, labelled by its id in hex.
    for (const f of [ours, theirs]) assert.ok(f.get('etcd_network_peer_sent_failures_total')!.samples.some((x) => x.value > 0));
    assert.ok(value(ours, 'etcd_network_peer_sent_failures_total', { To: (down + 1).toString(16) })! > 0);
    // Both count the same calls under the same labels.
    for (const f of [ours, theirs]) {
      assert.ok(value(f, 'grpc_server_handled_total', { grpc_method: 'Put', grpc_service: 'etcdserverpb.KV', grpc_type: 'unary', grpc_code: 'OK' })! >= 2);
      assert.ok(value(f, 'grpc_server_handled_total', { grpc_method: 'Range', grpc_code: 'OutOfRange' })! >= 1);
    }
  });
});
