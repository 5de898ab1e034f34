/**
 * How a router learns the slot map: it reads every shard's record (runtime/src/shardmap), follows
 * the shards a record names that it was not configured with, and routes by the highest epoch
 * read; it never goes back to a lower one. A store none of whose shards has a record yet gets
 * its first map (epoch 1, the ring over the configured shards) from the first router to start.
 */
import { ShardSource } from './config';
import { decodeRecord, encodeRecord, placeSlots, ShardMap, ShardRecord, ShardSpec, slotMoves } from '../shardmap/map';

/** A shard's members as a map entry: the URLs, or `dns:HOST:PORT`. */
export function specOfSource(source: ShardSource): ShardSpec {
  return source.kind === 'static' ? source.urls.join(',') : `dns:${source.host}:${source.port}`;
}

/** The inverse of {@link specOfSource}; throws on a spec it did not write. */
export function sourceOfSpec(spec: ShardSpec): ShardSource {
  if (spec.startsWith('dns:')) {
    const rest = spec.slice(4);
    const colon = rest.lastIndexOf(':');
    const port = Number(rest.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(port)) throw new Error(`shard spec '${spec}' is not dns:HOST:PORT`);
    return { kind: 'dns', host: rest.slice(0, colon).replace(/^\[|\]$/g, ''), port };
  }
  const urls = spec.split(',').filter((u) => u !== '');
  if (urls.length === 0) throw new Error(`shard spec '${spec}' names no member`);
  return { kind: 'static', urls };
}

/** What the reader needs from the router. */
export interface MapReaderDeps {
  /** The shards given by flags or environment. */
  configured(): { name: string; spec: ShardSpec }[];
  /** The shard's record, undefined if it has none; throws if the shard cannot answer. */
  readRecord(name: string): Promise<string | undefined>;
  /** Writes the record only if the shard has none; false if it had one. */
  createRecord(name: string, text: string): Promise<boolean>;
  /** A shard the map names that the router does not know yet. */
  learnShard(name: string, spec: ShardSpec): void;
}

/** Progress of a migration, derived from the map alone: what is left is what differs from the target. */
export interface MigrationProgress {
  readonly target: string[];
  readonly remaining: number;
}

/** See the module comment. */
export class MapReader {
  map: ShardMap | undefined;
  lastError = 'not read yet';
  refreshedAt = 0;
  private inflight: Promise<void> | undefined;
  private targetCache: { key: string; owners: string[] } | undefined;

  constructor(private readonly deps: MapReaderDeps) {}

  /** Re-reads every shard's record; concurrent callers share one pass. */
  refresh(): Promise<void> {
    this.inflight ??= this.readAll().finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  /** The running migration, if the map names a target. */
  migration(): MigrationProgress | undefined {
    const map = this.map;
    if (!map?.target) return undefined;
    const names = Object.keys(map.target).sort();
    const key = names.join(',');
    if (this.targetCache?.key !== key) this.targetCache = { key, owners: placeSlots(names) };
    return { target: names, remaining: slotMoves(map.owners, this.targetCache.owners).length };
  }

  private async readAll(): Promise<void> {
    const configured = this.deps.configured();
    const known = new Set(configured.map((c) => c.name));
    const records: ShardRecord[] = [];
    const errors: string[] = [];
    let empty = 0;
    let pending = [...known];
    while (pending.length > 0) {
      const results = await Promise.allSettled(pending.map((name) => this.deps.readRecord(name)));
      const next: string[] = [];
      results.forEach((r, i) => {
        if (r.status === 'rejected') { errors.push(String((r.reason as Error).message ?? r.reason)); return; }
        if (r.value === undefined) { empty++; return; }
        let record: ShardRecord;
        try {
          record = decodeRecord(r.value);
        } catch (e) {
          errors.push(`shard ${pending[i]}: ${(e as Error).message}`);
          return;
        }
        records.push(record);
        for (const [name, spec] of Object.entries({ ...record.map.shards, ...record.map.target })) {
          if (known.has(name)) continue;
          known.add(name);
          this.deps.learnShard(name, spec);
          next.push(name);
        }
      });
      pending = next;
    }
    const best = records.reduce<ShardRecord | undefined>((a, r) => (a && a.map.epoch >= r.map.epoch ? a : r), undefined);
    if (best) {
      if (!this.map || best.map.epoch >= this.map.epoch) this.map = best.map;
      this.refreshedAt = Date.now();
      this.lastError = errors.join('; ');
      return;
    }
    if (errors.length === 0 && empty === configured.length) {
      await this.bootstrap(configured);
      return;
    }
    this.lastError = errors.join('; ') || 'no shard has a slot map';
  }

  /** Epoch 1: the ring over the configured shards, created in name order on every shard that has no record. */
  private async bootstrap(configured: { name: string; spec: ShardSpec }[]): Promise<void> {
    const names = configured.map((c) => c.name).sort();
    const map: ShardMap = { epoch: 1, owners: placeSlots(names), shards: Object.fromEntries(configured.map((c) => [c.name, c.spec])) };
    for (const name of names) {
      // Another router got there first: its map is the one (read it next time round).
      if (!await this.deps.createRecord(name, encodeRecord({ shard: name, frozen: [], map }))) {
        this.lastError = `shard ${name} got its slot map from another router; re-reading`;
        return this.readAll();
      }
    }
    this.map = map;
    this.refreshedAt = Date.now();
    this.lastError = '';
  }
}
