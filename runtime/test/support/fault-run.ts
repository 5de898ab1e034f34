/**
 * The frame of every fault test: a three-member cluster kept on disk when the test fails, and a concurrent
 * workload around the faults whose history must be linearizable (runtime/src/lincheck); the workload ends
 * with a read of every key, so a lost acknowledged write shows up as a read the checker cannot place.
 */
import { spawnSync } from 'child_process';
import { writeFileSync } from 'fs';
import * as assert from 'node:assert/strict';
import { join } from 'path';
import { KvCluster, KvMember, sleep } from './kv-cluster';
import { runWorkload, toJsonLines, WorkloadOps, WorkloadResult } from './kv-workload';
import { checkHistory } from '../../src/lincheck';

const KEYS = ['a', 'b', 'c'];
/** Writes a run must see acknowledged (it runs on after the faults until it has): proof the cluster served. */
const MIN_ACKNOWLEDGED = 20;

/** Runs the workload around `faults`, then checks the history; keeps the cluster dir on failure. */
export async function underWorkload(cluster: KvCluster, seed: number, faults: () => Promise<void>,
  protocol: { url: (m: KvCluster['members'][number]) => string; ops?: (timeoutMs: number) => WorkloadOps } = { url: (m) => m.url }): Promise<WorkloadResult> {
  let release!: () => void;
  const until = new Promise<void>((r) => { release = r; });
  const workload = runWorkload({
    urls: () => cluster.members.filter((m) => m.running).map(protocol.url),
    ops: protocol.ops,
    minAcknowledgedWrites: MIN_ACKNOWLEDGED,
    keys: KEYS,
    clients: 6,
    until,
    timeoutMs: 2000,
    seed,
  });
  try {
    await sleep(800);
    await faults();
    await sleep(800);
  } catch (e) {
    release();
    await workload.catch(() => undefined);
    throw e;
  }
  release();
  const result = await workload;
  const verdict = checkHistory(result.events, { timeoutMs: 30_000 });
  if (!verdict.ok) {
    const file = join(cluster.dir, 'history.jsonl');
    writeFileSync(file, toJsonLines(result.events));
    throw new Error(`history is not linearizable (${JSON.stringify(verdict).slice(0, 2000)}); history in ${file}\n${cluster.logTails()}`);
  }
  process.stderr.write(`workload: ${result.events.length} events, ${JSON.stringify(result.counts)}, ${result.acknowledgedWrites} acknowledged writes: linearizable\n`);
  assert.ok(result.acknowledgedWrites >= MIN_ACKNOWLEDGED, `only ${result.acknowledgedWrites} writes were acknowledged: the cluster barely served (${JSON.stringify(result.counts)})`);
  return result;
}

export async function withCluster(basePort: number,
  options: { proxy?: boolean; args?: string[]; prepare?: (name: string, dir: string) => void; afterClose?: () => void },
  body: (c: KvCluster) => Promise<void>): Promise<void> {
  const cluster = await KvCluster.start({
    size: 3,
    basePort,
    proxy: options.proxy,
    args: options.args,
    prepareDataDir: options.prepare,
    keepDir: true,
  });
  let failed = true;
  try {
    await body(cluster);
    failed = false;
  } finally {
    await cluster.close();
    options.afterClose?.();
    if (failed) process.stderr.write(`cluster files kept in ${cluster.dir}\n${cluster.logTails(25)}\n`);
    else spawnSync('rm', ['-rf', cluster.dir]);
  }
}


/**
 * Waits until the members other than `old` agree on a leader that is not `old`. Right after `old` is cut off (killed,
 * paused, partitioned, out of disk) they still name it until their election timeout fires; their view is stale, not wrong.
 */
export async function waitForLeaderOtherThan(cluster: KvCluster, old: KvMember, timeoutMs = 10_000): Promise<KvMember> {
  const others = cluster.members.filter((m) => m !== old);
  const deadline = Date.now() + timeoutMs;
  let leader = await cluster.waitForLeader(timeoutMs, others);
  while (leader === old && Date.now() < deadline) {
    await sleep(100);
    leader = await cluster.waitForLeader(Math.max(1, deadline - Date.now()), others);
  }
  assert.notEqual(leader.name, old.name, `the others did not elect a leader other than ${old.name} within ${timeoutMs} ms`);
  return leader;
}

/** SIGKILL of the leader, restart once another leads; then the same for a follower (the first fault schedule). */
export async function killLeaderThenFollower(cluster: KvCluster): Promise<void> {
  const leader = await cluster.waitForLeader(10_000);
  await leader.kill();
  const next = await cluster.waitForLeader(10_000);
  assert.notEqual(next, leader);
  await sleep(700);
  leader.start();
  await cluster.waitForLeader(10_000, cluster.members);
  const follower = cluster.members.find((m) => m !== next)!;
  await follower.kill();
  await sleep(700);
  follower.start();
  await cluster.waitForLeader(10_000, cluster.members);
}
