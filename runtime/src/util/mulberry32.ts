/**
 * mulberry32, a tiny seeded PRNG: the same seed gives the same sequence on every run and platform,
 * which is what makes a failing simulation, history or placement replayable. Not for secrets.
 */

/** A generator of uniform 32-bit unsigned integers, seeded with `seed`. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A generator of uniform numbers in [0, 1), seeded with `seed`. */
export function seededRandom(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}
