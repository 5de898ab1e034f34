/**
 * The golden placement tables: the rings they describe and the keys they place. Shared by
 * golden.test.ts (which checks the committed tables) and generate-golden.ts (which writes them;
 * run it only for a deliberate, documented placement change).
 */
import { HashRing } from '../../src/ring';

export interface GoldenCase {
  readonly name: string;
  readonly build: () => HashRing;
  readonly keys: string[];
}

const keys = (n: number, prefix: string): string[] => [
  ...Array.from({ length: n }, (_, i) => `${prefix}${i}`),
  '', 'a', 'user:42', 'π', '日本語のキー', 'emoji-😀', 'x'.repeat(100),
];

export const GOLDEN_CASES: GoldenCase[] = [
  {
    name: 'ten-weighted',
    build: () => new HashRing([
      ...Array.from({ length: 10 }, (_, i) => ({ id: `shard-${i}` })),
      { id: 'big', weight: 3 },
      { id: 'small', weight: 0.25 },
    ]),
    keys: keys(1000, 'key-'),
  },
  {
    name: 'hundred-after-changes',
    build: () => {
      const ring = new HashRing(Array.from({ length: 100 }, (_, i) => ({ id: `kv-${i}.kv.default.svc` })), { virtualNodes: 512 });
      ring.add({ id: 'kv-100.kv.default.svc', weight: 2 });
      ring.remove('kv-42.kv.default.svc');
      return ring;
    },
    keys: keys(500, 'session/'),
  },
];

export function goldenTable(c: GoldenCase): Record<string, string> {
  const ring = c.build();
  return Object.fromEntries(c.keys.map((k) => [k, ring.get(k)]));
}
