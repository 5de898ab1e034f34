/**
 * A consistent-hash ring (Karger et al. 1997) with weighted virtual nodes, built for request
 * routing: lookups are one MurmurHash3 of the key, one read of a 2^k-bucket index over the
 * sorted points and a short scan; membership changes merge or filter the sorted points instead
 * of rebuilding them; an optional bounded-load mode (Mirrokni, Thorup and Zadimoghaddam,
 * "Consistent Hashing with Bounded Loads", 2018) caps every node at c times its fair load.
 *
 * Placement: node `id` with weight `w` owns round(w * virtualNodes) points, the i-th at
 * murmur3(id, seed i); a key belongs to the first point at or after murmur3(key), clockwise.
 * Points with equal hashes are ordered by node id, so placement never depends on the order of
 * `add` calls. Consequences: adding a node only moves keys to it, removing one only moves its
 * keys away, and no key ever moves between two other nodes.
 */
import { murmur3 } from './murmur3';

/** A member of the ring. */
export interface RingNode {
  /** Unique, non-empty identifier; it is what `get` returns. */
  readonly id: string;
  /**
   * Relative capacity: the node owns weight / (sum of weights) of the hash space.
   * @default 1
   */
  readonly weight?: number;
}

/** Options of `HashRing`. */
export interface HashRingOptions {
  /**
   * Points per unit of weight. A node's share of the hash space deviates from its fair share by
   * about 1/sqrt(points) (relative standard deviation), so the most loaded of 100 equal nodes
   * sits about 2.5/sqrt(points) above the mean: the default keeps it near 3% and below 5% with
   * high probability, at about 5 bytes per point (4 for hash bits and owner, at most 1 of index).
   * Lower it for rings of thousands of nodes if memory matters more than balance.
   * @default 6144
   */
  readonly virtualNodes?: number;
  /**
   * Bounded-load factor c > 1 for `acquire`: no node is given more than ceil(c * fair share) of
   * the requests in flight. Does not affect `get`.
   * @default 1.25
   */
  readonly loadFactor?: number;
}

const MAX_NODES = 0xffff;

/** A consistent-hash ring. Not safe for concurrent mutation (JavaScript has none anyway). */
export class HashRing {
  /** Points per unit of weight. */
  public readonly virtualNodes: number;
  /** Bounded-load factor used by `acquire`. */
  public readonly loadFactor: number;

  private readonly slots = new Map<string, number>();
  private ids: string[] = [];
  private weights: number[] = [];
  private freeSlots: number[] = [];
  private totalWeight = 0;
  /**
   * The points, ascending by hash (ties by node id), one 32-bit word each: the owner's slot in
   * the high 16 bits, the low bits of the hash in the low 16. The high bits of the hash are the
   * point's bucket in `index`, so they need not be stored: one word, one memory access, per point.
   */
  private packed = new Uint32Array(0);
  /** index[b] = first point whose top `32 - indexShift` bits are >= b; index[last] = packed.length. */
  private index = new Uint32Array(2);
  /** At most 16: the low bits of a hash must fit in 16. */
  private indexShift = 16;
  /** Requests in flight per slot, for bounded-load routing. */
  private loads: number[] = [];
  private totalLoad = 0;

  /**
   * Builds a ring over `nodes` (may be empty, but `get` then throws).
   * Throws on duplicate ids, empty ids, weights that are not finite and > 0, or bad options.
   */
  constructor(nodes: readonly RingNode[] = [], options: HashRingOptions = {}) {
    const virtualNodes = options.virtualNodes ?? 6144;
    if (!Number.isSafeInteger(virtualNodes) || virtualNodes < 1 || virtualNodes > 1 << 20) {
      throw new Error(`virtualNodes must be an integer from 1 to ${1 << 20}, got ${virtualNodes}`);
    }
    const loadFactor = options.loadFactor ?? 1.25;
    if (!Number.isFinite(loadFactor) || loadFactor <= 1) {
      throw new Error(`loadFactor must be a number greater than 1 (e.g. 1.25), got ${loadFactor}`);
    }
    this.virtualNodes = virtualNodes;
    this.loadFactor = loadFactor;
    const seen = new Set<string>();
    for (const node of nodes) {
      checkNode(node);
      if (seen.has(node.id)) throw new Error(`duplicate node id ${JSON.stringify(node.id)}: every node needs a unique id`);
      seen.add(node.id);
    }
    // One sort over all points instead of one merge per node.
    const all = nodes.map((node) => this.claimSlot(node));
    this.insertPoints(all);
  }

  /** Number of nodes. */
  public get size(): number {
    return this.slots.size;
  }

  /** Number of points on the ring (for memory accounting). */
  public get pointCount(): number {
    return this.packed.length;
  }

  /** The nodes, in no particular order. */
  public nodes(): RingNode[] {
    return [...this.slots].map(([id, slot]) => ({ id, weight: this.weights[slot] }));
  }

