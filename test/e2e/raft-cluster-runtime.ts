// End-to-end contract check of RaftCluster and the runtime image: starts `ha-runtime raft` three times with exactly
// the environment, args and probes RaftCluster renders (three "pods" on 127.0.0.1-3 of this host), waits for the
// rendered readiness probes, writes, SIGTERMs the leader as the kubelet would, and checks the survivors; then scales
// 3 -> 5 -> 3 as `members` would (two pods beyond the initial list, then the `<name>-members` ConfigMap lowered
// before the pods go) and checks the membership and the data after each step; finally runs the backup CronJob's
// rendered args twice and checks retention and that the newest file is a snapshot holding the writes.
// Not a jest test (it needs the compiled runtime); run after `npx tsc -p runtime/tsconfig.json`:
//   TS_NODE_PROJECT=test/tsconfig.json TS_NODE_TRANSPILE_ONLY=1 node -r ts-node/register test/e2e/raft-cluster-runtime.ts [BIN] [CLIENT_PORT]
// Exit code 0 on success. Bounded: 20 s per wait; every process and the data dir are removed on exit.
import { spawn, spawnSync, ChildProcess } from 'child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Size, Testing } from 'cdk8s';
import { PeerTls, RaftCluster, RaftRuntime } from '../../src';

const BIN = process.argv[2] ?? join(__dirname, '..', '..', 'runtime', 'bin', 'ha-runtime');
const CLIENT_PORT = Number(process.argv[3] ?? 27379);
const chart = Testing.chart();
// Plaintext peers until ha-runtime accepts the HA_RAFT_PEER_* TLS variables (issue 14, runtime side).
new RaftCluster(chart, 'kv', {
  name: 'kv',
  clientPort: CLIENT_PORT,
  peerPort: CLIENT_PORT + 1,
  peerTls: PeerTls.plaintext(),
  backup: { schedule: '@hourly', claimName: 'kv-backups', retention: 1 },
  runtime: RaftRuntime.haRuntime({ spaceQuota: Size.mebibytes(200) }),
});
const objects = Testing.synth(chart);
// The same cluster after a plain `members: 5` (the initial list then names kv-3 and kv-4 too).
const chart5 = Testing.chart();
new RaftCluster(chart5, 'kv', { name: 'kv', members: 5, clientPort: CLIENT_PORT, peerPort: CLIENT_PORT + 1, peerTls: PeerTls.plaintext() });
const c5 = Testing.synth(chart5).find((o: any) => o.kind === 'StatefulSet').spec.template.spec.containers[0];
const sts = objects.find((o: any) => o.kind === 'StatefulSet');
const membersConfigMap = objects.find((o: any) => o.kind === 'ConfigMap' && o.metadata.name === 'kv-members');
const c = sts.spec.template.spec.containers[0];
const ipOf = (i: number) => `127.0.0.${i + 1}`;
const dataRoot = mkdtempSync(join(tmpdir(), 'raft-cluster-e2e-'));
const procs: ChildProcess[] = [];
const stderrOf: string[] = [];
// The ConfigMap volume: the directory the kubelet would project its keys into.
const membersMount = c.volumeMounts.find((m: any) => m.name === 'members').mountPath;
const membersDir = join(dataRoot, 'members');
mkdirSync(membersDir);
function writeDesiredMembers(n: number) {
  writeFileSync(join(membersDir, 'members.tmp'), String(n));
  renameSync(join(membersDir, 'members.tmp'), join(membersDir, 'members'));
}
writeDesiredMembers(Number(membersConfigMap.data.members));

