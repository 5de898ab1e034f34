import { HistoryEvent, OpFunction, Value } from '../../src/lincheck';

/** Terse history builders for hand-written tests: `inv(1, 'put', 'r', '5')`, `ok(1, 'put', 'r')`. */
export function inv(process: number, f: OpFunction, key: string, value?: Value | [Value, Value]): HistoryEvent {
  return value === undefined ? { process, type: 'invoke', f, key } : { process, type: 'invoke', f, key, value };
}
export function ok(process: number, f: OpFunction, key: string, value?: Value): HistoryEvent {
  return value === undefined ? { process, type: 'ok', f, key } : { process, type: 'ok', f, key, value };
}
export function fail(process: number, f: OpFunction, key: string): HistoryEvent {
  return { process, type: 'fail', f, key };
}
export function info(process: number, f: OpFunction, key: string): HistoryEvent {
  return { process, type: 'info', f, key };
}
/** Renders events as the JSON Lines text the CLI reads. */
export function jsonl(events: readonly HistoryEvent[]): string {
  return events.map((e) => JSON.stringify(e)).join('\n') + '\n';
}
