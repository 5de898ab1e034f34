import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { after, describe, it } from 'node:test';
import { MessageType, type Message } from '../../src/raft/types';
import { MemoryNetwork, TcpTransport, type TcpTransportOptions } from '../../src/transport';
import { FrameDecoder, FrameKind, PROTOCOL_VERSION, encodeHandshakeFrame } from '../../src/transport/codec';
import { comparable, randomMessage, rng } from '../support/random-messages';

// Ports 21100-21199 belong to this file.
const HOST = '127.0.0.1';
const addr = (port: number): string => `${HOST}:${port}`;

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

async function start(options: Partial<TcpTransportOptions> & { localId: number; port: number }): Promise<TcpTransport> {
  const t = await TcpTransport.start({ clusterId: 'test-cluster', listen: addr(options.port), minBackoffMs: 20, maxBackoffMs: 200, dialTimeoutMs: 500, ...options });
  cleanups.push(() => t.close());
  return t;
}

function message(from: number, to: number, index: number, dataBytes = 8): Message {
  return {
    type: MessageType.APPEND,
    from,
    to,
    term: 1,
    logTerm: 1,
    index,
    commit: 0,
    reject: false,
    rejectHint: 0,
    logTermHint: 0,
    entries: [{ term: 1, index: index + 1, type: 0, data: Buffer.alloc(dataBytes, index % 251) }],
    context: new Uint8Array(0),
  };
}

