/**
 * Membership with stock etcdctl 3.4 (issue 12): `member list/add --learner/update/promote/remove` against three
 * runtime members, and the same suite against real etcd 3.4, so every expectation here is etcd's behaviour. The
 * new member is started from the variables `etcdctl member add` prints (ETCD_NAME, ETCD_INITIAL_CLUSTER, ...),
 * as an operator would. The tests run in order and share the cluster. Ports 24110-24119 (runtime) and
 * 24130-24139 (etcd).
 */
import * as assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { join } from 'path';
import { etcdctl } from './etcd-clients';
import { EtcdCluster, EtcdMember, etcdVersion } from '../support/etcd-cluster';
import { kvRequest } from '../support/kv-client';
import { KvCluster, KvMember, sleep } from '../support/kv-cluster';
import { testsNeeding } from '../support/prerequisite';

/** One cluster under test, seen as etcdctl sees it: client endpoints (host:port). */
interface Harness {
  /** Every member name is `${prefix}N`. */
  readonly prefix: string;
  /** Endpoints of the running members, in start order. */
  readonly endpoints: string[];
  leader(): Promise<string>;
  /** Starts a new member from what `etcdctl member add` printed. */
  startJoiner(printed: Record<string, string>, clientPort: number, peerPort: number): void;
  kill(endpoint: string): Promise<void>;
  close(): Promise<void>;
}

const ep = (port: number): string => `127.0.0.1:${port}`;

async function runtimeHarness(basePort: number): Promise<Harness> {
  const cluster = await KvCluster.start({ size: 3, basePort });
  const endpoints = cluster.members.map((m) => ep(m.clientPort));
  return {
    prefix: 'kv-',
    endpoints,
    leader: async () => ep((await cluster.waitForLeader(10_000)).clientPort),
    startJoiner: (printed, clientPort, peerPort) => {
      const name = printed.ETCD_NAME;
      const dataDir = join(cluster.dir, name);
      const m = new KvMember(name, 0, clientPort, peerPort, dataDir, join(cluster.dir, `${name}.log`), () => [
        '--data-dir', dataDir, '--listen-client', ep(clientPort), '--listen-peer', ep(peerPort),
        '--advertise-client', `http://${ep(clientPort)}`,
      ], { HA_RAFT_LOG_LEVEL: 'info', ...printed });
      cluster.members.push(m);
      m.start();
      endpoints.push(ep(clientPort));
    },
    kill: async (endpoint) => {
      await cluster.members.find((m) => ep(m.clientPort) === endpoint)?.kill();
      endpoints.splice(endpoints.indexOf(endpoint), 1);
    },
    close: () => cluster.close(),
  };
}

async function etcdHarness(basePort: number): Promise<Harness | undefined> {
  if (!etcdVersion()) return undefined;
  const cluster = await EtcdCluster.start(3, basePort);
  // etcd refuses membership changes ("unhealthy cluster") until every member has been connected for its
  // HealthInterval (5 s); the runtime has no such wait.
  await sleep(5_500);
  const endpoints = cluster.members.map((m) => ep(m.clientPort));
  return {
    prefix: 'e',
    endpoints,
    leader: async () => ep((await cluster.waitForLeader(10_000)).clientPort),
    startJoiner: (printed, clientPort, peerPort) => {
      const name = printed.ETCD_NAME;
      const m = new EtcdMember(name, clientPort, peerPort, () => [
        '--name', name, '--data-dir', join(cluster.dir, name),
        '--listen-client-urls', `http://${ep(clientPort)}`, '--advertise-client-urls', `http://${ep(clientPort)}`,
        '--listen-peer-urls', `http://${ep(peerPort)}`, '--initial-advertise-peer-urls', printed.ETCD_INITIAL_ADVERTISE_PEER_URLS,
        '--initial-cluster', printed.ETCD_INITIAL_CLUSTER, '--initial-cluster-state', printed.ETCD_INITIAL_CLUSTER_STATE,
        '--initial-cluster-token', `bench-${basePort}`, '--log-level', 'error', '--logger', 'zap',
      ], join(cluster.dir, `${name}.log`));
      cluster.members.push(m);
      m.start('existing');
      endpoints.push(ep(clientPort));
    },
    kill: async (endpoint) => {
      await cluster.members.find((m) => ep(m.clientPort) === endpoint)?.kill();
      endpoints.splice(endpoints.indexOf(endpoint), 1);
    },
    close: () => cluster.close(),
  };
}

