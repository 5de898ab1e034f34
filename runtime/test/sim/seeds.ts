/**
 * The fixed seeds CI runs (sim.test.ts). A seed that once exposed a bug stays here for good, with
 * a one-line note, so the bug stays found. `npm run sim -- --seed S` replays any of them with a trace.
 */
export interface PinnedSeed {
  readonly seed: number;
  readonly note: string;
}

/** Seeds that exposed bugs (in the core or in the simulator) during development. */
export const REGRESSION_SEEDS: readonly PinnedSeed[] = [];

/** A contiguous range run on every CI build, on top of the regression seeds. */
export const CI_SEED_RANGE = { from: 1, count: 1500 } as const;
