/**
 * The /v1 commands as they travel in log entries (a compact binary encoding, no JSON on the hot path),
 * and the map-based state machine that held the /v1 keys before they moved onto the MVCC store
 * (server/v1-store.ts): a member still applies an older release's log and snapshots to it, the same
 * way on every member, until the fold entry moves its keys into the MVCC store.
 */

/** The operations a command can carry. */
export enum KvOp {
  PUT = 1,
  DELETE = 2,
  /** Compare-and-swap: put `value` only if the current value equals `prev` (or the key is absent when `prevAbsent`). */
  CAS = 3,
  /** Compare-and-delete: delete only if the current value equals `prev`. */
  CAS_DELETE = 4,
}

/** A client command as proposed to Raft. `requestId` lets the proposer match the applied result to its waiter. */
export interface KvCommand {
  readonly op: KvOp;
  /** Unique per proposing member (high 21 bits: member id, low 32 bits: counter); 0 when nobody waits. */
  readonly requestId: number;
  readonly key: string;
  readonly value?: Uint8Array;
  /** CAS / CAS_DELETE: the value the key must hold. */
  readonly prev?: Uint8Array;
  /** CAS: swap only if the key is absent (put-if-absent). Mutually exclusive with `prev`. */
  readonly prevAbsent?: boolean;
  /** Written by the resharding migrator, not a client: admitted whatever the slot's owner (see {@link ApplyGuard}). */
  readonly migration?: boolean;
}

/** Why a write was refused at apply time: its slot is not this shard's, or is frozen for a migration. */
export interface KvRejection {
  readonly code: 'wrong_shard' | 'slot_frozen';
  readonly slot: number;
  /** The epoch of the slot map this shard applied the write under. */
  readonly epoch: number;
  /** The slot's owner in that map. */
  readonly owner: string;
}

/**
 * Decides, deterministically from the applied state, whether a write may apply: every member
 * asks the same question of the same state, so all agree. The shard map (runtime/src/shardmap)
 * installs one; without it every write applies.
 */
export interface ApplyGuard {
  admit(cmd: KvCommand, read: (key: string) => Uint8Array | undefined): KvRejection | undefined;
}

/** The outcome of applying one command. `succeeded` is false when a CAS precondition did not hold. */
export interface KvResult {
  readonly succeeded: boolean;
  /** For a failed CAS: the value found (undefined when absent). For a delete: whether a key was removed. */
  readonly current?: Uint8Array;
  readonly existed: boolean;
  /** The log index at which the command was applied (a per-cluster revision). */
  readonly index: number;
  /**
   * Set when the entry could not be decoded as a command (a forged or corrupt entry that was
   * committed anyway): it changed nothing, on every member alike. The text says why.
   */
  readonly undecodable?: string;
  /** Set when the guard refused the write: nothing changed. */
  readonly rejected?: KvRejection;
  /** Set when etcd auth refused the write's caller when it applied (a permission revoked meanwhile): nothing changed. */
  readonly denied?: string;
}

/** What applying one entry's bytes produced: the result, and the waiter it belongs to (0: none). */
export interface KvApplied {
  readonly requestId: number;
  readonly result: KvResult;
}

const HEADER_BYTES = 1 + 8 + 1 + 4 + 4 + 4;
const FLAG_HAS_PREV = 1;
const FLAG_PREV_ABSENT = 2;
const FLAG_HAS_VALUE = 4;
const FLAG_MIGRATION = 8;

/** Encodes a command for a log entry: op u8, requestId f64, flags u8, keyLen u32, valueLen u32, prevLen u32, then bytes. */
export function encodeCommand(cmd: KvCommand): Uint8Array {
  const key = Buffer.from(cmd.key, 'utf8');
  const value = cmd.value ?? EMPTY;
  const prev = cmd.prev ?? EMPTY;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + key.length + value.length + prev.length);
  let flags = 0;
  if (cmd.prev !== undefined) flags |= FLAG_HAS_PREV;
  if (cmd.prevAbsent) flags |= FLAG_PREV_ABSENT;
  if (cmd.value !== undefined) flags |= FLAG_HAS_VALUE;
  if (cmd.migration) flags |= FLAG_MIGRATION;
  buf.writeUInt8(cmd.op, 0);
  buf.writeDoubleLE(cmd.requestId, 1);
  buf.writeUInt8(flags, 9);
  buf.writeUInt32LE(key.length, 10);
  buf.writeUInt32LE(value.length, 14);
  buf.writeUInt32LE(prev.length, 18);
  let off = HEADER_BYTES;
  key.copy(buf, off); off += key.length;
  buf.set(value, off); off += value.length;
  buf.set(prev, off);
  return buf;
}

