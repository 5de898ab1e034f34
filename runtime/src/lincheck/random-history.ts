/**
 * Seeded random histories of a real (sequential, in-memory) key-value store driven by concurrent
 * clients: every operation takes effect at one instant between its invocation and its
 * completion, so the history is linearizable by construction. Used by the tests (which then
 * mutate it into histories that are not) and by the benchmark.
 */
import { HistoryEvent, OpFunction, Value } from './history';
import { seededRandom } from '../util/mulberry32';

/** Options of `randomHistory`. */
export interface RandomHistoryOptions {
  /** Seed of the generator: equal seeds give equal histories. */
  readonly seed: number;
  /** Operations to invoke. */
  readonly operations: number;
  /** Concurrent client processes. @default 10 */
  readonly processes?: number;
  /** Keys, named k0, k1, ... @default 3 */
  readonly keys?: number;
  /**
   * Probability that an operation ends with `info` (its client crashes, before or after the
   * operation took effect; one crashed before may still take effect later, or never).
   * @default 0.02
   */
  readonly infoRate?: number;
  /** Probability that a put or delete is rejected (`fail`, not applied). @default 0.02 */
  readonly failRate?: number;
}

/** A generated history and what happened while generating it. */
export interface RandomHistory {
  readonly events: HistoryEvent[];
  /** Operations that completed `info`. */
  readonly info: number;
  /** Of those, the ones that never took effect. */
  readonly infoNeverApplied: number;
}

interface PendingOp {
  readonly f: OpFunction;
  readonly key: string;
  readonly value?: Value;
  readonly expected?: Value;
  readonly newValue?: Value;
}

/** Generates a linearizable history by running a real store under random interleavings. */
export function randomHistory(options: RandomHistoryOptions): RandomHistory {
  const { seed, operations } = options;
  const processes = options.processes ?? 10;
  const keyCount = options.keys ?? 3;
  const infoRate = options.infoRate ?? 0.02;
  const failRate = options.failRate ?? 0.02;
  if (!Number.isSafeInteger(operations) || operations < 0) throw new Error(`operations must be a non-negative integer, got ${operations}`);
  if (!Number.isSafeInteger(processes) || processes < 1) throw new Error(`processes must be a positive integer, got ${processes}`);
  if (!Number.isSafeInteger(keyCount) || keyCount < 1) throw new Error(`keys must be a positive integer, got ${keyCount}`);
  const rand = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const store = new Map<string, Value>();
  const written: Value[] = [];
  const events: HistoryEvent[] = [];
  let nextValue = 0;
  let nextPid = processes;
  let invoked = 0;
  let info = 0;
  let infoNeverApplied = 0;

  const apply = (op: PendingOp): { ok: boolean; read?: Value } => {
    const current = store.get(op.key) ?? null;
    switch (op.f) {
      case 'get': return { ok: true, read: current };
      case 'put': store.set(op.key, op.value ?? null); return { ok: true };
      case 'delete': store.delete(op.key); return { ok: true };
      case 'cas':
        if (current !== op.expected) return { ok: false };
        if (op.newValue === null) store.delete(op.key);
        else store.set(op.key, op.newValue ?? null);
        return { ok: true };
    }
  };

  interface Slot { pid: number; phase: 'idle' | 'invoked' | 'applied'; op?: PendingOp; result?: { ok: boolean; read?: Value }; rejected?: boolean }
  const slots: Slot[] = Array.from({ length: processes }, (_, pid) => ({ pid, phase: 'idle' }));
  const ghosts: PendingOp[] = []; // crashed before taking effect; may still take effect

  const emitInvoke = (slot: Slot, op: PendingOp): void => {
    const base = { process: slot.pid, type: 'invoke' as const, f: op.f, key: op.key };
    if (op.f === 'put') events.push({ ...base, value: op.value ?? null });
    else if (op.f === 'cas') events.push({ ...base, value: [op.expected ?? null, op.newValue ?? null] });
    else events.push(base);
  };

  const newOp = (): PendingOp => {
    const key = `k${Math.floor(rand() * keyCount)}`;
    const r = rand();
    if (r < 0.4) return { f: 'get', key };
    if (r < 0.7) {
      const value = `v${nextValue++}`;
      written.push(value);
      return { f: 'put', key, value };
    }
    if (r < 0.8) return { f: 'delete', key };
    const current = store.get(key) ?? null;
    const expected = rand() < 0.6 || written.length === 0 ? current : pick(written.slice(-8));
    const newValue = `v${nextValue++}`;
    written.push(newValue);
    return { f: 'cas', key, expected, newValue };
  };

  while (invoked < operations || slots.some((s) => s.phase !== 'idle')) {
    if (ghosts.length > 0 && rand() < 0.03) {
      const g = ghosts.splice(Math.floor(rand() * ghosts.length), 1)[0];
      apply(g);
    }
    const slot = pick(slots);
    if (slot.phase === 'idle') {
      if (invoked >= operations) continue;
      slot.op = newOp();
      slot.phase = 'invoked';
      invoked++;
      emitInvoke(slot, slot.op);
      continue;
    }
    const op = slot.op as PendingOp;
    const crash = rand() < infoRate / 2;
    if (crash) {
      // The client crashes: the operation's outcome is unknown to the history.
      if (slot.phase === 'invoked') {
        if (op.f !== 'get' && rand() < 0.5) ghosts.push(op);
        else infoNeverApplied++;
      }
      events.push({ process: slot.pid, type: 'info', f: op.f, key: op.key });
      info++;
      slot.pid = nextPid++;
      slot.phase = 'idle';
      continue;
    }
    if (slot.phase === 'invoked') {
      slot.rejected = (op.f === 'put' || op.f === 'delete') && rand() < failRate;
      slot.result = slot.rejected ? { ok: false } : apply(op);
      slot.phase = 'applied';
      continue;
    }
    const result = slot.result as { ok: boolean; read?: Value };
    if (op.f === 'get') events.push({ process: slot.pid, type: 'ok', f: 'get', key: op.key, value: result.read ?? null });
    else events.push({ process: slot.pid, type: result.ok ? 'ok' : 'fail', f: op.f, key: op.key });
    slot.phase = 'idle';
  }
  infoNeverApplied += ghosts.length;
  return { events, info, infoNeverApplied };
}
