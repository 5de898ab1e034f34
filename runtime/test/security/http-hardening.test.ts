/**
 * The client-facing HTTP servers of a member and of the router under hostile clients: slow-loris
 * and idle connections are closed within the configured deadlines, connections beyond the bound
 * get a clear 503, and invalid UTF-8 anywhere in a request is a 400, never a 500.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { kvRequest } from '../support/kv-client';
import { KvCluster, sleep } from '../support/kv-cluster';

// Ports 24300-24399 belong to this file.
const BASE = 24300;
const ROUTER_PORT = 24390;
const BIN = join(__dirname, '..', '..', '..', 'bin', 'ha-runtime');
const LIMITS = ['--http-headers-timeout-ms', '1000', '--http-request-timeout-ms', '2000', '--http-idle-timeout-ms', '1000', '--http-max-connections', '64'];

function openSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', reject);
  });
}

/** Opens `n` connections that trickle a request's headers one byte every 200 ms; resolves with the time until all are closed. */
async function slowLoris(port: number, n: number, boundMs: number): Promise<{ closedAll: boolean; ms: number }> {
  const started = Date.now();
  const sockets = await Promise.all(Array.from({ length: n }, () => openSocket(port)));
  const request = Buffer.from('GET /v1/kv/slow HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(1000));
  const closed = sockets.map((s) => new Promise<void>((r) => { s.on('close', () => r()); s.on('error', () => undefined); }));
  let i = 0;
  const trickle = setInterval(() => {
    for (const s of sockets) if (!s.destroyed && i < request.length) s.write(request.subarray(i, i + 1));
    i++;
  }, 200);
  const all = Promise.all(closed).then(() => true);
  const timeout = sleep(boundMs).then(() => false);
  const closedAll = await Promise.race([all, timeout]);
  clearInterval(trickle);
  for (const s of sockets) s.destroy();
  return { closedAll, ms: Date.now() - started };
}

/** Holds `n` connections open (each having sent nothing), then tries one more; returns what it read. */
async function overLimit(port: number, n: number): Promise<string> {
  const held = await Promise.all(Array.from({ length: n }, () => openSocket(port)));
  try {
    const extra = await openSocket(port);
    extra.write('GET /livez HTTP/1.1\r\nHost: x\r\n\r\n');
    const chunks: Buffer[] = [];
    extra.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((r) => { extra.on('close', () => r()); extra.on('end', () => r()); setTimeout(r, 2000); });
    extra.destroy();
    return Buffer.concat(chunks).toString();
  } finally {
    for (const s of held) s.destroy();
  }
}

describe('HTTP hardening of a member', () => {
  let cluster: KvCluster;
  before(async () => { cluster = await KvCluster.start({ size: 1, basePort: BASE, args: LIMITS }); });
  after(async () => { await cluster?.close(); });

  it('closes 300 slow-loris connections within the header deadline (1 s) plus the check interval', async () => {
    const { closedAll, ms } = await slowLoris(cluster.members[0].clientPort, 300, 4000);
    assert.ok(closedAll, `all slow-loris connections closed (after ${ms} ms)`);
    assert.equal((await kvRequest(`${cluster.members[0].url}/livez`)).status, 200, 'and the member still serves');
  });

  it('closes an idle keep-alive connection after --http-idle-timeout-ms', async () => {
    const s = await openSocket(cluster.members[0].clientPort);
    const closed = new Promise<number>((r) => s.on('close', () => r(Date.now())));
    s.resume(); // read the response, or the server's FIN is never seen
    s.write('GET /livez HTTP/1.1\r\nHost: x\r\n\r\n');
    const sent = Date.now();
    const at = await Promise.race([closed, sleep(4000).then(() => 0)]);
    s.destroy();
    assert.ok(at > 0 && at - sent < 3000, `closed after ${at - sent} ms`);
  });

  it('answers connections beyond --http-max-connections with 503 too_many_connections', async () => {
    const answer = await overLimit(cluster.members[0].clientPort, 64);
    assert.match(answer, /^HTTP\/1.1 503/);
    assert.match(answer, /"error":"too_many_connections"/);
    await sleep(100);
    assert.equal((await kvRequest(`${cluster.members[0].url}/livez`)).status, 200, 'served again once connections close');
  });

  it('answers invalid UTF-8 in a key, a prefix or a query value with 400 bad_encoding', async () => {
    const base = cluster.members[0].url;
    for (const path of ['/v1/kv/%C3%28', '/v1/kv/?prefix=%FF', '/v1/kv/?prefix=a%ED%A0%80', '/v1/kv/k?consistency=%FF', '/v1/kv/?prefix=a&limit=%C0%AF']) {
      const r = await kvRequest(`${base}${path}`);
      assert.equal(r.status, 400, `${path}: ${r.body.toString()}`);
      assert.equal(JSON.parse(r.body.toString()).error, 'bad_encoding', path);
    }
    const put = await kvRequest(`${base}/v1/kv/%FF%FE`, { method: 'PUT', body: 'x' });
    assert.equal(put.status, 400);
    assert.ok(cluster.members[0].running);
  });
});

describe('HTTP hardening of the router', () => {
  let router: ChildProcess | undefined;
  before(async () => {
    router = spawn(process.execPath, [BIN, 'router', `--listen=127.0.0.1:${ROUTER_PORT}`, '--shard', 'a=http://127.0.0.1:24399', ...LIMITS],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let out = '';
    router.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
    for (let i = 0; i < 100 && !out.includes('router listening'); i++) await sleep(50);
    assert.match(out, /router listening/);
  });
  after(() => { router?.kill('SIGKILL'); });

  it('closes slow-loris connections and bounds connections the same way', async () => {
    const { closedAll, ms } = await slowLoris(ROUTER_PORT, 200, 4000);
    assert.ok(closedAll, `all slow-loris connections closed (after ${ms} ms)`);
    const answer = await overLimit(ROUTER_PORT, 64);
    assert.match(answer, /"error":"too_many_connections"/);
    assert.equal(router!.exitCode, null, 'the router still runs');
  });
});
