/**
 * etcd's --auto-compaction-mode/--auto-compaction-retention as a pure decision the leader's server drives with
 * its clock: it calls {@link AutoCompactor.observe} every few seconds and proposes a CompactionRequest for
 * the revision it returns. Followers do nothing (the compaction reaches them through the log).
 * - periodic: keep `retentionMs` of history: compact to the revision the store had `retentionMs` ago, checked
 *   every retention/10 (at most hourly), as etcd does;
 * - revision: keep the last `retention` revisions, checked every 5 minutes, as etcd does.
 */

/** Which etcd mode. */
export type AutoCompactionMode = 'periodic' | 'revision';

/** See the file comment. */
export class AutoCompactor {
  private samples: { at: number; revision: number }[] = [];
  private lastCheck: number | undefined;
  private lastCompacted = 0;
  private readonly intervalMs: number;

  /** `retention`: milliseconds for 'periodic', a revision count for 'revision'. */
  constructor(readonly mode: AutoCompactionMode, readonly retention: number) {
    if (!(retention > 0) || !Number.isSafeInteger(retention)) throw new RangeError(`auto-compaction retention ${retention} must be a positive integer`);
    this.intervalMs = mode === 'periodic' ? Math.min(retention / 10, 3_600_000) : 300_000;
  }

  /** Records the store's revision at `nowMs`; returns the revision to compact to now, or undefined. */
  observe(nowMs: number, revision: number, compactRevision: number): number | undefined {
    if (this.mode === 'periodic') this.samples.push({ at: nowMs, revision });
    if (this.lastCheck === undefined) this.lastCheck = nowMs;
    if (nowMs - this.lastCheck < this.intervalMs) return undefined;
    this.lastCheck = nowMs;
    const target = this.mode === 'revision' ? revision - this.retention : this.revisionAt(nowMs - this.retention);
    if (target === undefined || target <= Math.max(compactRevision, this.lastCompacted)) return undefined;
    this.lastCompacted = target;
    return target;
  }

  /** The newest sampled revision at or before `t` (older samples are dropped). */
  private revisionAt(t: number): number | undefined {
    let found: number | undefined;
    while (this.samples.length > 0 && this.samples[0].at <= t) found = this.samples.shift()!.revision;
    if (found !== undefined) this.samples.unshift({ at: t, revision: found });
    return found;
  }
}
