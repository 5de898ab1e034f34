/**
 * A shard member's slot ownership: which keys this shard serves, read from the {@link ShardRecord}
 * in its own replicated store. Writes are checked when they apply (the {@link ApplyGuard} hook of
 * the state machine), so a write proposed before a slot froze but applied after it is refused by
 * every member alike; reads are checked by the API after the linearizable barrier.
 */
import { decodeRecord, isReserved, RECORD_KEY, ShardRecord, slotOf } from './map';
import type { ApplyGuard, KvCommand, KvRejection } from '../kv/state-machine';

type Read = (key: string) => Uint8Array | undefined;

/** The parsed record, cached until its bytes change (reads of the MVCC store return a fresh copy each time). */
interface View {
  readonly record: ShardRecord;
  readonly frozen: ReadonlySet<number>;
}

/** See the module comment. Without a record every key is served (an unsharded store). */
export class SlotGuard implements ApplyGuard {
  private bytes: Uint8Array | undefined;
  private view: View | undefined;

  /** The record in force, or undefined when the store has none (or an unreadable one; the API refuses to write those). */
  record(read: Read): ShardRecord | undefined {
    return this.current(read)?.record;
  }

  admit(cmd: KvCommand, read: Read): KvRejection | undefined {
    if (cmd.migration) return undefined;
    return this.check(cmd.key, read, true);
  }

  /** Why a client may not read `key` here, or undefined if it may (a frozen slot is still readable). */
  checkRead(key: string, read: Read): KvRejection | undefined {
    return this.check(key, read, false);
  }

  private check(key: string, read: Read, write: boolean): KvRejection | undefined {
    if (isReserved(key)) return undefined;
    const view = this.current(read);
    if (!view) return undefined;
    const slot = slotOf(key);
    const { map, shard } = view.record;
    const owner = map.owners[slot];
    if (owner !== shard) return { code: 'wrong_shard', slot, epoch: map.epoch, owner };
    if (write && view.frozen.has(slot)) return { code: 'slot_frozen', slot, epoch: map.epoch, owner };
    return undefined;
  }

  private current(read: Read): View | undefined {
    const bytes = read(RECORD_KEY);
    if (!sameBytes(bytes, this.bytes)) {
      this.bytes = bytes;
      this.view = undefined;
      if (bytes !== undefined) {
        try {
          const record = decodeRecord(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
          this.view = { record, frozen: new Set(record.frozen) };
        } catch {
          this.view = undefined;
        }
      }
    }
    return this.view;
  }
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === b) return true;
  return a !== undefined && b !== undefined && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}
