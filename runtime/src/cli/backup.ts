/**
 * `ha-runtime backup`: fetches one consistent snapshot (GET /v1/snapshot on any member) into a
 * directory as `snapshot-<UTC time>.snap` and deletes the oldest beyond --keep. The image has no
 * shell, so this is what a RaftCluster's backup CronJob runs. The file is checked (magic, CRC,
 * metadata) before it is kept, written under a temporary name, fsynced and renamed, so the directory
 * only ever holds whole, valid snapshots. Exit 0 done, 1 fetch or write failed, 2 bad flags.
 */
import { promises as fsp } from 'fs';
import { join } from 'path';
import { flagEnvName, readFlagArgs, UsageError } from './flags';
import { decodeSnapshotFile } from '../storage';

const FLAGS: Record<string, string> = {
  'url': 'the snapshot URL, e.g. http://kv:7379/v1/snapshot (the client Service)',
  'dir': 'the directory the snapshots are written to (must exist)',
  'keep': 'how many snapshots to keep, newest first (default 7)',
  'timeout-seconds': 'give up on the fetch after this long (default 300)',
};
const SNAPSHOT_NAME = /^snapshot-\d{8}T\d{9}Z\.snap$/;
const PARTIAL_NAME = /^\.snapshot-\d{8}T\d{9}Z\.snap\.partial$/;

function usage(): string {
  return 'usage: ha-runtime backup --url URL --dir DIR [--keep N] [--timeout-seconds S]\n\n' +
    Object.entries(FLAGS).map(([f, h]) => `  --${f.padEnd(18)} ${h} (env ${flagEnvName('HA_BACKUP', f)})`).join('\n') + '\n';
}

interface BackupFlags {
  readonly url: URL;
  readonly dir: string;
  readonly keep: number;
  readonly timeoutMs: number;
}

function positiveInt(flag: string, value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new UsageError(`--${flag}: '${value}' is not a positive integer`);
  return Number(value);
}

function parse(argv: readonly string[], env: NodeJS.ProcessEnv): BackupFlags {
  const raw: Record<string, string> = Object.fromEntries(readFlagArgs('backup', argv, FLAGS));
  for (const f of Object.keys(FLAGS)) raw[f] ??= env[flagEnvName('HA_BACKUP', f)] ?? '';
  for (const f of ['url', 'dir']) if (!raw[f]) throw new UsageError(`--${f} is required: ${FLAGS[f]}`);
  let url: URL;
  try {
    url = new URL(raw.url);
  } catch {
    throw new UsageError(`--url: '${raw.url}' is not a URL; e.g. http://kv:7379/v1/snapshot`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url: '${raw.url}' is not http(s)`);
  return {
    url,
    dir: raw.dir,
    keep: positiveInt('keep', raw.keep || '7'),
    timeoutMs: positiveInt('timeout-seconds', raw['timeout-seconds'] || '300') * 1000,
  };
}

/** Runs the command; resolves with the exit code. */
export async function backupCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage());
    return 0;
  }
  let flags: BackupFlags;
  try {
    flags = parse(argv, env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`ha-runtime backup: ${e.message}\n`);
    return 2;
  }
  try {
    process.stdout.write(JSON.stringify(await backup(flags)) + '\n');
    return 0;
  } catch (e) {
    process.stderr.write(`ha-runtime backup: ${(e as Error).message}\n`);
    return 1;
  }
}

async function backup(flags: BackupFlags): Promise<Record<string, unknown>> {
  const stat = await fsp.stat(flags.dir).catch(() => undefined);
  if (!stat?.isDirectory()) throw new Error(`--dir ${flags.dir} is not a directory; mount the backup volume there`);
  const body = await fetchSnapshot(flags);
  const snap = decodeSnapshotFile(body);
  if (typeof snap === 'string') throw new Error(`${flags.url.href} answered something that is not a valid snapshot: ${snap}`);
  // Sortable by name: 20261204T232100123Z.
  const stamp = new Date().toISOString().replace(/[-:.]/g, '');
  const name = `snapshot-${stamp}.snap`;
  await writeDurably(flags.dir, name, body);
  const pruned = await prune(flags.dir, flags.keep);
  return { file: join(flags.dir, name), bytes: body.length, index: snap.metadata.index, term: snap.metadata.term, pruned };
}

async function fetchSnapshot(flags: BackupFlags): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetch(flags.url, { signal: AbortSignal.timeout(flags.timeoutMs) });
  } catch (e) {
    throw new Error(`GET ${flags.url.href} failed: ${(e as Error).message}`);
  }
  if (res.status !== 200) throw new Error(`GET ${flags.url.href} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return Buffer.from(await res.arrayBuffer());
}

/** Temporary name, fsync, rename, fsync the directory: a crash leaves the old set or the new one. */
async function writeDurably(dir: string, name: string, body: Buffer): Promise<void> {
  const partial = join(dir, `.${name}.partial`);
  const fh = await fsp.open(partial, 'wx', 0o600);
  try {
    await fh.writeFile(body);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(partial, join(dir, name));
  const dh = await fsp.open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** Deletes our snapshots beyond the newest `keep`, and partial files an earlier crashed run left. */
async function prune(dir: string, keep: number): Promise<string[]> {
  const names = await fsp.readdir(dir);
  const old = names.filter((n) => SNAPSHOT_NAME.test(n)).sort().reverse().slice(keep);
  const stale = names.filter((n) => PARTIAL_NAME.test(n));
  for (const n of [...old, ...stale]) await fsp.rm(join(dir, n), { force: true });
  return old;
}