  /** Whether a node with this id is on the ring. */
  public has(id: string): boolean {
    return this.slots.has(id);
  }

  /** The node owning `key`. Throws if the ring is empty. */
  public get(key: string): string {
    return this.ids[this.packed[this.pointIndex(key)] >>> 16];
  }

  /**
   * Adds a node; only keys that now belong to it move (to it). Cost: a merge of its points into
   * the sorted points and a rebuild of the bucket index, O(points).
   * Throws if the id is taken or the weight is invalid.
   */
  public add(node: RingNode): void {
    checkNode(node);
    if (this.slots.has(node.id)) throw new Error(`node ${JSON.stringify(node.id)} is already on the ring; remove it first to change its weight`);
    this.insertPoints([this.claimSlot(node)]);
  }

  /** Removes a node; only its keys move, to the nodes that follow on the ring. Throws if unknown. */
  public remove(id: string): void {
    const slot = this.slots.get(id);
    if (slot === undefined) throw new Error(`node ${JSON.stringify(id)} is not on the ring (members: ${this.describeMembers()})`);
    const count = pointsFor(this.weights[slot], this.virtualNodes);
    const old = this.decode();
    const points = new Uint32Array(old.points.length - count);
    const owners = new Uint16Array(points.length);
    let j = 0;
    for (let i = 0; i < old.points.length; i++) {
      if (old.owners[i] === slot) continue;
      points[j] = old.points[i];
      owners[j] = old.owners[i];
      j++;
    }
    this.encode(points, owners);
    this.slots.delete(id);
    this.totalWeight -= this.weights[slot];
    this.totalLoad -= this.loads[slot];
    this.loads[slot] = 0;
    this.ids[slot] = '';
    this.freeSlots.push(slot);
  }

  /**
   * The share of the hash space each node owns (sums to 1): the structural balance, which is
   * what keys converge to.
   */
  public shares(): Map<string, number> {
    const owned = new Float64Array(this.ids.length);
    const { points, owners } = this.decode();
    const n = points.length;
    for (let i = 0; i < n; i++) {
      const from = i === 0 ? points[n - 1] : points[i - 1];
      // The wrap-around arc (last point to 2^32, then 0 to the first point) belongs to the first point.
      const arc = i === 0 ? points[0] + 4294967296 - from : points[i] - from;
      owned[owners[i]] += arc;
    }
    const result = new Map<string, number>();
    for (const [id, slot] of this.slots) result.set(id, owned[slot] / 4294967296);
    return result;
  }

  /**
   * Bounded-load routing: the first node clockwise from `key` that holds fewer than
   * ceil(loadFactor * (inFlight + 1) * weight / totalWeight) requests in flight, counting this
   * one. Call `release` with the returned id when the request ends. Throws if the ring is empty.
   */
  public acquire(key: string): string {
    let i = this.pointIndex(key);
    const n = this.packed.length;
    const scale = (this.loadFactor * (this.totalLoad + 1)) / this.totalWeight;
    // Walking every point visits every node, and some node is always under its cap
    // (the caps sum to more than the load), so this terminates within n steps.
    for (let step = 0; step < n; step++) {
      const slot = this.packed[i] >>> 16;
      if (this.loads[slot] < Math.ceil(scale * this.weights[slot])) {
        this.loads[slot]++;
        this.totalLoad++;
        return this.ids[slot];
      }
      i = i + 1 === n ? 0 : i + 1;
    }
    throw new Error('bounded-load invariant broken: every node is at its cap');
  }

  /** Ends a request started by `acquire` on node `id`. Throws if that node has none in flight. */
  public release(id: string): void {
    const slot = this.slots.get(id);
    if (slot === undefined || this.loads[slot] === 0) {
      throw new Error(`release(${JSON.stringify(id)}) without a matching acquire on that node`);
    }
    this.loads[slot]--;
    this.totalLoad--;
  }

  /** Requests in flight on node `id` (bounded-load mode); 0 for unknown ids. */
  public load(id: string): number {
    const slot = this.slots.get(id);
    return slot === undefined ? 0 : this.loads[slot];
  }

  private pointIndex(key: string): number {
    const n = this.packed.length;
    if (n === 0) throw new Error(`cannot place key ${JSON.stringify(key)}: the ring has no nodes`);
    const h = murmur3(key);
    const b = h >>> this.indexShift;
    const low = h & ((1 << this.indexShift) - 1);
    let i = this.index[b];
    const end = this.index[b + 1];
    const packed = this.packed;
    while (i < end && (packed[i] & 0xffff) < low) i++;
    return i === n ? 0 : i;
  }

  private claimSlot(node: RingNode): number {
    if (this.slots.size >= MAX_NODES) throw new Error(`a ring holds at most ${MAX_NODES} nodes`);
    const weight = node.weight ?? 1;
    const slot = this.freeSlots.pop() ?? this.ids.length;
    this.ids[slot] = node.id;
    this.weights[slot] = weight;
    this.loads[slot] = 0;
    this.slots.set(node.id, slot);
    this.totalWeight += weight;
    return slot;
  }

