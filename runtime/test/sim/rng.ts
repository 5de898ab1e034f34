import { seededRandom } from '../../src/util/mulberry32';

/** A small seeded PRNG (mulberry32): the simulator's only source of randomness, so a seed replays exactly. */
export class Rng {
  private readonly random: () => number;
  constructor(seed: number) {
    this.random = seededRandom((seed ^ 0x9e3779b9) >>> 0);
  }
  /** Uniform in [0,1). */
  next(): number {
    return this.random();
  }
  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('Rng.pick: empty list');
    return xs[Math.floor(this.next() * xs.length)];
  }
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }
  /** A derived generator, so adding draws in one component does not shift another's sequence. */
  fork(): Rng {
    return new Rng(Math.floor(this.next() * 2 ** 32));
  }
}
