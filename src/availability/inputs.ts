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
    const scaled = this.isPercent ? Math.ceil((this.value * replicas) / 100) : this.value;
    const desiredHealthy = this.field === 'minAvailable' ? scaled : replicas - scaled;
    return clamp(replicas - desiredHealthy, 0, replicas);
  }
}


function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** @internal */
export function checkCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${name} (${value}) must be a non-negative integer`);
  }
  return value;
}

/** @internal */
export function checkPositive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} (${value}) must be an integer >= 1`);
  }
  return value;
}

function checkPercent(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0 || value > 100) {
    throw new Error(`${name} percentage (${value}) must be within [0, 100]`);
  }
  return value;
}

/** @internal */
export function checkProbability(p: number): void {
  if (!(p >= 0 && p <= 1)) {
    throw new Error(`podAvailability (${p}) must be a probability within [0, 1], e.g. 0.99`);
  }
}

function parseIntOrPercent(field: string, raw: unknown): { value: number; percent: boolean } {
  if (typeof raw === 'number') return { value: raw, percent: false };
  if (typeof raw === 'string') {
    const m = /^(\d+(?:\.\d+)?)%$/.exec(raw.trim());
    if (m) return { value: Number(m[1]), percent: true };
    if (/^\d+$/.test(raw.trim())) return { value: Number(raw.trim()), percent: false };
  }
  throw new Error(`PodDisruptionBudget ${field} (${JSON.stringify(raw)}) must be an integer or a percentage like "50%"`);
}
