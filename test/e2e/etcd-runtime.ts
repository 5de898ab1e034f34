// End-to-end contract check of RaftRuntime.etcd: starts the real etcd (/usr/bin/etcd, 3.4 here) three times with
// exactly the args and probes RaftCluster renders, peer mTLS on (certificates from a throwaway CA, mounted where
// the Secret would be), three "pods" on 127.0.0.1-3. Checks: the rendered readiness and liveness probes answer
// 200, a write through one member is read through another, a peer connection without a client certificate is
// refused, and with one member stopped the other two stay ready (quorum 2 of 3).
// Not a jest test (it needs etcd and openssl and three loopback addresses); run it in a network namespace:
//   TS_NODE_PROJECT=test/tsconfig.json TS_NODE_TRANSPILE_ONLY=1 node -r ts-node/register test/e2e/etcd-runtime.ts [ETCD] [CLIENT_PORT]
// Exit code 0 on success. Bounded: 30 s per wait; every process and the temp dir are removed on exit.
import { execFileSync, spawn, ChildProcess } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as https from 'https';
import * as net from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import * as tls from 'tls';
import { Testing } from 'cdk8s';
import { PeerTls, RaftCluster, RaftRuntime } from '../../src';

const ETCD = process.argv[2] ?? '/usr/bin/etcd';
const CLIENT_PORT = Number(process.argv[3] ?? 22379);
const PEER_PORT = CLIENT_PORT + 1;
const METRICS_PORT = CLIENT_PORT + 2;

const chart = Testing.chart();
new RaftCluster(chart, 'etcd', {
  name: 'etcd',
  runtime: RaftRuntime.etcd({ version: '3.4.23', metricsPort: METRICS_PORT }),
  clientPort: CLIENT_PORT,
  peerPort: PEER_PORT,
  peerTls: PeerTls.fromSecret('etcd-peer-tls'),
});
const sts = Testing.synth(chart).find((o: any) => o.kind === 'StatefulSet');
const c = sts.spec.template.spec.containers[0];
const ipOf = (i: number) => `127.0.0.${i + 1}`;
const root = mkdtempSync(join(tmpdir(), 'etcd-runtime-e2e-'));
const procs: ChildProcess[] = [];
const peerTlsMount = c.volumeMounts.find((m: any) => m.name === 'peer-tls').mountPath;

/** A CA and one member certificate for all three addresses: what a cert-manager CA issuer would put in the Secret. */
function makeCertificates(): void {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: root, stdio: 'ignore' });
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=test-ca');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'tls.key', '-out', 'tls.csr', '-subj', '/CN=etcd');
  writeFileSync(join(root, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3\nextendedKeyUsage=serverAuth,clientAuth\n');
  run('x509', '-req', '-in', 'tls.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'tls.crt', '-days', '1', '-extfile', 'ext.cnf');
}

/** The rendered args with what Kubernetes provides locally: pod name, per-pod address, the mounted Secret, the volume. */
function argsFor(i: number): string[] {
  return c.args.map((a: string) => a
    .replace(/\$\(HA_RAFT_ID\)/g, `etcd-${i}`)
    .replace(/etcd-(\d)\.etcd-peers\.\$\(POD_NAMESPACE\)\.svc/g, (_: string, n: string) => ipOf(Number(n)))
    .replace('0.0.0.0', ipOf(i))
    .replace(peerTlsMount, root)
    .replace(/^--data-dir=.*$/, `--data-dir=${root}/etcd-${i}`));
}

function start(i: number): void {
  const p = spawn(ETCD, argsFor(i), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (d) => { err = (err + d).slice(-2000); });
  p.on('exit', (code) => { if (code) console.log(`etcd-${i} exited ${code}: ${err.slice(-600)}`); });
  procs[i] = p;
}

async function probe(i: number, p: any): Promise<number> {
  if (p.tcpSocket) {
    return new Promise((resolve) => {
      const s = net.connect({ host: ipOf(i), port: p.tcpSocket.port, timeout: p.timeoutSeconds * 1000 }, () => { s.end(); resolve(200); });
      s.on('error', () => resolve(0));
      s.on('timeout', () => { s.destroy(); resolve(0); });
    });
  }
  try {
    const r = await fetch(`http://${ipOf(i)}:${p.httpGet.port}${p.httpGet.path}`, { signal: AbortSignal.timeout(p.timeoutSeconds * 1000) });
    return r.status;
  } catch { return 0; }
}

async function waitFor(what: string, members: number[], p: any, deadlineMs = 30000): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < deadlineMs) {
    const s = await Promise.all(members.map((i) => probe(i, p)));
    if (s.every((x) => x === 200)) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not 200 within ${deadlineMs} ms`);
}

async function kv(i: number, op: 'put' | 'range', body: object): Promise<any> {
  const r = await fetch(`http://${ipOf(i)}:${CLIENT_PORT}/v3/kv/${op}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
  if (r.status !== 200) throw new Error(`${op} on etcd-${i}: HTTP ${r.status}`);
  return r.json();
}

/** A TLS client without a certificate must not complete a request on the peer port (--peer-client-cert-auth). */
async function peerRefusesAnonymous(): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get({ host: ipOf(0), port: PEER_PORT, path: '/members', ca: execFileSync('cat', [join(root, 'ca.crt')]), timeout: 5000 }, (res) => {
      res.resume();
      resolve(false);
    });
    req.on('error', () => resolve(true));
    req.on('timeout', () => { req.destroy(); resolve(true); });
  });
}

