/**
 * Online resharding (docs/resharding.md): moves the slots whose owner differs between the slot
 * map in force and the ring over the target shards, one slot at a time:
 *
 *   begin      every shard's record gets the next epoch naming the target (new shards get a record)
 *   precopy    each moving slot's keys are copied to the new owner while the old one still serves
 *   freeze     the old owner refuses client writes to the slot (reads go on)
 *   reconcile  the new owner's copy of the slot is made equal to the frozen old one
 *   release    the old owner's record moves the slot to the new owner at epoch+1: it stops serving it
 *   acquire    every other shard's record gets epoch+1: the new owner serves the slot
 *   cleanup    the old owner's copy is deleted
 *   finish     the target becomes the map (removed shards own nothing); leftovers are swept
 *
 * All state lives in the shards' records, so a migrator that dies anywhere is simply run again:
 * it brings every shard to the highest epoch any has (safe: a slot's new owner is complete
 * before any record gives it the slot), finishes a frozen slot first, and goes on. Running it
 * with the old shard list rolls a migration back the same way.
 */
import { ShardSource } from './config';
import { sourceOfSpec, specOfSource } from './map-reader';
import { ShardClient } from './shard-client';
import { MetricsRegistry } from '../observability/metrics';
import { decodeRecord, encodeRecord, placeSlots, RECORD_KEY, ShardMap, ShardRecord, ShardSpec, SLOT_COUNT, slotMoves, slotOf } from '../shardmap/map';

/** The steps, in order, as logged and as named by the crash failpoint. */
export type MigrationStep = 'begin' | 'precopy' | 'freeze' | 'reconcile' | 'release' | 'acquire' | 'cleanup' | 'finish';

/** Options of {@link Migrator}. */
export interface MigratorOptions {
  /** The shards to end with, and where their members are. */
  readonly target: ReadonlyMap<string, ShardSource>;
  readonly log?: (msg: string, fields: Record<string, unknown>) => void;
  /** Bound on each request to a shard, retries included. @default 15000 */
  readonly requestTimeoutMs?: number;
  /**
   * Slots frozen and switched together (consecutive moves between the same two shards): 1 is the
   * protocol as specified; a few more cut a migration's round trips on a slow disk, each freeze
   * still covering well under 1% of the keys.
   * @default 1
   */
  readonly slotsPerStep?: number;
  /** Keys copied in parallel. @default 16 */
  readonly copyConcurrency?: number;
  /** Called as each step starts (the CLI's crash failpoint hooks in here). */
  readonly onStep?: (step: MigrationStep, slot: number | undefined) => void;
}

/** What a run did. */
export interface MigrationSummary {
  readonly fromEpoch: number;
  readonly toEpoch: number;
  readonly slotsMoved: number;
  /** slotsMoved / SLOT_COUNT: compare with the ring's prediction. */
  readonly movedShare: number;
  readonly keysCopied: number;
  readonly keysDeleted: number;
  /** Longest time one slot refused writes (freeze to acquire). */
  readonly maxFrozenMs: number;
  readonly ms: number;
}

const MIGRATION = { 'x-ha-migration': '1' };
const PAGE = 1000;

interface Held {
  text: string | undefined;
  record: ShardRecord | undefined;
}

