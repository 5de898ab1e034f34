import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { EntryType } from '../../src/raft/types';
import { FileLogStore } from '../../src/storage';

const dir = mkdtempSync(join(tmpdir(), 'ha-wal-inspect-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const main = join(__dirname, '..', '..', 'src', 'main.js');

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(main)}).main(process.argv.slice(1))`, 'wal-inspect', ...args], { encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

it('wal-inspect reports a healthy directory, a torn tail (without fixing it) and corruption', async () => {
  const { store } = await FileLogStore.open(dir);
  for (let i = 1; i <= 5; i++) await store.save({ entries: [{ term: 2, index: i, type: EntryType.NORMAL, data: Buffer.from(`entry number ${i}`) }], hardState: { term: 2, vote: 1, commit: i - 1 } });
  await store.close();

  const healthy = run(dir, '--json');
  assert.equal(healthy.status, 0, healthy.stderr);
  const report = JSON.parse(healthy.stdout);
  assert.equal(report.ok, true);
  assert.deepEqual([report.firstIndex, report.lastIndex, report.lastTerm], [1, 5, 2]);
  assert.deepEqual(report.hardState, { term: 2, vote: 1, commit: 4 });

  const segment = join(dir, readdirSync(dir).find((n) => n.endsWith('.wal'))!);
  // A crash in the middle of the last write: its last 8 bytes (the commit index) never reached the preallocated segment.
  const end = JSON.parse(run(dir, '--json').stdout).segments.at(-1).bytes as number;
  const written = readFileSync(segment);
  written.fill(0, end - 8, end);
  writeFileSync(segment, written);
  const torn = run(dir);
  assert.equal(torn.status, 0);
  assert.match(torn.stdout, /torn tail: +.* at offset \d+ \(never acknowledged; truncated at start\)/);
  // The torn record is the last save's hard state (entries come first in a save): entry 5 stays.
  assert.match(torn.stdout, /entries 1\.\.5 \(last term 2\)/);
  assert.match(torn.stdout, /hard state: +term 2, vote 1, commit 3\n/);
  assert.ok(readFileSync(segment).equals(written), 'inspect never modifies the directory');

  const bytes = readFileSync(segment);
  bytes[bytes.indexOf('entry number 2') + 2] ^= 1;
  writeFileSync(segment, bytes);
  const corrupt = run(dir);
  assert.equal(corrupt.status, 1);
  assert.match(corrupt.stdout, /verdict: CORRUPT\n.*record CRC mismatch, but a valid record follows/);

  assert.equal(run().status, 2);
  assert.equal(run(join(dir, 'missing')).status, 2);
});