(async () => {
  try {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    makeCertificates();
    [0, 1, 2].forEach(start);
    console.log(`formed: readiness ${c.readinessProbe.httpGet.path} on :${c.readinessProbe.httpGet.port} 200 on all three after ${await waitFor('readiness', [0, 1, 2], c.readinessProbe)} ms`);
    await waitFor('liveness', [0, 1, 2], c.livenessProbe, 5000);
    await waitFor('startup', [0, 1, 2], c.startupProbe, 5000);
    console.log(`liveness ${JSON.stringify(c.livenessProbe.httpGet ?? c.livenessProbe.tcpSocket)} and startup pass on all three`);
    await kv(0, 'put', { key: b64('greeting'), value: b64('hello') });
    const got = await kv(2, 'range', { key: b64('greeting') });
    const value = Buffer.from(got.kvs?.[0]?.value ?? '', 'base64').toString();
    if (value !== 'hello') throw new Error(`read through etcd-2 gave '${value}'`);
    console.log('put through etcd-0, read through etcd-2: hello');
    if (!(await peerRefusesAnonymous())) throw new Error('the peer port served a client without a certificate');
    // Sanity of the negative check: the same request with the member certificate is served.
    const withCert = await new Promise<number>((resolve) => {
      const socket = tls.connect({ host: ipOf(0), port: PEER_PORT, ca: execFileSync('cat', [join(root, 'ca.crt')]), cert: execFileSync('cat', [join(root, 'tls.crt')]), key: execFileSync('cat', [join(root, 'tls.key')]) }, () => {
        resolve(socket.authorized ? 1 : 0);
        socket.end();
      });
      socket.on('error', () => resolve(0));
    });
    if (withCert !== 1) throw new Error('the peer port refused a member certificate');
    console.log('peer port: anonymous TLS client refused, member certificate accepted');
    procs[1].kill('SIGTERM');
    await new Promise<void>((r) => procs[1].on('exit', () => r()));
    await waitFor('readiness after losing one member', [0, 2], c.readinessProbe, 15000);
    console.log('etcd-1 stopped: etcd-0 and etcd-2 still ready (quorum 2 of 3)');
    procs[2].kill('SIGTERM');
    await new Promise<void>((r) => procs[2].on('exit', () => r()));
    const t0 = Date.now();
    while (await probe(0, c.readinessProbe) === 200 && Date.now() - t0 < 20000) await new Promise((r) => setTimeout(r, 200));
    const [ready, live] = [await probe(0, c.readinessProbe), await probe(0, c.livenessProbe)];
    console.log(`etcd-2 stopped too (no quorum): etcd-0 readiness ${ready} (out of rotation), liveness ${live === 200 ? 'passes' : live} (not restarted)`);
    if (ready === 200) throw new Error('readiness stayed 200 without a quorum');
    if (live !== 200) throw new Error('liveness failed without a quorum: every member would be restarted');
  } finally {
    procs.forEach((p) => p && p.exitCode === null && p.kill('SIGKILL'));
    await new Promise((r) => setTimeout(r, 300));
    rmSync(root, { recursive: true, force: true });
  }
})().catch((e) => { console.error(e); process.exitCode = 1; });