const TARGETS: [string, () => Promise<Harness | undefined>, number][] = [
  ['runtime', () => runtimeHarness(24110), 24110],
  ['etcd 3.4', () => etcdHarness(24130), 24130],
];

interface Member { ID: string; name?: string; peerURLs?: string[]; clientURLs?: string[]; isLearner?: boolean }

for (const [label, start, basePort] of TARGETS) {
  describe(`etcdctl member commands against ${label}`, () => {
    let h: Harness | undefined;
    const newClient = basePort + 6;
    const newPeer = basePort + 7;
    let newId = '';
    let etcdKeptDownMember = false;

    const run = (args: string[], endpoints?: string[]) => etcdctl(endpoints ?? h!.endpoints, args, { timeoutMs: 20_000 });
    const ok = async (args: string[], endpoints?: string[]): Promise<string> => {
      const r = await run(args, endpoints);
      assert.equal(r.code, 0, `etcdctl ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
      return r.stdout;
    };
    /** etcdctl fails and prints etcd's error message. */
    const refused = async (args: string[], message: string): Promise<void> => {
      const r = await run(args);
      assert.notEqual(r.code, 0, `etcdctl ${args.join(' ')} should fail: ${r.stdout}`);
      assert.ok(r.stderr.includes(`Error: ${message}`), `etcdctl ${args.join(' ')}: expected "${message}", got: ${r.stderr}`);
    };
    /** `member list -w json`, ids as hex strings (etcd's exceed 2^53; etcdctl takes and prints them in hex). */
    const members = async (endpoints?: string[]): Promise<Member[]> => {
      const out = (await ok(['member', 'list', '-w', 'json'], endpoints)).replace(/("ID":\s*)(\d+)/g, '$1"$2"');
      return (JSON.parse(out).members as Member[]).map((m) => ({ ...m, ID: BigInt(m.ID).toString(16) }));
    };
    /**
     * The leader's endpoint as etcdctl sees it: every endpoint's status names the same leader, twice in a row
     * 200 ms apart (so not one just before an election), and it is one of them.
     */
    const leader = async (): Promise<string> => {
      await h!.leader();
      const deadline = Date.now() + 15_000;
      let previous = '';
      let last = '';
      while (Date.now() < deadline) {
        const r = await run(['endpoint', 'status', '-w', 'json']);
        const rows = r.code === 0 ? JSON.parse(r.stdout.replace(/("(?:member_id|leader)":\s*)(\d+)/g, '$1"$2"')) as any[] : [];
        const leaders = new Set(rows.map((x) => String(x.Status.leader)));
        const at = rows.find((x) => String(x.Status.header.member_id) === String(x.Status.leader));
        const now = leaders.size === 1 && rows.length === h!.endpoints.length && at ? at.Endpoint as string : '';
        if (now && now === previous) return now;
        previous = now;
        last = r.stdout + r.stderr;
        await sleep(200);
      }
      return assert.fail(`no agreed leader within 15 s: ${last}`);
    };
    const idOf = async (endpoint: string): Promise<string> => {
      const out = (await ok(['endpoint', 'status', '-w', 'json'], [endpoint])).replace(/("member_id":\s*)(\d+)/g, '$1"$2"');
      return BigInt(JSON.parse(out)[0].Status.header.member_id).toString(16);
    };
    /**
     * Retries `args` until etcdctl succeeds (a condition the cluster reaches in its own time), as long as each
     * failure matches `retryOn`; fails with the last error otherwise or at the deadline.
     */
    const eventually = async (args: string[], timeoutMs: number, endpoints?: string[], retryOn = /./): Promise<string> => {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      for (;;) {
        const r = await run(args, endpoints);
        if (r.code === 0) return r.stdout;
        last = r.stderr;
        if (!retryOn.test(last)) assert.fail(`etcdctl ${args.join(' ')} failed: ${last}`);
        if (Date.now() > deadline) assert.fail(`etcdctl ${args.join(' ')} did not succeed within ${timeoutMs} ms; last: ${last}`);
        await sleep(250);
      }
    };

    /**
     * Promotes learner `id` once it is in sync, retrying while the leader says it is not. An attempt whose answer
     * was lost may have applied (etcd then says "can only promote a learner member"): the member list decides.
     */
    const promoteWhenInSync = async (id: string): Promise<void> => {
      const deadline = Date.now() + 30_000;
      const seen = new Set<string>();
      for (;;) {
        const r = await run(['member', 'promote', id]);
        if (r.code === 0) return;
        seen.add(/Error: (.*)/.exec(r.stderr)?.[1] ?? r.stderr);
        if (!(await members()).find((m) => m.ID === id)?.isLearner) return;
        if (Date.now() > deadline) assert.fail(`learner ${id} not promoted within 30 s; errors seen: ${[...seen].join(' | ')}`);
        await sleep(250);
      }
    };

    before(async () => { h = await start(); }, { timeout: 40_000 });
    after(async () => { await h?.close(); });

    const it = testsNeeding(() => h, 'etcd is not installed', 60_000);

    it('member list: every voter with its name, peer and client URLs; ids round-trip through etcdctl', async () => {
      // A slow initial member may find the other two already bootstrapped and join as a new incarnation
      // (a learner promoted once caught up, operations.md): wait for three named voters.
      let list: Member[] = [];
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        list = await members();
        if (list.length === 3 && list.every((m) => m.name && !m.isLearner && m.clientURLs?.length)) break;
        await sleep(250);
      }
      assert.equal(list.length, 3, JSON.stringify(list));
      assert.deepEqual(list.map((m) => m.clientURLs?.[0]).sort(), h!.endpoints.map((e) => `http://${e}`).sort());
      for (const m of list) {
        assert.match(m.name ?? '', new RegExp(`^${h!.prefix}\\d$`));
        assert.match(m.peerURLs?.[0] ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
        assert.ok(!m.isLearner, `${m.name} is a voter`);
      }
      // The simple format prints ids in hex; each member's own header names the same id.
      const simple = (await ok(['member', 'list'])).trim().split('\n').map((line) => line.split(', ')[0]).sort();
      assert.deepEqual(simple, list.map((m) => m.ID).sort());
      const own = await Promise.all(h!.endpoints.map(idOf));
      assert.deepEqual(own.sort(), simple);
    });

    it('refusals carry etcd\'s errors: unknown member, promoting a voter, a peer URL in use', async () => {
      const [first, second] = await members();
      await refused(['member', 'promote', first.ID], 'etcdserver: can only promote a learner member');
      await refused(['member', 'remove', 'abcdef1234'], 'etcdserver: member not found');
      await refused(['member', 'promote', 'abcdef1234'], 'etcdserver: member not found');
      await refused(['member', 'update', 'abcdef1234', `--peer-urls=http://${ep(newPeer)}`], 'etcdserver: member not found');
      await refused(['member', 'add', `${h!.prefix}9`, `--peer-urls=${first.peerURLs![0]}`], 'etcdserver: Peer URLs already exists');
      await refused(['member', 'update', second.ID, `--peer-urls=${first.peerURLs![0]}`], 'etcdserver: Peer URLs already exists');
      // The JSON gateway answers the same, as grpc-gateway maps the code.
      const r = await kvRequest(`http://${h!.endpoints[0]}/v3/cluster/member/promote`, { method: 'POST', body: '{"ID":"11259375"}', timeoutMs: 5000 });
      assert.equal(r.status, 404, r.body.toString());
      assert.deepEqual({ ...JSON.parse(r.body.toString()), message: undefined },
        { error: 'etcdserver: member not found', code: 5, message: undefined });
      assert.equal((await members()).length, 3, 'nothing changed');
    });

    it('member add --learner, update its peer URL, start it from the printed variables, promote it once in sync', async () => {
      const name = `${h!.prefix}3`;
      const wrongPeer = `http://${ep(newPeer + 50)}`;
      const out = await ok(['member', 'add', name, `--peer-urls=${wrongPeer}`, '--learner']);
      newId = /Member\s+([0-9a-f]+) added to cluster/.exec(out)?.[1] ?? '';
      assert.ok(newId, out);
      const printed = Object.fromEntries([...out.matchAll(/^(ETCD_[A-Z_]+)="(.*)"$/gm)].map((m) => [m[1], m[2]]));
      assert.equal(printed.ETCD_NAME, name);
      assert.equal(printed.ETCD_INITIAL_CLUSTER_STATE, 'existing');
      assert.ok(printed.ETCD_INITIAL_CLUSTER.includes(`${name}=${wrongPeer}`), printed.ETCD_INITIAL_CLUSTER);

      const unstarted = (await members()).find((m) => m.ID === newId);
      assert.deepEqual({ name: unstarted?.name ?? '', learner: unstarted?.isLearner, peer: unstarted?.peerURLs },
        { name: '', learner: true, peer: [wrongPeer] }, 'listed unstarted, as a learner');
      await refused(['member', 'promote', newId], 'etcdserver: can only promote a learner member which is in sync with leader');

      // The operator got the port wrong: fix it before starting the member (etcd checks it against the cluster).
      const rightPeer = `http://${ep(newPeer)}`;
      await ok(['member', 'update', newId, `--peer-urls=${rightPeer}`]);
      const fixed = Object.fromEntries(Object.entries(printed).map(([k, v]) => [k, v.split(wrongPeer).join(rightPeer)]));
      const started = Date.now();
      h!.startJoiner(fixed, newClient, newPeer);
      const isLearner = async (): Promise<boolean> =>
        !!JSON.parse(await eventually(['endpoint', 'status', '-w', 'json'], 20_000, [ep(newClient)]))[0].Status.isLearner;
      /** Polls the new member's own Status until isLearner is `want` (it learns its role as it applies the membership). */
      const selfSays = async (want: boolean): Promise<void> => {
        const by = Date.now() + 10_000;
        let now = await isLearner();
        while (now !== want && Date.now() < by) { await sleep(100); now = await isLearner(); }
        assert.equal(now, want, 'Status.isLearner on the new member itself within 10 s');
      };
      // etcd 3.4.23 answered isLearner false from its learner on every run here; the runtime reports its applied role.
      if (h!.prefix === 'kv-') await selfSays(true);

      await promoteWhenInSync(newId);
      process.stderr.write(`${label}: new member started, caught up and promoted in ${Date.now() - started} ms\n`);
      // etcd lists the name and client URL once the member has published them (it may be promoted before).
      let joined: Member | undefined;
      const deadline = Date.now() + 15_000;
      while (!(joined = (await members()).find((m) => m.ID === newId))?.name && Date.now() < deadline) await sleep(250);
      assert.deepEqual({ name: joined?.name, learner: !!joined?.isLearner, peer: joined?.peerURLs, client: joined?.clientURLs },
        { name, learner: false, peer: [rightPeer], client: [`http://${ep(newClient)}`] });
      await refused(['member', 'promote', newId], 'etcdserver: can only promote a learner member');
      await selfSays(false);

      // Writes through the new member (forwarded to the leader) and reads through it and the others.
      assert.equal((await ok(['put', 'mb/joined', name], [ep(newClient)])).trim(), 'OK');
      assert.equal(await ok(['get', 'mb/joined', '--print-value-only'], [ep(newClient)]), `${name}\n`);
      assert.equal(await ok(['get', 'mb/joined', '--print-value-only'], [h!.endpoints[0]]), `${name}\n`);
    });

    it('member remove of the leader: it leaves, the other three keep serving', async () => {
      const leaderEp = await leader();
      const leaderId = await idOf(leaderEp);
      // etcd refuses ("unhealthy cluster") until the promoted member has been connected for 5 s; the runtime does not wait.
      const out = await eventually(['member', 'remove', leaderId], 15_000, h!.endpoints.filter((e) => e !== leaderEp), /unhealthy cluster/);
      assert.match(out, new RegExp(`Member\\s+${leaderId} removed from cluster`));
      await h!.kill(leaderEp);
      const left = await members();
      assert.deepEqual(left.map((m) => m.ID).sort(), (await Promise.all(h!.endpoints.map(idOf))).sort());
      assert.ok(left.some((m) => m.ID === newId));
      await eventually(['put', 'mb/after-remove', 'x'], 15_000);
      for (const e of h!.endpoints) assert.equal(await ok(['get', 'mb/after-remove', '--print-value-only'], [e]), 'x\n');
    });

    it('removing a live voter while another is down would break the active quorum: refused (unhealthy cluster); the down member may go', async () => {
      const leaderEp = await leader();
      const [down, live] = h!.endpoints.filter((e) => e !== leaderEp);
      const downId = await idOf(down);
      const liveId = await idOf(live);
      await h!.kill(down);
      // etcd counts a peer as down once its stream breaks (at once for a killed process); give it a moment.
      await sleep(2_000);
      await refused(['member', 'remove', liveId], 'etcdserver: unhealthy cluster');
      const r = await run(['member', 'remove', downId]);
      if (r.code !== 0 && h!.prefix === 'e' && /deadline exceeded|timed out/.test(r.stderr)) {
        // etcd 3.4.23 times out here on every run on this machine (the killed member was a voter of a 3-member
        // cluster; 2 remain); its docs say a down member may be removed. Not the runtime's behaviour: stop here.
        etcdKeptDownMember = true;
        return;
      }
      assert.equal(r.code, 0, `member remove ${downId} (down) failed: ${r.stderr}`);
      assert.deepEqual((await members()).map((m) => m.ID).sort(), [liveId, await idOf(leaderEp)].sort());
      await eventually(['put', 'mb/two-left', 'y'], 15_000);
      assert.equal(await ok(['get', 'mb/two-left', '--print-value-only'], [live]), 'y\n');
    });

    it('member add without --learner: a member that serves once started (the runtime adds a learner it promotes by itself)', async () => {
      if (etcdKeptDownMember) return; // etcd still counts the member it would not remove: it refuses with "unhealthy cluster"
      const name = `${h!.prefix}4`;
      const peer = `http://${ep(basePort + 9)}`;
      const out = await ok(['member', 'add', name, `--peer-urls=${peer}`]);
      const id = /Member\s+([0-9a-f]+) added to cluster/.exec(out)?.[1] ?? '';
      const added = (await members()).find((m) => m.ID === id);
      // etcd makes it a voter at once (the quorum now counts a member with no process); the runtime never does.
      assert.equal(!!added?.isLearner, h!.prefix === 'kv-', `as added: ${JSON.stringify(added)}`);
      const printed = Object.fromEntries([...out.matchAll(/^(ETCD_[A-Z_]+)="(.*)"$/gm)].map((m) => [m[1], m[2]]));
      const started = Date.now();
      h!.startJoiner(printed, basePort + 8, basePort + 9);
      const deadline = Date.now() + 30_000;
      let now: Member | undefined;
      while (((now = (await members()).find((m) => m.ID === id))?.isLearner || !now?.name) && Date.now() < deadline) await sleep(250);
      assert.deepEqual({ name: now?.name, learner: !!now?.isLearner }, { name, learner: false }, 'a named voter within 30 s');
      process.stderr.write(`${label}: member added without --learner was a named voter ${Date.now() - started} ms after its start\n`);
      await eventually(['put', 'mb/fifth', 'z'], 15_000, [ep(basePort + 8)]);
      assert.equal(await ok(['get', 'mb/fifth', '--print-value-only'], [ep(basePort + 8)]), 'z\n');
    });
  });
}
