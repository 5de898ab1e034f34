/**
 * `ha-runtime restore`: builds one member's data directory of a NEW cluster from a backup taken
 * with GET /v1/snapshot, `ha-runtime backup` or `etcdctl snapshot save` (docs/operations.md). Run it once per member with the same --snapshot,
 * --initial-cluster and --initial-cluster-token; each member gets the same log (the snapshot, with
 * the new membership) and the same new cluster id, derived from the snapshot's digest so the
 * restored cluster never mistakes itself for the original. Exit 0 done, 1 bad snapshot or
 * directory, 2 bad flags.
 */
import { createHash } from 'crypto';
import { promises as fsp } from 'fs';
import { flagEnvName, readFlagArgs, UsageError } from './flags';
import { parseInitialCluster } from './raft-config';
import { deriveRestoredClusterId, encodeMemberContext, MemberRegistry } from '../membership';
import { ConfChangeType } from '../raft';
import { unwrapSnapshot, wrapSnapshot } from '../server/snapshot-envelope';
import { decodeSnapshotFile, FileLogStore, readBackupFile, writeIdentity } from '../storage';

const FLAGS: Record<string, string> = {
  'snapshot': 'the backup file (GET /v1/snapshot, ha-runtime backup, or etcdctl snapshot save)',
  'data-dir': 'the new member\'s data directory (must not exist or be empty)',
  'name': 'this member\'s name (its --id when it runs)',
  'initial-cluster': 'NAME=HOST:PEERPORT,... every member of the new cluster, the same on every member',
  'initial-cluster-token': 'the new cluster\'s token (default ha-raft)',
};

function usage(): string {
  return 'usage: ha-runtime restore --snapshot FILE --data-dir DIR --name NAME --initial-cluster NAME=HOST:PORT,... [--initial-cluster-token T]\n\n' +
    Object.entries(FLAGS).map(([f, h]) => `  --${f.padEnd(22)} ${h} (env ${flagEnvName('HA_RESTORE', f)})`).join('\n') + '\n';
}

function parse(argv: readonly string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = Object.fromEntries(readFlagArgs('restore', argv, FLAGS));
  for (const f of Object.keys(FLAGS)) out[f] ??= env[flagEnvName('HA_RESTORE', f)] ?? '';
  if (!out['initial-cluster-token']) out['initial-cluster-token'] = 'ha-raft';
  for (const f of ['snapshot', 'data-dir', 'name', 'initial-cluster']) {
    if (!out[f]) throw new UsageError(`--${f} is required: ${FLAGS[f]}`);
  }
  return out;
}

/** Runs the command; resolves with the exit code. */
export async function restoreCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage());
    return 0;
  }
  let flags: Record<string, string>;
  let members;
  try {
    flags = parse(argv, env);
    members = parseInitialCluster(flags['initial-cluster']);
    if (!members.some((m) => m.name === flags.name)) throw new UsageError(`--name '${flags.name}' is not in --initial-cluster`);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`ha-runtime restore: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  try {
    const result = await restore(flags, members);
    process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  } catch (e) {
    process.stderr.write(`ha-runtime restore: ${(e as Error).message}\n`);
    return 1;
  }
}

async function restore(flags: Record<string, string>, members: ReturnType<typeof parseInitialCluster>): Promise<Record<string, unknown>> {
  const file = await fsp.readFile(flags.snapshot);
  const backup = readBackupFile(file);
  if (typeof backup === 'string') throw new Error(`${flags.snapshot}: ${backup}`);
  const snap = decodeSnapshotFile(backup.snapshotFile);
  if (typeof snap === 'string') throw new Error(`${flags.snapshot}: ${snap}`);
  const existing = await fsp.readdir(flags['data-dir']).catch(() => [] as string[]);
  if (existing.length > 0) throw new Error(`--data-dir ${flags['data-dir']} is not empty: restore builds a new member; give an empty directory`);
  await fsp.mkdir(flags['data-dir'], { recursive: true, mode: 0o700 });

  // The new membership: --initial-cluster positions, nothing removed; ids start again at 1.
  const registry = new MemberRegistry();
  for (const m of members) {
    registry.apply({
      type: ConfChangeType.ADD_NODE,
      nodeId: m.id,
      context: encodeMemberContext({ name: m.name, peerUrl: `${m.peerHost}:${m.peerPort}`, clientUrl: '', autoPromote: false }),
    });
  }
  const { stateMachine } = unwrapSnapshot(snap.data);
  const { index, term } = snap.metadata;
  const restored = {
    metadata: { index, term, confState: { voters: members.map((m) => m.id), learners: [], votersOutgoing: [] } },
    data: wrapSnapshot(registry.toJSON(), stateMachine),
  };
  const { store } = await FileLogStore.open(flags['data-dir']);
  try {
    await store.save({ snapshot: restored, hardState: { term, vote: 0, commit: index } });
  } finally {
    await store.close();
  }
  // Of the snapshot itself, so the same backup saved either way restores to the same cluster id.
  const digest = createHash('sha256').update(backup.snapshotFile).digest('hex');
  const clusterId = deriveRestoredClusterId(flags['initial-cluster-token'], members.map((m) => m.name), digest);
  const memberId = members.find((m) => m.name === flags.name)!.id;
  await writeIdentity(flags['data-dir'], { clusterId, memberId, name: flags.name, joined: false });
  return { restored: flags['data-dir'], name: flags.name, memberId, clusterId, index, term, snapshotSha256: digest, format: backup.kind };
}
