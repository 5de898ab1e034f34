/**
 * Child process for the kill -9 test: appends entries from 16 concurrent writers to the store in
 * argv[2] and prints "ack <index>" once each save has resolved (i.e. is claimed durable).
 * Entry data is `value-<index>#...` so a syscall trace can tell which write carried which entry.
 */
import { EntryType } from '../../src/raft/types';
import { FileLogStore } from '../../src/storage';

async function main(): Promise<void> {
  const { store, recovered } = await FileLogStore.open(process.argv[2], { segmentSizeBytes: 64 * 1024 });
  let next = (recovered.entries.at(-1)?.index ?? 0) + 1;
  process.stdout.write(`ready ${next - 1}\n`);
  // Optional argv[3]: stop after this index and exit (the strace test needs a clean exit).
  const stopAfter = process.argv[3] ? Number(process.argv[3]) : Infinity;
  const writer = async (): Promise<void> => {
    while (next <= stopAfter) {
      const index = next++;
      await store.save({ entries: [{ term: 1, index, type: EntryType.NORMAL, data: Buffer.from(`value-${index}`.padEnd(200, '#')) }], hardState: { term: 1, vote: 1, commit: index - 1 } });
      process.stdout.write(`ack ${index}\n`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, writer));
  await store.close();
}
void main();
