/**
 * What a member with a blank data directory does before it may take part (issue 12): it probes the
 * other members named in --initial-cluster over the peer port (transport/probe.ts) and
 *  - bootstraps the cluster (initial voter, id = position) only with `--initial-cluster-state new`
 *    and only when EVERY other initial member answered and none holds more than the bootstrap
 *    entries: then nobody can have counted on this member's vote or acknowledgement;
 *  - joins as a new incarnation (a learner with a fresh id, `POST /v1/members/join`) as soon as any
 *    member shows the cluster has run (an election, an entry, a snapshot, or it joined itself);
 *  - otherwise waits and probes again: a blank member never votes in a cluster it cannot see.
 * The I/O (probe, HTTP) is injected: this module decides, the CLI wires.
 */
import { createHash } from 'crypto';
import { MemberInfo } from './registry';

/** `--initial-cluster-state`. */
export type InitialClusterState = 'new' | 'existing';

/** Keys of the probe answer (TcpTransportOptions.probeInfo) a member publishes. */
export interface ProbeInfo {
  /** 'blank': still deciding; 'member': running with data. */
  readonly state: 'blank' | 'member';
  readonly clusterId?: string;
  readonly memberId?: string;
  /** '1' if the member holds nothing beyond the bootstrap entries (term <= 1, never joined). */
  readonly pristine?: string;
  readonly clientUrl?: string;
  readonly leaderClientUrl?: string;
}

/** What a member's durable state says about it, for its probe answer's `pristine`. */
export interface LogShape {
  /** Joined a running cluster (rather than being an initial member). */
  readonly joined: boolean;
  readonly term: number;
  readonly lastIndex: number;
  readonly hasSnapshot: boolean;
}

/**
 * Whether a member holds nothing beyond the bootstrap entries of `initialMembers` members: then a blank initial member
 * that probes it may still bootstrap with it (both hold the same bootstrap), rather than join a cluster that has no
 * quorum yet. One definition for the running member and for the moment before it runs (cli/raft.ts).
 */
export function isPristine(s: LogShape, initialMembers: number): boolean {
  return !s.joined && s.term <= 1 && s.lastIndex <= initialMembers && !s.hasSnapshot;
}

/** One initial member's answer, or why it gave none. */
export interface PeerAnswer {
  readonly name: string;
  readonly info?: Readonly<Record<string, string>>;
  readonly error?: string;
}

/** What to do. */
export type StartDecision =
  | { readonly kind: 'bootstrap' }
  | { readonly kind: 'join'; readonly via: string[] }
  | { readonly kind: 'wait'; readonly reason: string };

/** The id of a cluster bootstrapped from `token` and these member names: the same on every member, no talk needed. */
export function deriveClusterId(token: string, names: readonly string[]): string {
  return createHash('sha256').update(`${token}\0${[...names].sort().join(',')}`).digest('hex').slice(0, 16);
}

/** A cluster id for a restored cluster: derived from the snapshot's digest too, so it differs from the original. */
export function deriveRestoredClusterId(token: string, names: readonly string[], snapshotDigest: string): string {
  return createHash('sha256').update(`${token}\0${[...names].sort().join(',')}\0restored\0${snapshotDigest}`).digest('hex').slice(0, 16);
}

/** Pure: decides from the answers of every other initial member. */
export function decideStart(mode: InitialClusterState, expectedClusterId: string, answers: readonly PeerAnswer[]): StartDecision {
  const running = answers.filter((a) => a.info?.state === 'member');
  const established = running.filter((a) => a.info!.pristine !== '1' || a.info!.clusterId !== expectedClusterId);
  const via = (list: readonly PeerAnswer[]): string[] =>
    [...new Set(list.flatMap((a) => [a.info!.leaderClientUrl, a.info!.clientUrl]).filter((u): u is string => !!u))];
  if (established.length > 0) return { kind: 'join', via: via(established) };
  if (mode === 'existing') {
    return running.length > 0 ? { kind: 'join', via: via(running) }
      : { kind: 'wait', reason: `--initial-cluster-state existing: no running member answered (${describe(answers)})` };
  }
  const silent = answers.filter((a) => !a.info);
  if (silent.length > 0) {
    return { kind: 'wait', reason: `a blank member bootstraps only when every initial member answers and none has data; waiting for ${describe(silent)}` };
  }
  return { kind: 'bootstrap' };
}

function describe(answers: readonly PeerAnswer[]): string {
  return answers.map((a) => `${a.name}: ${a.info ? a.info.state : a.error ?? 'no answer'}`).join('; ') || 'no other members';
}

/** What the join endpoint answers. */
export interface JoinResult {
  readonly clusterId: string;
  readonly member: MemberInfo;
  readonly members: MemberInfo[];
}

/** The injected I/O of {@link discoverAndDecide}. */
export interface DiscoveryIo {
  /** Probes every other initial member once. */
  probeAll(): Promise<PeerAnswer[]>;
  /** Called when the reason for waiting changes (for the log). */
  onWait(reason: string): void;
  sleep(ms: number): Promise<void>;
  /** True once the process is asked to stop. */
  stopped(): boolean;
}

/** Probes until a decision other than 'wait' (or a stop: resolves undefined). */
export async function discoverAndDecide(mode: InitialClusterState, expectedClusterId: string, io: DiscoveryIo,
  intervalMs = 300): Promise<Exclude<StartDecision, { kind: 'wait' }> | undefined> {
  let lastReason = '';
  while (!io.stopped()) {
    const d = decideStart(mode, expectedClusterId, await io.probeAll());
    if (d.kind !== 'wait') return d;
    if (d.reason !== lastReason) io.onWait(d.reason);
    lastReason = d.reason;
    await io.sleep(intervalMs);
  }
  return undefined;
}