/** See the module comment. One migrator at a time per store. */
export class Migrator {
  readonly metrics = new MetricsRegistry();
  private readonly slotsMoved = this.metrics.counter('ha_reshard_slots_moved_total', 'Slots moved to their new owner.');
  private readonly keysCopied = this.metrics.counter('ha_reshard_keys_copied_total', 'Keys written to a slot\'s new owner.');
  private readonly keysDeleted = this.metrics.counter('ha_reshard_keys_deleted_total', 'Keys deleted (old owner\'s copies, stale copies).');
  private readonly frozenSeconds = this.metrics.histogram('ha_reshard_slot_frozen_seconds', 'How long one slot refused writes.',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]);
  private remaining = 0;
  private epoch = 0;
  private readonly clients = new Map<string, ShardClient>();
  private readonly held = new Map<string, Held>();
  private map: ShardMap | undefined;
  /** What each slot's new owner holds of it since the precopy (only this migrator writes there). */
  private readonly copied = new Map<number, Map<string, string>>();
  /** Old owners' copies are deleted in the background, one slot after another, while the next slots move. */
  private cleanup: Promise<void> = Promise.resolve();
  private stats = { copied: 0, deleted: 0, moved: 0, maxFrozenMs: 0 };

  constructor(private readonly options: MigratorOptions) {
    this.metrics.gauge('ha_reshard_slots_remaining', 'Slots still to move in this run.', () => this.remaining);
    this.metrics.gauge('ha_reshard_epoch', 'Epoch of the slot map the migrator last wrote.', () => this.epoch);
  }

  /** Progress for a status route. */
  status(): Record<string, unknown> {
    return { epoch: this.epoch, remaining: this.remaining, ...this.stats };
  }

  /** Runs (or resumes) the migration to `options.target`; throws if a shard stays unreachable. */
  async run(): Promise<MigrationSummary> {
    const started = Date.now();
    try {
      for (const [name, source] of this.options.target) this.client(name, specOfSource(source));
      await this.readAll();
      let map = this.highest();
      const fromEpoch = map.epoch;
      // A crash between a release and its acquire leaves shards a step apart: the highest is safe for all.
      await this.syncAll(map);
      const targetSpecs = Object.fromEntries([...this.options.target].map(([n, s]) => [n, specOfSource(s)]));
      const targetOwners = placeSlots(Object.keys(targetSpecs));
      if (!sameSpecs(map.target, targetSpecs)) {
        this.step('begin', undefined);
        map = { epoch: map.epoch + 1, owners: map.owners, shards: { ...map.shards, ...targetSpecs }, target: targetSpecs };
        await this.syncAll(map);
      }
      const moves = slotMoves(map.owners, targetOwners);
      const frozen = new Set([...this.held.values()].flatMap((h) => h.record?.frozen ?? []));
      // A slot frozen by a run that died goes first: its writes are blocked until it moves (or is released below).
      // Then grouped by (old, new) owner so slotsPerStep can batch them.
      moves.sort((x, y) => Number(frozen.has(y.slot)) - Number(frozen.has(x.slot))
        || x.from.localeCompare(y.from) || x.to.localeCompare(y.to) || x.slot - y.slot);
      await this.releaseStaleFreezes(new Set(moves.map((m) => m.slot)));
      this.remaining = moves.length;
      this.log('migration planned', { epoch: map.epoch, slotsToMove: moves.length, share: moves.length / SLOT_COUNT, target: Object.keys(targetSpecs) });
      this.step('precopy', undefined);
      await this.precopy(moves);
      const per = Math.max(1, this.options.slotsPerStep ?? 1);
      for (let i = 0; i < moves.length;) {
        const { from, to } = moves[i];
        const group: number[] = [];
        while (i < moves.length && group.length < per && moves[i].from === from && moves[i].to === to) group.push(moves[i++].slot);
        await this.moveSlots(group, from, to);
        this.remaining -= group.length;
      }
      await this.cleanup;
      this.step('finish', undefined);
      const final: ShardMap = { epoch: this.map!.epoch + 1, owners: this.map!.owners, shards: targetSpecs };
      await this.syncAll(final);
      await this.sweep();
      const { moved, copied, deleted, maxFrozenMs } = this.stats;
      const summary: MigrationSummary = {
        fromEpoch,
        toEpoch: final.epoch,
        slotsMoved: moved,
        movedShare: moved / SLOT_COUNT,
        keysCopied: copied,
        keysDeleted: deleted,
        maxFrozenMs,
        ms: Date.now() - started,
      };
      this.log('migration done', { ...summary });
      return summary;
    } finally {
      for (const c of this.clients.values()) c.close();
    }
  }

  private async moveSlots(slots: number[], from: string, to: string): Promise<void> {
    const map = this.map!;
    const first = slots[0];
    const frozenAt = Date.now();
    this.step('freeze', first);
    const source = this.held.get(from)!.record!;
    const toFreeze = slots.filter((s) => !source.frozen.includes(s));
    if (toFreeze.length > 0) await this.writeRecord(from, { shard: from, frozen: [...source.frozen, ...toFreeze], map });
    this.step('reconcile', first);
    await this.reconcile(from, to, slots);
    this.step('release', first);
    const owners = [...map.owners];
    for (const s of slots) owners[s] = to;
    const next: ShardMap = { ...map, epoch: map.epoch + 1, owners };
    // The old owner first: from here no shard serves the slots until the new owner's record says so.
    await this.writeRecord(from, { shard: from, frozen: this.held.get(from)!.record!.frozen.filter((s) => !slots.includes(s)), map: next });
    this.step('acquire', first);
    await this.syncAll(next);
    const frozenMs = Date.now() - frozenAt;
    this.frozenSeconds.observe(frozenMs / 1000);
    this.stats.maxFrozenMs = Math.max(this.stats.maxFrozenMs, frozenMs);
    this.stats.moved += slots.length;
    this.slotsMoved.inc({ from, to }, slots.length);
    for (const s of slots) this.copied.delete(s);
    const previous = this.cleanup;
    this.cleanup = (async () => {
      await previous;
      this.step('cleanup', first);
      await this.deleteSlots(from, slots);
    })();
    // An error surfaces at the next await of `cleanup`; until then keep it from being unhandled.
    this.cleanup.catch(() => undefined);
  }

  /**
   * Copies every moving slot's keys to its new owner while the old owner serves them, one listing
   * per batch of slots of an (old, new) pair. The new owner's copy is listed too: a run that died
   * may have left keys there that the old owner has deleted since.
   */
  private async precopy(moves: { slot: number; from: string; to: string }[]): Promise<void> {
    const pairs = new Map<string, number[]>();
    for (const m of moves) {
      const key = JSON.stringify([m.from, m.to]);
      pairs.set(key, [...(pairs.get(key) ?? []), m.slot]);
    }
    for (const [key, slots] of pairs) {
      const [from, to] = JSON.parse(key) as [string, string];
      for (let i = 0; i < slots.length; i += 128) {
        const batch = slots.slice(i, i + 128);
        const [source, dest] = await Promise.all([this.list(from, batch), this.list(to, batch)]);
        for (const s of batch) this.copied.set(s, new Map());
        for (const [k, v] of dest) this.copied.get(slotOf(k))!.set(k, v);
        await this.sync(to, source, batch);
      }
    }
  }

  /** After the freeze: the tail, what changed on the old owner since the precopy. */
  private async reconcile(from: string, to: string, slots: number[]): Promise<void> {
    await this.sync(to, await this.list(from, slots), slots);
  }

  /** Makes `to`'s copy of `slots` (known in `copied`) equal to `source`. */
  private async sync(to: string, source: Map<string, string>, slots: number[]): Promise<void> {
    const puts = [...source].filter(([k, v]) => this.copied.get(slotOf(k))!.get(k) !== v);
    const deletes = slots.flatMap((s) => [...this.copied.get(s)!.keys()].filter((k) => !source.has(k)));
    await this.parallel(puts, async ([k, v]) => {
      await this.put(to, k, v);
      this.copied.get(slotOf(k))!.set(k, v);
    });
    await this.parallel(deletes, async (k) => {
      await this.del(to, k);
      this.copied.get(slotOf(k))!.delete(k);
    });
  }

  /** Deletes a shard's copies of slots it does not own. */
  private async deleteSlots(name: string, slots: number[]): Promise<void> {
    const items = await this.list(name, slots);
    await this.parallel([...items.keys()], (k) => this.del(name, k));
  }

  /** Deletes from every shard the keys of slots it does not own (copies left by a run that died mid-slot). */
  private async sweep(): Promise<void> {
    for (const name of this.held.keys()) {
      const owners = this.map!.owners;
      const foreign = Array.from({ length: SLOT_COUNT }, (_, s) => s).filter((s) => owners[s] !== name);
      for (let i = 0; i < foreign.length; i += 256) await this.deleteSlots(name, foreign.slice(i, i + 256));
    }
  }

  /** Unfreezes slots a previous run froze that no longer move (the target changed: a rollback). */
  private async releaseStaleFreezes(moving: Set<number>): Promise<void> {
    for (const [name, h] of this.held) {
      const frozen = h.record?.frozen ?? [];
      if (frozen.some((s) => !moving.has(s))) await this.writeRecord(name, { ...h.record!, frozen: frozen.filter((s) => moving.has(s)) });
    }
  }

  /** Every named shard's record to `map` (those already there are left alone), keeping each one's own frozen slots. */
  private async syncAll(map: ShardMap): Promise<void> {
    const names = new Set([...this.held.keys(), ...Object.keys(map.shards), ...Object.keys(map.target ?? {})]);
    for (const name of names) this.client(name, map.shards[name] ?? map.target?.[name]);
    await Promise.all([...names].map(async (name) => {
      if (!this.held.has(name)) await this.readRecord(name);
      const current = this.held.get(name)!.record;
      if (current && current.map.epoch >= map.epoch) return;
      const frozen = (current?.frozen ?? []).filter((s) => map.owners[s] === name);
      await this.writeRecord(name, { shard: name, frozen, map });
    }));
    this.map = map;
    this.epoch = map.epoch;
  }

  /** Compare-and-swap of a shard's record against what we last read; a 412 is re-read (our earlier try may have applied). */
  private async writeRecord(name: string, next: ShardRecord): Promise<void> {
    const text = encodeRecord(next);
    const prev = this.held.get(name)?.text;
    const query = prev === undefined ? 'prev_exist=false' : `prev=${encodeURIComponent(prev)}`;
    const r = await this.client(name).request('PUT', `/v1/kv/${encodeURIComponent(RECORD_KEY)}?${query}`, Buffer.from(text));
    if (r.status === 200) {
      this.held.set(name, { text, record: next });
      return;
    }
    if (r.status === 412) {
      await this.readRecord(name);
      if (this.held.get(name)!.text === text) return;
      throw new Error(`shard ${name}: its slot map changed underneath this migrator (epoch ${this.held.get(name)!.record?.map.epoch}): is another reshard running?`);
    }
    throw new Error(`shard ${name}: writing the slot map answered ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
  }

  private async readAll(): Promise<void> {
    let pending = [...this.clients.keys()];
    while (pending.length > 0) {
      await Promise.all(pending.map((n) => this.readRecord(n)));
      const named = [...this.held.values()].flatMap((h) => Object.entries({ ...h.record?.map.shards, ...h.record?.map.target }));
      pending = [];
      for (const [name, spec] of named) {
        if (this.clients.has(name)) continue;
        this.client(name, spec);
        pending.push(name);
      }
    }
  }

  private async readRecord(name: string): Promise<void> {
    const r = await this.client(name).request('GET', `/v1/kv/${encodeURIComponent(RECORD_KEY)}`);
    if (r.status === 404) { this.held.set(name, { text: undefined, record: undefined }); return; }
    if (r.status !== 200) throw new Error(`shard ${name}: reading the slot map answered ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
    const text = r.body.toString('utf8');
    this.held.set(name, { text, record: decodeRecord(text) });
  }

  private highest(): ShardMap {
    const maps = [...this.held.values()].flatMap((h) => (h.record ? [h.record.map] : []));
    if (maps.length === 0) throw new Error('no shard has a slot map yet: start a router in front of the current shards first (it creates the map)');
    return maps.reduce((a, m) => (m.epoch > a.epoch ? m : a));
  }

  /** Keys (and base64 values) of `slots` on a shard, whatever it serves. */
  private async list(name: string, slots: number[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let after: string | undefined;
    for (;;) {
      const q = `prefix=&slot=${slots.join(',')}&limit=${PAGE}${after !== undefined ? `&after=${encodeURIComponent(after)}` : ''}`;
      const r = await this.client(name).request('GET', `/v1/kv/?${q}`, undefined, MIGRATION);
      if (r.status !== 200) throw new Error(`shard ${name}: listing slots answered ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
      const page = JSON.parse(r.body.toString('utf8')) as { items: { key: string; value: string }[]; more: boolean };
      for (const item of page.items) {
        if (!slots.includes(slotOf(item.key))) throw new Error(`shard ${name} listed ${item.key} outside slots ${slots.join(',')}`);
        out.set(item.key, item.value);
      }
      if (!page.more || page.items.length === 0) return out;
      after = page.items[page.items.length - 1].key;
    }
  }

  private async put(name: string, key: string, base64: string): Promise<void> {
    const r = await this.client(name).request('PUT', `/v1/kv/${encodeURIComponent(key)}`, Buffer.from(base64, 'base64'), MIGRATION);
    if (r.status !== 200) throw new Error(`shard ${name}: copying ${key} answered ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
    this.stats.copied++;
    this.keysCopied.inc({ shard: name });
  }

  private async del(name: string, key: string): Promise<void> {
    const r = await this.client(name).request('DELETE', `/v1/kv/${encodeURIComponent(key)}`, undefined, MIGRATION);
    if (r.status !== 200) throw new Error(`shard ${name}: deleting ${key} answered ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
    this.stats.deleted++;
    this.keysDeleted.inc({ shard: name });
  }

  private async parallel<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => { while (next < items.length) await fn(items[next++]); };
    await Promise.all(Array.from({ length: Math.min(items.length, this.options.copyConcurrency ?? 16) }, worker));
  }

  private client(name: string, spec?: ShardSpec): ShardClient {
    let c = this.clients.get(name);
    if (!c) {
      const given = this.options.target.get(name);
      if (!given && spec === undefined) throw new Error(`shard ${name}: no members known`);
      c = new ShardClient(name, given ?? sourceOfSpec(spec!), this.options.requestTimeoutMs ?? 15_000);
      this.clients.set(name, c);
    }
    return c;
  }

  private step(step: MigrationStep, slot: number | undefined): void {
    this.options.onStep?.(step, slot);
    // Per-slot steps would be seven lines a slot: progress is logged every 32 slots instead.
    if (slot === undefined) this.log('step', { step, epoch: this.epoch });
    else if (step === 'freeze' && this.stats.moved % 32 < Math.max(1, this.options.slotsPerStep ?? 1)) this.log('progress', { moved: this.stats.moved, remaining: this.remaining, epoch: this.epoch });
  }

  private log(msg: string, fields: Record<string, unknown>): void {
    this.options.log?.(msg, fields);
  }
}

function sameSpecs(a: Readonly<Record<string, ShardSpec>> | undefined, b: Record<string, ShardSpec>): boolean {
  if (!a) return false;
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}
