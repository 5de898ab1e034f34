/**
 * The operations of one key, encoded for the search, after the exact reductions of operations
 * with unknown outcome (see `checker.ts` for why they are exact).
 */
import { Operation, Value } from './history';

/** What an operation does to the value; a const enum so the search's hot paths compare literals. */
export const enum Kind {
  GET = 0,
  /** put, and delete (writes absent). */
  PUT = 1,
  /** ok cas: must find `expected`. */
  CAS = 2,
  /** info cas: swaps if it finds `expected`, else changes nothing. */
  CAS_MAYBE = 3,
}

/** The operations of one key, encoded for the search; values are interned to small integers (0 = absent). */
export interface KeyProblem {
  /** Operations with a known outcome (ok), then those with unknown outcome (info), in invocation order. */
  ops: Operation[];
  normalCount: number;
  /** A `Kind` per operation. */
  kind: Int8Array;
  /** get: value read; put/delete: value written; cas: expected. */
  arg: Int32Array;
  /** cas: value written on success. */
  arg2: Int32Array;
  dropped: number;
  /** The values behind the interned integers. */
  values: Value[];
  /** Set when a get or cas expects a value that no operation ever writes: an immediate, minimal witness. */
  impossible?: { op: Operation };
}

/** Encodes the operations of one key (in invocation order) for the search. */
export function keyProblem(ops: readonly Operation[]): KeyProblem {
  const written = writtenValues(ops);
  const normal: Operation[] = [];
  let impossible: KeyProblem['impossible'];
  for (const op of ops) {
    if (op.outcome !== 'ok') continue;
    normal.push(op);
    const needs = op.f === 'get' ? op.output : op.f === 'cas' ? op.input : null;
    if (!impossible && !written.has(needs)) impossible = { op };
  }
  const pending = observedInfoWrites(normal, ops);
  const dropped = ops.filter((op) => op.outcome === 'info').length - pending.length;
  return { ...encode([...normal, ...pending], normal.length), dropped, impossible };
}

/** Every value some operation may have written (absent included: every key starts absent). */
function writtenValues(ops: readonly Operation[]): Set<Value> {
  const written = new Set<Value>([null]);
  for (const op of ops) {
    if (op.outcome === 'fail') continue;
    if (op.f === 'put') written.add(op.input);
    if (op.f === 'delete') written.add(null);
    if (op.f === 'cas') written.add(op.newValue);
  }
  return written;
}

/**
 * The operations with unknown outcome the search must place. A get constrains nothing. A write
 * of a value nobody observes can be moved to the end of any linearization without changing what
 * anyone saw: between it and the next effective write only info cas ops expecting something else
 * can sit (a get would observe the value, an ok cas would need it), and those may move to the end
 * as well. An info cas only counts as an observer while it is kept itself, hence the fixpoint.
 */
function observedInfoWrites(normal: readonly Operation[], ops: readonly Operation[]): Operation[] {
  let pending = ops.filter((op) => op.outcome === 'info' && op.f !== 'get');
  for (;;) {
    const observers = new Set<Value>();
    for (const op of normal) {
      if (op.f === 'get') observers.add(op.output);
      if (op.f === 'cas') observers.add(op.input);
    }
    for (const op of pending) if (op.f === 'cas') observers.add(op.input);
    const kept = pending.filter((op) => observers.has(op.f === 'put' ? op.input : op.f === 'cas' ? op.newValue : null));
    if (kept.length === pending.length) return pending;
    pending = kept;
  }
}

/** The typed-array encoding of `all` (the first `normalCount` have a known outcome). */
function encode(all: Operation[], normalCount: number): Omit<KeyProblem, 'dropped' | 'impossible'> {
  const ids = new Map<Value, number>([[null, 0]]);
  const values: Value[] = [null];
  const intern = (v: Value): number => {
    let id = ids.get(v);
    if (id === undefined) {
      ids.set(v, (id = values.length));
      values.push(v);
    }
    return id;
  };
  const kind = new Int8Array(all.length);
  const arg = new Int32Array(all.length);
  const arg2 = new Int32Array(all.length);
  all.forEach((op, i) => {
    switch (op.f) {
      case 'get': kind[i] = Kind.GET; arg[i] = intern(op.output); break;
      case 'put': kind[i] = Kind.PUT; arg[i] = intern(op.input); break;
      case 'delete': kind[i] = Kind.PUT; arg[i] = 0; break;
      case 'cas':
        kind[i] = op.outcome === 'ok' ? Kind.CAS : Kind.CAS_MAYBE;
        arg[i] = intern(op.input);
        arg2[i] = intern(op.newValue);
        break;
    }
  });
  return { ops: all, normalCount, kind, arg, arg2, values };
}
