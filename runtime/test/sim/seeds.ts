/**
 * The fixed seeds CI runs (sim.test.ts). A seed that once exposed a bug stays here for good, with
 * a one-line note, so the bug stays found. `npm run sim -- --seed S` replays any of them with a trace.
 */
export interface PinnedSeed {
  readonly seed: number;
  readonly note: string;
  /** Length of the faulty phase the seed failed with. @default 400 */
  readonly ticks?: number;
}

/** Seeds that exposed bugs (in the core or in the simulator) during development. */
export const REGRESSION_SEEDS: readonly PinnedSeed[] = [
  { seed: 11722, ticks: 1000, note: 'snapshot taken before advance() recorded a stale membership; a removed node came back as voter: two leaders' },
];

/** A contiguous range run on every CI build, on top of the regression seeds. */
export const CI_SEED_RANGE = { from: 1, count: 1500 } as const;
