/**
 * The etcdctl layout of a backup (storage/etcd-snapshot-file.ts): what the Maintenance.Snapshot stream carries
 * passes etcdctl's size check for every snapshot length, reads back to the same snapshot file, and any damaged
 * byte, a missing trailer or a foreign file is refused, never read as a snapshot.
 */
import { createHash } from 'crypto';
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fc from 'fast-check';
import { decodeSnapshotFile, encodeSnapshotHeader, etcdSnapshotPadding, readBackupFile } from '../../src/storage';

/** A snapshot file as a member writes it, with `n` bytes of data. */
function snapshotFile(n: number, seed = 7): Buffer {
  const data = Buffer.alloc(n, seed);
  const snap = { metadata: { index: 42, term: 3, confState: { voters: [1, 2, 3], learners: [], votersOutgoing: [] } }, data };
  return Buffer.concat([encodeSnapshotHeader(snap), data]);
}

/** What `etcdctl snapshot save` writes from our stream: the content, then its sha256. */
function etcdctlFile(file: Buffer): Buffer {
  const content = Buffer.concat([file, etcdSnapshotPadding(file.length)]);
  return Buffer.concat([content, createHash('sha256').update(content).digest()]);
}

test('every snapshot length gives etcdctl\'s layout and reads back to the same snapshot file', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 5000 }), (n) => {
    const file = snapshotFile(n);
    const saved = etcdctlFile(file);
    assert.equal(saved.length % 512, 32, 'etcdctl: hasChecksum(size)');
    const back = readBackupFile(saved);
    assert.ok(typeof back !== 'string', String(back));
    assert.equal(back.kind, 'etcdctl');
    assert.ok(back.snapshotFile.equals(file));
    const snap = decodeSnapshotFile(back.snapshotFile);
    assert.ok(typeof snap !== 'string' && snap.metadata.index === 42, String(snap));
  }), { numRuns: 300 });
});

test('our own backup file (GET /v1/snapshot) is read as is', () => {
  for (const n of [0, 1, 463, 464, 1000]) {
    const file = snapshotFile(n);
    const back = readBackupFile(file);
    assert.ok(typeof back !== 'string' && back.kind === 'ha-runtime' && back.snapshotFile.equals(file), `${n}: ${String(back)}`);
  }
});

test('any flipped byte of an etcdctl file is refused: by the sha256, or by the snapshot CRC', () => {
  const saved = etcdctlFile(snapshotFile(700));
  fc.assert(fc.property(fc.integer({ min: 0, max: saved.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
    const bad = Buffer.from(saved);
    bad[at] ^= x;
    const back = readBackupFile(bad);
    if (typeof back === 'string') return;
    assert.equal(typeof decodeSnapshotFile(back.snapshotFile), 'string', `byte ${at} ^ ${x} was accepted`);
  }), { numRuns: 500 });
});

test('a foreign or truncated file is refused with why', () => {
  const bbolt = Buffer.alloc(4096 * 4 + 32, 1); // etcd's own snapshot: pages of a bbolt database, then a sha256
  assert.match(String(readBackupFile(bbolt)), /an etcd snapshot \(bbolt database/);
  assert.match(String(readBackupFile(Buffer.from('hello'))), /not a snapshot taken from ha-runtime/);
  const saved = etcdctlFile(snapshotFile(700));
  const cut = readBackupFile(saved.subarray(0, saved.length - 32)); // the trailer lost
  assert.ok(typeof cut === 'string' || typeof decodeSnapshotFile(cut.snapshotFile) === 'string', 'a file without its trailer is not a snapshot');
});
