/**
 * What the /v1 key-value API reads and writes (issue 11): the MVCC store, through mvcc/v1.ts, so a key written
 * through /v1 is the etcd API's key and the other way round.
 *
 * Releases before this one kept the /v1 keys in a map of their own (kv/state-machine.ts): their snapshots carry
 * the map and their logs carry /v1 commands that wrote it. A member keeps applying /v1 commands to that map, as
 * those releases did, until a FOLD entry moves the map's keys into the MVCC store: at one log index, so every member
 * folds the same keys at the same revisions. (Folding while restoring an old snapshot instead would make the
 * revisions depend on where each member's snapshot was taken.) The leader proposes the fold once every member
 * advertises {@link V1_ON_MVCC_METADATA} (a member of an older release would not know the entry); from the fold on,
 * /v1 commands write the MVCC store. A new cluster folds an empty map right after its first election.
 */
import { MvccHost, MvccOutcome } from './mvcc-host';
import { ApplyGuard, decodeCommand, KvApplied, KvCommand, KvItem, KvResult, KvStateMachine } from '../kv/state-machine';
import { checkWritePermission, MvccCommand, MvccError, v1Get, v1List, v1Result, v1ToMvcc } from '../mvcc';

/** The log entry that folds the map into the MVCC store (MVCC entries start with 0xe7, /v1 commands with 1..4). */
export const V1_FOLD_ENTRY = Buffer.from([0xe9]);

/** The transport metadata (name, value) by which a member says it understands {@link V1_FOLD_ENTRY}. */
export const V1_ON_MVCC_METADATA = ['v1', 'mvcc'] as const;

/**
 * The first byte of a /v1 write proposed with the caller etcd auth checked it for (u16 BE length, the user's name in
 * UTF-8, then the /v1 command): apply checks the caller's permissions again, as the etcd API's writes are, so a role
 * revoked between the leader's check and the write's apply still refuses it.
 */
const V1_CHECKED_TAG = 0xea;

/** The transport metadata by which a member says it applies {@link V1_CHECKED_TAG} entries. */
export const V1_CHECKED_METADATA = ['v1auth', 'apply'] as const;

/** A /v1 command's entry wrapped with its caller (see {@link V1_CHECKED_TAG}). */
export function encodeCheckedV1(caller: string, command: Uint8Array): Buffer {
  const name = Buffer.from(caller, 'utf8');
  if (name.length > 0xffff) throw new RangeError(`user name of ${name.length} bytes`);
  const head = Buffer.allocUnsafe(3);
  head[0] = V1_CHECKED_TAG;
  head.writeUInt16BE(name.length, 1);
  return Buffer.concat([head, name, command]);
}

/** The caller and command of a {@link encodeCheckedV1} entry; throws when the name overruns the entry. */
function decodeCheckedV1(data: Uint8Array): { caller: string; command: Uint8Array } {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < 3) throw new Error(`kv: checked entry of ${buf.length} bytes is shorter than its header`);
  const end = 3 + buf.readUInt16BE(1);
  if (end > buf.length) throw new Error(`kv: checked entry's user name (${end - 3} bytes) overruns the entry`);
  return { caller: buf.toString('utf8', 3, end), command: buf.subarray(end) };
}

/** Member snapshot formats: 2 = the /v1 map and the MVCC store (older releases read it), 3 = the MVCC store alone. */
const FORMAT_WITH_MAP = Buffer.from('HA\x00\x02', 'latin1');
const FORMAT_MVCC_ONLY = Buffer.from('HA\x00\x03', 'latin1');

/** A member snapshot's state parts. A snapshot without a format mark predates the MVCC store: a bare map. */
export interface StateSnapshotParts {
  readonly map?: Buffer;
  readonly mvcc?: Buffer;
}

