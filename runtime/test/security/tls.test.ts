/**
 * A 3-member cluster with peer mTLS and client TLS with client-certificate auth, all from the
 * `ha-runtime raft` command line: forged peer connections are refused, clients need a verified
 * certificate (probes and the --listen-metrics port do not), and rotated certificate files are
 * used for new handshakes without a restart.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { TestCa, type Leaf } from './certs';
import { ForgedPeer } from './forger';
import { etcdctl } from '../etcd/etcd-clients';
import { kvRequest } from '../support/kv-client';
import { KvCluster, sleep, type KvMember } from '../support/kv-cluster';

// Ports 24200-24299 belong to this file.
const BASE = 24200;
const METRICS_OFFSET = 50;
const dir = mkdtempSync(join(tmpdir(), 'ha-sec-tls-'));

interface Answer { status: number; body: string }

/** One https request on a fresh connection (so every request is a new TLS handshake). */
function httpsCall(url: string, ca: Buffer, leaf?: Leaf, method = 'GET', body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, ca, agent: false, timeout: 5000, ...(leaf ? { cert: leaf.cert, key: leaf.key } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** The serial number of the certificate a TLS listener presents now. */
function servedSerial(port: number, client?: Leaf): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(client ? { cert: client.cert, key: client.key } : {}) }, () => {
      const serial = s.getPeerCertificate().serialNumber;
      s.destroy();
      resolve(serial);
    });
    s.on('error', reject);
  });
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await sleep(100);
  }
}

