import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HistoryError, pairOperations, parseHistory } from '../../src/lincheck';

function assertBadLine(text: string, line: number, message: RegExp): void {
  assert.throws(() => parseHistory(text), (err: unknown) => {
    assert.ok(err instanceof HistoryError, `expected a HistoryError, got ${String(err)}`);
    assert.equal(err.line, line);
    assert.match(err.message, message);
    return true;
  });
}

describe('parseHistory', () => {
  it('parses events, skipping blank lines and keeping line numbers', () => {
    const events = parseHistory('{"process":3,"type":"invoke","f":"get","key":"r"}\n\n{"process":3,"type":"ok","f":"get","key":"r","value":"5"}\n');
    assert.equal(events.length, 2);
    assert.equal(events[1].line, 3);
    assert.equal(events[1].value, '5');
  });

  it('pairs operations and keeps what the completions carry', () => {
    const ops = pairOperations(parseHistory([
      '{"process":1,"type":"invoke","f":"cas","key":"r","value":[null,"b"]}',
      '{"process":2,"type":"invoke","f":"put","key":"r","value":"a"}',
      '{"process":1,"type":"ok","f":"cas","key":"r","value":[null,"b"]}',
      '{"process":3,"type":"invoke","f":"delete","key":"r"}',
      '{"process":2,"type":"info","f":"put","key":"r"}',
    ].join('\n')));
    assert.deepEqual(ops.map((op) => [op.f, op.input, op.newValue, op.outcome, op.invokeLine, op.returnLine]), [
      ['cas', null, 'b', 'ok', 1, 3],
      ['put', 'a', null, 'info', 2, undefined],
      ['delete', null, null, 'info', 4, undefined],
    ]);
    assert.equal(ops[1].returnIndex, Infinity);
  });

  it('rejects text that is not JSON', () => assertBadLine('{"process":1,"type":"invoke","f":"get","key":"r"}\n{oops', 2, /not valid JSON/));
  it('rejects an unknown f', () => assertBadLine('{"process":1,"type":"invoke","f":"incr","key":"r"}', 1, /unknown "f" "incr": expected get\|put\|delete\|cas/));
  it('rejects an unknown type', () => assertBadLine('{"process":1,"type":"done","f":"get","key":"r"}', 1, /"type" must be one of invoke\|ok\|fail\|info, got "done"/));
  it('rejects a bad process', () => assertBadLine('{"process":"a","type":"invoke","f":"get","key":"r"}', 1, /"process" must be a non-negative integer, got "a"/));
  it('rejects a non-string key', () => assertBadLine('{"process":1,"type":"invoke","f":"get","key":7}', 1, /"key" must be a string, got 7/));
  it('rejects a put without a value', () => assertBadLine('{"process":1,"type":"invoke","f":"put","key":"r"}', 1, /a put invoke needs a string "value"/));
  it('rejects a cas without [expected, new]', () => assertBadLine('{"process":1,"type":"invoke","f":"cas","key":"r","value":"x"}', 1, /a cas invoke needs "value": \[expected, new\]/));
  it('rejects an ok get without a value', () => assertBadLine('{"process":1,"type":"invoke","f":"get","key":"r"}\n{"process":1,"type":"ok","f":"get","key":"r"}', 2, /an ok get needs "value"/));
  it('rejects ok without invoke', () => assertBadLine('{"process":1,"type":"ok","f":"get","key":"r","value":null}', 1, /ok get for process 1 without an invoke in flight/));
  it('rejects two operations in flight on one process', () => assertBadLine(
    '{"process":1,"type":"invoke","f":"get","key":"r"}\n{"process":1,"type":"invoke","f":"get","key":"s"}', 2, /process 1 invokes get while its get from line 1 is still in flight/));
  it('rejects a completion that does not match its invoke', () => assertBadLine(
    '{"process":1,"type":"invoke","f":"get","key":"r"}\n{"process":1,"type":"ok","f":"get","key":"s","value":null}', 2, /does not match process 1's invoke get "r" at line 1/));
  it('rejects an ok put that carries another value than its invoke', () => assertBadLine(
    '{"process":1,"type":"invoke","f":"put","key":"r","value":"a"}\n{"process":1,"type":"ok","f":"put","key":"r","value":"b"}', 2, /ok put carries value "b" but its invoke at line 1 had "a"/));
  it('rejects a process invoking again after an info', () => assertBadLine(
    '{"process":1,"type":"invoke","f":"get","key":"r"}\n{"process":1,"type":"info","f":"get","key":"r"}\n{"process":1,"type":"invoke","f":"get","key":"r"}', 3, /invokes again after its info at line 2/));
  it('validates events given programmatically, numbering them by position', () => {
    assert.throws(() => pairOperations([{ process: 1, type: 'ok', f: 'get', key: 'r', value: null }]), /line 1: ok get for process 1 without an invoke/);
  });
});
