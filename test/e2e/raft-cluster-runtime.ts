// End-to-end contract check of RaftCluster and the runtime image: starts `ha-runtime raft` three times with exactly
// the environment, args and probes RaftCluster renders (three "pods" on 127.0.0.1-3 of this host), waits for the
// rendered readiness probes, writes, SIGTERMs the leader as the kubelet would, and checks the survivors.
// Not a jest test (it needs the compiled runtime); run after `npx tsc -p runtime/tsconfig.json`:
//   TS_NODE_PROJECT=test/tsconfig.json TS_NODE_TRANSPILE_ONLY=1 node -r ts-node/register test/e2e/raft-cluster-runtime.ts [BIN] [CLIENT_PORT]
// Exit code 0 on success. Bounded: 20 s per wait; every process and the data dir are removed on exit.
import { spawn, ChildProcess } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Testing } from 'cdk8s';
import { PeerTls, RaftCluster } from '../../src';

const BIN = process.argv[2] ?? join(__dirname, '..', '..', 'runtime', 'bin', 'ha-runtime');
const CLIENT_PORT = Number(process.argv[3] ?? 27379);
const chart = Testing.chart();
// Plaintext peers until ha-runtime accepts the HA_RAFT_PEER_* TLS variables (issue 14, runtime side).
new RaftCluster(chart, 'kv', { name: 'kv', clientPort: CLIENT_PORT, peerPort: CLIENT_PORT + 1, peerTls: PeerTls.plaintext() });
const sts = Testing.synth(chart).find((o: any) => o.kind === 'StatefulSet');
const c = sts.spec.template.spec.containers[0];
const ipOf = (i: number) => `127.0.0.${i + 1}`;
const dataRoot = mkdtempSync(join(tmpdir(), 'raft-cluster-e2e-'));
const procs: ChildProcess[] = [];

function envFor(i: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env) {
    if (e.valueFrom) env[e.name] = e.valueFrom.fieldRef.fieldPath === 'metadata.name' ? `kv-${i}` : 'kv';
    else env[e.name] = e.value.replace(/\$\((\w+)\)/g, (_: string, v: string) => env[v]);
  }
  // Local stand-ins for what Kubernetes provides: per-pod DNS names and per-pod IPs, and the member volume.
  for (const k of Object.keys(env)) {
    env[k] = env[k].replace(/kv-(\d)\.kv-peers\.kv\.svc/g, (_, n) => ipOf(Number(n))).replace('0.0.0.0', ipOf(i));
  }
  env.HA_RAFT_DATA_DIR = `${dataRoot}/kv-${i}`;
  return env;
}
async function probe(i: number, p: any): Promise<number> {
  try {
    const r = await fetch(`http://${ipOf(i)}:${p.httpGet.port}${p.httpGet.path}`, { signal: AbortSignal.timeout(p.timeoutSeconds * 1000) });
    return r.status;
  } catch { return 0; }
}
async function waitReady(members: number[], deadlineMs: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < deadlineMs) {
    const s = await Promise.all(members.map((i) => probe(i, c.readinessProbe)));
    if (s.every((x) => x === 200)) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not ready within ${deadlineMs} ms`);
}
function start(i: number) {
  const p = spawn(process.execPath, [BIN, ...c.args], { env: { ...envFor(i), PATH: process.env.PATH! }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (d) => { err += d; });
  p.on('exit', (code, sig) => { if (code && code !== 0) console.log(`kv-${i} exited ${code} ${sig}: ${err.slice(-500)}`); });
  procs[i] = p;
}
async function leader(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    if (procs[i].exitCode !== null || procs[i].signalCode !== null) continue;
    const r = await fetch(`http://${ipOf(i)}:${CLIENT_PORT}/v1/kv/probe-key`, { method: 'PUT', body: 'x', redirect: 'manual' }).catch(() => undefined);
    if (r && r.status === 200) return i;
  }
  return -1;
}
(async () => {
  try {
    [0, 1, 2].forEach(start);
    console.log(`formed: all three /readyz 200 after ${await waitReady([0, 1, 2], 20000)} ms`);
    const live = await Promise.all([0, 1, 2].map((i) => probe(i, c.livenessProbe)));
    console.log(`livez: ${live.join(',')}`);
    const l = await leader();
    const put = await fetch(`http://${ipOf(l)}:${CLIENT_PORT}/v1/kv/greeting`, { method: 'PUT', body: 'hello' });
    console.log(`leader kv-${l}; PUT greeting -> ${put.status}`);
    const t0 = Date.now();
    procs[l].kill('SIGTERM'); // what the kubelet sends on pod deletion (no preStop: the runtime hands over)
    await new Promise<void>((r) => procs[l].on('exit', () => r()));
    const exitMs = Date.now() - t0;
    const rest = [0, 1, 2].filter((i) => i !== l);
    const readyMs = await waitReady(rest, 20000);
    const nl = await leader();
    const get = await fetch(`http://${ipOf(nl)}:${CLIENT_PORT}/v1/kv/greeting`);
    const body = (await get.clone().text()).trim();
    if (put.status !== 200 || get.status !== 200 || !body.includes('hello') || live.some((x) => x !== 200)) {
      throw new Error(`contract broken: PUT ${put.status}, GET ${get.status} ${body}, livez ${live.join(',')}`);
    }
    console.log(`SIGTERM to leader: exited after ${exitMs} ms (grace ${sts.spec.template.spec.terminationGracePeriodSeconds} s); survivors ready ${readyMs} ms later; new leader kv-${nl}; GET greeting -> ${get.status} ${(await get.text()).trim()}`);
    start(l);
    console.log(`restarted kv-${l}: all ready after ${await waitReady([0, 1, 2], 20000)} ms`);
  } finally {
    procs.forEach((p) => p && p.exitCode === null && p.kill('SIGKILL'));
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dataRoot, { recursive: true, force: true });
  }
})().catch((e) => { console.error(e); process.exitCode = 1; });
