/**
 * Scheduled backups of a `RaftCluster` (cdk8s-ha runtime): a CronJob runs `ha-runtime backup`, which fetches
 * `GET /v1/snapshot` from the client Service (a consistent snapshot holding every write acknowledged before the
 * request, served without stalling writes), checks it, writes `snapshot-<UTC time>.snap` to a volume and deletes the
 * oldest beyond `retention`. Restore with `ha-runtime restore` (docs/operations.md, Runbook).
 */
export interface RaftBackup {
  /**
   * When to back up: a five-field cron expression (`minute hour day-of-month month day-of-week`, e.g.
   * `'0 * * * *'` hourly) or `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`. Interpreted in `timeZone`.
   */
  readonly schedule: string;
  /**
   * The PersistentVolumeClaim the snapshots are written to (it must exist; one backup runs at a time, so
   * ReadWriteOnce is enough). Keep it away from the members' nodes' failure domain if you can (another zone's
   * storage, or copy the files off-cluster).
   */
  readonly claimName: string;
  /**
   * Snapshots kept, newest first; older ones are deleted after each successful backup.
   * @default 7
   */
  readonly retention?: number;
  /**
   * Time zone of `schedule` (an IANA name, e.g. 'Europe/Paris').
   * @default 'Etc/UTC'
   */
  readonly timeZone?: string;
  /**
   * Seconds the snapshot fetch may take before the backup is abandoned (no file is written; the Job's deadline
   * is one minute more, to start the pod).
   * @default 600
   */
  readonly timeoutSeconds?: number;
  /**
   * Image that runs `ha-runtime backup`.
   * @default - the cluster's image
   */
  readonly image?: string;
}
