/**
 * Data directories written by the release before /v1 moved onto the MVCC store still start, and afterwards every
 * key is visible through both APIs, with the same MVCC state on every member (ports 23750-23755).
 *
 * The three directories are written here byte for byte as that release wrote them: the same committed log of /v1
 * commands (kv/state-machine.ts's encoding) and etcd API writes (0xe7 + mvcc/command.ts), with member snapshots
 * (envelope, format 2: the /v1 map, then the MVCC store) taken at different indexes: kv-0 has none, kv-1 and
 * kv-2 at two different points. A fold at restore time would give each member different revisions; the fold entry
 * gives all three the same store, which `etcdctl endpoint hashkv` and the revision compare.
 */
import * as assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { decodeCommand, encodeCommand, KvCommand, KvOp, KvStateMachine } from '../../src/kv/state-machine';
import { deriveClusterId, encodeMemberContext, MemberRegistry } from '../../src/membership';
import { encodeCommand as encodeMvcc, MvccCommand, MvccStateMachine } from '../../src/mvcc';
import { decodeConfChange, Entry, EntryType, MemoryStorage, RawNode } from '../../src/raft';
import { MVCC_ENTRY_TAG } from '../../src/server/mvcc-host';
import { wrapSnapshot } from '../../src/server/snapshot-envelope';
import { FileLogStore, writeIdentity } from '../../src/storage';
import { etcdctl, haveEtcdctl, waitForV1OnMvcc } from '../etcd/etcd-clients';
import { kvRequest } from '../support/kv-client';
import { KvCluster } from '../support/kv-cluster';
import { skipUnlessCi } from '../support/prerequisite';

const BASE_PORT = 23750;
const NAMES = ['kv-0', 'kv-1', 'kv-2'];
const peer = (i: number): string => `127.0.0.1:${BASE_PORT + 2 * i + 1}`;
const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

const v1 = (cmd: Omit<KvCommand, 'requestId'>): Uint8Array => encodeCommand({ ...cmd, requestId: 0 });
const etcd = (cmd: MvccCommand): Uint8Array => Buffer.concat([Buffer.from([MVCC_ENTRY_TAG]), encodeMvcc(cmd)]);

/** What clients wrote under the old release, in log order after the three bootstrap entries. */
const WRITES: Uint8Array[] = [
  v1({ op: KvOp.PUT, key: 'old/a', value: bytes('a1') }),
  v1({ op: KvOp.PUT, key: 'old/b', value: bytes('b1') }),
  etcd({ op: 'put', requestId: 0, request: { key: bytes('etcd/x'), value: bytes('x1') } }),
  v1({ op: KvOp.PUT, key: 'both', value: bytes('from-v1') }),
  etcd({ op: 'put', requestId: 0, request: { key: bytes('both'), value: bytes('from-etcd') } }),
  v1({ op: KvOp.CAS, key: 'old/a', value: bytes('a2'), prev: bytes('a1') }),
  etcd({ op: 'put', requestId: 0, request: { key: bytes('etcd/y'), value: bytes('y1') } }),
  v1({ op: KvOp.DELETE, key: 'old/b' }),
  etcd({ op: 'delete_range', requestId: 0, request: { key: bytes('etcd/x') } }),
  v1({ op: KvOp.PUT, key: 'old/c', value: Buffer.from([0, 255, 1]) }),
  v1({ op: KvOp.CAS, key: 'old/new', value: bytes('n1'), prevAbsent: true }),
];

/** The keys afterwards, through either API: a key both APIs held takes its /v1 value (the fold puts the map last). */
const EXPECTED: [string, Buffer][] = [
  ['both', bytes('from-v1')],
  ['etcd/y', bytes('y1')],
  ['old/a', bytes('a2')],
  ['old/c', Buffer.from([0, 255, 1])],
  ['old/new', bytes('n1')],
];

function committedLog(): Entry[] {
  const boot = new MemoryStorage();
  RawNode.bootstrap(boot, [1, 2, 3], (id) => encodeMemberContext({ name: NAMES[id - 1], peerUrl: peer(id - 1), clientUrl: '', autoPromote: false }));
  const conf = boot.entries(1, 4);
  return [...conf, ...WRITES.map((data, i) => ({ term: 1, index: conf.length + i + 1, type: EntryType.NORMAL, data }))];
}

/** A member snapshot at `index` as the old release took it: envelope, 'HA\0\2', u32 BE map length, map, MVCC store. */
function oldSnapshot(log: Entry[], index: number): Uint8Array {
  const map = new KvStateMachine();
  const mvcc = new MvccStateMachine();
  const registry = new MemberRegistry();
  for (const e of log.slice(0, index)) {
    if (e.type === EntryType.CONF_CHANGE) {
      registry.apply(decodeConfChange(e.data));
      map.skip(e.index); mvcc.skip(e.index);
    } else if (e.data[0] === MVCC_ENTRY_TAG) {
      assert.equal(mvcc.apply(e.index, e.data.subarray(1)).error, undefined);
      map.skip(e.index);
    } else {
      assert.ok(map.apply(e.index, decodeCommand(e.data)).succeeded);
      mvcc.skip(e.index);
    }
  }
  const mapBytes = map.snapshot();
  const head = Buffer.alloc(8);
  head.write('HA\x00\x02', 0, 'latin1');
  head.writeUInt32BE(mapBytes.length, 4);
  return wrapSnapshot(registry.toJSON(), Buffer.concat([head, mapBytes, ...mvcc.snapshot().chunks]));
}

