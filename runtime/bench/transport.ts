/**
 * Transport micro-benchmark: two TcpTransports on loopback (ports 21900-21901), one sender
 * pushing APPEND messages (one 128-byte entry each) in batches of 64 per event-loop turn,
 * as a leader's Ready loop would. Reports delivered messages/s and MB/s. Bounded: ~3 s.
 *
 *   npx tsc -p runtime/tsconfig.test.json && node runtime/.build-test/bench/transport.js [seconds]
 */
import { cpus } from 'os';
import { EntryType, MessageType, type Message } from '../src/raft/types';
import { TcpTransport } from '../src/transport';

const seconds = Number(process.argv[2] ?? 3);

async function main(): Promise<void> {
  const a = await TcpTransport.start({ clusterId: 'bench', localId: 1, listen: '127.0.0.1:21900', peers: new Map([[2, '127.0.0.1:21901']]) });
  const b = await TcpTransport.start({ clusterId: 'bench', localId: 2, listen: '127.0.0.1:21901', peers: new Map([[1, '127.0.0.1:21900']]) });
  try {
    let received = 0;
    let bytes = 0;
    b.onMessage((m) => { received++; bytes += m.entries[0]?.data.length ?? 0; });
    const data = Buffer.alloc(128, 3);
    let index = 0;
    const batch = (): Message[] => Array.from({ length: 64 }, () => ({
      type: MessageType.APPEND,
      from: 1,
      to: 2,
      term: 3,
      logTerm: 3,
      index: ++index,
      commit: Math.max(0, index - 10),
      reject: false,
      rejectHint: 0,
      logTermHint: 0,
      entries: [{ term: 3, index: index + 1, type: EntryType.NORMAL, data }],
      context: new Uint8Array(0),
    }));
    const end = performance.now() + seconds * 1000;
    const started = performance.now();
    while (performance.now() < end) {
      // Keep the queue from overflowing: send only while the link has room, as Raft's inflight window would.
      if ((a.stats()[0]?.queuedMessages ?? 0) < 2048) a.send(batch());
      await new Promise((r) => setImmediate(r));
    }
    const elapsed = (performance.now() - started) / 1000;
    const s = a.stats()[0];
    console.log(`# transport bench: ${cpus().length} x ${cpus()[0]?.model}, ${seconds} s`);
    console.log(`delivered ${Math.round(received / elapsed)} msgs/s (${(bytes / elapsed / 1e6).toFixed(1)} MB/s entry data, ` +
      `${(s.sentBytes / elapsed / 1e6).toFixed(1)} MB/s on the wire), dropped ${s.droppedMessages}, connects ${s.connects}`);
  } finally {
    await a.close();
    await b.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
