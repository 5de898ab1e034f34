import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FaultProxy } from './fault-proxy';
import { MessageType, type Message } from '../../src/raft/types';
import { TcpTransport } from '../../src/transport';
import { msg } from '../raft/harness';

// Ports 21200-21229 belong to this file: nodes on 21200-21202, proxy links from 21210.
const HOST = '127.0.0.1';
const ids = [1, 2, 3];
const realAddress = (id: number): string => `${HOST}:${21199 + id}`;

let proxy: FaultProxy;
const nodes = new Map<number, TcpTransport>();
/** received.get(to) lists `from` of each message delivered to `to`, with its arrival time. */
interface Arrival { from: number; at: number; sentAt: number }
const received = new Map<number, Arrival[]>();

function ping(from: number, to: number): Message {
  const ctx = Buffer.alloc(8);
  ctx.writeDoubleLE(performance.now());
  return msg({ type: MessageType.HEARTBEAT, from, to, term: 1, context: ctx });
}

/**
 * Sends `from -> to` pings every 10 ms for `ms`; returns how many of *those* arrived (pings sent
 * earlier may still be in flight and must not count for the current fault).
 */
async function traffic(from: number, to: number, ms: number): Promise<number> {
  const windowStart = performance.now();
  const end = Date.now() + ms;
  while (Date.now() < end) {
    nodes.get(from)!.send([ping(from, to)]);
    await new Promise((r) => setTimeout(r, 10));
  }
  return received.get(to)!.filter((r) => r.from === from && r.sentAt >= windowStart).length;
}

/** Sends pings until one arrives (fails after `timeoutMs`). */
async function reaches(from: number, to: number, timeoutMs = 4000): Promise<void> {
  const start = performance.now();
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    nodes.get(from)!.send([ping(from, to)]);
    await new Promise((r) => setTimeout(r, 10));
    if (received.get(to)!.some((r) => r.from === from && r.sentAt >= start)) return;
  }
  assert.fail(`${from} -> ${to} never delivered within ${timeoutMs} ms`);
}

before(async () => {
  proxy = await FaultProxy.start({ nodes: new Map(ids.map((id) => [id, realAddress(id)])), basePort: 21210 });
  for (const id of ids) {
    const t = await TcpTransport.start({
      clusterId: 'proxy-test',
      localId: id,
      listen: realAddress(id),
      peers: proxy.peersFor(id),
      minBackoffMs: 20,
      maxBackoffMs: 150,
      dialTimeoutMs: 300,
      writeStallTimeoutMs: 500,
      keepaliveIntervalMs: 100,
      peerIdleTimeoutMs: 400,
    });
    received.set(id, []);
    t.onMessage((m) => received.get(id)!.push({ from: m.from, at: performance.now(), sentAt: Buffer.from(m.context).readDoubleLE(0) }));
    nodes.set(id, t);
  }
});
after(async () => {
  for (const t of nodes.values()) await t.close();
  await proxy.close();
});

describe('FaultProxy', () => {
  it('routes every directed link through its own port', async () => {
    assert.deepEqual([...proxy.peersFor(1).keys()], [2, 3]);
    assert.ok(![...proxy.peersFor(1).values()].includes(realAddress(2)));
    for (const from of ids) for (const to of ids) if (from !== to) await reaches(from, to);
    assert.ok(proxy.linkStats(1, 2).forwardedBytes > 0);
  });

  it('partition blackholes both directions between the groups and heal restores them', async () => {
    await proxy.partition([1], [2, 3]);
    assert.equal(await traffic(1, 2, 300), 0);
    assert.equal(await traffic(3, 1, 300), 0);
    assert.ok((await traffic(2, 3, 200)) > 0, 'inside the majority side traffic flows');
    await proxy.heal();
    await reaches(1, 2);
    await reaches(3, 1);
  });

  it('a one-way partition blocks only the named direction', async () => {
    await proxy.partition([1], [2], { oneWay: true });
    assert.equal(await traffic(1, 2, 300), 0);
    assert.ok((await traffic(2, 1, 300)) > 0, '2 -> 1 still flows');
    await proxy.heal();
    await reaches(1, 2);
  });

  it('refuse makes connects fail fast (the transport reports the peer unreachable)', async () => {
    const unreachable: number[] = [];
    nodes.get(1)!.onUnreachable((id) => unreachable.push(id));
    await proxy.isolate(3, 'refuse');
    await assert.rejects(new Promise((resolve, reject) => {
      const s = net.connect({ host: HOST, port: Number(proxy.peersFor(1).get(3)!.split(':')[1]) }, () => { s.destroy(); resolve(undefined); });
      s.on('error', reject);
    }), /ECONNREFUSED/);
    assert.equal(await traffic(1, 3, 300), 0);
    assert.ok(unreachable.includes(3));
    await proxy.heal();
    await reaches(1, 3);
    await reaches(3, 2);
    nodes.get(1)!.onUnreachable(() => undefined);
  });

  it('keepalive detects a silent partition on an established link, and the link redials after heal', async () => {
    await reaches(2, 3);
    const linkBefore = nodes.get(2)!.stats().find((s) => s.peerId === 3)!;
    assert.equal(linkBefore.connected, true);
    const unreachable: number[] = [];
    nodes.get(2)!.onUnreachable((id) => unreachable.push(id));
    // The established connection 2 -> 3 goes silent (nothing passes either way, nothing errors).
    // Light traffic never fills a buffer, so only the keepalive can notice.
    await proxy.setLink(2, 3, { kind: 'blackhole' });
    // Light traffic until the link is found dead and sends are dropped (bounded: a loaded machine runs timers late).
    const link = (): { droppedMessages: number } => nodes.get(2)!.stats().find((s) => s.peerId === 3)!;
    for (let t = 0; t < 10 && !(unreachable.includes(3) && link().droppedMessages > linkBefore.droppedMessages); t++) await traffic(2, 3, 500);
    const during = link();
    assert.ok(unreachable.includes(3), 'reported unreachable once the peer went silent');
    assert.ok(during.droppedMessages > linkBefore.droppedMessages, 'messages dropped while the link is down');
    await proxy.heal();
    await reaches(2, 3);
    assert.ok(nodes.get(2)!.stats().find((s) => s.peerId === 3)!.connects > linkBefore.connects, 'redialled');
    nodes.get(2)!.onUnreachable(() => undefined);
  });

  it('delay holds each chunk for the given time, in order', async () => {
    await reaches(1, 2);
    await proxy.setLink(1, 2, { kind: 'delay', delayMs: 150 });
    // Only messages sent after the switch: earlier ones may still be in flight undelayed.
    const switched = performance.now();
    await traffic(1, 2, 300);
    const sentAfterSwitch = (): Arrival[] => received.get(2)!.filter((r) => r.from === 1 && r.sentAt >= switched);
    const deadline = Date.now() + 3000;
    while (sentAfterSwitch().length <= 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const delayed = sentAfterSwitch();
    assert.ok(delayed.length > 5, `only ${delayed.length} delayed messages arrived`);
    for (const r of delayed) assert.ok(r.at - r.sentAt >= 140, `latency ${(r.at - r.sentAt).toFixed(1)} ms < 150 ms`);
    const sentTimes = delayed.map((r) => r.sentAt);
    assert.deepEqual(sentTimes, [...sentTimes].sort((a, b) => a - b), 'order preserved');
    await proxy.heal();
  });
});
