/**
 * The simulator's tiny key-value state machine. Commands carry the client operation id and are
 * applied at most once (duplicated PROPOSE messages may append a command twice: thesis 6.3).
 */
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

export class KvStateMachine {
  static restore(bytes: Uint8Array, index: number): KvStateMachine {
    const sm = new KvStateMachine();
    sm.appliedIndex = index;
    if (bytes.byteLength === 0) return sm;
    const o = JSON.parse(new TextDecoder().decode(bytes)) as { data: [string, number][]; seen: string[]; digest: number; appliedIndex: number };
    if (o.appliedIndex !== index) throw new Error(`snapshot data is at index ${o.appliedIndex} but metadata says ${index}`);
    sm.data = new Map(o.data);
    sm.seen = new Set(o.seen);
    sm.digest = o.digest;
    return sm;
  }

  private data = new Map<string, number>();
  private seen = new Set<string>();
  /** A running hash of the state, comparable across nodes at the same applied index. */
  digest = 0;
  appliedIndex = 0;

  get(key: string): number | null {
    return this.data.get(key) ?? null;
  }

  apply(index: number, cmd: KvCommand | undefined): KvResult {
    if (index !== this.appliedIndex + 1) throw new Error(`KvStateMachine: applying index ${index} after ${this.appliedIndex}: gap or repeat`);
    this.appliedIndex = index;
    if (!cmd) return { ok: true, duplicate: false };
    if (this.seen.has(cmd.id)) return { ok: false, duplicate: true };
    this.seen.add(cmd.id);
    let ok = true;
    switch (cmd.f) {
      case 'put':
        this.data.set(cmd.key, cmd.value as number);
        break;
      case 'delete':
        this.data.delete(cmd.key);
        break;
      case 'cas': {
        const [expected, next] = cmd.value as [number | null, number];
        if (this.get(cmd.key) === expected) this.data.set(cmd.key, next);
        else ok = false;
        break;
      }
    }
    this.digest = hashString(`${this.digest}|${cmd.id}|${ok}`);
    return { ok, duplicate: false };
  }

  serialize(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({
      data: [...this.data], seen: [...this.seen], digest: this.digest, appliedIndex: this.appliedIndex,
    }));
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