/** Splits a member snapshot's state (after the envelope) into its parts; throws when they overrun it. */
export function splitStateSnapshot(data: Uint8Array): StateSnapshotParts {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const mark = buf.subarray(0, 4);
  if (buf.length >= 4 && mark.equals(FORMAT_MVCC_ONLY)) return { mvcc: buf.subarray(4) };
  if (buf.length < 8 || !mark.equals(FORMAT_WITH_MAP)) return { map: buf };
  const mapLen = buf.readUInt32BE(4);
  if (8 + mapLen > buf.length) throw new Error(`snapshot: the /v1 part (${mapLen} bytes) is longer than the snapshot`);
  return { map: buf.subarray(8, 8 + mapLen), mvcc: buf.subarray(8 + mapLen) };
}

const EMPTY = new Uint8Array(0);

/** What {@link V1Store.applyEntry} applied, and for whom. */
export type AppliedEntry =
  | { readonly kind: 'empty' | 'fold'; readonly requestId: 0; readonly result: undefined }
  | { readonly kind: 'mvcc'; readonly requestId: number; readonly result: MvccOutcome }
  | { readonly kind: 'v1'; readonly requestId: number; readonly result: KvResult };

/** See the file comment. */
export class V1Store {
  private readonly map = new KvStateMachine();
  private onMvcc = false;
  private slotGuard: ApplyGuard | undefined;

  constructor(private readonly mvcc: MvccHost) { }

  /** Judges every /v1 write at apply time (the shard map); set once at wiring time, before the first entry applies. */
  set guard(guard: ApplyGuard | undefined) {
    this.slotGuard = guard;
    this.map.guard = guard;
  }

  /** True once the map was folded: /v1 reads and writes the MVCC store. */
  get folded(): boolean { return this.onMvcc; }

  /** The index of the last applied entry (of every kind). */
  get appliedIndex(): number { return this.mvcc.machine.appliedIndex; }

  /** Keys /v1 sees. */
  get size(): number { return this.onMvcc ? this.mvcc.store.keyCount : this.map.size; }

  get(key: string): Uint8Array | undefined {
    return this.onMvcc ? v1Get(this.mvcc.store, key) : this.map.get(key);
  }

  /** Keys with `prefix` after `after` that `filter` accepts, in key order, at most `limit`. */
  list(prefix: string, limit: number, after?: string, filter?: (key: string) => boolean): { items: KvItem[]; more: boolean } {
    return this.onMvcc ? v1List(this.mvcc.store, prefix, limit, after, filter) : this.map.list(prefix, limit, after, filter);
  }

  /** An entry without a command (an empty or membership entry). */
  skip(index: number): void {
    this.map.skip(index);
    this.mvcc.skip(index);
  }

  /**
   * Applies a committed entry's data, whatever it carries: an MVCC command (the etcd API), the fold, or a /v1
   * command; returns the proposer's request id (0: nobody waits) and the result its waiter gets.
   */
  applyEntry(index: number, data: Uint8Array): AppliedEntry {
    if (data.length === 0) {
      this.skip(index);
      return { kind: 'empty', requestId: 0, result: undefined };
    }
    if (MvccHost.isMvccEntry(data)) {
      const { requestId, outcome } = this.mvcc.apply(index, data);
      this.map.skip(index);
      return { kind: 'mvcc', requestId, result: outcome };
    }
    if (V1_FOLD_ENTRY.equals(data)) {
      this.applyFold(index);
      return { kind: 'fold', requestId: 0, result: undefined };
    }
    const { requestId, result } = data[0] === V1_CHECKED_TAG ? this.applyChecked(index, data) : this.apply(index, data);
    return { kind: 'v1', requestId, result };
  }

  /** A /v1 command with its caller: applied only if the caller's permissions (at this index) still allow it. */
  private applyChecked(index: number, data: Uint8Array): KvApplied {
    let caller: string;
    let command: Uint8Array;
    let cmd: KvCommand;
    try {
      ({ caller, command } = decodeCheckedV1(data));
      cmd = decodeCommand(command);
    } catch (e) {
      return this.undecodable(index, e);
    }
    const write = v1ToMvcc(cmd);
    try {
      checkWritePermission(this.mvcc.machine.auth, caller, write, () => []);
    } catch (e) {
      if (!(e instanceof MvccError)) throw e;
      this.skip(index);
      return { requestId: cmd.requestId, result: { succeeded: false, existed: false, index, denied: e.message } };
    }
    return this.onMvcc ? this.applyOnMvcc(index, cmd, write) : this.applyToMap(index, command);
  }

