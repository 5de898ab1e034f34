/**
 * When the router may resend a request. A real HTTP member that misbehaves on purpose (drops the
 * connection after reading a write, or answers a 503) stands in for a shard member crashing at
 * the worst moment, which a real Raft member cannot be made to do on cue.
 */
import assert from 'node:assert/strict';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { parseRouterConfig } from '../../src/cli/router-config';
import { Router } from '../../src/router';
import { keyUrl, kvRequest } from '../support/kv-client';

// Ports 26400 (router), 26401 (member).
type Behaviour = (req: IncomingMessage, res: ServerResponse, attempt: number) => void;

describe('router retries', { timeout: 30_000 }, () => {
  let member: Server | undefined;
  let router: Router | undefined;
  let base = '';
  let behaviour: Behaviour = (_req, res) => res.end();
  let writes: string[] = [];
  let record: string | undefined;

  before(async () => {
    member = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/readyz') { res.end('{"ready":true}'); return; }
        // The slot map (the router creates it on a fresh store): kept apart from the writes under test.
        if (req.url?.startsWith('/v1/kv/__ha%2Fshard')) {
          if (req.method === 'PUT') record = Buffer.concat(chunks).toString();
          res.writeHead(record === undefined ? 404 : 200).end(record ?? '{"error":"key_not_found"}');
          return;
        }
        if (req.method !== 'GET') writes.push(`${req.method} ${req.url}`);
        behaviour(req, res, writes.length);
      });
    });
    await new Promise<void>((resolve) => member!.listen(26401, '127.0.0.1', resolve));
    const port = (member.address() as AddressInfo).port;
    router = new Router(parseRouterConfig([
      '--listen', '127.0.0.1:26400',
      '--shard', `a=http://127.0.0.1:${port}`,
      '--health-interval-ms', '1000',
      '--retry-budget-ms', '3000',
      // Generous: an attempt that times out may have applied (outcome unknown), which a stalled, loaded machine
      // must not fake in the tests that expect not_applied; every attempt here is answered at once.
      '--request-timeout-ms', '2500',
    ], {}));
    base = `http://127.0.0.1:${await router.start()}`;
  });
  beforeEach(() => { writes = []; });
  after(async () => {
    await router?.close();
    member?.closeAllConnections();
    await new Promise((resolve) => member?.close(resolve));
  });

  const dropFirstWrite: Behaviour = (_req, res, attempt) => {
    if (attempt === 1) res.socket?.destroy(); // read the write, then "crash" before answering
    else res.end('{"index":1}');
  };

  for (const [label, query] of [['a plain PUT', ''], ['a compare-and-swap (?prev=)', 'prev=old'], ['a create (?prev_exist=false)', 'prev_exist=false']]) {
    it(`does not resend ${label} whose first attempt may have applied; answers 503 outcome unknown`, async () => {
      behaviour = dropFirstWrite;
      const r = await kvRequest(keyUrl(base, 'k', query), { method: 'PUT', body: 'v', maxRedirects: 0 });
      assert.equal(r.status, 503, r.body.toString());
      assert.equal(JSON.parse(r.body.toString()).outcome, 'unknown');
      assert.equal(writes.length, 1, `the member received ${JSON.stringify(writes)}`);
    });
  }

  it('does not resend a DELETE whose first attempt may have applied', async () => {
    behaviour = dropFirstWrite;
    const r = await kvRequest(keyUrl(base, 'k'), { method: 'DELETE', maxRedirects: 0 });
    assert.equal(r.status, 503);
    assert.equal(writes.length, 1);
  });

  it('passes a 503 outcome unknown through without resending', async () => {
    behaviour = (_req, res) => { res.writeHead(503, { 'Content-Type': 'application/json' }); res.end('{"error":"leadership_lost","outcome":"unknown"}'); };
    const r = await kvRequest(keyUrl(base, 'k'), { method: 'PUT', body: 'v', maxRedirects: 0 });
    assert.equal(r.status, 503);
    assert.equal(JSON.parse(r.body.toString()).error, 'leadership_lost');
    assert.equal(writes.length, 1);
  });

  it('resends a write the shard says did not apply (no_leader, not_applied) until it succeeds', async () => {
    behaviour = (_req, res, attempt) => {
      if (attempt === 1) { res.writeHead(503); res.end('{"error":"no_leader","retryable":true}'); } else if (attempt === 2) { res.writeHead(503); res.end('{"error":"proposal_dropped","outcome":"not_applied"}'); } else {res.end('{"index":3}');}
    };
    const r = await kvRequest(keyUrl(base, 'k'), { method: 'PUT', body: 'v', maxRedirects: 0 });
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(writes.length, 3);
  });

  it('answers 503 outcome not_applied when every attempt surely failed', async () => {
    behaviour = (_req, res) => { res.writeHead(503); res.end('{"error":"no_leader"}'); };
    const r = await kvRequest(keyUrl(base, 'k'), { method: 'PUT', body: 'v', maxRedirects: 0, timeoutMs: 10_000 });
    assert.equal(r.status, 503);
    const body = JSON.parse(r.body.toString());
    assert.equal(body.error, 'shard_unavailable');
    assert.equal(body.outcome, 'not_applied');
    assert.ok(writes.length > 1, 'it did retry within its budget');
  });

  it('resends a read after a dropped connection', async () => {
    let reads = 0;
    behaviour = (req, res) => {
      if (req.method === 'GET' && reads++ === 0) res.socket?.destroy();
      else res.end('value');
    };
    const r = await kvRequest(keyUrl(base, 'k'), { maxRedirects: 0 });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'value');
    assert.equal(reads, 2);
  });
});
