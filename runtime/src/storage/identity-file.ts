/**
 * The member identity file (`member.json` in the data directory): which cluster this directory
 * belongs to and which member id it holds. It is what tells a restarted member from a blank one
 * that must rejoin (membership/). Written atomically: `.tmp`, fsync, rename, fsync the directory.
 */
import { promises as fsp } from 'fs';
import { join } from 'path';

/** The file name inside the data directory. */
export const IDENTITY_FILE = 'member.json';

/** What the file holds (version 1). */
export interface StoredIdentity {
  /** The cluster this data belongs to (hex); a restored cluster gets a new one. */
  readonly clusterId: string;
  /** This member's Raft id; a blank member that rejoins gets a new one (a new incarnation). */
  readonly memberId: number;
  readonly name: string;
  /** True if this member joined a running cluster (as a learner) rather than bootstrapping it. */
  readonly joined: boolean;
  /**
   * For a joined member: the members the join answer listed. Until the first snapshot from the leader
   * arrives its log names nobody, and a restart in that window must still know whom to admit as peers.
   */
  readonly seedMembers?: readonly SeedMember[];
}

/** A member as a join answer lists it (membership's MemberInfo, restated: storage imports nothing above it). */
export interface SeedMember {
  readonly id: number;
  readonly name: string;
  readonly peerUrl: string;
  readonly clientUrl: string;
  readonly autoPromote: boolean;
}

function isSeedMember(v: unknown): v is SeedMember {
  const m = v as Record<string, unknown>;
  return typeof m === 'object' && m !== null && Number.isSafeInteger(m.id) && (m.id as number) > 0 && typeof m.name === 'string' &&
    typeof m.peerUrl === 'string' && typeof m.clientUrl === 'string' && typeof m.autoPromote === 'boolean';
}

/** Thrown when the file exists but cannot be trusted; the member must not start on it. */
export class IdentityFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdentityFileError';
  }
}

/** Reads the identity, or undefined if the directory has none. */
export async function readIdentity(dir: string): Promise<StoredIdentity | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(join(dir, IDENTITY_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new IdentityFileError(`${join(dir, IDENTITY_FILE)} is not valid JSON; it is written atomically, so this is corruption`);
  }
  if (v.version !== 1 || typeof v.clusterId !== 'string' || !/^[0-9a-f]{16}$/.test(v.clusterId) ||
    !Number.isSafeInteger(v.memberId) || (v.memberId as number) <= 0 || typeof v.name !== 'string' || typeof v.joined !== 'boolean') {
    throw new IdentityFileError(`${join(dir, IDENTITY_FILE)} is malformed: ${text.slice(0, 200)}`);
  }
  if (v.seedMembers !== undefined && !(Array.isArray(v.seedMembers) && v.seedMembers.every(isSeedMember))) {
    throw new IdentityFileError(`${join(dir, IDENTITY_FILE)} has malformed seedMembers: ${text.slice(0, 200)}`);
  }
  const identity = { clusterId: v.clusterId, memberId: v.memberId as number, name: v.name, joined: v.joined };
  return v.seedMembers === undefined ? identity : { ...identity, seedMembers: v.seedMembers as SeedMember[] };
}

/** Writes the identity durably (atomic replace). */
export async function writeIdentity(dir: string, id: StoredIdentity): Promise<void> {
  const path = join(dir, IDENTITY_FILE);
  const tmp = `${path}.tmp`;
  const handle = await fsp.open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(JSON.stringify({ version: 1, ...id }) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(tmp, path);
  const d = await fsp.open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
