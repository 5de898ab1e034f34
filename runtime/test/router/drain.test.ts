/**
 * SIGTERM drains: a terminating router pod keeps serving while Kubernetes removes it from the
 * Service endpoints (the image has no shell for a preStop sleep), then exits 0.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';

const BIN = join(__dirname, '..', '..', '..', 'bin', 'ha-runtime');
const PORT = 24950;

async function status(path: string): Promise<number | string> {
  try {
    return (await fetch(`http://127.0.0.1:${PORT}${path}`, { signal: AbortSignal.timeout(1000) })).status;
  } catch (err) {
    return (err as Error).name;
  }
}

test('SIGTERM: /readyz turns 503 at once, the router keeps serving for --drain-ms, then exits 0', { timeout: 20_000 }, async () => {
  const child = spawn(process.execPath, [BIN, 'router', `--listen=127.0.0.1:${PORT}`, '--shard', 'a=http://127.0.0.1:24951', '--drain-ms', '1500'],
    { stdio: ['ignore', 'inherit', 'pipe'] });
  try {
    let out = '';
    // The router logs JSON lines on stderr, as the members do.
    child.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
    for (let i = 0; i < 100 && !out.includes('router listening'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /router listening/);
    assert.equal(await status('/livez'), 200);

    const killedAt = Date.now();
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await status('/readyz'), 503, 'a draining router is not ready');
    assert.equal(await status('/livez'), 200, 'but it still serves');
    const [code] = await once(child, 'exit');
    const drained = Date.now() - killedAt;
    assert.equal(code, 0);
    assert.ok(drained >= 1400, `exited after ${drained} ms, before the 1500 ms drain`);
    assert.ok(drained < 8000, `took ${drained} ms to exit`);
    assert.match(out, /"msg":"draining"/);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