describe('TLS from the command line: peer mTLS, client certificates, rotation', () => {
  let ca: TestCa;
  let rogueCa: TestCa;
  let peer: Leaf;
  let server: Leaf;
  let client: Leaf;
  let cluster: KvCluster;
  const url = (m: KvMember, path: string): string => `https://127.0.0.1:${m.clientPort}${path}`;

  before(async () => {
    ca = new TestCa(dir, 'ca');
    rogueCa = new TestCa(dir, 'rogue-ca');
    peer = ca.issue('peer', 'IP:127.0.0.1');
    server = ca.issue('server', 'IP:127.0.0.1');
    client = ca.issue('client', 'DNS:client.example');
    cluster = await KvCluster.start({
      size: 3,
      basePort: BASE,
      metricsPortOffset: METRICS_OFFSET,
      args: [
        '--peer-cert-file', peer.certFile, '--peer-key-file', peer.keyFile, '--peer-trusted-ca-file', ca.caFile,
        '--cert-file', server.certFile, '--key-file', server.keyFile, '--trusted-ca-file', ca.caFile, '--client-cert-auth',
        '--tls-reload-interval-ms', '200',
      ],
    });
  });
  after(async () => {
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses forged peer connections: plaintext, a rogue CA, and a cluster certificate that does not name the member it claims', async () => {
    const target = cluster.members[0];
    const plain = await ForgedPeer.connect({ port: target.peerPort, senderId: 99, targetId: target.id });
    plain.close();
    assert.notEqual(plain.outcome?.kind, 'welcome', 'plaintext is refused');
    const rogue = rogueCa.issue('rogue', 'IP:127.0.0.1');
    const forged = await ForgedPeer.connect({ port: target.peerPort, senderId: 99, targetId: target.id, tls: rogue });
    forged.close();
    assert.notEqual(forged.outcome?.kind, 'welcome', 'a certificate from another CA is refused');
    // A certificate from the cluster's CA, but for another host, may not pose as a member that is down.
    const down = cluster.members[2];
    await down.signal('SIGTERM');
    const evil = ca.issue('evil', 'DNS:evil.example');
    const impostor = await ForgedPeer.connect({ port: target.peerPort, senderId: down.id, targetId: target.id, tls: evil });
    impostor.close();
    assert.equal(impostor.outcome?.kind, 'reject', JSON.stringify(impostor.outcome));
    assert.match((impostor.outcome as { reason: string }).reason, new RegExp(`does not belong to member ${down.id}`));
    down.start();
    await cluster.waitForLeader(15_000);
    for (const m of cluster.members) assert.ok(m.running, `${m.name} runs`);
  });

  it('requires a verified client certificate except for probes and the metrics listener', async () => {
    const leader = await cluster.waitForLeader(10_000);
    const noCert = await httpsCall(url(leader, '/v1/kv/secret'), ca.ca, undefined, 'PUT', 'x');
    assert.equal(noCert.status, 401);
    assert.equal(JSON.parse(noCert.body).error, 'unauthenticated');
    assert.equal((await httpsCall(url(leader, '/metrics'), ca.ca)).status, 401, '/metrics is not public without --metrics-public');
    assert.equal((await httpsCall(url(leader, '/v1/status'), ca.ca)).status, 401);
    assert.equal((await httpsCall(url(leader, '/livez'), ca.ca)).status, 200, 'kubelet probes carry no certificate');
    const rogue = rogueCa.issue('rogue-client', 'DNS:client.example');
    assert.equal((await httpsCall(url(leader, '/v1/kv/secret'), ca.ca, rogue, 'PUT', 'x')).status, 401, 'a rogue-CA client certificate');
    assert.equal((await httpsCall(url(leader, '/v1/kv/secret'), ca.ca, client, 'PUT', 'value')).status, 200);
    const read = await httpsCall(url(leader, '/v1/kv/secret'), ca.ca, client);
    assert.deepEqual([read.status, read.body], [200, 'value']);
    const metricsBase = `http://127.0.0.1:${leader.clientPort + METRICS_OFFSET}`;
    assert.equal((await kvRequest(`${metricsBase}/metrics`)).status, 200, '--listen-metrics serves /metrics without credentials');
    assert.equal((await kvRequest(`${metricsBase}/v1/kv/secret`)).status, 404, '--listen-metrics serves nothing else');
  });

  it('serves the etcd API over client TLS: etcdctl (gRPC) with a client certificate, curl on the JSON gateway', async () => {
    const endpoints = cluster.members.map((m) => url(m, ''));
    const tlsFlags = ['--cacert', ca.caFile, '--cert', client.certFile, '--key', client.keyFile];
    const put = await etcdctl(endpoints, [...tlsFlags, 'put', 'tls/k', 'over-grpc']);
    assert.equal(put.code, 0, put.stderr);
    const got = await etcdctl([endpoints[1]], [...tlsFlags, 'get', 'tls/k', '--print-value-only']);
    assert.deepEqual([got.code, got.stdout], [0, 'over-grpc\n'], got.stderr);
    // Over TLS too, status --cluster dials each member's https URL, which etcdctl sends as the HTTP/2 :authority.
    const status = await etcdctl([endpoints[2]], [...tlsFlags, 'endpoint', 'status', '--cluster', '-w', 'json']);
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(JSON.parse(status.stdout).map((s: { Endpoint: string }) => s.Endpoint).sort(), [...endpoints].sort());
    // --client-cert-auth: gRPC without a certificate, or with one another CA signed, gets nowhere (as with etcd).
    const rogue = rogueCa.issue('rogue-client', 'DNS:client.example');
    for (const flags of [['--cacert', ca.caFile], ['--cacert', ca.caFile, '--cert', rogue.certFile, '--key', rogue.keyFile]]) {
      const refused = await etcdctl([endpoints[0]], [...flags, '--command-timeout=2s', 'get', 'tls/k'], { timeoutMs: 10_000 });
      assert.notEqual(refused.code, 0, `refused without a verified certificate: ${refused.stdout}`);
    }
    // curl offers h2 and http/1.1 by ALPN: it must land on the gateway, not on gRPC.
    const body = JSON.stringify({ key: Buffer.from('tls/k').toString('base64') });
    const curl = spawnSync('curl', ['-sS', '--cacert', ca.caFile, '--cert', client.certFile, '--key', client.keyFile,
      '-X', 'POST', '-d', body, `${endpoints[0]}/v3/kv/range`], { timeout: 10_000 });
    assert.equal(curl.status, 0, curl.stderr?.toString());
    const kvs = JSON.parse(curl.stdout.toString()).kvs as { value: string }[];
    assert.equal(Buffer.from(kvs[0].value, 'base64').toString(), 'over-grpc');
  });

  it('a member that lost its disk rejoins over client TLS (its join request presents its certificate)', async () => {
    const leader = await cluster.waitForLeader(10_000);
    assert.equal((await httpsCall(url(leader, '/v1/kv/before-wipe'), ca.ca, client, 'PUT', 'kept')).status, 200);
    const victim = cluster.members.find((m) => m !== leader)!;
    await cluster.wipeAndRestart(victim);
    await eventually('the wiped member serves the write from before the wipe', async () => {
      const r = await httpsCall(url(victim, '/v1/kv/before-wipe'), ca.ca, client);
      return r.status === 200 && r.body === 'kept';
    }, 30_000);
    assert.match(victim.log(), /joined as a learner/);
  });

  it('uses rotated certificate files for new handshakes without a restart', async () => {
    const m = cluster.members[0];
    const pid = m.proc!.pid;
    const clientBefore = await servedSerial(m.clientPort);
    const peerBefore = await servedSerial(m.peerPort, peer);
    server = ca.issue('server', 'IP:127.0.0.1');
    peer = ca.issue('peer', 'IP:127.0.0.1');
    await eventually('the client port presents the new certificate', async () => (await servedSerial(m.clientPort)) !== clientBefore);
    await eventually('the peer port presents the new certificate', async () => (await servedSerial(m.peerPort, peer)) !== peerBefore);
    assert.equal(await servedSerial(m.clientPort), new X509Certificate(server.cert).serialNumber);
    assert.equal(m.proc!.pid, pid, 'same process');
    assert.match(m.log(), /reloaded TLS certificates/);
    // A member restarted now handshakes with the others on the rotated certificates, both ways.
    const other = cluster.members[1];
    await other.signal('SIGTERM');
    other.start();
    const leader = await cluster.waitForLeader(15_000);
    assert.equal((await httpsCall(url(leader, '/v1/kv/after-rotation'), ca.ca, client, 'PUT', 'x')).status, 200);
    for (const x of cluster.members) assert.ok(x.running, `${x.name} runs`);
  });
});
