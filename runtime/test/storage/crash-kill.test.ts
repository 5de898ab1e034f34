import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { FileLogStore } from '../../src/storage';

const dir = mkdtempSync(join(tmpdir(), 'ha-wal-kill-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the writer child until `ms` after it is ready, SIGKILLs it, returns the highest acknowledged index. */
async function runAndKill(ms: number): Promise<{ start: number; acked: number }> {
  const child = spawn(process.execPath, [join(__dirname, 'crash-child.js'), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let start = -1;
  const killed = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('child never became ready')), 10_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /ready (\d+)/.exec(out);
        if (m && start < 0) {
          start = Number(m[1]);
          clearTimeout(timer);
          setTimeout(resolve, ms);
        }
      });
    });
  } finally {
    child.kill('SIGKILL');
    await killed;
  }
  const acks = [...out.matchAll(/ack (\d+)/g)].map((m) => Number(m[1]));
  return { start, acked: acks.length ? Math.max(...acks) : start };
}

it('kill -9 during group-committed writes never loses an acknowledged entry (5 rounds)', async () => {
  let expectedFloor = 0;
  for (let round = 0; round < 5; round++) {
    const { start, acked } = await runAndKill(150 + round * 50);
    assert.ok(start >= expectedFloor, `round ${round}: restarted at ${start}, below the acknowledged ${expectedFloor}`);
    assert.ok(acked > start, `round ${round}: no writes acknowledged`);
    const { store, recovered } = await FileLogStore.open(dir, { segmentSizeBytes: 64 * 1024 });
    const last = recovered.entries.at(-1)?.index ?? 0;
    assert.ok(last >= acked, `round ${round}: recovered up to ${last}, but ${acked} was acknowledged`);
    recovered.entries.forEach((e, i) => {
      assert.equal(e.index, i + 1);
      assert.equal(Buffer.from(e.data).toString().replace(/#+$/, ''), `value-${e.index}`);
    });
    assert.ok(recovered.hardState.commit <= last);
    await store.close();
    expectedFloor = acked;
  }
});
