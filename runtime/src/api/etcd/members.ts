/**
 * etcd's Cluster service over the membership registry: members as etcd's `Member` message, peer URLs
 * between etcd's form (`http://host:port`) and ours (`host:port`), and the membership errors as etcd's
 * gRPC codes and exact messages (rpctypes/error.go): Go clients turn those into typed errors, and
 * `etcdctl member ...` reports what it reports against etcd.
 */
import { KvError, NotLeaderError } from '../../errors';
import type { MemberStatus } from '../../membership';
import { EtcdErrors, GrpcCode, MvccError } from '../../mvcc';

/** etcd's `Member` message in the store's form (ids as numbers; codec.ts turns them into uint64). */
export interface EtcdMemberMessage {
  ID: number;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

/** A registry member as etcd lists it: an unstarted member (added, not joined yet) has no name and no client URL. */
export function toEtcdMember(m: MemberStatus): EtcdMemberMessage {
  return {
    ID: m.id,
    name: m.name,
    peerURLs: m.peerUrl ? [`http://${m.peerUrl}`] : [],
    clientURLs: m.clientUrl ? [m.clientUrl] : [],
    isLearner: m.role === 'learner',
  };
}

/**
 * The one peer URL of a MemberAdd/MemberUpdate (`http://host:port` or `https://...`) as `host:port`.
 * Anything else is etcd's "given member URLs are invalid"; more than one URL is refused with why.
 */
export function peerUrlOf(urls: readonly string[] | undefined): string {
  const list = urls ?? [];
  if (list.length > 1) {
    throw new MvccError(GrpcCode.INVALID_ARGUMENT, `${EtcdErrors.memberBadURLs().message}: this runtime takes one peer URL per member, got ${list.length}`);
  }
  let url: URL;
  try {
    url = new URL(list[0] ?? '');
  } catch {
    throw EtcdErrors.memberBadURLs();
  }
  const plain = url.pathname === '/' || url.pathname === '';
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.port || !plain || url.search || url.username) throw EtcdErrors.memberBadURLs();
  return `${url.hostname}:${url.port}`;
}

/** A membership failure (the manager's KvError) as etcd's error for the same case. */
export function toEtcdMemberError(e: unknown): unknown {
  if (!(e instanceof KvError) || e instanceof NotLeaderError) return e;
  switch (e.code) {
    case 'member_not_found': return EtcdErrors.memberNotFound();
    case 'already_voter': return EtcdErrors.memberNotLearner();
    case 'learner_not_ready': return EtcdErrors.learnerNotReady();
    case 'member_exists': return EtcdErrors.peerURLExist();
    case 'last_voter': return EtcdErrors.memberNotEnoughStarted();
    case 'would_lose_quorum': return EtcdErrors.unhealthy(); // etcd: "reconfigure breaks active quorum"
    case 'bad_member': return EtcdErrors.memberBadURLs();
    case 'member_not_wanted': return new MvccError(GrpcCode.FAILED_PRECONDITION, `etcdserver: ${e.message}`);
    default: return e;
  }
}