function envFor(i: number, container = c): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env) {
    if (e.valueFrom) env[e.name] = e.valueFrom.fieldRef.fieldPath === 'metadata.name' ? `kv-${i}` : 'kv';
    else env[e.name] = e.value.replace(/\$\((\w+)\)/g, (_: string, v: string) => env[v]);
  }
  // Local stand-ins for what Kubernetes provides: per-pod DNS names and per-pod IPs, and the member volume.
  for (const k of Object.keys(env)) {
    env[k] = env[k].replace(/kv-(\d)\.kv-peers\.kv\.svc/g, (_, n) => ipOf(Number(n))).replace('0.0.0.0', ipOf(i));
  }
  env.HA_RAFT_DATA_DIR = `${dataRoot}/kv-${i}`;
  env.HA_RAFT_DESIRED_MEMBERS_FILE = env.HA_RAFT_DESIRED_MEMBERS_FILE.replace(membersMount, membersDir);
  return env;
}
async function probe(i: number, p: any): Promise<{ status: number; body: string }> {
  try {
    const r = await fetch(`http://${ipOf(i)}:${p.httpGet.port}${p.httpGet.path}`, { signal: AbortSignal.timeout(p.timeoutSeconds * 1000) });
    return { status: r.status, body: (await r.text()).trim() };
  } catch (e) { return { status: 0, body: String(e) }; }
}
async function waitReady(members: number[], deadlineMs: number): Promise<number> {
  const t0 = Date.now();
  let last: string[] = [];
  while (Date.now() - t0 < deadlineMs) {
    const s = await Promise.all(members.map((i) => probe(i, c.readinessProbe)));
    if (s.every((x) => x.status === 200)) return Date.now() - t0;
    last = s.map((x, k) => `kv-${members[k]}: ${x.status} ${x.body}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const logs = members.map((i) => `kv-${i} log tail:\n${stderrOf[i]?.split('\n').slice(-15).join('\n')}`);
  throw new Error(`not ready within ${deadlineMs} ms; last probes:\n${last.join('\n')}\n${logs.join('\n')}`);
}
function start(i: number, container = c) {
  const p = spawn(process.execPath, [BIN, ...container.args], { env: { ...envFor(i, container), PATH: process.env.PATH! }, stdio: ['ignore', 'ignore', 'pipe'] });
  stderrOf[i] = '';
  p.stderr!.on('data', (d) => { stderrOf[i] = (stderrOf[i] + d).slice(-20_000); });
  p.on('exit', (code, sig) => { if (code && code !== 0) console.log(`kv-${i} exited ${code} ${sig}: ${stderrOf[i].slice(-500)}`); });
  procs[i] = p;
}
async function leader(): Promise<number> {
  for (let i = 0; i < procs.length; i++) {
    if (procs[i].exitCode !== null || procs[i].signalCode !== null) continue;
    const r = await fetch(`http://${ipOf(i)}:${CLIENT_PORT}/v1/kv/probe-key`, { method: 'PUT', body: 'x', redirect: 'manual' }).catch(() => undefined);
    if (r && r.status === 200) return i;
  }
  return -1;
}
type Members = { members: { name: string; role: string }[] };
async function membership(): Promise<string> {
  const l = await leader();
  const r = await fetch(`http://${ipOf(l)}:${CLIENT_PORT}/v1/members`);
  const m = await r.json() as Members;
  return m.members.map((x) => `${x.name}:${x.role}`).sort().join(',');
}
async function waitMembership(want: string, deadlineMs: number): Promise<number> {
  const t0 = Date.now();
  let last = '';
  while (Date.now() - t0 < deadlineMs) {
    last = await membership().catch((e) => String(e));
    if (last === want) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`membership ${last}, want ${want}, after ${deadlineMs} ms`);
}
const voters = (n: number) => Array.from({ length: n }, (_, i) => `kv-${i}:voter`).join(',');
async function scaleUpAndDown() {
  // Scale up: the ConfigMap says 5, pods kv-3 and kv-4 start blank with the same rendered env.
  writeDesiredMembers(5);
  // kv-3 runs the unchanged template (members: 5, initialMembers: 3: beyond the initial list, it advertises
  // itself); kv-4 the template of a plain members: 5 (named in the initial list, yet the cluster exists: it joins).
  start(3, c);
  start(4, c5);
  console.log(`scale 3 -> 5: ${voters(5)} after ${await waitMembership(voters(5), 30000)} ms`);
  await waitReady([3, 4], 20000);
  const get = await fetch(`http://${ipOf(4)}:${CLIENT_PORT}/v1/kv/greeting`);
  const body = (await get.text()).trim();
  if (get.status !== 200 || !body.includes('hello')) throw new Error(`kv-4 after joining: GET ${get.status} ${body}`);
  // Scale down in the safe order: the ConfigMap first, the pods after the leader removed them.
  writeDesiredMembers(3);
  console.log(`scale 5 -> 3: ${voters(3)} after ${await waitMembership(voters(3), 30000)} ms`);
  for (const i of [3, 4]) {
    procs[i].kill('SIGTERM');
    await new Promise<void>((r) => (procs[i].exitCode !== null || procs[i].signalCode !== null ? r() : procs[i].on('exit', () => r())));
  }
  const put = await fetch(`http://${ipOf(await leader())}:${CLIENT_PORT}/v1/kv/after-scale`, { method: 'PUT', body: 'ok' });
  if (put.status !== 200) throw new Error(`PUT after scale-down: ${put.status}`);
  console.log(`after 5 -> 3 with kv-3, kv-4 stopped: PUT -> ${put.status}`);
}
function runBackupJob() {
  const cron = objects.find((o: any) => o.kind === 'CronJob');
  const job = cron.spec.jobTemplate.spec.template.spec.containers[0];
  const backupDir = join(dataRoot, 'backups');
  mkdirSync(backupDir);
  // The client Service name resolves to a ready member; the claim is a local directory.
  const args = job.args.map((a: string) => a.replace(`http://kv:${CLIENT_PORT}`, `http://${ipOf(0)}:${CLIENT_PORT}`).replace('=/backup', `=${backupDir}`));
  for (let run = 0; run < 2; run++) {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30000 });
    if (r.status !== 0) throw new Error(`backup job (${args.join(' ')}) exited ${r.status}: ${r.stderr}`);
  }
  const files = readdirSync(backupDir);
  const snapshot = files.length === 1 ? readFileSync(join(backupDir, files[0])) : Buffer.alloc(0);
  if (!snapshot.includes('after-scale') || !snapshot.includes('hello')) throw new Error(`backup dir after 2 runs with retention 1: ${files.join(', ')} (${snapshot.length} bytes)`);
  console.log(`backup job args ${job.args.join(' ')}: 2 runs, retention 1 kept ${files[0]} (${snapshot.length} bytes, holds the writes)`);
}
(async () => {
  try {
    [0, 1, 2].forEach((i) => start(i));
    console.log(`formed: all three /readyz 200 after ${await waitReady([0, 1, 2], 20000)} ms`);
    const quotas = await Promise.all([0, 1, 2].map(async (i) => ((await (await fetch(`http://${ipOf(i)}:${CLIENT_PORT}/v1/status`)).json()) as any).quotaBytes));
    if (quotas.some((q) => q !== 200 * 2 ** 20)) throw new Error(`spaceQuota 200 MiB rendered, members report quotaBytes ${quotas.join(', ')}`);
    console.log(`space quota: every member runs with ${quotas[0]} bytes`);
    const live = (await Promise.all([0, 1, 2].map((i) => probe(i, c.livenessProbe)))).map((x) => x.status);
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
    await scaleUpAndDown();
    runBackupJob();
  } finally {
    procs.forEach((p) => p && p.exitCode === null && p.kill('SIGKILL'));
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dataRoot, { recursive: true, force: true });
  }
})().catch((e) => { console.error(e); process.exitCode = 1; });