/** Decodes what {@link encodeCommand} produced; throws on a truncated or unknown command (a bug, never user input). */
export function decodeCommand(data: Uint8Array): KvCommand {
  if (data.length < HEADER_BYTES) throw new Error(`kv: command of ${data.length} bytes is shorter than its ${HEADER_BYTES}-byte header`);
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const op = buf.readUInt8(0) as KvOp;
  if (!(op in KvOp)) throw new Error(`kv: unknown command op ${op}`);
  const requestId = buf.readDoubleLE(1);
  const flags = buf.readUInt8(9);
  const keyLen = buf.readUInt32LE(10);
  const valueLen = buf.readUInt32LE(14);
  const prevLen = buf.readUInt32LE(18);
  if (HEADER_BYTES + keyLen + valueLen + prevLen !== buf.length) throw new Error('kv: command length does not match its header');
  let off = HEADER_BYTES;
  const key = buf.toString('utf8', off, off + keyLen); off += keyLen;
  const value = buf.subarray(off, off + valueLen); off += valueLen;
  const prev = buf.subarray(off, off + prevLen);
  return {
    op,
    requestId,
    key,
    value: flags & FLAG_HAS_VALUE ? value : undefined,
    prev: flags & FLAG_HAS_PREV ? prev : undefined,
    prevAbsent: (flags & FLAG_PREV_ABSENT) !== 0,
    ...(flags & FLAG_MIGRATION ? { migration: true } : {}),
  };
}

const EMPTY = new Uint8Array(0);

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** One key's listing entry. */
export interface KvItem {
  readonly key: string;
  readonly value: Uint8Array;
}

/**
 * The key-value map. `apply` must be called with committed entries in log order, exactly once each;
 * reads see the state as of `appliedIndex`.
 */
export class KvStateMachine {
  /** Throws, naming the problem, if `data` is not a snapshot {@link restore} accepts. Changes nothing. */
  static validateSnapshot(data: Uint8Array): void {
    walkSnapshot(data, () => undefined);
  }

  private readonly data = new Map<string, Uint8Array>();
  private applied = 0;
  /** Set once at wiring time, before the first entry applies (cli/raft.ts). */
  guard: ApplyGuard | undefined;

  /** The index of the last applied entry (or of the restored snapshot). */
  get appliedIndex(): number { return this.applied; }

  /** Number of keys. */
  get size(): number { return this.data.size; }

  /** Marks an entry that carries no command (an empty entry a new leader appends, a membership change) as applied. */
  skip(index: number): void {
    this.advanceTo(index);
  }

  /**
   * Applies one committed entry's bytes at `index`. Bytes that do not decode as a command are a
   * rejected command, not an error: every member decodes the same bytes the same way, so the
   * rejection is deterministic and the log stays applicable (a poison entry never crash-loops a
   * cluster).
   */
  applyData(index: number, data: Uint8Array): KvApplied {
    let cmd: KvCommand;
    try {
      cmd = decodeCommand(data);
    } catch (e) {
      this.advanceTo(index);
      return { requestId: 0, result: { succeeded: false, existed: false, index, undecodable: (e as Error).message } };
    }
    return { requestId: cmd.requestId, result: this.apply(index, cmd) };
  }

