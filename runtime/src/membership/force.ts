/**
 * `--force-new-cluster` (docs/operations.md, "one member left"): turns the committed log of the
 * last surviving member into a one-member cluster: REMOVE_NODE entries for every other member are
 * appended after its whole log and everything is marked committed, outside of consensus. Unlike
 * etcd it keeps the entries beyond the durable commit index: that index is only a hint that lags
 * (docs/raft.md), so entries past it may have been acknowledged, and committing an entry whose
 * client got no answer is allowed (its outcome was unknown). What the lost members held and this
 * one did not is knowingly given up.
 */
import { applyConfChange, ConfChangeType, ConfState, decodeConfChange, encodeConfChange, Entry, EntryType, HardState } from '../raft';

/** What the store must save: the entries to append and the hard state. */
export interface ForcedLog {
  readonly entries: Entry[];
  readonly hardState: HardState;
  /** The ids removed. */
  readonly removed: number[];
}

/**
 * Builds the forced log from a member's recovered state, or undefined if `selfId` is already the
 * only member (so leaving the flag set is harmless on later restarts).
 */
export function forceNewCluster(selfId: number, snapshotConf: ConfState | undefined, entries: readonly Entry[],
  hardState: HardState, snapshotIndex: number): ForcedLog | undefined {
  let cs: ConfState = snapshotConf ?? { voters: [], learners: [], votersOutgoing: [] };
  for (const e of entries) {
    if (e.index > snapshotIndex && e.type === EntryType.CONF_CHANGE) cs = applyConfChange(cs, decodeConfChange(e.data));
  }
  const others = [...cs.voters, ...cs.learners].filter((id) => id !== selfId);
  if (others.length === 0 && cs.voters.includes(selfId)) return undefined;
  const last = entries.length > 0 ? entries[entries.length - 1] : undefined;
  // A new term, and no vote in it: whatever this member promised in older terms stays behind.
  const term = Math.max(last?.term ?? 0, hardState.term) + 1;
  const first = Math.max(last?.index ?? 0, snapshotIndex) + 1;
  const changes = [
    ...(cs.voters.includes(selfId) ? [] : [{ type: ConfChangeType.ADD_NODE, nodeId: selfId }]),
    ...others.map((id) => ({ type: ConfChangeType.REMOVE_NODE, nodeId: id })),
  ];
  const out: Entry[] = changes.map((cc, i) => ({ term, index: first + i, type: EntryType.CONF_CHANGE, data: encodeConfChange(cc) }));
  return { entries: out, hardState: { term, vote: 0, commit: first + out.length - 1 }, removed: others };
}
