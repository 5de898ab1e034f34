/** Seeded random Raft messages for codec and transport tests. */
import { EntryType, MessageType, type Entry, type Message } from '../../src/raft/types';
import { MAX_WIRE_INTEGER } from '../../src/transport/codec';

/** Seeded xorshift32, so a failing case replays from its seed. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

function bytes(random: () => number, max: number): Uint8Array {
  const out = new Uint8Array(Math.floor(random() * max));
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

function bigNumber(random: () => number): number {
  // Mix small values with ones near the wire limit (2^48, codec.ts) so both u64 halves are exercised.
  return random() < 0.2 ? MAX_WIRE_INTEGER - 1 - Math.floor(random() * 1000) : Math.floor(random() * 1e6);
}

/** A random Message covering every field, optional snapshot and entry type. */
export function randomMessage(random: () => number): Message {
  const entries: Entry[] = [];
  const n = random() < 0.3 ? 0 : Math.floor(random() * 20);
  // Entries follow the message's index without gaps, as the decoder requires of an APPEND.
  const index = Math.min(bigNumber(random), MAX_WIRE_INTEGER - 1 - n);
  for (let i = 0; i < n; i++) {
    entries.push({
      term: bigNumber(random),
      index: index + 1 + i,
      type: random() < 0.5 ? EntryType.NORMAL : EntryType.CONF_CHANGE,
      data: bytes(random, 300),
    });
  }
  const ids = (k: number): number[] => Array.from({ length: Math.floor(random() * k) }, () => 1 + Math.floor(random() * 9));
  const message: Message = {
    type: Math.floor(random() * 13) as MessageType,
    from: 1 + Math.floor(random() * 9),
    to: 1 + Math.floor(random() * 9),
    term: bigNumber(random),
    logTerm: bigNumber(random),
    index,
    commit: bigNumber(random),
    reject: random() < 0.5,
    rejectHint: bigNumber(random),
    logTermHint: bigNumber(random),
    entries,
    context: bytes(random, 40),
  };
  if (random() < 0.2) {
    return {
      ...message,
      snapshot: {
        metadata: {
          index: bigNumber(random),
          term: bigNumber(random),
          confState: {
            voters: ids(5),
            learners: ids(3),
            votersOutgoing: ids(4),
          },
        },
        data: bytes(random, 2000),
      },
    };
  }
  return message;
}

/** Normalises byte fields to hex so deepEqual compares contents, not Buffer vs Uint8Array. */
export function comparable(m: Message): unknown {
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  return {
    ...m,
    context: hex(m.context),
    entries: m.entries.map((e) => ({ ...e, data: hex(e.data) })),
    snapshot: m.snapshot ? { metadata: m.snapshot.metadata, data: hex(m.snapshot.data) } : undefined,
  };
}