  /** Applies a /v1 command's entry: to the map before the fold, to the MVCC store after it. */
  private apply(index: number, data: Uint8Array): KvApplied {
    if (!this.onMvcc) return this.applyToMap(index, data);
    let cmd: KvCommand;
    try {
      cmd = decodeCommand(data);
    } catch (e) {
      return this.undecodable(index, e);
    }
    return this.applyOnMvcc(index, cmd, v1ToMvcc(cmd));
  }

  /** Before the fold: the map applies (and decodes) the command, as the previous release did. */
  private applyToMap(index: number, data: Uint8Array): KvApplied {
    const applied = this.map.applyData(index, data);
    this.mvcc.skip(index);
    return applied;
  }

  /** After the fold: the slot guard, then `write` (the command's MVCC form) on the store. */
  private applyOnMvcc(index: number, cmd: KvCommand, write: MvccCommand): KvApplied {
    this.map.skip(index);
    const rejected = this.slotGuard?.admit(cmd, (k) => this.get(k));
    if (rejected) {
      this.mvcc.skip(index);
      return { requestId: cmd.requestId, result: { succeeded: false, existed: false, index, rejected } };
    }
    return { requestId: cmd.requestId, result: v1Result(cmd, this.mvcc.applyCommand(index, write)) };
  }

  /** An entry that does not decode changes nothing, on every member alike; nobody waits for it. */
  private undecodable(index: number, e: unknown): KvApplied {
    this.skip(index);
    return { requestId: 0, result: { succeeded: false, existed: false, index, undecodable: (e as Error).message } };
  }

  /** The fold entry: the map's keys become MVCC puts, one revision each in key order; a second fold changes nothing. */
  private applyFold(index: number): void {
    if (this.onMvcc) {
      this.map.skip(index);
      this.mvcc.skip(index);
      return;
    }
    const { items } = this.map.list('', Number.MAX_SAFE_INTEGER);
    this.mvcc.applyImport(index, items.map((i) => [Buffer.from(i.key, 'utf8'), i.value] as const));
    this.map.restore(index, EMPTY);
    this.onMvcc = true;
  }

  /**
   * The head of this state's snapshot; the MVCC store's chunks follow it. Before the fold: {@link FORMAT_WITH_MAP},
   * u32 BE length of the map, the map (what the previous release wrote); after it, {@link FORMAT_MVCC_ONLY}.
   */
  snapshotHead(): Uint8Array[] {
    if (this.onMvcc) return [FORMAT_MVCC_ONLY];
    const map = this.map.snapshot();
    const head = Buffer.allocUnsafe(8);
    FORMAT_WITH_MAP.copy(head, 0);
    head.writeUInt32BE(map.length, 4);
    return [head, map];
  }

  /** Installs a snapshot's state at `index`, of any format (a bare map: an empty MVCC store). */
  restore(index: number, data: Uint8Array): void {
    const parts = splitStateSnapshot(data);
    this.map.restore(index, parts.map ?? EMPTY);
    if (parts.mvcc) this.mvcc.restore(parts.mvcc);
    else this.mvcc.restoreEmpty(index);
    this.onMvcc = parts.map === undefined;
  }

  /** Throws unless `data` restores (a snapshot from a peer, before the Raft core adopts it). */
  async check(data: Uint8Array): Promise<void> {
    const parts = splitStateSnapshot(data);
    if (parts.map) KvStateMachine.validateSnapshot(parts.map);
    if (parts.mvcc) await this.mvcc.checkSnapshot(parts.mvcc);
  }
}
