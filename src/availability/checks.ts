// Argument checks shared by the availability model (internal): errors name the value and the accepted range.

export function checkCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${name} (${value}) must be a non-negative integer`);
  }
  return value;
}

export function checkPositive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} (${value}) must be an integer >= 1`);
  }
  return value;
}

export function checkPercent(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0 || value > 100) {
    throw new Error(`${name} percentage (${value}) must be within [0, 100]`);
  }
  return value;
}

export function checkProbability(p: number): void {
  if (!(p >= 0 && p <= 1)) {
    throw new Error(`podAvailability (${p}) must be a probability within [0, 1], e.g. 0.99`);
  }
}

export function parseIntOrPercent(field: string, raw: unknown): { value: number; percent: boolean } {
  if (typeof raw === 'number') return { value: raw, percent: false };
  if (typeof raw === 'string') {
    const m = /^(\d+(?:\.\d+)?)%$/.exec(raw.trim());
    if (m) return { value: Number(m[1]), percent: true };
    if (/^\d+$/.test(raw.trim())) return { value: Number(raw.trim()), percent: false };
  }
  throw new Error(`PodDisruptionBudget ${field} (${JSON.stringify(raw)}) must be an integer or a percentage like "50%"`);
}