  /** Merges the points of the given (new) slots into the sorted points. */
  private insertPoints(slots: number[]): void {
    let count = 0;
    for (const slot of slots) count += pointsFor(this.weights[slot], this.virtualNodes);
    const fresh = new Float64Array(count); // hash * 2^16 + slot: sorts by hash, then slot
    let f = 0;
    for (const slot of slots) {
      const id = this.ids[slot];
      const points = pointsFor(this.weights[slot], this.virtualNodes);
      for (let i = 0; i < points; i++) fresh[f++] = murmur3(id, i) * 65536 + slot;
    }
    fresh.sort();
    // Ties on a hash are broken by node id (not slot, which depends on history).
    const freshPoints = new Uint32Array(count);
    const freshOwners = new Uint16Array(count);
    for (let i = 0; i < count; i++) {
      freshPoints[i] = Math.floor(fresh[i] / 65536);
      freshOwners[i] = fresh[i] % 65536;
    }
    this.sortTies(freshPoints, freshOwners);
    const { points: old, owners: oldOwners } = this.decode();
    const points = new Uint32Array(old.length + count);
    const owners = new Uint16Array(points.length);
    let i = 0;
    let j = 0;
    for (let k = 0; k < points.length; k++) {
      const takeOld = j >= count || (i < old.length && (old[i] < freshPoints[j] ||
        (old[i] === freshPoints[j] && this.ids[oldOwners[i]] < this.ids[freshOwners[j]])));
      if (takeOld) {
        points[k] = old[i];
        owners[k] = oldOwners[i++];
      } else {
        points[k] = freshPoints[j];
        owners[k] = freshOwners[j++];
      }
    }
    this.encode(points, owners);
  }

  /** Within runs of equal hashes, orders owners by node id. */
  private sortTies(points: Uint32Array, owners: Uint16Array): void {
    for (let i = 1; i < points.length; i++) {
      if (points[i] !== points[i - 1]) continue;
      let start = i - 1;
      while (start > 0 && points[start - 1] === points[i]) start--;
      let end = i;
      while (end + 1 < points.length && points[end + 1] === points[i]) end++;
      const run = Array.from(owners.subarray(start, end + 1)).sort((a, b) => (this.ids[a] < this.ids[b] ? -1 : this.ids[a] > this.ids[b] ? 1 : 0));
      owners.set(run, start);
      i = end;
    }
  }

  /** The full point hashes and owner slots, rebuilt from the packed form (for changes and shares). */
  private decode(): { points: Uint32Array; owners: Uint16Array } {
    const n = this.packed.length;
    const points = new Uint32Array(n);
    const owners = new Uint16Array(n);
    const shift = this.indexShift;
    const buckets = this.index.length - 1;
    for (let b = 0; b < buckets; b++) {
      const high = b * 2 ** shift;
      for (let i = this.index[b]; i < this.index[b + 1]; i++) {
        points[i] = high + (this.packed[i] & 0xffff);
        owners[i] = this.packed[i] >>> 16;
      }
    }
    return { points, owners };
  }

  /** Stores sorted points in the packed form and builds the bucket index over them. */
  private encode(points: Uint32Array, owners: Uint16Array): void {
    const n = points.length;
    // Four to eight points per bucket (the scan after the index read stays within a cache line),
    // but at least 2^16 buckets so that the low hash bits fit in 16.
    let bits = 16;
    while (bits < 24 && 2 ** (bits + 3) <= n) bits++;
    const buckets = 2 ** bits;
    const shift = 32 - bits;
    const index = new Uint32Array(buckets + 1);
    const packed = new Uint32Array(n);
    const lowMask = 2 ** shift - 1;
    let p = 0;
    for (let b = 0; b <= buckets; b++) {
      while (p < n && points[p] >>> shift < b) p++;
      index[b] = p;
    }
    for (let i = 0; i < n; i++) packed[i] = ((owners[i] << 16) | (points[i] & lowMask)) >>> 0;
    this.packed = packed;
    this.index = index;
    this.indexShift = shift;
  }

  private describeMembers(): string {
    const ids = [...this.slots.keys()];
    return ids.length === 0 ? 'none' : ids.length > 10 ? `${ids.slice(0, 10).join(', ')}, ...` : ids.join(', ');
  }
}

function checkNode(node: RingNode): void {
  if (typeof node !== 'object' || node === null || typeof node.id !== 'string' || node.id === '') {
    throw new Error(`a ring node needs a non-empty string id, got ${JSON.stringify(node)}`);
  }
  const weight = node.weight ?? 1;
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
    throw new Error(`node ${JSON.stringify(node.id)}: weight must be a finite number > 0, got ${String(weight)}`);
  }
}

/** Points of a node: proportional to its weight, at least one. */
function pointsFor(weight: number, virtualNodes: number): number {
  return Math.max(1, Math.round(weight * virtualNodes));
}
