/**
 * Shared pieces of the member lifecycle tests: acknowledged writes recorded as a history, reading
 * them all back, and waiting for the membership the cluster should return to.
 */
import { mkdirSync, writeFileSync } from 'fs';
import * as assert from 'node:assert/strict';
import { join } from 'path';
import { checkHistory, HistoryEvent } from '../../src/lincheck';
import { keepAliveAgent, keyUrl, kvRequest } from '../support/kv-client';
import { KvCluster, KvMember, sleep } from '../support/kv-cluster';

/**
 * Adds a process `name` that is not in the cluster's --initial-cluster: it finds the cluster
 * through `seeds` (the initial members' peer addresses) and joins by itself (scale-up). Ports:
 * client `port`, peer `port + 1`. The cluster's close() kills it.
 */
export function addJoiningMember(cluster: KvCluster, name: string, port: number, seeds: string, extraArgs: string[] = []): KvMember {
  const dataDir = join(cluster.dir, name);
  mkdirSync(dataDir, { recursive: true });
  const peer = `127.0.0.1:${port + 1}`;
  const m = new KvMember(name, 0, port, port + 1, dataDir, join(cluster.dir, `${name}.log`), () => [
    '--id', name, '--data-dir', dataDir,
    '--listen-client', `127.0.0.1:${port}`, '--listen-peer', peer,
    '--advertise-client', `http://127.0.0.1:${port}`, '--advertise-peer', peer,
    '--initial-cluster', seeds, '--tick-ms', '50', ...extraArgs,
  ], { HA_RAFT_LOG_LEVEL: 'info' });
  cluster.members.push(m);
  m.start();
  return m;
}

/** The --initial-cluster value of a KvCluster started at `basePort` with `size` members. */
export function initialClusterOf(basePort: number, size: number): string {
  return Array.from({ length: size }, (_, i) => `kv-${i}=127.0.0.1:${basePort + 2 * i + 1}`).join(',');
}
import { toJsonLines } from '../support/kv-workload';

/** A history being recorded by several sequential client processes. */
export class History {
  readonly events: HistoryEvent[] = [];
  private nextProcess = 1000;

  newProcess(): number {
    return this.nextProcess++;
  }

  /** Checks the history with the linearizability checker; writes it next to the cluster on failure. */
  check(cluster: KvCluster): void {
    const verdict = checkHistory(this.events, { timeoutMs: 30_000 });
    if (!verdict.ok) {
      const file = join(cluster.dir, 'history.jsonl');
      writeFileSync(file, toJsonLines(this.events));
      assert.fail(`history is not linearizable: ${JSON.stringify(verdict).slice(0, 1500)}; history in ${file}`);
    }
  }
}

const agent = keepAliveAgent(32);

/**
 * Writes `key-i` = `value-i` for i in [0, count) through `url` (redirects followed) with `clients`
 * concurrent processes, retrying until each is acknowledged; records every attempt honestly.
 * Returns the acknowledged keys and values.
 */
export async function acknowledgedWrites(history: History, url: () => string, count: number, prefix: string,
  deadlineMs = 30_000): Promise<Map<string, string>> {
  const acked = new Map<string, string>();
  const deadline = Date.now() + deadlineMs;
  let next = 0;
  const worker = async (): Promise<void> => {
    let process = history.newProcess();
    while (next < count) {
      const i = next++;
      const key = `${prefix}-${i}`;
      for (let attempt = 0; ; attempt++) {
        if (Date.now() > deadline) throw new Error(`write ${key} not acknowledged within ${deadlineMs} ms`);
        const value = `${prefix}-v${i}-${attempt}`;
        history.events.push({ process, type: 'invoke', f: 'put', key, value });
        let status = 0;
        let body = '';
        try {
          const r = await kvRequest(keyUrl(url(), key), { method: 'PUT', body: value, agent, timeoutMs: 3000 });
          status = r.status;
          body = r.body.toString();
        } catch { /* unknown outcome */ }
        if (status === 200) {
          history.events.push({ process, type: 'ok', f: 'put', key, value });
          acked.set(key, value);
          break;
        }
        const surelyNot = status !== 0 && body.includes('"not_applied"');
        history.events.push({ process, type: surelyNot ? 'fail' : 'info', f: 'put', key, value });
        if (!surelyNot) process = history.newProcess();
        await sleep(50);
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, () => worker()));
  return acked;
}

/** Reads every key linearizably (recorded) and returns how many acknowledged values are missing. */
export async function readBack(history: History, url: () => string, acked: ReadonlyMap<string, string>, deadlineMs = 30_000): Promise<string[]> {
  const process = history.newProcess();
  const lost: string[] = [];
  const deadline = Date.now() + deadlineMs;
  for (const [key, value] of acked) {
    for (;;) {
      if (Date.now() > deadline) throw new Error(`final read of ${key} did not succeed within ${deadlineMs} ms`);
      history.events.push({ process, type: 'invoke', f: 'get', key });
      let r;
      try { r = await kvRequest(keyUrl(url(), key), { agent, timeoutMs: 3000 }); } catch { r = undefined; }
      if (r && (r.status === 200 || r.status === 404)) {
        const got = r.status === 200 ? r.body.toString() : null;
        history.events.push({ process, type: 'ok', f: 'get', key, value: got });
        if (got !== value) lost.push(key);
        break;
      }
      history.events.push({ process, type: 'fail', f: 'get', key });
      await sleep(100);
    }
  }
  return lost;
}

/** What GET /v1/members answers. */
export interface MemberList {
  readonly leader: number;
  readonly members: Array<{ id: number; name: string; role: string }>;
}

/** `/v1/members` of `member`, or undefined. */
export async function membersOf(member: KvMember): Promise<MemberList | undefined> {
  try {
    const r = await kvRequest(`${member.url}/v1/members`, { agent, timeoutMs: 1000 });
    return r.status === 200 ? JSON.parse(r.body.toString()) : undefined;
  } catch { return undefined; }
}

/**
 * Waits until the leader lists exactly `names` as voters and no learner (full membership);
 * returns the elapsed milliseconds and the id each name now has.
 */
export async function waitFullMembership(cluster: KvCluster, names: readonly string[],
  timeoutMs: number): Promise<{ ms: number; ids: Map<string, number> }> {
  const started = Date.now();
  let last = '';
  while (Date.now() - started < timeoutMs) {
    // Only the members that should remain: a removed one still running may keep a stale view.
    const among = cluster.members.filter((m) => m.running && names.includes(m.name));
    const leader = await cluster.waitForLeader(Math.min(2000, Math.max(100, timeoutMs - (Date.now() - started))), among).catch(() => undefined);
    const list = leader && await membersOf(leader);
    if (list) {
      last = JSON.stringify(list.members);
      const voters = list.members.filter((m) => m.role === 'voter').map((m) => m.name).sort();
      if (list.members.length === names.length && JSON.stringify(voters) === JSON.stringify([...names].sort())) {
        return { ms: Date.now() - started, ids: new Map(list.members.map((m) => [m.name, m.id])) };
      }
    }
    await sleep(100);
  }
  throw new Error(`membership did not return to voters ${names.join(',')} within ${timeoutMs} ms; last ${last}\n${cluster.logTails()}`);
}

/** Asserts that none of `members` reports a leader for `ms` (polling), i.e. the cluster refuses to run. */
export async function assertNoLeaderFor(members: readonly KvMember[], ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    for (const m of members) {
      const s = await m.status(500);
      assert.ok(!s?.leader, `${m.name} reports leader ${s?.leader} (${JSON.stringify(s)}) although the cluster must not run`);
    }
    await sleep(200);
  }
}
