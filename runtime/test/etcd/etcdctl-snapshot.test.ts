/**
 * Backups with stock etcdctl 3.4 (issue 12): `etcdctl snapshot save` from a follower while writes keep flowing,
 * then `ha-runtime restore` builds a fresh three-member cluster from that file: every key with its value,
 * create/mod revision, version and lease, the store revision, and the lease itself come back; history continues
 * at the next revision. A damaged file, a truncated one and an etcd (bbolt) snapshot are refused with a clear
 * error. Ports 24150-24155 (source), 24160-24165 (restored), 24170 (etcd).
 */
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'fs';
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { tmpdir } from 'os';
import { join } from 'path';
import { Etcd3 } from 'etcd3';
import { etcdctl } from './etcd-clients';
import { EtcdCluster, etcdVersion } from '../support/etcd-cluster';
import { KvCluster, sleep } from '../support/kv-cluster';
import { skipUnlessCi } from '../support/prerequisite';

const MAIN_JS = join(__dirname, '..', '..', 'src', 'main.js');

function haRuntime(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['-e', `require(${JSON.stringify(MAIN_JS)}).main(process.argv.slice(1))`, ...args],
    { encoding: 'utf8', timeout: 60_000 });
}

const initialCluster = (basePort: number): string => [0, 1, 2].map((i) => `kv-${i}=127.0.0.1:${basePort + 2 * i + 1}`).join(',');

