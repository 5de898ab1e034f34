/**
 * The slot map: keys hash to one of {@link SLOT_COUNT} fixed slots, and a versioned map says which
 * shard owns each slot. The consistent-hash ring places slots (not keys) on shards, so a shard
 * added or removed moves only the slots whose ring owner changes (docs/resharding.md).
 *
 * Every shard stores its own copy as a {@link ShardRecord} under {@link RECORD_KEY} in its
 * replicated store: `map` (the slot -> shard map at `epoch`), the shard's own name and the slots
 * it has frozen for a migration. A member answers from its record only; a router routes by the
 * highest-epoch map it read and refreshes when a member rejects a key with a newer epoch.
 */
import { HashRing } from '../ring/hash-ring';
import { murmur3 } from '../ring/murmur3';

/**
 * Number of slots, fixed for the life of a store (like Couchbase's 1024 vBuckets): enough that a
 * 3-shard store's slot shares sit within about 1.5% of the ring's, few enough that a migration
 * moving a third of them (341 freezes and switches) takes seconds, not minutes.
 */
export const SLOT_COUNT = 1024;

/** Keys under this prefix are the store's own (the shard record); never slot-checked, never routed. */
export const RESERVED_PREFIX = '__ha/';

/** Where each shard keeps its {@link ShardRecord}. */
export const RECORD_KEY = `${RESERVED_PREFIX}shard`;

/** The slot of `key`: the top 10 bits of its MurmurHash3 (independent of the ring's point hashes). */
export function slotOf(key: string): number {
  return murmur3(key) >>> (32 - Math.log2(SLOT_COUNT));
}

/** Whether `key` is one of the store's own keys. */
export function isReserved(key: string): boolean {
  return key.startsWith(RESERVED_PREFIX);
}

/** A shard's members as the router's `--shard` value: `URL,URL,...`, or `dns:HOST:PORT` for a headless Service. */
export type ShardSpec = string;

/** The slot -> shard map at one epoch. */
export interface ShardMap {
  readonly epoch: number;
  /** owners[slot] = shard name. */
  readonly owners: readonly string[];
  /** Every shard the map names, with where its members are: the owners, and during a migration the target's. */
  readonly shards: Readonly<Record<string, ShardSpec>>;
  /** While a migration runs: the shard set it moves to. */
  readonly target?: Readonly<Record<string, ShardSpec>>;
}

/** What one shard stores under {@link RECORD_KEY}. */
export interface ShardRecord {
  /** This shard's name in the map. */
  readonly shard: string;
  /** Slots this shard owns but refuses client writes to: their keys are being copied to their next owner. */
  readonly frozen: readonly number[];
  readonly map: ShardMap;
}

/** Places every slot with the ring over `names` (the slot's ring key is `slot/<n>`). */
export function placeSlots(names: readonly string[]): string[] {
  if (names.length === 0) throw new Error('placeSlots: no shards');
  const ring = new HashRing(names.map((id) => ({ id })));
  return Array.from({ length: SLOT_COUNT }, (_, s) => ring.get(`slot/${s}`));
}

/** The slots each shard owns, counted. */
export function slotCounts(owners: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const o of owners) counts.set(o, (counts.get(o) ?? 0) + 1);
  return counts;
}

/**
 * Serialises a record. Owners are one byte per slot (an index into `names`), base64: about 1.4 KB,
 * small enough to travel as the `prev=` of a compare-and-swap in a URL.
 */
export function encodeRecord(record: ShardRecord): string {
  const names = [...new Set(record.map.owners)].sort();
  if (names.length > 255) throw new Error(`a slot map names at most 255 owners, not ${names.length}`);
  const index = new Map(names.map((n, i) => [n, i]));
  const bytes = Buffer.from(record.map.owners.map((o) => index.get(o)!));
  const { epoch, shards, target } = record.map;
  return JSON.stringify({ v: 1, shard: record.shard, frozen: record.frozen, epoch, slots: SLOT_COUNT, shards, target, names, owners: bytes.toString('base64') });
}

/** Parses what {@link encodeRecord} wrote; throws with the reason on anything else. */
export function decodeRecord(text: string): ShardRecord {
  const raw = JSON.parse(text) as Record<string, unknown>;
  if (raw.v !== 1) throw new Error(`shard record version ${String(raw.v)} is not 1`);
  if (raw.slots !== SLOT_COUNT) throw new Error(`shard record has ${String(raw.slots)} slots; this runtime uses ${SLOT_COUNT}`);
  if (typeof raw.shard !== 'string' || !Number.isSafeInteger(raw.epoch) || typeof raw.owners !== 'string' || !Array.isArray(raw.names)
    || !Array.isArray(raw.frozen) || typeof raw.shards !== 'object' || raw.shards === null) {
    throw new Error('shard record lacks shard, epoch, names, owners, shards or frozen');
  }
  const names = raw.names as string[];
  const bytes = Buffer.from(raw.owners, 'base64');
  if (bytes.length !== SLOT_COUNT) throw new Error(`shard record: owners cover ${bytes.length} slots, not ${SLOT_COUNT}`);
  const owners = [...bytes].map((i, s) => {
    if (typeof names[i] !== 'string') throw new Error(`shard record: slot ${s} has no owner`);
    return names[i];
  });
  return {
    shard: raw.shard,
    frozen: raw.frozen as number[],
    map: {
      epoch: raw.epoch as number,
      owners,
      shards: raw.shards as Record<string, ShardSpec>,
      ...(raw.target ? { target: raw.target as Record<string, ShardSpec> } : {}),
    },
  };
}

/** The slots whose owner differs between two owner arrays, with both owners. */
export function slotMoves(from: readonly string[], to: readonly string[]): { slot: number; from: string; to: string }[] {
  const moves: { slot: number; from: string; to: string }[] = [];
  for (let s = 0; s < SLOT_COUNT; s++) if (from[s] !== to[s]) moves.push({ slot: s, from: from[s], to: to[s] });
  return moves;
}
