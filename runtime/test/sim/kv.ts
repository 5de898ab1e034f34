/**
 * The simulator's state machine: the runtime's real MVCC store (runtime/src/mvcc), so every seeded run exercises
 * its command codec, put, delete-range, compare-then-put transactions, snapshots and restores under Raft's
 * faults. The client's operations map to etcd requests: put -> Put, delete -> DeleteRange, cas -> Txn (compare
 * the value, or create_revision 0 for "absent", then put), get -> Range. Commands carry the client operation id
 * and are applied at most once (duplicated PROPOSE messages may append a command twice: thesis 6.3).
 */
import { CompareResult, CompareTarget, encodeCommand, MvccCommand, MvccStateMachine, MvccStore, snapshotBytes, TxnResponse } from '../../src/mvcc';

export type KvFunction = 'get' | 'put' | 'delete' | 'cas';

/** A command as stored in a log entry. cas: value = [expected, new] (null expected = key absent). */
export interface KvCommand {
  readonly id: string;
  readonly f: 'put' | 'delete' | 'cas';
  readonly key: string;
  readonly value?: number | [number | null, number];
}

/** The result of applying one command. */
export interface KvResult {
  readonly ok: boolean;
  readonly duplicate: boolean;
}

const bytes = (s: string | number): Buffer => Buffer.from(String(s));

/** The etcd request a simulator command stands for. */
function toMvcc(cmd: KvCommand, requestId: number): MvccCommand {
  const key = bytes(cmd.key);
  if (cmd.f === 'put') return { op: 'put', requestId, request: { key, value: bytes(cmd.value as number) } };
  if (cmd.f === 'delete') return { op: 'delete_range', requestId, request: { key } };
  const [expected, next] = cmd.value as [number | null, number];
  const compare = expected === null
    ? { result: CompareResult.EQUAL, target: CompareTarget.CREATE, key, create_revision: 0 }
    : { result: CompareResult.EQUAL, target: CompareTarget.VALUE, key, value: bytes(expected) };
  return { op: 'txn', requestId, request: { compare: [compare], success: [{ request_put: { key, value: bytes(next) } }], failure: [] } };
}

export class KvStateMachine {
  static restore(data: Uint8Array, index: number): KvStateMachine {
    const sm = new KvStateMachine();
    if (data.byteLength === 0) {
      // An empty initial snapshot (index 0, or a bootstrap's): an empty store at that index.
      sm.mvcc.restore(snapshotBytes(new MvccStore().view(), index));
      return sm;
    }
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const headLength = buf.readUInt32BE(0);
    const o = JSON.parse(buf.toString('utf8', 4, 4 + headLength)) as { seen: string[]; digest: number; appliedIndex: number };
    if (o.appliedIndex !== index) throw new Error(`snapshot data is at index ${o.appliedIndex} but metadata says ${index}`);
    sm.mvcc.restore(buf.subarray(4 + headLength));
    if (sm.mvcc.appliedIndex !== index) throw new Error(`MVCC snapshot is at index ${sm.mvcc.appliedIndex} but metadata says ${index}`);
    sm.seen = new Set(o.seen);
    sm.digest = o.digest;
    return sm;
  }

  private readonly mvcc = new MvccStateMachine();
  private seen = new Set<string>();
  /** A running hash of the results and store revisions, comparable across nodes at the same applied index. */
  digest = 0;

  get appliedIndex(): number {
    return this.mvcc.appliedIndex;
  }

  get(key: string): number | null {
    const kvs = this.mvcc.store.range({ key: bytes(key) }).kvs;
    return kvs.length === 0 ? null : Number(Buffer.from(kvs[0].value).toString());
  }

  apply(index: number, cmd: KvCommand | undefined): KvResult {
    if (index !== this.appliedIndex + 1) throw new Error(`KvStateMachine: applying index ${index} after ${this.appliedIndex}: gap or repeat`);
    if (!cmd) {
      this.mvcc.skip(index);
      return { ok: true, duplicate: false };
    }
    if (this.seen.has(cmd.id)) {
      this.mvcc.skip(index);
      return { ok: false, duplicate: true };
    }
    this.seen.add(cmd.id);
    const result = this.mvcc.apply(index, encodeCommand(toMvcc(cmd, index)));
    if (result.error) throw new Error(`MVCC rejected ${JSON.stringify(cmd)} at ${index}: ${result.error.message}`);
    const ok = cmd.f !== 'cas' || (result.response as TxnResponse).succeeded;
    this.digest = hashString(`${this.digest}|${cmd.id}|${ok}|${result.revision}`);
    return { ok, duplicate: false };
  }

  serialize(): Uint8Array {
    const head = Buffer.from(JSON.stringify({ seen: [...this.seen], digest: this.digest, appliedIndex: this.appliedIndex }));
    const length = Buffer.alloc(4);
    length.writeUInt32BE(head.length);
    return Buffer.concat([length, head, ...this.mvcc.snapshot().chunks]);
  }
}

export function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

export function hashBytes(b: Uint8Array): number {
  let h = 2166136261;
  for (let i = 0; i < b.length; i++) {
    h ^= b[i];
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}