  /** Applies one committed command at `index`; values are copied so the log buffer can be reused. */
  apply(index: number, cmd: KvCommand): KvResult {
    this.advanceTo(index);
    const rejected = this.guard?.admit(cmd, (k) => this.data.get(k));
    if (rejected) return { succeeded: false, existed: false, index, rejected };
    const current = this.data.get(cmd.key);
    switch (cmd.op) {
      case KvOp.PUT:
        this.data.set(cmd.key, copy(cmd.value ?? EMPTY));
        return { succeeded: true, existed: current !== undefined, index };
      case KvOp.DELETE:
        this.data.delete(cmd.key);
        return { succeeded: true, existed: current !== undefined, index };
      case KvOp.CAS: {
        const holds = cmd.prevAbsent ? current === undefined
          : current !== undefined && cmd.prev !== undefined && bytesEqual(current, cmd.prev);
        if (!holds) return { succeeded: false, existed: current !== undefined, current, index };
        this.data.set(cmd.key, copy(cmd.value ?? EMPTY));
        return { succeeded: true, existed: current !== undefined, index };
      }
      case KvOp.CAS_DELETE: {
        const holds = current !== undefined && cmd.prev !== undefined && bytesEqual(current, cmd.prev);
        if (!holds) return { succeeded: false, existed: current !== undefined, current, index };
        this.data.delete(cmd.key);
        return { succeeded: true, existed: true, index };
      }
      default:
        throw new Error(`kv: unknown command op ${String(cmd.op)}`);
    }
  }

  /** The value of `key`, or undefined when absent. */
  get(key: string): Uint8Array | undefined {
    return this.data.get(key);
  }

  /**
   * Keys starting with `prefix` (and after `after`, if given) that `filter` accepts, sorted by key
   * (UTF-16 order), at most `limit` of them.
   */
  list(prefix: string, limit: number, after?: string, filter?: (key: string) => boolean): { items: KvItem[]; more: boolean } {
    const keys: string[] = [];
    for (const k of this.data.keys()) {
      if (k.startsWith(prefix) && (after === undefined || k > after) && (!filter || filter(k))) keys.push(k);
    }
    keys.sort();
    const items = keys.slice(0, limit).map((key) => ({ key, value: this.data.get(key)! }));
    return { items, more: keys.length > limit };
  }

  /** Serialises the whole map (count u32, then keyLen u32, valueLen u32, key, value per entry). */
  snapshot(): Uint8Array {
    let size = 4;
    const entries: [Buffer, Uint8Array][] = [];
    for (const [k, v] of this.data) {
      const kb = Buffer.from(k, 'utf8');
      entries.push([kb, v]);
      size += 8 + kb.length + v.length;
    }
    const out = Buffer.allocUnsafe(size);
    out.writeUInt32LE(entries.length, 0);
    let off = 4;
    for (const [kb, v] of entries) {
      out.writeUInt32LE(kb.length, off); out.writeUInt32LE(v.length, off + 4); off += 8;
      kb.copy(out, off); off += kb.length;
      out.set(v, off); off += v.length;
    }
    return out;
  }

  /**
   * Replaces the state with a snapshot taken at `index`. Throws on a malformed snapshot and then
   * leaves the state untouched (it is parsed completely before anything is replaced).
   */
  restore(index: number, data: Uint8Array): void {
    const parsed = parseSnapshot(data);
    this.data.clear();
    for (const [k, v] of parsed) this.data.set(k, v);
    this.applied = index;
  }


  private advanceTo(index: number): void {
    if (index !== this.applied + 1 && index > this.applied + 1) {
      throw new Error(`kv: entry ${index} applied after ${this.applied}: entries must be applied in order without gaps`);
    }
    if (index <= this.applied) throw new Error(`kv: entry ${index} applied twice (applied index is ${this.applied})`);
    this.applied = index;
  }
}

/** Calls `visit` for each (key, value view) of a snapshot; throws on any malformation. */
function walkSnapshot(data: Uint8Array, visit: (key: string, value: Uint8Array) => void): void {
  if (data.length === 0) return;
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < 4) throw new Error(`kv: snapshot of ${buf.length} bytes is shorter than its count`);
  const count = buf.readUInt32LE(0);
  let off = 4;
  for (let i = 0; i < count; i++) {
    if (off + 8 > buf.length) throw new Error(`kv: snapshot truncated at entry ${i} of ${count}`);
    const kl = buf.readUInt32LE(off); const vl = buf.readUInt32LE(off + 4); off += 8;
    if (off + kl + vl > buf.length) throw new Error(`kv: snapshot truncated at entry ${i} of ${count}`);
    const key = buf.toString('utf8', off, off + kl); off += kl;
    visit(key, buf.subarray(off, off + vl)); off += vl;
  }
  if (off !== buf.length) throw new Error(`kv: snapshot has ${buf.length - off} trailing bytes after ${count} entries`);
}

function parseSnapshot(data: Uint8Array): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  walkSnapshot(data, (k, v) => out.set(k, copy(v)));
  return out;
}

function copy(v: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(v);
}
