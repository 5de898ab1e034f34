/**
 * The member's own facts under the names etcd 3.4 exports them, so etcd's alerting rules (no leader, frequent leader
 * changes, failed proposals, slow WAL fsyncs, database near its quota) and dashboards read a member of this runtime
 * unchanged. Types and labels are etcd's (runtime/test/etcd/metrics.test.ts compares them with a real etcd's
 * /metrics); each reads the same measurement as the member's `ha_*` series.
 */
import { Counter, Histogram, MetricsRegistry } from '../observability/metrics';
import { PeerStats } from '../transport/transport';

/** What the member reports; read at scrape time. */
export interface EtcdMetricSource {
  readonly memberId: number;
  readonly leaderChanges: Counter;
  readonly proposalsFailed: Counter;
  readonly fsyncLatency: Histogram;
  hasLeader(): boolean;
  isLeader(): boolean;
  isLearner(): boolean;
  commitIndex(): number;
  appliedIndex(): number;
  pendingProposals(): number;
  storeBytes(): number;
  /** The space quota in bytes (0: none). */
  quotaBytes(): number;
  keys(): number;
  /** The transport's per-peer counts. */
  peers(): readonly PeerStats[];
}

export function registerEtcdMetrics(m: MetricsRegistry, s: EtcdMetricSource): void {
  const flag = (b: boolean): number => (b ? 1 : 0);
  m.gauge('etcd_server_has_leader', 'Whether or not a leader exists. 1 is existence, 0 is not.', () => flag(s.hasLeader()));
  m.gauge('etcd_server_is_leader', 'Whether or not this member is a leader. 1 if is, 0 otherwise.', () => flag(s.isLeader()));
  m.gauge('etcd_server_is_learner', 'Whether or not this member is a learner. 1 if is, 0 otherwise.', () => flag(s.isLearner()));
  m.gaugeFamily('etcd_server_id', 'Server or member ID in hexadecimal format. 1 for \'server_id\' label with current ID.',
    () => [[{ server_id: s.memberId.toString(16) }, 1]]);
  m.alias('etcd_server_leader_changes_seen_total', 'The number of leader changes seen.', s.leaderChanges);
  m.gauge('etcd_server_proposals_committed_total', 'The total number of consensus proposals committed.', () => s.commitIndex());
  m.gauge('etcd_server_proposals_applied_total', 'The total number of consensus proposals applied.', () => s.appliedIndex());
  m.gauge('etcd_server_proposals_pending', 'The current number of pending proposals to commit.', () => s.pendingProposals());
  // etcd counts failures in one series; ours are by reason.
  m.counterFamily('etcd_server_proposals_failed_total', 'The total number of failed proposals seen.', () => [[{}, s.proposalsFailed.total()]]);
  m.alias('etcd_disk_wal_fsync_duration_seconds', 'The latency distributions of fsync called by WAL.', s.fsyncLatency);
  m.gauge('etcd_mvcc_db_total_size_in_bytes', 'Total size of the underlying database physically allocated in bytes.', () => s.storeBytes());
  m.gauge('etcd_mvcc_db_total_size_in_use_in_bytes', 'Total size of the underlying database logically in use in bytes.', () => s.storeBytes());
  m.gauge('etcd_server_quota_backend_bytes', 'Current backend storage quota size in bytes.', () => s.quotaBytes());
  m.gauge('etcd_debugging_mvcc_keys_total', 'Total number of keys.', () => s.keys());
  // Per peer, by its member id in hex as etcd labels it: messages dropped (queue full, or the peer down) and bytes sent.
  m.counterFamily('etcd_network_peer_sent_failures_total', 'The total number of send failures from peers.',
    () => s.peers().map((p) => [{ To: p.peerId.toString(16) }, p.droppedMessages] as const));
  m.counterFamily('etcd_network_peer_sent_bytes_total', 'The total number of bytes sent to peers.',
    () => s.peers().map((p) => [{ To: p.peerId.toString(16) }, p.sentBytes] as const));
}
