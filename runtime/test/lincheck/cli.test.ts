import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { inv, jsonl, ok } from './helpers';
import { randomHistory } from '../../src/lincheck';

const main = join(__dirname, '..', '..', 'src', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'lincheck-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(main)}).main(process.argv.slice(1))`, 'lincheck', ...args], {
    input, encoding: 'utf8', timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const stale = jsonl([
  inv(1, 'put', 'r', '5'), ok(1, 'put', 'r'),
  inv(2, 'put', 'r', '6'), ok(2, 'put', 'r'),
  inv(3, 'get', 'r'), ok(3, 'get', 'r', '5'),
]);

describe('ha-runtime lincheck', () => {
  it('exits 0 on a linearizable history', () => {
    const r = run([file('good.jsonl', jsonl(randomHistory({ seed: 3, operations: 500 }).events))]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^linearizable: 500 operations on 3 keys/);
  });

  it('exits 1 with the key and the operations that cannot be ordered', () => {
    const r = run([file('stale.jsonl', stale)]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /NOT linearizable: key "r"/);
    assert.match(r.stdout, /p3 get "r" -> "5" \(lines 5-6\)/);
  });

  it('reads stdin for -', () => {
    assert.equal(run(['-'], stale).status, 1);
    assert.equal(run(['-'], jsonl([inv(1, 'put', 'r', 'a'), ok(1, 'put', 'r')])).status, 0);
  });

  it('prints JSON with --json', () => {
    const r = run(['--json', file('stale2.jsonl', stale)]);
    assert.equal(r.status, 1);
    const out = JSON.parse(r.stdout);
    assert.equal(out.status, 'not-linearizable');
    assert.equal(out.key, 'r');
    assert.equal(out.stats.operations, 3);
  });

  it('exits 2 with the line number on a malformed history', () => {
    const r = run([file('bad.jsonl', '{"process":1,"type":"invoke","f":"get","key":"r"}\n{"process":1,"type":"invoke","f":"incr","key":"r"}\n')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /bad\.jsonl: line 2: unknown "f" "incr"/);
  });

  it('exits 2 on usage errors and missing files', () => {
    assert.equal(run([]).status, 2);
    assert.equal(run(['--timeout', 'soon', 'x']).status, 2);
    assert.equal(run(['--frobnicate', 'x']).status, 2);
    const missing = run([join(dir, 'missing.jsonl')]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /cannot read .*missing\.jsonl/);
  });

  it('exits 3 when the time budget runs out', () => {
    const r = run(['--timeout', '0.001', file('big.jsonl', jsonl(randomHistory({ seed: 4, operations: 20_000, infoRate: 0.04 }).events))]);
    assert.equal(r.status, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /^unknown: key/);
  });
});
