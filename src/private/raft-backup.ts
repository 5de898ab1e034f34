// The backup CronJob of a RaftCluster (internal): renders `ha-runtime backup` on a schedule, hardened like the members.
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { restrictedContainerSecurityContextL1 } from './pod-hardening';
import { checkDns1123Subdomain, checkImage, checkInt, fail } from './validate';
import { RaftBackup } from '../raft-backup';

/** What the CronJob needs to know about its cluster. */
export interface BackupTarget {
  readonly owner: string;
  /** StatefulSet name; also the client Service's name. */
  readonly name: string;
  readonly clientPort: number;
  /** The cluster's image (runs `ha-runtime backup` unless the backup names one). */
  readonly image: string;
  readonly uid: number;
  /** The member container's resources: the command holds one snapshot in memory, as a member does. */
  readonly resources: k8s.ResourceRequirements;
  readonly imagePullSecrets?: k8s.LocalObjectReference[];
}

const BACKUP_DIR = '/backup';
// A Job's pods are named <cronjob>-<11 characters>-<5>; the API server refuses CronJob names over 52.
const MAX_CRONJOB_NAME = 52;
const MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];
const CRON_FIELDS: [string, number, number, string[]][] = [
  ['minute', 0, 59, []],
  ['hour', 0, 23, []],
  ['day of month', 1, 31, []],
  ['month', 1, 12, ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC']],
  ['day of week', 0, 7, ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT']],
];

/** Labels of the backup pods: never matched by the members' selector (name `raft-cluster`). */
export function backupPodLabels(name: string): { [key: string]: string } {
  return { 'app.kubernetes.io/name': 'raft-cluster-backup', 'app.kubernetes.io/instance': name, 'app.kubernetes.io/part-of': 'cdk8s-ha' };
}

export function backupCronJobName(name: string): string {
  return `${name}-backup`;
}

export function validateBackup(owner: string, name: string, backup: RaftBackup): void {
  const cronJob = backupCronJobName(name);
  if (cronJob.length > MAX_CRONJOB_NAME) {
    fail(owner, 'name', name, `makes the backup CronJob name '${cronJob}' longer than ${MAX_CRONJOB_NAME} characters`, `use a name of at most ${MAX_CRONJOB_NAME - '-backup'.length} characters`);
  }
  checkCron(owner, backup.schedule);
  checkDns1123Subdomain(owner, 'backup.claimName', backup.claimName);
  checkInt(owner, 'backup.retention', backup.retention ?? 7, 1, 10000, 'keep at least 1 snapshot');
  checkInt(owner, 'backup.timeoutSeconds', backup.timeoutSeconds ?? 600, 10, 86400);
  if (backup.image !== undefined) checkImage(owner, 'backup.image', backup.image);
  const tz = backup.timeZone ?? 'Etc/UTC';
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(tz)) {
    fail(owner, 'backup.timeZone', tz, 'is not an IANA time zone name', "use e.g. 'Etc/UTC' or 'Europe/Paris'");
  }
}

function checkCron(owner: string, schedule: string): void {
  const text = schedule.trim();
  if (MACROS.includes(text)) return;
  const fields = text.split(/\s+/);
  if (fields.length !== 5) {
    fail(owner, 'backup.schedule', schedule, `has ${fields.length} fields; a cron schedule has 5 (minute hour day-of-month month day-of-week) or is a macro (${MACROS.join(', ')})`, "e.g. '0 * * * *' for hourly");
  }
  fields.forEach((field, i) => {
    const [what, min, max, names] = CRON_FIELDS[i];
    const problem = cronFieldProblem(field, min, max, names, i >= 2);
    if (problem) fail(owner, 'backup.schedule', schedule, `${what} field '${field}' ${problem}`, "e.g. '0 * * * *' for hourly");
  });
}

function cronFieldProblem(field: string, min: number, max: number, names: string[], questionMark: boolean): string | undefined {
  if (field === '?' && questionMark) return undefined;
  const value = (v: string) => (names.includes(v.toUpperCase()) ? names.indexOf(v.toUpperCase()) + min : /^\d+$/.test(v) ? Number(v) : NaN);
  for (const part of field.split(',')) {
    const m = /^(\*|([A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) return `has an unreadable part '${part}'`;
    if (m[4] !== undefined && Number(m[4]) < 1) return 'has a step of 0';
    for (const v of [m[2], m[3]].filter((x): x is string => x !== undefined)) {
      const n = value(v);
      if (!(n >= min && n <= max)) return `has '${v}' outside ${min}-${max}`;
    }
    if (m[3] !== undefined && value(m[2]) > value(m[3])) return `has a descending range '${part}'`;
  }
  return undefined;
}

export function renderBackupCronJob(scope: Construct, id: string, target: BackupTarget, backup: RaftBackup): k8s.KubeCronJob {
  const labels = backupPodLabels(target.name);
  const timeoutSeconds = backup.timeoutSeconds ?? 600;
  return new k8s.KubeCronJob(scope, id, {
    metadata: { name: backupCronJobName(target.name), labels },
    spec: {
      schedule: backup.schedule.trim(),
      timeZone: backup.timeZone ?? 'Etc/UTC',
      // One backup at a time: two would race on retention and on a ReadWriteOnce volume.
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 300,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels },
        spec: {
          backoffLimit: 2,
          // The fetch gives up at timeoutSeconds; the extra minute covers pulling the image and starting the pod.
          activeDeadlineSeconds: timeoutSeconds + 60,
          template: {
            metadata: { labels },
            spec: {
              restartPolicy: 'Never',
              automountServiceAccountToken: false,
              imagePullSecrets: target.imagePullSecrets,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: target.uid,
                runAsGroup: target.uid,
                fsGroup: target.uid,
                fsGroupChangePolicy: 'OnRootMismatch',
                seccompProfile: { type: 'RuntimeDefault' },
              },
              volumes: [{ name: 'backup', persistentVolumeClaim: { claimName: backup.claimName } }],
              containers: [{
                name: 'backup',
                image: backup.image ?? target.image,
                imagePullPolicy: 'IfNotPresent',
                args: [
                  'backup',
                  `--url=http://${target.name}:${target.clientPort}/v1/snapshot`,
                  `--dir=${BACKUP_DIR}`,
                  `--keep=${backup.retention ?? 7}`,
                  `--timeout-seconds=${timeoutSeconds}`,
                ],
                resources: target.resources,
                securityContext: restrictedContainerSecurityContextL1(target.uid, target.uid),
                volumeMounts: [{ name: 'backup', mountPath: BACKUP_DIR }],
              }],
            },
          },
        },
      },
    },
  });
}
