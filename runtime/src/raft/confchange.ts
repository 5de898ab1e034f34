import { RaftConfigError } from './errors';
import { ConfState } from './types';

/** A membership change kind. Changes are applied one server at a time (Raft thesis 4.1). */
export enum ConfChangeType {
  /** Add a voter, or promote a learner to voter. Add new servers as learners first so they catch up before voting. */
  ADD_NODE = 0,
  /** Add a non-voting learner that receives the log (thesis 4.2.1). */
  ADD_LEARNER = 1,
  /** Remove a voter or learner. */
  REMOVE_NODE = 2,
}

/** One membership change, carried in a CONF_CHANGE entry. */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: number;
  /**
   * Opaque to Raft (etcd's ConfChange.Context): the application's description of the member, e.g.
   * its name and addresses, replicated with the change so every node learns it when it applies.
   */
  readonly context?: string;
}

/** Encodes a ConfChange as an entry payload. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const body: { type: ConfChangeType; nodeId: number; context?: string } = { type: cc.type, nodeId: cc.nodeId };
  if (cc.context !== undefined) body.context = cc.context;
  return new TextEncoder().encode(JSON.stringify(body));
}

/** Decodes a CONF_CHANGE entry payload; throws RaftConfigError on garbage. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw new RaftConfigError('conf change entry is not valid JSON');
  }
  const o = v as { type?: unknown; nodeId?: unknown; context?: unknown };
  if (typeof o.type !== 'number' || !(o.type in ConfChangeType) || !Number.isInteger(o.nodeId) || (o.nodeId as number) <= 0 ||
    (o.context !== undefined && typeof o.context !== 'string')) {
    throw new RaftConfigError(`conf change entry is malformed: ${JSON.stringify(v)}`);
  }
  const cc = { type: o.type as ConfChangeType, nodeId: o.nodeId as number };
  return typeof o.context === 'string' ? { ...cc, context: o.context } : cc;
}

/** Checks a change against a membership before it is proposed; throws RaftConfigError naming the problem. */
export function validateConfChange(cs: ConfState, cc: ConfChange): void {
  if (!Number.isInteger(cc.nodeId) || cc.nodeId <= 0) throw new RaftConfigError(`ConfChange.nodeId must be a positive integer, got ${cc.nodeId}`);
  if (!(cc.type in ConfChangeType)) throw new RaftConfigError(`ConfChange.type ${cc.type} is not a ConfChangeType`);
  if (cc.type === ConfChangeType.REMOVE_NODE && cs.voters.includes(cc.nodeId) && cs.voters.length === 1) {
    throw new RaftConfigError(`cannot remove node ${cc.nodeId}: it is the last voter`);
  }
  if (cc.type === ConfChangeType.ADD_LEARNER && cs.voters.includes(cc.nodeId)) {
    throw new RaftConfigError(`cannot make voter ${cc.nodeId} a learner; remove it first`);
  }
}

/** Applies one change to a membership, returning the new one (pure; idempotent for repeats). */
export function applyConfChange(cs: ConfState, cc: ConfChange): ConfState {
  const voters = cs.voters.filter((v) => v !== cc.nodeId);
  const learners = cs.learners.filter((v) => v !== cc.nodeId);
  switch (cc.type) {
    case ConfChangeType.ADD_NODE:
      voters.push(cc.nodeId);
      break;
    case ConfChangeType.ADD_LEARNER:
      if (cs.voters.includes(cc.nodeId)) return cs; // demotion is not supported: keep it a voter
      learners.push(cc.nodeId);
      break;
    case ConfChangeType.REMOVE_NODE:
      if (voters.length === 0) return cs; // never remove the last voter
      break;
  }
  return { voters: voters.sort((a, b) => a - b), learners: learners.sort((a, b) => a - b), votersOutgoing: [] };
}
