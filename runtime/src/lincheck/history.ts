/**
 * Histories of a key-value store, as recorded by a test client: the JSON Lines format read by
 * `ha-runtime lincheck`, its validation, and the pairing of invocations with completions.
 *
 * One event per line, in real-time order:
 *   {"process":3,"type":"invoke","f":"put","key":"r","value":"5"}
 *   {"process":3,"type":"ok","f":"put","key":"r"}
 * The format follows Jepsen's: `fail` means the operation surely did not take effect, `info`
 * means its outcome is unknown (it may take effect at any time after its invocation).
 */

/** A value stored under a key; `null` means the key is absent. */
export type Value = string | null;

/** The operations of the key-value model. */
export type OpFunction = 'get' | 'put' | 'delete' | 'cas';

/** The kinds of event: an invocation and its three possible completions. */
export type EventType = 'invoke' | 'ok' | 'fail' | 'info';

/**
 * One line of a history.
 * - get: the `ok` completion carries the value read (`null`: absent).
 * - put: the invocation carries the value written; an `ok` may repeat it.
 * - delete: no value.
 * - cas: the invocation carries `[expected, new]`; `ok` means it swapped, `fail` that it did not
 *   (for instance because it found another value).
 */
export interface HistoryEvent {
  /** The client process; a process has at most one operation in flight. */
  readonly process: number;
  readonly type: EventType;
  readonly f: OpFunction;
  readonly key: string;
  /** See the per-function contract above. */
  readonly value?: Value | readonly [Value, Value];
  /** 1-based line in the source text, for error messages; set by `parseHistory`. */
  readonly line?: number;
}

/**
 * An operation: an invocation paired with its completion. Operations that failed are kept
 * (with outcome `fail`) so that callers can see them, but the checker ignores them.
 */
export interface Operation {
  /** Index of the operation in invocation order (0-based). */
  readonly id: number;
  readonly process: number;
  readonly f: OpFunction;
  readonly key: string;
  /** put: the value written; cas: the value expected; get/delete: null. */
  readonly input: Value;
  /** cas: the value written on success; otherwise null. */
  readonly newValue: Value;
  /** get with outcome ok: the value read; otherwise null. */
  readonly output: Value;
  /** `info` also covers operations still in flight when the history ends. */
  readonly outcome: 'ok' | 'fail' | 'info';
  /** Position of the invocation event in the history (0-based), the operation's start time. */
  readonly invokeIndex: number;
  /** Position of the completion event, or `Infinity` when the outcome is unknown. */
  readonly returnIndex: number;
  /** Line of the invocation (1-based). */
  readonly invokeLine: number;
  /** Line of the completion, or undefined when there is none or it was `info`. */
  readonly returnLine?: number;
}

/** A malformed history; `line` is 1-based. Exit code 2 of the CLI. */
export class HistoryError extends Error {
  constructor(public readonly line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'HistoryError';
  }
}

const FUNCTIONS: ReadonlySet<string> = new Set(['get', 'put', 'delete', 'cas']);
const TYPES: ReadonlySet<string> = new Set(['invoke', 'ok', 'fail', 'info']);

function isValue(v: unknown): v is Value {
  return v === null || typeof v === 'string';
}

/**
 * Checks the shape of one decoded event and returns it typed. Throws a HistoryError naming the
 * field, the value found and what was expected.
 */
export function validateEvent(raw: unknown, line: number): HistoryEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new HistoryError(line, `expected a JSON object, got ${JSON.stringify(raw)}`);
  }
  const o = raw as Record<string, unknown>;
  const { process, type, f, key } = o;
  if (typeof process !== 'number' || !Number.isSafeInteger(process) || process < 0) {
    throw new HistoryError(line, `"process" must be a non-negative integer, got ${JSON.stringify(process)}`);
  }
  if (typeof type !== 'string' || !TYPES.has(type)) {
    throw new HistoryError(line, `"type" must be one of invoke|ok|fail|info, got ${JSON.stringify(type)}`);
  }
  if (typeof f !== 'string' || !FUNCTIONS.has(f)) {
    throw new HistoryError(line, `unknown "f" ${JSON.stringify(f)}: expected get|put|delete|cas`);
  }
  if (typeof key !== 'string') {
    throw new HistoryError(line, `"key" must be a string, got ${JSON.stringify(key)}`);
  }
  const hasValue = Object.prototype.hasOwnProperty.call(o, 'value');
  const value = o.value;
  if (f === 'cas' && type === 'invoke') {
    if (!Array.isArray(value) || value.length !== 2 || !isValue(value[0]) || !isValue(value[1])) {
      throw new HistoryError(line, `a cas invoke needs "value": [expected, new] (strings or null), got ${JSON.stringify(value)}`);
    }
    return { process, type: type as EventType, f, key, value: [value[0], value[1]], line };
  }
  if (f === 'put' && type === 'invoke' && typeof value !== 'string') {
    throw new HistoryError(line, `a put invoke needs a string "value", got ${JSON.stringify(value)}`);
  }
  if (f === 'get' && type === 'ok' && (!hasValue || !isValue(value))) {
    throw new HistoryError(line, `an ok get needs "value": the string read, or null when absent; got ${hasValue ? JSON.stringify(value) : 'no value'}`);
  }
  if (hasValue && value !== undefined) {
    if (f === 'cas') {
      if (!Array.isArray(value) || value.length !== 2 || !isValue(value[0]) || !isValue(value[1])) {
        throw new HistoryError(line, `a cas "value" must be [expected, new], got ${JSON.stringify(value)}`);
      }
      return { process, type: type as EventType, f, key, value: [value[0], value[1]], line };
    }
    if (!isValue(value)) {
      throw new HistoryError(line, `"value" must be a string or null, got ${JSON.stringify(value)}`);
    }
    return { process, type: type as EventType, f: f as OpFunction, key, value, line };
  }
  return { process, type: type as EventType, f: f as OpFunction, key, line };
}

