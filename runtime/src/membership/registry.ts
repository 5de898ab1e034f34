/**
 * The replicated member registry: for every Raft id, the member's name and addresses, learned from
 * the ConfChange.context of the entry that added it (etcd does the same), plus every id ever removed
 * so that a removed or stale incarnation is refused. Deterministic: every member applying the same
 * conf change entries holds the same registry; it travels in snapshots (server/snapshot-envelope.ts).
 */
import { ConfChange, ConfChangeType } from '../raft';

/** A member as the cluster knows it. */
export interface MemberInfo {
  readonly id: number;
  readonly name: string;
  /** `host:port` of its Raft peer listener. */
  readonly peerUrl: string;
  /** Its advertised client URL (`http://host:port`), or '' if unknown. */
  readonly clientUrl: string;
  /** A learner that the leader promotes by itself once caught up (rejoin, self-join on scale-up). */
  readonly autoPromote: boolean;
}

/** The attributes a conf change carries in its context. */
export type MemberAttributes = Omit<MemberInfo, 'id'>;

/** Encodes a member's attributes as ConfChange.context. */
export function encodeMemberContext(a: MemberAttributes): string {
  return JSON.stringify({ name: a.name, peerUrl: a.peerUrl, clientUrl: a.clientUrl, autoPromote: a.autoPromote });
}

/** Decodes ConfChange.context; undefined for an absent or foreign context (entries written before identities existed). */
export function decodeMemberContext(context: string | undefined): MemberAttributes | undefined {
  if (!context) return undefined;
  try {
    const v = JSON.parse(context) as Record<string, unknown>;
    if (typeof v.name !== 'string' || typeof v.peerUrl !== 'string') return undefined;
    return { name: v.name, peerUrl: v.peerUrl, clientUrl: typeof v.clientUrl === 'string' ? v.clientUrl : '', autoPromote: v.autoPromote === true };
  } catch {
    return undefined;
  }
}

/**
 * What the transport (and anything else outside the member) may ask about membership: the peer
 * handshake refuses an id for which `isRemoved` is true (a replaced incarnation) and may refuse one
 * that is not `isKnown` (not a member yet).
 */
export interface MembershipView {
  /** The cluster id of this member's data (hex), from its identity file. */
  readonly clusterId: string;
  isKnown(id: number): boolean;
  isRemoved(id: number): boolean;
  member(id: number): MemberInfo | undefined;
}

/** The serialised form, in snapshots. */
interface RegistryJson {
  readonly members: MemberInfo[];
  readonly removed: number[];
  readonly maxId: number;
}

/** See the module comment. */
export class MemberRegistry {
  private readonly members = new Map<number, MemberInfo>();
  private readonly removed = new Set<number>();
  private maxId = 0;

  /**
   * @param fallback attributes for ids whose adding entry carried no context (data written before
   *   identities existed: the ids were positions in --initial-cluster).
   */
  constructor(private readonly fallback: (id: number) => MemberAttributes | undefined = () => undefined) {}

  /** Applies one committed conf change (idempotent, so entries replayed after a restart are harmless). */
  apply(cc: ConfChange): void {
    this.maxId = Math.max(this.maxId, cc.nodeId);
    if (cc.type === ConfChangeType.REMOVE_NODE) {
      this.members.delete(cc.nodeId);
      this.removed.add(cc.nodeId);
      return;
    }
    if (this.removed.has(cc.nodeId)) return; // ids are never reused: a re-add of a removed id is ignored
    const attrs = decodeMemberContext(cc.context) ?? this.members.get(cc.nodeId) ?? this.fallback(cc.nodeId);
    if (!attrs) return;
    this.members.set(cc.nodeId, {
      id: cc.nodeId, name: attrs.name, peerUrl: attrs.peerUrl, clientUrl: attrs.clientUrl, autoPromote: attrs.autoPromote,
    });
  }

  member(id: number): MemberInfo | undefined {
    return this.members.get(id) ?? (this.removed.has(id) ? undefined : withId(id, this.fallback(id)));
  }

  byName(name: string): MemberInfo[] {
    return [...this.members.values()].filter((m) => m.name === name);
  }

  isRemoved(id: number): boolean {
    return this.removed.has(id);
  }

  list(): MemberInfo[] {
    return [...this.members.values()].sort((a, b) => a.id - b.id);
  }

  /** The next unused id: ids only grow, so a removed incarnation's id is never handed out again. */
  nextId(): number {
    return this.maxId + 1;
  }

  toJSON(): RegistryJson {
    return { members: this.list(), removed: [...this.removed].sort((a, b) => a - b), maxId: this.maxId };
  }

  /** Replaces the content with a snapshot's. */
  restore(json: unknown): void {
    const v = json as Partial<RegistryJson>;
    if (!v || !Array.isArray(v.members) || !Array.isArray(v.removed) || !Number.isSafeInteger(v.maxId)) {
      throw new Error('member registry in snapshot is malformed');
    }
    this.members.clear();
    this.removed.clear();
    for (const m of v.members) this.members.set(m.id, { ...m, autoPromote: m.autoPromote === true, clientUrl: m.clientUrl ?? '' });
    for (const id of v.removed) this.removed.add(id);
    this.maxId = v.maxId as number;
  }
}

function withId(id: number, a: MemberAttributes | undefined): MemberInfo | undefined {
  return a ? { id, ...a } : undefined;
}