/** Every key as etcdctl reads it (base64 key/value, revisions, version, lease), and the store revision. */
async function dump(endpoint: string): Promise<{ revision: string; kvs: string[] }> {
  const r = await etcdctl([endpoint], ['get', '', '--from-key', '-w', 'json'], { timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.stderr);
  // Lease ids and cluster ids may exceed 2^53: keep every long integer as a string.
  const j = JSON.parse(r.stdout.replace(/(:\s*)(\d{16,})/g, '$1"$2"'));
  const kvs = (j.kvs ?? []).map((kv: Record<string, unknown>) =>
    JSON.stringify([kv.key, kv.value ?? '', String(kv.create_revision), String(kv.mod_revision), String(kv.version), String(kv.lease ?? 0)]));
  return { revision: String(j.header.revision), kvs: kvs.sort() };
}

test('etcdctl snapshot save under load, ha-runtime restore into a new cluster: every key, revision and lease', { timeout: 180_000 }, async () => {
  const source = await KvCluster.start({ size: 3, basePort: 24150 });
  const backups = mkdtempSync(join(tmpdir(), 'etcdctl-snapshot-'));
  let restored: KvCluster | undefined;
  const client = new Etcd3({ hosts: source.members.map((m) => m.url) });
  try {
    const leader = await source.waitForLeader(10_000);
    const follower = source.members.find((m) => m !== leader)!;
    // History worth restoring: overwrites (versions), deletes, a lease with keys attached.
    for (let i = 0; i < 200; i++) await client.put(`sv/${i % 50}`).value(`v${i}`);
    await client.delete().key('sv/7');
    const lease = client.lease(3600, { autoKeepAlive: false });
    const leaseId = await lease.grant();
    await lease.put('sv/leased-a').value('A');
    await lease.put('sv/leased-b').value('B');

    // Writes keep flowing while the snapshot streams; those acknowledged before it began must come back.
    let loading = true;
    let acknowledgedBefore = 0;
    let saving = false;
    let duringSave = 0;
    const load = (async () => {
      for (let i = 0; loading; i++) {
        const ok = await client.put(`load/${i}`).value(`l${i}`).then(() => true, () => false);
        if (ok && !saving) acknowledgedBefore = i + 1;
        if (ok && saving) duringSave++;
      }
    })();
    await sleep(500);
    saving = true;
    const ackedAtStart = acknowledgedBefore;
    const file = join(backups, 'etcdctl.snapshot');
    const started = Date.now();
    const save = await etcdctl([`127.0.0.1:${follower.clientPort}`], ['snapshot', 'save', file], { timeoutMs: 30_000 });
    const saveMs = Date.now() - started;
    await sleep(300);
    loading = false;
    await load;
    assert.equal(save.code, 0, `etcdctl snapshot save failed: ${save.stderr}${save.stdout}`);
    assert.match(save.stdout, /Snapshot saved at/);
    const size = readFileSync(file).length;
    assert.equal(size % 512, 32, 'etcd\'s layout: whole 512-byte blocks, then the sha256');
    process.stderr.write(`etcdctl snapshot save: ${size} bytes in ${saveMs} ms from a follower, ${duringSave} writes acknowledged meanwhile\n`);
    assert.ok(duringSave > 0, 'no write was acknowledged while the snapshot streamed: it stalled writes');

    // The state at the snapshot is not observable after the fact under load; compare what the file holds
    // with what the source held, excluding the load keys written after the save began.
    await client.put('sv/stop').value('x'); // a marker after the save: must not be in the restore
    const sourceDump = await dump(`127.0.0.1:${leader.clientPort}`);
    client.close();
    await source.close();

    restored = await KvCluster.start({
      size: 3,
      basePort: 24160,
      prepareDataDir: (name, dir) => {
        const r = haRuntime('restore', '--snapshot', file, '--data-dir', dir, '--name', name, '--initial-cluster', initialCluster(24160));
        assert.equal(r.status, 0, `restore ${name}: ${r.stderr}`);
        assert.equal(JSON.parse(r.stdout).format, 'etcdctl');
      },
    });
    const rLeader = await restored.waitForLeader(15_000);
    const ep = `127.0.0.1:${rLeader.clientPort}`;
    const got = await dump(ep);
    const loadKey = (kv: string): number | undefined => {
      const key = Buffer.from(JSON.parse(kv)[0] as string, 'base64').toString();
      return key.startsWith('load/') ? Number(key.slice(5)) : undefined;
    };
    // Every non-load key exactly as the source had it (the marker written after the save excepted).
    const stable = (kvs: string[]) => kvs.filter((kv) => loadKey(kv) === undefined);
    const marker = (kv: string) => Buffer.from(JSON.parse(kv)[0] as string, 'base64').toString() === 'sv/stop';
    assert.deepEqual(stable(got.kvs), stable(sourceDump.kvs).filter((kv) => !marker(kv)));
    // Every load write acknowledged before the save began, each with the same revisions as on the source.
    const sourceLoad = new Map(sourceDump.kvs.filter((kv) => loadKey(kv) !== undefined).map((kv) => [loadKey(kv)!, kv]));
    const gotLoad = new Map(got.kvs.filter((kv) => loadKey(kv) !== undefined).map((kv) => [loadKey(kv)!, kv]));
    for (let i = 0; i < ackedAtStart; i++) assert.equal(gotLoad.get(i), sourceLoad.get(i), `load/${i} (acknowledged before the save)`);
    for (const [i, kv] of gotLoad) assert.equal(kv, sourceLoad.get(i), `load/${i} as on the source`);
    // The store revision is the revision of the newest key it holds (every write makes one), and continues.
    const newest = Math.max(...got.kvs.map((kv) => Number(JSON.parse(kv)[3])));
    assert.ok(Number(got.revision) >= newest, `revision ${got.revision} >= newest mod_revision ${newest}`);
    const put = await etcdctl([ep], ['put', 'sv/after', 'y', '-w', 'json']);
    assert.equal(JSON.parse(put.stdout).header.revision, Number(got.revision) + 1, 'history continues at the next revision');

    // The lease and its keys (a set: etcd promises no order).
    const ttl = await etcdctl([ep], ['lease', 'timetolive', BigInt(leaseId).toString(16), '--keys', '-w', 'json']);
    const t = JSON.parse(ttl.stdout.replace(/("id":\s*)(\d+)/g, '$1"$2"'));
    assert.ok(t.ttl > 0 && t.ttl <= 3600, `lease alive after restore: ${ttl.stdout}`);
    assert.deepEqual(new Set((t.keys as string[]).map((k) => Buffer.from(k, 'base64').toString())), new Set(['sv/leased-a', 'sv/leased-b']));
  } finally {
    client.close();
    await source.close();
    await restored?.close();
    rmSync(backups, { recursive: true, force: true });
  }
});

test('ha-runtime restore refuses a damaged, a truncated or an etcd (bbolt) snapshot with a clear error', { timeout: 120_000 }, async (t) => {
  const source = await KvCluster.start({ size: 3, basePort: 24150 });
  try {
    const leader = await source.waitForLeader(10_000);
    const ep = `127.0.0.1:${leader.clientPort}`;
    for (let i = 0; i < 20; i++) assert.equal((await etcdctl([ep], ['put', `bad/${i}`, `v${i}`])).code, 0);
    const file = join(source.dir, 'good.snapshot');
    assert.equal((await etcdctl([ep], ['snapshot', 'save', file], { timeoutMs: 30_000 })).code, 0);
    const good = readFileSync(file);

    const restoreInto = (name: string, content: Buffer): ReturnType<typeof haRuntime> & { dirEmpty: boolean } => {
      const path = join(source.dir, `${name}.snapshot`);
      writeFileSync(path, content);
      const dir = join(source.dir, `restore-${name}`);
      const r = haRuntime('restore', '--snapshot', path, '--data-dir', dir, '--name', 'kv-0', '--initial-cluster', initialCluster(24160));
      let dirEmpty = true;
      try { dirEmpty = readdirSync(dir).length === 0; } catch { /* never created */ }
      return { ...r, dirEmpty };
    };
    const damaged = Buffer.from(good);
    damaged[Math.floor(good.length / 2)] ^= 0xff;
    const d = restoreInto('damaged', damaged);
    assert.equal(d.status, 1);
    assert.match(d.stderr, /sha256 mismatch.*damaged/);
    assert.ok(d.dirEmpty, 'nothing written for a refused file');

    const truncated = restoreInto('truncated', good.subarray(0, good.length - 100));
    assert.equal(truncated.status, 1);
    assert.match(truncated.stderr, /CRC mismatch|not a snapshot|overruns/);
    assert.ok(truncated.dirEmpty);

    if (!etcdVersion()) { skipUnlessCi(t, 'etcd is not installed: no etcd snapshot to refuse'); return; }
    const etcd = await EtcdCluster.start(1, 24170);
    try {
      const etcdFile = join(source.dir, 'etcd.snapshot');
      const saved = await etcdctl(['127.0.0.1:24170'], ['snapshot', 'save', etcdFile], { timeoutMs: 30_000 });
      assert.equal(saved.code, 0, saved.stderr);
      const e = restoreInto('etcd', readFileSync(etcdFile));
      assert.equal(e.status, 1);
      assert.match(e.stderr, /an etcd snapshot \(bbolt database/);
      assert.ok(e.dirEmpty);
    } finally {
      await etcd.close();
    }
  } finally {
    await source.close();
  }
});
