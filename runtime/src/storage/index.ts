/** Durable storage for the Raft server: the LogStore contract, a file WAL and an in-memory store. */
export * from './log-store';
export * from './file-log-store';
export * from './memory-log-store';
export { crc32c } from './crc32c';
export * from './identity-file';
export { encodeSnapshotHeader, decodeSnapshotFile, SnapshotFileCrc } from './wal-format';
export * from './etcd-snapshot-file';