/**
 * Parses a JSON Lines history (blank lines are skipped) and checks that it is well formed:
 * every completion answers an operation in flight on the same process with the same f and key,
 * no process has two operations in flight, and no process invokes again after an `info`.
 * Throws a HistoryError with the 1-based line number otherwise.
 */
export function parseHistory(text: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const source = lines[i].trim();
    if (source === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(source);
    } catch (err) {
      throw new HistoryError(i + 1, `not valid JSON (${(err as Error).message})`);
    }
    events.push(validateEvent(raw, i + 1));
  }
  pairOperations(events);
  return events;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

/**
 * Pairs invocations with completions, in invocation order. Operations still in flight at the
 * end of the history get outcome `info`: they may have taken effect. Throws a HistoryError for a
 * malformed history (see `parseHistory`). Events without a `line` are numbered by position.
 */
export function pairOperations(events: readonly HistoryEvent[]): Operation[] {
  interface Open { id: number; event: HistoryEvent; index: number; line: number }
  const inFlight = new Map<number, Open>();
  const crashed = new Map<number, number>(); // process -> line of its info
  const ops: Operation[] = [];
  const build = (open: Open, outcome: Operation['outcome'], returnIndex: number, returnLine: number | undefined, output: Value): Operation => {
    const inv = open.event;
    const cas = inv.f === 'cas' ? (inv.value as readonly [Value, Value]) : undefined;
    return {
      id: open.id,
      process: inv.process,
      f: inv.f,
      key: inv.key,
      input: cas ? cas[0] : inv.f === 'put' ? (inv.value as Value) : null,
      newValue: cas ? cas[1] : null,
      output,
      outcome,
      invokeIndex: open.index,
      returnIndex,
      invokeLine: open.line,
      returnLine,
    };
  };
  const slots: Array<Operation | undefined> = [];
  for (let index = 0; index < events.length; index++) {
    const raw = events[index];
    const line = raw.line ?? index + 1;
    const e = raw.line === undefined ? validateEvent(raw, line) : raw;
    const open = inFlight.get(e.process);
    if (e.type === 'invoke') {
      if (open) {
        throw new HistoryError(line, `process ${e.process} invokes ${e.f} while its ${open.event.f} from line ${open.line} is still in flight (one operation per process)`);
      }
      const crashLine = crashed.get(e.process);
      if (crashLine !== undefined) {
        throw new HistoryError(line, `process ${e.process} invokes again after its info at line ${crashLine}; a crashed process must not be reused (give the new client a new process number)`);
      }
      inFlight.set(e.process, { id: slots.length, event: e, index, line });
      slots.push(undefined);
      continue;
    }
    if (!open) {
      throw new HistoryError(line, `${e.type} ${e.f} for process ${e.process} without an invoke in flight`);
    }
    if (open.event.f !== e.f || open.event.key !== e.key) {
      throw new HistoryError(line, `${e.type} ${e.f} ${JSON.stringify(e.key)} does not match process ${e.process}'s invoke ${open.event.f} ${JSON.stringify(open.event.key)} at line ${open.line}`);
    }
    inFlight.delete(e.process);
    if (e.type === 'ok' && e.f !== 'get' && e.value !== undefined && !sameValue(e.value, open.event.value)) {
      throw new HistoryError(line, `ok ${e.f} carries value ${JSON.stringify(e.value)} but its invoke at line ${open.line} had ${JSON.stringify(open.event.value)}`);
    }
    if (e.type === 'info') {
      crashed.set(e.process, line);
      slots[open.id] = build(open, 'info', Infinity, undefined, null);
    } else {
      slots[open.id] = build(open, e.type, index, line, e.type === 'ok' && e.f === 'get' ? (e.value as Value) : null);
    }
  }
  for (const open of inFlight.values()) slots[open.id] = build(open, 'info', Infinity, undefined, null);
  for (const op of slots) ops.push(op as Operation);
  return ops;
}

/** A one-line human description of an operation, with its lines: `p3 get "r" -> "5" (lines 7-9)`. */
export function describeOperation(op: Operation): string {
  const v = (x: Value) => JSON.stringify(x);
  let what: string;
  switch (op.f) {
    case 'get': what = `get ${v(op.key)} -> ${op.outcome === 'ok' ? v(op.output) : '?'}`; break;
    case 'put': what = `put ${v(op.key)} ${v(op.input)}`; break;
    case 'delete': what = `delete ${v(op.key)}`; break;
    case 'cas': what = `cas ${v(op.key)} ${v(op.input)} -> ${v(op.newValue)}`; break;
  }
  const when = op.returnLine === undefined ? `line ${op.invokeLine}, outcome unknown` : `lines ${op.invokeLine}-${op.returnLine}`;
  return `p${op.process} ${what}${op.outcome === 'fail' ? ' failed' : ''} (${when})`;
}
