/**
 * Runs the fuzzer from the command line and replays seeds:
 *   node runtime/.build-test/test/fuzz/cli.js --seed N [--duration-ms MS] [--base-port P] [--keep-dir]
 * Exit 0 when the run found nothing, 1 with the failures (add the seed to fixtures/seeds.json).
 */
import { runFuzz } from './fuzz';

function flag(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(argv[i + 1]);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} needs a non-negative integer, got '${argv[i + 1]}'`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  if (!argv.includes('--seed')) {
    process.stderr.write('usage: node runtime/.build-test/test/fuzz/cli.js --seed N [--duration-ms MS] [--base-port P] [--keep-dir]\n');
    return 2;
  }
  const report = await runFuzz({
    seed: flag(argv, 'seed', 1),
    durationMs: flag(argv, 'duration-ms', 30_000),
    basePort: flag(argv, 'base-port', 24500),
    keepDir: argv.includes('--keep-dir'),
  });
  process.stdout.write(`${JSON.stringify({ ...report, maxRssMiB: Math.round(report.maxRssBytes / 2 ** 20) }, null, 2)}\n`);
  return report.failures.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
  process.stderr.write(`fuzz: ${(e as Error).stack}\n`);
  process.exit(1);
});
