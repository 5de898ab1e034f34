/**
 * The simulator's linearizability check of a key-value history (one register per key, checked
 * key by key: linearizability is compositional). A Wing & Gong search with memoisation of
 * (linearized set, value), after porcupine. `fail` operations did not happen and are dropped;
 * `info` operations may or may not have happened, and may take effect any time after their call.
 */
import { HistoryEvent } from './cluster';

interface Op {
  readonly f: HistoryEvent['f'];
  readonly value: HistoryEvent['value'];
  readonly call: number;
  readonly ret: number;
  readonly indeterminate: boolean;
}

export interface LinearizabilityResult {
  readonly ok: boolean;
  readonly reason?: string;
}

export function checkLinearizable(history: readonly HistoryEvent[], maxStates = 2_000_000): LinearizabilityResult {
  const open = new Map<number, { e: HistoryEvent; at: number }>();
  const byKey = new Map<string, Op[]>();
  history.forEach((e, at) => {
    if (e.type === 'invoke') {
      if (open.has(e.process)) throw new Error(`history: process ${e.process} invoked twice without completing`);
      open.set(e.process, { e, at });
      return;
    }
    const inv = open.get(e.process);
    if (!inv) throw new Error(`history: process ${e.process} completed without an invoke`);
    open.delete(e.process);
    if (e.type === 'fail') return;
    const ops = byKey.get(inv.e.key) ?? [];
    ops.push({ f: inv.e.f, value: e.type === 'ok' && inv.e.f === 'get' ? e.value : inv.e.value, call: inv.at, ret: e.type === 'info' ? Infinity : at, indeterminate: e.type === 'info' });
    byKey.set(inv.e.key, ops);
  });
  for (const { e, at } of open.values()) {
    const ops = byKey.get(e.key) ?? [];
    if (e.f !== 'get') ops.push({ f: e.f, value: e.value, call: at, ret: Infinity, indeterminate: true });
    byKey.set(e.key, ops);
  }
  for (const [key, ops] of byKey) {
    const r = checkRegister(ops.filter((o) => !(o.indeterminate && o.f === 'get')), maxStates);
    if (!r.ok) return { ok: false, reason: `key ${key}: ${r.reason}` };
  }
  return { ok: true };
}

function step(state: number | null, op: Op): number | null | undefined {
  switch (op.f) {
    case 'get':
      return op.value === state ? state : undefined;
    case 'put':
      return op.value as number;
    case 'delete':
      return null;
    case 'cas': {
      const [expected, next] = op.value as [number | null, number];
      return state === expected ? next : undefined; // an ok cas must have seen `expected`
    }
  }
}

function checkRegister(ops: Op[], maxStates: number): LinearizabilityResult {
  ops.sort((a, b) => a.call - b.call);
  const n = ops.length;
  const required = ops.filter((o) => !o.indeterminate).length;
  const seen = new Set<string>();
  let explored = 0;
  const done = new Uint8Array(n);
  // Depth-first: linearize one minimal op at a time; an op is minimal if no pending op returned before its call.
  const dfs = (state: number | null, doneRequired: number): boolean => {
    if (doneRequired === required) return true;
    const key = `${state}|${Buffer.from(done).toString('base64')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    if (++explored > maxStates) throw new Error(`linearizability search exceeded ${maxStates} states`);
    let minRet = Infinity;
    for (let i = 0; i < n; i++) if (!done[i] && ops[i].ret < minRet) minRet = ops[i].ret;
    for (let i = 0; i < n; i++) {
      if (done[i] || ops[i].call > minRet) continue;
      const next = step(state, ops[i]);
      if (next === undefined) continue;
      done[i] = 1;
      const ok = dfs(next, doneRequired + (ops[i].indeterminate ? 0 : 1));
      done[i] = 0;
      if (ok) return true;
    }
    return false;
  };
  if (dfs(null, 0)) return { ok: true };
  return { ok: false, reason: `no linearization of ${n} operations (${explored} states explored)` };
}
