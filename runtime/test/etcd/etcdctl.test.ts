/**
 * etcdctl 3.4 (gRPC) against a three-member runtime cluster, and the same suite against real etcd 3.4 when
 * it is installed, so every expectation here is etcd's behaviour (ports 23700-23705 and 23710-23715).
 * Each test uses its own key prefix, so the tests do not depend on each other's order.
 */
import * as assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { CtlProcess, etcdctl, startEtcd, startRuntime, Target } from './etcd-clients';
import { testsNeeding } from '../support/prerequisite';

const TARGETS: [string, () => Promise<Target | undefined>][] = [
  ['runtime', () => startRuntime(23700)],
  ['etcd 3.4', () => startEtcd(23710)],
];

for (const [label, start] of TARGETS) {
  describe(`etcdctl against ${label}`, () => {
    let t: Target | undefined;
    let all: string[];
    let follower: string[];
    const ctl = (args: string[], input?: string) => etcdctl(all, args, { input });
    const ok = async (args: string[], input?: string, endpoints = all): Promise<string> => {
      const r = await etcdctl(endpoints, args, { input });
      assert.equal(r.code, 0, `etcdctl ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
      return r.stdout;
    };
    // etcd's member and cluster IDs exceed 2^53: keep long integers as strings.
    const json = async (args: string[], endpoints = all): Promise<any> => JSON.parse((await ok([...args, '-w', 'json'], undefined, endpoints)).replace(/([:[,]\s*)(\d{16,})/g, '$1"$2"'));

    before(async () => {
      t = await start();
      if (!t) return;
      all = t.endpoints;
      follower = [t.endpoints[(t.leaderIndex + 1) % 3]];
    }, { timeout: 40_000 });
    after(async () => { await t?.close(); });

    const it = testsNeeding(() => t, 'etcd is not installed', 30_000);

    it('put and get: value, prefix, --rev, limit, sort, keys-only, count, prev-kv, delete', async () => {
      assert.equal((await ok(['put', 'kv/a', '1'])).trim(), 'OK');
      const r1 = await json(['put', 'kv/b', '2']);
      await ok(['put', 'kv/c', '3']);
      await ok(['put', 'kv/a', 'one']);
      assert.equal(await ok(['get', 'kv/a']), 'kv/a\none\n');
      assert.equal(await ok(['get', 'kv/', '--prefix']), 'kv/a\none\nkv/b\n2\nkv/c\n3\n');
      assert.equal(await ok(['get', 'kv/', '--prefix', '--keys-only']), 'kv/a\n\nkv/b\n\nkv/c\n\n');
      assert.equal(await ok(['get', 'kv/', '--prefix', '--limit', '2', '--print-value-only']), 'one\n2\n');
      assert.equal(await ok(['get', 'kv/', '--prefix', '--sort-by', 'MODIFY', '--order', 'DESCEND', '--keys-only']), 'kv/a\n\nkv/c\n\nkv/b\n\n');
      // The value of kv/a at the revision kv/b was written at: still the first value.
      assert.equal(await ok(['get', 'kv/a', `--rev=${r1.header.revision}`, '--print-value-only']), '1\n');
      const counted = await json(['get', 'kv/', '--prefix', '--limit', '1']);
      assert.equal(counted.count, 3);
      assert.equal(counted.more, true);
      const kv = counted.kvs[0];
      assert.equal(Buffer.from(kv.key, 'base64').toString(), 'kv/a');
      assert.equal(kv.version, 2);
      assert.ok(kv.mod_revision > kv.create_revision);
      assert.equal(await ok(['put', 'kv/b', 'two', '--prev-kv']), 'OK\nkv/b\n2\n');
      assert.equal(await ok(['del', 'kv/', '--prefix']), '3\n');
      assert.equal(await ok(['get', 'kv/', '--prefix']), '');
    });

    it('writes and reads through a follower (forwarded to the leader)', async () => {
      assert.equal((await ok(['put', 'fw/k', 'via-follower'], undefined, follower)).trim(), 'OK');
      assert.equal(await ok(['get', 'fw/k', '--print-value-only'], undefined, follower), 'via-follower\n');
      assert.equal(await ok(['get', 'fw/k', '--print-value-only', '--consistency=s'], undefined, follower), 'via-follower\n');
      assert.equal(await ok(['del', 'fw/k'], undefined, follower), '1\n');
    });

    it('txn in the interactive form: success and failure branches', async () => {
      await ok(['put', 'tx/k', 'v1']);
      const yes = await ok(['txn', '-i'], 'value("tx/k") = "v1"\n\nput tx/k v2\n\nput tx/k never\n\n');
      assert.match(yes, /^SUCCESS\n\nOK\n$/m);
      const no = await ok(['txn', '-i'], 'value("tx/k") = "v1"\n\nput tx/k never\n\nget tx/k\n\n');
      assert.match(no, /^FAILURE\n\ntx\/k\nv2\n$/m);
      const ver = await ok(['txn', '-i'], 'version("tx/k") > "1"\nmod("tx/nothing") = "0"\n\ndel tx/k\n\n\n');
      assert.match(ver, /^SUCCESS\n\n1\n$/m);
    });

    it('watch: live events on a prefix, and history replayed from --rev', async () => {
      const first = await json(['put', 'wa/x', 'old']);
      await ok(['put', 'wa/y', 'y1']);
      await ok(['del', 'wa/x']);
      const replay = new CtlProcess(all, ['watch', 'wa/', '--prefix', `--rev=${first.header.revision}`, '--prev-kv']);
      const live = new CtlProcess(follower, ['watch', 'wa/', '--prefix']);
      try {
        await replay.waitFor((o) => o.includes('DELETE'));
        // With --prev-kv etcdctl prints the previous pair before the event's own (a DELETE has no value).
        assert.equal(replay.output, 'PUT\nwa/x\nold\nPUT\nwa/y\ny1\nDELETE\nwa/x\nold\nwa/x\n\n');
        await new Promise((r) => setTimeout(r, 500)); // the live watcher is created
        await ok(['put', 'wa/z', 'z1']);
        await ok(['put', 'other', 'no']);
        await live.waitFor((o) => o.includes('z1'));
        await replay.waitFor((o) => o.includes('z1'));
        assert.equal(live.output, 'PUT\nwa/z\nz1\n');
      } finally {
        await replay.stop();
        await live.stop();
      }
    });

    it('lease: grant, attach, timetolive --keys, keep-alive, list, revoke deletes the keys', async () => {
      const grant = await ok(['lease', 'grant', '30']);
      const id = /lease ([0-9a-f]+) granted with TTL\(30s\)/.exec(grant)?.[1];
      assert.ok(id, grant);
      await ok(['put', 'ls/a', 'x', `--lease=${id}`]);
      await ok(['put', 'ls/b', 'y', `--lease=${id}`]);
      const ttl = await ok(['lease', 'timetolive', id, '--keys'], undefined, follower);
      const attached = new RegExp(`lease ${id} granted with TTL\\(30s\\), remaining\\((29|30)s\\), attached keys\\(\\[(.*)\\]\\)`).exec(ttl);
      assert.ok(attached, ttl);
      // etcd lists a lease's keys in map order: compare them as a set.
      assert.deepEqual(attached[2].split(' ').sort(), ['ls/a', 'ls/b']);
      assert.match(await ok(['lease', 'keep-alive', '--once', id], undefined, follower), new RegExp(`lease ${id} keepalived with TTL\\(30\\)`));
      assert.match(await ok(['lease', 'list']), new RegExp(`\\b${id}\\b`));
      assert.match(await ok(['lease', 'revoke', id]), new RegExp(`lease ${id} revoked`));
      assert.equal(await ok(['get', 'ls/', '--prefix']), '');
      assert.match(await ok(['lease', 'timetolive', id]), /already expired/);
    });

    it('lease: an expired lease deletes its keys; keep-alive keeps them', async () => {
      const short = /lease ([0-9a-f]+) granted/.exec(await ok(['lease', 'grant', '2']))![1];
      const kept = /lease ([0-9a-f]+) granted/.exec(await ok(['lease', 'grant', '2']))![1];
      await ok(['put', 'ex/gone', 'v', `--lease=${short}`]);
      await ok(['put', 'ex/kept', 'v', `--lease=${kept}`]);
      const keeper = new CtlProcess(follower, ['lease', 'keep-alive', kept]);
      try {
        await keeper.waitFor((o) => o.includes('keepalived'));
        const deadline = Date.now() + 10_000;
        while ((await ok(['get', 'ex/gone'])) !== '' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
        assert.equal(await ok(['get', 'ex/gone']), '', 'the unrenewed lease expired within 10 s');
        await new Promise((r) => setTimeout(r, 2500)); // longer than the TTL: only keep-alives hold it
        assert.equal(await ok(['get', 'ex/kept', '--print-value-only']), 'v\n');
      } finally {
        await keeper.stop();
      }
    }, 40_000);

    it('lock: a second holder waits until the first releases', async () => {
      const a = new CtlProcess(all, ['lock', 'lk']);
      let b: CtlProcess | undefined;
      try {
        await a.waitFor((o) => o.startsWith('lk/'));
        b = new CtlProcess(follower, ['lock', 'lk']);
        await new Promise((r) => setTimeout(r, 1500));
        assert.equal(b.output, '', 'the second locker must wait');
        await a.stop();
        await b.waitFor((o) => o.startsWith('lk/'));
      } finally {
        await a.stop();
        await b?.stop();
      }
      const ran = await ok(['lock', 'lk2', 'echo', 'ran-under-lock']);
      assert.equal(ran, 'ran-under-lock\n');
    });

    it('elect: a campaigner becomes leader; the next takes over when it resigns', async () => {
      const c1 = new CtlProcess(all, ['elect', 'el', 'cand1']);
      let c2: CtlProcess | undefined;
      let observer: CtlProcess | undefined;
      try {
        await c1.waitFor((o) => o.includes('cand1'));
        c2 = new CtlProcess(follower, ['elect', 'el', 'cand2']);
        // `elect -l` observes: it prints each new leader until stopped.
        observer = new CtlProcess(all, ['elect', '-l', 'el']);
        await observer.waitFor((o) => /^el\/[0-9a-f]+\ncand1\n$/.test(o));
        await c1.stop();
        await c2.waitFor((o) => o.includes('cand2'));
        await observer.waitFor((o) => o.endsWith('cand2\n'));
      } finally {
        await c1.stop();
        await c2?.stop();
        await observer?.stop();
      }
    });

    it('member list, endpoint status and endpoint health', async () => {
      const members = await ok(['member', 'list']);
      assert.equal(members.trim().split('\n').length, 3);
      for (const ep of all) assert.ok(members.includes(`http://${ep}`), `${ep} in\n${members}`);
      const status = await json(['endpoint', 'status']);
      assert.equal(status.length, 3);
      const leaders = new Set(status.map((s: any) => s.Status.leader));
      assert.equal(leaders.size, 1);
      assert.ok(status.some((s: any) => s.Status.header.member_id === [...leaders][0]));
      assert.match(status[0].Status.version, /^3\.4\./);
      const health = await ctl(['endpoint', 'health']);
      assert.equal(health.code, 0, health.stderr);
      assert.equal((health.stdout + health.stderr).match(/is healthy/g)?.length, 3);
    });

    it('endpoint status and hashkv with URL endpoints and --cluster (the URL is the HTTP/2 :authority)', async () => {
      const urls = all.map((ep) => `http://${ep}`);
      const byUrl = await json(['endpoint', 'status'], urls);
      assert.deepEqual(byUrl.map((s: any) => s.Endpoint), urls);
      const cluster = await json(['endpoint', 'status', '--cluster'], [urls[0]]);
      assert.deepEqual(cluster.map((s: any) => s.Endpoint).sort(), [...urls].sort());
      assert.equal(new Set(cluster.map((s: any) => s.Status.leader)).size, 1);
      const hashes = await json(['endpoint', 'hashkv', '--cluster'], [urls[1]]);
      assert.equal(hashes.length, 3);
      assert.equal((await ok(['defrag', '--cluster'], undefined, [urls[2]])).match(/Finished defragmenting etcd member/g)?.length, 3);
      // The same connection keeps working after its first request (the :authority is then an HPACK table index).
      assert.equal((await ok(['put', 'url/k', 'v'], undefined, [urls[2]])).trim(), 'OK');
      assert.equal(await ok(['get', 'url/k', '--print-value-only'], undefined, urls), 'v\n');
    });

    it('move-leader hands leadership to another member; endpoint hashkv agrees on every member', async () => {
      const status = await json(['endpoint', 'status']);
      const leaderId = BigInt(status[0].Status.leader);
      const leaderEp = status.find((s: any) => BigInt(s.Status.header.member_id) === leaderId).Endpoint;
      const target = status.find((s: any) => BigInt(s.Status.header.member_id) !== leaderId);
      const targetHex = BigInt(target.Status.header.member_id).toString(16);
      assert.match(await ok(['move-leader', targetHex], undefined, [leaderEp]), new RegExp(`Leadership transferred from \\w+ to ${targetHex}`));
      const moved = await json(['endpoint', 'status']);
      assert.ok(moved.every((s: any) => BigInt(s.Status.leader) === BigInt(target.Status.header.member_id)));
      await ok(['put', 'hk/k', 'v']);
      const deadline = Date.now() + 5000;
      let hashes: Set<string>;
      do {
        hashes = new Set((await json(['endpoint', 'hashkv'])).map((h: any) => String(h.HashKV.hash)));
      } while (hashes.size !== 1 && Date.now() < deadline);
      assert.equal(hashes.size, 1, 'every member hashes the same state');
    });

    it("errors carry etcd's messages: future revision, compacted revision, unknown lease", async () => {
      const put = await json(['put', 'er/k', 'v']);
      const future = await ctl(['get', 'er/k', `--rev=${put.header.revision + 1000}`]);
      assert.notEqual(future.code, 0);
      assert.match(future.stderr, /etcdserver: mvcc: required revision is a future revision/);
      await ok(['put', 'er/k', 'v2']);
      const now = (await json(['put', 'er/k', 'v3'])).header.revision;
      assert.match(await ok(['compaction', String(now)]), new RegExp(`compacted revision ${now}`));
      const old = await ctl(['get', 'er/k', `--rev=${put.header.revision}`]);
      assert.match(old.stderr, /etcdserver: mvcc: required revision has been compacted/);
      const lease = await ctl(['put', 'er/k', 'v', '--lease=12345']);
      assert.match(lease.stderr, /etcdserver: requested lease not found/);
    });
  });
}