/** Polls `condition` every 10 ms; fails with `what` after `timeoutMs`. */
async function eventually(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('TcpTransport', () => {
  it('delivers in order, exchanges handshake metadata both ways, and round-trips random messages', async () => {
    // The receiver first: a transport dials its peers as soon as it starts.
    const b = await start({ localId: 2, port: 21101, metadata: { clientUrl: 'http://b:2379' }, peers: new Map([[1, addr(21100)]]) });
    const a = await start({ localId: 1, port: 21100, metadata: { clientUrl: 'http://a:2379' }, peers: new Map([[2, addr(21101)]]) });
    const received: Message[] = [];
    b.onMessage((m) => received.push(m));
    const sent: Message[] = [];
    for (let i = 0; i < 3000; i++) sent.push(i % 10 === 0 ? { ...randomMessage(rng(i + 1)), from: 1, to: 2 } : message(1, 2, i));
    // Many small batches across event-loop turns, as a server would send.
    for (let i = 0; i < sent.length; i += 100) {
      a.send(sent.slice(i, i + 100));
      await new Promise((r) => setImmediate(r));
    }
    await eventually('all 3000 messages', () => received.length === 3000, 30_000);
    received.forEach((m, i) => assert.deepEqual(comparable(m), comparable(sent[i]), `message ${i}`));
    assert.deepEqual(a.peerMetadata(2), { clientUrl: 'http://b:2379' });
    // What a dialler announces is not trusted (anyone can dial): b learns a's metadata by dialling a.
    await eventually('b dials a', () => b.peerMetadata(1) !== undefined);
    assert.deepEqual(b.peerMetadata(1), { clientUrl: 'http://a:2379' });
    const [stats] = a.stats();
    assert.equal(stats.sentMessages, 3000);
    assert.equal(stats.droppedMessages, 0);
    assert.equal(stats.connects, 1, 'one pipelined connection');
    assert.equal(b.stats()[0].receivedMessages, 3000);
  });

  it('refuses peers from another cluster and reports them unreachable', async () => {
    const logs: string[] = [];
    await start({ localId: 2, port: 21111, log: (l) => logs.push(l) });
    const stranger = await start({ localId: 1, port: 21110, clusterId: 'other-cluster', peers: new Map([[2, addr(21111)]]) });
    const unreachable: number[] = [];
    stranger.onUnreachable((id) => unreachable.push(id));
    stranger.send([message(1, 2, 1)]);
    await eventually('an unreachable report', () => unreachable.length > 0);
    assert.ok(logs.some((l) => l.includes("cluster 'other-cluster' is not this node's cluster 'test-cluster'")), logs.join('\n'));
    assert.equal(stranger.stats()[0].connects, 0);
    assert.equal(stranger.peerMetadata(2), undefined);
  });

  it('refuses a dialler that meant to reach another node id', async () => {
    const logs: string[] = [];
    await start({ localId: 3, port: 21121, log: (l) => logs.push(l) });
    const confused = await start({ localId: 1, port: 21120, peers: new Map([[2, addr(21121)]]) });
    confused.send([message(1, 2, 1)]);
    await eventually('a refusal', () => logs.some((l) => l.includes('you dialled node 2, this is node 3')));
  });

  it('reconnects with backoff after the peer restarts, dropping (and counting) while it is down', async () => {
    let b = await start({ localId: 2, port: 21131, peers: new Map([[1, addr(21130)]]) });
    const a = await start({ localId: 1, port: 21130, peers: new Map([[2, addr(21131)]]) });
    let received = 0;
    b.onMessage(() => received++);
    a.send([message(1, 2, 1)]);
    await eventually('first delivery', () => received === 1);
    const unreachable: number[] = [];
    a.onUnreachable((id) => unreachable.push(id));
    await b.close();
    // Keep sending while b is down, as a leader's heartbeats would.
    for (let i = 0; i < 30; i++) {
      a.send([message(1, 2, i)]);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(unreachable.includes(2), 'reported unreachable while down');
    assert.ok(a.stats()[0].droppedMessages > 0, 'dropped while down');
    b = await start({ localId: 2, port: 21131, peers: new Map([[1, addr(21130)]]) });
    let afterRestart = 0;
    b.onMessage(() => afterRestart++);
    const t0 = Date.now();
    while (afterRestart === 0 && Date.now() - t0 < 5000) {
      a.send([message(1, 2, 99)]);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(afterRestart > 0, 'delivered after the restart');
    assert.equal(a.stats()[0].connects, 2);
  });

  it('keeps memory bounded when a peer stops reading: queue capped, drops counted, link reset', async () => {
    // A fake peer that completes the handshake and then never reads again.
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => {
      sockets.push(s);
      const decoder = new FrameDecoder(1 << 20);
      s.on('data', (chunk: Buffer) => {
        for (const f of decoder.push(chunk)) {
          if (f.kind === FrameKind.HELLO) {
            s.write(encodeHandshakeFrame(FrameKind.WELCOME, { version: PROTOCOL_VERSION, clusterId: 'test-cluster', senderId: 2, targetId: 1, metadata: {} }));
            s.pause();
          }
        }
      });
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(21141, HOST, r));
    cleanups.push(() => new Promise<void>((r) => { sockets.forEach((s) => s.destroy()); server.close(() => r()); }));

    const maxQueuedBytes = 1 << 20;
    const a = await start({
      localId: 1, port: 21140, peers: new Map([[2, addr(21141)]]), maxQueuedBytes, maxQueuedMessages: 1000, writeStallTimeoutMs: 400,
    });
    const logs: string[] = [];
    let maxQueued = 0;
    const payload = 16 * 1024;
    const total = 3000; // ~48 MiB offered
    for (let i = 0; i < total; i++) {
      a.send([message(1, 2, i, payload)]);
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
      maxQueued = Math.max(maxQueued, a.stats()[0].queuedBytes);
    }
    const s = a.stats()[0];
    assert.ok(maxQueued <= maxQueuedBytes, `queue reached ${maxQueued} bytes`);
    assert.ok(s.droppedMessages > total / 2, `dropped ${s.droppedMessages} of ${total}`);
    // What left the queue sits in socket buffers, bounded by the high-water mark plus kernel buffers.
    assert.ok(s.sentBytes < 16 * 1024 * 1024, `handed ${s.sentBytes} bytes to the socket`);
    void logs;
    // The stalled connection is torn down and redialled instead of hanging forever.
    await eventually('a reconnect after the write stall', () => sockets.length >= 2, 5000);
  });

  it('follows an address change and sends one message bigger than the byte bound', async () => {
    const b1 = await start({ localId: 2, port: 21161, peers: new Map([[1, addr(21160)]]) });
    const b2 = await start({ localId: 2, port: 21162, metadata: { where: 'new home' }, peers: new Map([[1, addr(21160)]]) });
    const a = await start({ localId: 1, port: 21160, peers: new Map([[2, addr(21161)]]), maxQueuedBytes: 64 * 1024 });
    const at1: number[] = [];
    const at2: number[] = [];
    b1.onMessage((m) => at1.push(m.index));
    b2.onMessage((m) => at2.push(m.entries[0].data.length));
    a.send([message(1, 2, 1)]);
    await eventually('delivery to the old address', () => at1.length === 1);
    a.setPeers(new Map([[2, addr(21162)]]));
    a.send([message(1, 2, 2, 1024 * 1024)]); // 1 MiB > the 64 KiB bound, into an empty queue
    a.send([message(1, 2, 3, 1024 * 1024)]); // while the first waits, this one exceeds the bound: dropped
    await eventually('delivery to the new address', () => at2.length === 1);
    assert.deepEqual(at2, [1024 * 1024]);
    assert.deepEqual(at1, [1]);
    assert.equal(a.stats()[0].droppedMessages, 1);
    assert.deepEqual(a.peerMetadata(2), { where: 'new home' });
  });

  it('drops messages to unknown peers and forgets removed peers', async () => {
    const a = await start({ localId: 1, port: 21150, peers: new Map([[2, addr(21151)], [3, addr(21152)]]) });
    a.send([message(1, 9, 1)]);
    assert.equal(a.unknownPeerDrops, 1);
    a.setPeers(new Map([[1, addr(21150)], [3, addr(21152)]]));
    assert.deepEqual(a.stats().map((s) => s.peerId), [3]);
    assert.throws(() => a.setPeers(new Map([[4, 'no-port']])), /address of peer 4 'no-port' is not host:port/);
    await assert.rejects(TcpTransport.start({ clusterId: 'c', localId: 0, listen: addr(21153) }), /localId \(0\) must be a positive integer/);
  });
});

describe('MemoryTransport', () => {
  it('delivers in order asynchronously, cuts one way, exposes metadata', async () => {
    const network = new MemoryNetwork();
    const a = network.connect(1, { clientUrl: 'http://a' });
    const b = network.connect(2, { clientUrl: 'http://b' });
    a.setPeers(new Map([[2, 'b']]));
    b.setPeers(new Map([[1, 'a']]));
    const atB: number[] = [];
    const atA: number[] = [];
    b.onMessage((m) => atB.push(m.index));
    a.onMessage((m) => atA.push(m.index));
    a.send([message(1, 2, 1), message(1, 2, 2)]);
    assert.deepEqual(atB, [], 'not synchronous');
    await Promise.resolve();
    assert.deepEqual(atB, [1, 2]);
    network.cut(1, 2);
    const unreachable: number[] = [];
    a.onUnreachable((id) => unreachable.push(id));
    a.send([message(1, 2, 3)]);
    b.send([message(2, 1, 7)]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(atB, [1, 2]);
    assert.deepEqual(atA, [7], 'the other direction still works');
    assert.deepEqual(unreachable, [2]);
    network.heal();
    a.send([message(1, 2, 4)]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(atB, [1, 2, 4]);
    assert.deepEqual(a.peerMetadata(2), { clientUrl: 'http://b' });
  });
});
