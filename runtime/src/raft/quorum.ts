/** Majority quorum arithmetic, kept apart from the protocol so it can be tested against a plain reference. */

/** The outcome of a vote count. */
export enum VoteResult {
  PENDING = 0,
  WON = 1,
  LOST = 2,
}

/** The number of voters that form a majority of `n` (n >= 1). */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The largest index known to be stored on a majority of `voters`, given each voter's match index
 * (a missing voter counts as 0). With no voters, returns Infinity so a learner-only view never blocks.
 */
export function committedIndex(voters: readonly number[], match: (id: number) => number): number {
  if (voters.length === 0) return Infinity;
  const sorted = voters.map(match).sort((a, b) => b - a);
  return sorted[majority(voters.length) - 1];
}

/** Tallies votes: WON once a majority granted, LOST once a majority can no longer be reached. */
export function voteResult(voters: readonly number[], votes: ReadonlyMap<number, boolean>): VoteResult {
  if (voters.length === 0) return VoteResult.WON;
  let granted = 0;
  let missing = 0;
  for (const v of voters) {
    const g = votes.get(v);
    if (g === undefined) missing++;
    else if (g) granted++;
  }
  const q = majority(voters.length);
  if (granted >= q) return VoteResult.WON;
  if (granted + missing >= q) return VoteResult.PENDING;
  return VoteResult.LOST;
}