/** Writes member `name`'s directory: its identity, a snapshot at `snapAt` (0: none), the log after it. */
async function writeOldDataDir(name: string, dir: string, snapAt: number): Promise<void> {
  const log = committedLog();
  const last = log[log.length - 1].index;
  const hardState = { term: 1, vote: 0, commit: last };
  const { store } = await FileLogStore.open(dir);
  try {
    if (snapAt > 0) {
      const confState = { voters: [1, 2, 3], learners: [], votersOutgoing: [] };
      await store.save({ hardState, snapshot: { metadata: { index: snapAt, term: 1, confState }, data: oldSnapshot(log, snapAt) } });
    }
    await store.save({ hardState, entries: log.filter((e) => e.index > snapAt) });
  } finally {
    await store.close();
  }
  await writeIdentity(dir, { clusterId: deriveClusterId('ha-raft', NAMES), memberId: NAMES.indexOf(name) + 1, name, joined: false });
}

let cluster: KvCluster | undefined;
after(async () => { await cluster?.close(); });

test('an old release\'s data directories start; every key is visible through /v1 and etcdctl, the same on every member',
  { timeout: 60_000 }, async (ctx) => {
    if (!haveEtcdctl()) { skipUnlessCi(ctx, 'etcdctl is not installed'); return; }
    const snapshotAt: Record<string, number> = { 'kv-0': 0, 'kv-1': 6, 'kv-2': 11 };
    cluster = await KvCluster.start({
      size: 3,
      basePort: BASE_PORT,
      // Members snapshot (format 3, after the fold) soon, so the restart below restores one.
      args: ['--snapshot-entries', '4'],
      prepareDataDir: (name, dir) => writeOldDataDir(name, dir, snapshotAt[name]),
    });
    await waitForV1OnMvcc(cluster.members);
    const endpoints = cluster.members.map((m) => `127.0.0.1:${m.clientPort}`);

    const check = async (label: string): Promise<void> => {
      for (const m of cluster!.members) {
        for (const [key, value] of EXPECTED) {
          const r = await kvRequest(`${m.url}/v1/kv/${encodeURIComponent(key)}`);
          assert.equal(r.status, 200, `${label}: /v1 GET ${key} on ${m.name}: ${r.body.toString()}`);
          assert.deepEqual(r.body, value, `${label}: /v1 GET ${key} on ${m.name}`);
        }
        assert.equal((await kvRequest(`${m.url}/v1/kv/old%2Fb`)).status, 404, `${label}: old/b was deleted (${m.name})`);
        const list = JSON.parse((await kvRequest(`${m.url}/v1/kv/?prefix=`)).body.toString());
        assert.deepEqual(list.items.map((i: { key: string; value: string }) => [i.key, Buffer.from(i.value, 'base64')]), EXPECTED,
          `${label}: /v1 listing on ${m.name}`);
        const got = await etcdctl([`127.0.0.1:${m.clientPort}`], ['get', '', '--from-key', '-w', 'json']);
        assert.equal(got.code, 0, got.stderr);
        const kvs = (JSON.parse(got.stdout).kvs as { key: string; value: string }[]).map((kv) => [Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value, 'base64')]);
        assert.deepEqual(kvs, EXPECTED, `${label}: etcdctl get on ${m.name}`);
      }
      // One MVCC state on every member: the same revision and the same hash of every key's history.
      const hashes = await etcdctl(endpoints, ['endpoint', 'hashkv', '-w', 'json']);
      assert.equal(hashes.code, 0, hashes.stderr);
      const rows = JSON.parse(hashes.stdout) as { Endpoint: string; HashKV: { hash: number; header: { revision: number } } }[];
      assert.equal(rows.length, 3);
      assert.equal(new Set(rows.map((r) => `${r.HashKV.header.revision}/${r.HashKV.hash}`)).size, 1, `${label}: members differ: ${hashes.stdout}`);
    };
    await check('after the upgrade');

    // /v1 writes after the fold, then a restart from this member's own snapshot, taken after the fold (format 3).
    const leader = await cluster.waitForLeader(10_000);
    const indexes: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await kvRequest(`${leader.url}/v1/kv/old%2Fa`, { method: 'PUT', body: `a${3 + i}` });
      assert.equal(r.status, 200, r.body.toString());
      indexes.push(JSON.parse(r.body.toString()).index);
    }
    EXPECTED[2] = ['old/a', bytes('a10')];
    const restarted = cluster.members.find((m) => m !== leader)!;
    const before = await restarted.status();
    assert.ok(before!.snapshotIndex > indexes[0], `${restarted.name} snapshotted after the fold: ${JSON.stringify(before)}`);
    await restarted.kill();
    restarted.start();
    await cluster.waitForLeader(15_000, cluster.members);
    await waitForV1OnMvcc(cluster.members);
    await check('after a restart');
  });
