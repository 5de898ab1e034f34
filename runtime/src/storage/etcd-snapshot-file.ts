/**
 * The file `etcdctl snapshot save` writes from our Maintenance.Snapshot stream, and how to read it back.
 *
 * etcd streams its bbolt database (a whole number of 512-byte pages) and then the database's sha256;
 * etcdctl 3.4 keeps a download only if its size is 32 bytes over a multiple of 512 ("sha256 checksum not
 * found" otherwise), and `etcdctl snapshot restore` checks the trailer the same way. We stream our own
 * snapshot file (wal-format.ts) padded to the 512-byte boundary, the padding ending in a footer that says
 * where the snapshot file ends, then the sha256 of everything before it:
 *
 *   snapshot file | zero bytes | "HAPAD001" | u64 LE snapshot file length | sha256(all before)
 *   '------------- a multiple of 512 bytes ------------------------------'   32 bytes
 */
import { createHash } from 'crypto';
import { SNAPSHOT_MAGIC } from './wal-format';

const BLOCK = 512;
const SHA256_BYTES = 32;
const FOOTER_MAGIC = Buffer.from('HAPAD001', 'latin1');
const FOOTER_BYTES = FOOTER_MAGIC.length + 8;

/** The padding and footer that follow a snapshot file of `fileLength` bytes in the stream. */
export function etcdSnapshotPadding(fileLength: number): Buffer {
  const padded = Math.ceil((fileLength + FOOTER_BYTES) / BLOCK) * BLOCK;
  const tail = Buffer.alloc(padded - fileLength);
  FOOTER_MAGIC.copy(tail, tail.length - FOOTER_BYTES);
  tail.writeBigUInt64LE(BigInt(fileLength), tail.length - 8);
  return tail;
}

/** Where a backup file came from, and the snapshot file inside it. */
export type BackupFile =
  | { readonly kind: 'ha-runtime'; readonly snapshotFile: Buffer }
  | { readonly kind: 'etcdctl'; readonly snapshotFile: Buffer; readonly sha256: string };

/**
 * Accepts our own backup (GET /v1/snapshot, `ha-runtime backup`) or an `etcdctl snapshot save` file of
 * our stream (trailer verified, padding stripped); returns why not otherwise. The snapshot file inside is
 * still to be decoded (its own CRC is checked then).
 */
export function readBackupFile(buf: Buffer): BackupFile | string {
  const framed = buf.length % BLOCK === SHA256_BYTES && buf.length >= BLOCK + SHA256_BYTES;
  const content = buf.subarray(0, buf.length - SHA256_BYTES);
  const footerAt = content.length - FOOTER_BYTES;
  if (framed && content.subarray(footerAt, footerAt + FOOTER_MAGIC.length).equals(FOOTER_MAGIC)) {
    const expected = buf.subarray(content.length).toString('hex');
    const actual = createHash('sha256').update(content).digest('hex');
    if (actual !== expected) return `sha256 mismatch: the trailer says ${expected}, the content hashes to ${actual}: the file is damaged`;
    const length = Number(content.readBigUInt64LE(content.length - 8));
    if (length > footerAt) return `padding footer names a snapshot of ${length} bytes, more than the file holds`;
    return { kind: 'etcdctl', snapshotFile: content.subarray(0, length), sha256: actual };
  }
  if (buf.subarray(0, SNAPSHOT_MAGIC.length).equals(SNAPSHOT_MAGIC)) return { kind: 'ha-runtime', snapshotFile: buf };
  if (framed) {
    return 'an etcd snapshot (bbolt database with a sha256 trailer), not one taken from ha-runtime: restore it with etcdctl snapshot restore into etcd';
  }
  return 'not a snapshot taken from ha-runtime (neither GET /v1/snapshot nor etcdctl snapshot save against it)';
}
