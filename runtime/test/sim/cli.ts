/**
 * Explores simulator seeds: `npm run sim -- --seeds N [--from S] [--ticks T]` runs seeds S..S+N-1 and
 * prints the first failing seed; `npm run sim -- --seed S` replays one seed with a full trace.
 * Exit 0: all passed; 1: a seed failed; 2: bad flags.
 */
import { writeFileSync } from 'fs';
import { runSeed } from './cluster';
import { checkHistory } from '../../src/lincheck';

interface Flags { seeds: number; from: number; seed?: number; ticks: number; history?: string }

function parseFlags(argv: string[]): Flags {
  const flags: Flags = { seeds: 100, from: 1, ticks: 400 };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    const raw = argv[i + 1];
    const num = (): number => {
      const v = Number(raw);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${name} needs a non-negative integer, got '${raw}'`);
      i++;
      return v;
    };
    switch (name) {
      case '--seeds': flags.seeds = num(); break;
      case '--from': flags.from = num(); break;
      case '--seed': flags.seed = num(); break;
      case '--ticks': flags.ticks = num(); break;
      case '--history': flags.history = raw; i++; break;
      default: throw new Error(`unknown flag '${name}' (flags: --seeds N, --from S, --seed S, --ticks T, --history FILE)`);
    }
  }
  return flags;
}

export function main(argv: string[]): number {
  let flags: Flags;
  try {
    flags = parseFlags(argv);
  } catch (e) {
    process.stderr.write(`sim: ${(e as Error).message}\n`);
    return 2;
  }
  if (flags.seed !== undefined) {
    try {
      const r = runSeed({ seed: flags.seed, ticks: flags.ticks, trace: (l) => process.stdout.write(`${l}\n`) });
      if (flags.history) writeFileSync(flags.history, r.history.map((e) => JSON.stringify(e)).join('\n') + '\n');
      const lin = checkHistory(r.history, { timeoutMs: 60_000 });
      process.stdout.write(`seed ${r.seed}: ok, ${r.steps} steps, ${r.okOps} ok ops, commit ${r.maxCommitted}, linearizability ${lin.status}, faults ${JSON.stringify(r.faults)}\n`);
      if (!lin.ok) process.stdout.write(`${'explanation' in lin ? lin.explanation : ''}\n`);
      return lin.ok ? 0 : 1;
    } catch (e) {
      process.stdout.write(`FAIL ${(e as Error).stack}\n`);
      return 1;
    }
  }
  const started = Date.now();
  let steps = 0;
  let ops = 0;
  const faults: Record<string, number> = {};
  let slowestCheck = { ms: 0, seed: 0 };
  for (let s = flags.from; s < flags.from + flags.seeds; s++) {
    try {
      const r = runSeed({ seed: s, ticks: flags.ticks });
      const checkStarted = Date.now();
      const lin = checkHistory(r.history, { timeoutMs: 60_000 });
      const checkMs = Date.now() - checkStarted;
      if (checkMs > slowestCheck.ms) slowestCheck = { ms: checkMs, seed: s };
      if (!lin.ok) throw new Error(`seed ${s}: linearizability check: ${lin.status}: ${'explanation' in lin ? lin.explanation : ''}`);
      steps += r.steps;
      ops += r.okOps;
      for (const [k, v] of Object.entries(r.faults)) faults[k] = (faults[k] ?? 0) + v;
      if ((s - flags.from + 1) % 1000 === 0) process.stderr.write(`... ${s - flags.from + 1} seeds passed\n`);
    } catch (e) {
      process.stdout.write(`FAIL ${(e as Error).message}\nreplay: npm run sim -- --seed ${s}\n`);
      return 1;
    }
  }
  const secs = (Date.now() - started) / 1000;
  process.stdout.write(`${flags.seeds} seeds (${flags.from}..${flags.from + flags.seeds - 1}) passed: ${steps} steps, ${ops} ok client ops, ` +
    `${secs.toFixed(1)} s (slowest linearizability check ${slowestCheck.ms} ms, seed ${slowestCheck.seed})\nfaults: ${JSON.stringify(faults)}\n`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
