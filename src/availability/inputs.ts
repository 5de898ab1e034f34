import { checkCount, checkPercent, parseIntOrPercent } from './checks';
import { allowedDisruptions, BudgetField } from '../private/quorum';

/**
 * How strictly the scheduler must spread a workload's pods over a topology domain (node or zone).
 */
export enum SpreadStrictness {
  /** No spreading constraint: the worst placement puts every pod in one domain. */
  NONE = 'NONE',
  /**
   * A preferred (soft) constraint: `preferredDuringScheduling...` anti-affinity or a topology spread constraint
   * with `whenUnsatisfiable: ScheduleAnyway`. The scheduler may ignore it, so the worst placement is one domain.
   */
  PREFERRED = 'PREFERRED',
  /**
   * A required (hard) constraint: `requiredDuringScheduling...` anti-affinity (at most one pod per domain) or a
   * topology spread constraint with `whenUnsatisfiable: DoNotSchedule` (at most `maxSkew` more pods than the
   * emptiest domain).
   */
  REQUIRED = 'REQUIRED',
}

/**
 * The limit a PodDisruptionBudget sets: exactly one of minAvailable / maxUnavailable, as a count or a percentage.
 *
 * Percentages round the way the Kubernetes disruption controller rounds them: both `minAvailable` and
 * `maxUnavailable` percentages round UP (`ceil(percent * replicas / 100)`).
 *
 * @see https://kubernetes.io/docs/tasks/run-application/configure-pdb/#rounding-logic-when-specifying-percentages
 */
export class DisruptionBudgetLimit {
  /** `minAvailable: count`. */
  public static minAvailable(count: number): DisruptionBudgetLimit {
    return new DisruptionBudgetLimit('minAvailable', checkCount('minAvailable', count), false);
  }

  /** `minAvailable: "percent%"`, rounded up. */
  public static minAvailablePercent(percent: number): DisruptionBudgetLimit {
    return new DisruptionBudgetLimit('minAvailable', checkPercent('minAvailable', percent), true);
  }

  /** `maxUnavailable: count`. */
  public static maxUnavailable(count: number): DisruptionBudgetLimit {
    return new DisruptionBudgetLimit('maxUnavailable', checkCount('maxUnavailable', count), false);
  }

  /** `maxUnavailable: "percent%"`, rounded up. */
  public static maxUnavailablePercent(percent: number): DisruptionBudgetLimit {
    return new DisruptionBudgetLimit('maxUnavailable', checkPercent('maxUnavailable', percent), true);
  }

  /**
   * Reads a PodDisruptionBudget `spec` (`{ minAvailable: 2 }`, `{ maxUnavailable: "25%" }`, ...).
   *
   * @returns undefined when the spec sets neither field (the audit reports such a budget).
   * @throws when the spec sets both fields or a value is neither an integer nor an `N%` string.
   */
  public static fromSpec(spec: any): DisruptionBudgetLimit | undefined {
    const s = spec ?? {};
    if (s.minAvailable !== undefined && s.maxUnavailable !== undefined) {
      throw new Error(`PodDisruptionBudget spec sets both minAvailable (${s.minAvailable}) and maxUnavailable (${s.maxUnavailable}); Kubernetes rejects this: keep one`);
    }
    if (s.minAvailable !== undefined) {
      const v = parseIntOrPercent('minAvailable', s.minAvailable);
      return v.percent ? DisruptionBudgetLimit.minAvailablePercent(v.value) : DisruptionBudgetLimit.minAvailable(v.value);
    }
    if (s.maxUnavailable !== undefined) {
      const v = parseIntOrPercent('maxUnavailable', s.maxUnavailable);
      return v.percent ? DisruptionBudgetLimit.maxUnavailablePercent(v.value) : DisruptionBudgetLimit.maxUnavailable(v.value);
    }
    return undefined;
  }

  /** `minAvailable` or `maxUnavailable`. */
  public readonly field: string;
  /** The count, or the percentage when `isPercent`. */
  public readonly value: number;
  /** Whether `value` is a percentage. */
  public readonly isPercent: boolean;

  private constructor(field: string, value: number, isPercent: boolean) {
    this.field = field;
    this.value = value;
    this.isPercent = isPercent;
  }

  /** The limit as it appears in a manifest, e.g. `maxUnavailable: 25%`. */
  public toString(): string {
    return `${this.field}: ${this.value}${this.isPercent ? '%' : ''}`;
  }

  /**
   * Evictions the Eviction API allows right now when all `replicas` pods are healthy:
   * `currentHealthy - desiredHealthy`, clamped to [0, replicas].
   */
  public allowedDisruptions(replicas: number): number {
    return allowedDisruptions(this.field as BudgetField, this.value, this.isPercent, replicas);
  }
}
