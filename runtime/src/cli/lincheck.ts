/**
 * `ha-runtime lincheck [--timeout SECONDS] [--json] HISTORY.jsonl`: exit 0 if the history is
 * linearizable, 1 if not (with an explanation), 2 on bad input or usage, 3 if the time budget
 * ran out before a verdict. `-` reads the history from stdin.
 */
import { readFile } from 'node:fs/promises';
import { checkOperations, CheckStats } from '../lincheck/checker';
import { HistoryError, pairOperations, parseHistory } from '../lincheck/history';

const USAGE = `usage: ha-runtime lincheck [--timeout SECONDS] [--json] HISTORY.jsonl|-

Checks a JSON Lines history of a key-value store (get/put/delete/cas) for linearizability.
Exit status: 0 linearizable, 1 not linearizable, 2 bad input or usage, 3 time budget ran out.
  --timeout SECONDS  give up with exit 3 after this long (default: no limit)
  --json             print the result as one JSON object instead of text
`;

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs the `lincheck` subcommand; resolves to the process exit code. */
export async function lincheckCommand(argv: string[]): Promise<number> {
  let timeoutMs: number | undefined;
  let json = false;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE);
      return 0;
    } else if (a === '--json') {
      json = true;
    } else if (a === '--timeout' || a.startsWith('--timeout=')) {
      const raw = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      const seconds = Number(raw);
      if (raw === undefined || raw === '' || !Number.isFinite(seconds) || seconds <= 0) {
        process.stderr.write(`lincheck: --timeout must be a positive number of seconds, got ${JSON.stringify(raw ?? '')}\n`);
        return 2;
      }
      timeoutMs = seconds * 1000;
    } else if (a.startsWith('-') && a !== '-') {
      process.stderr.write(`lincheck: unknown flag ${a}\n\n${USAGE}`);
      return 2;
    } else {
      files.push(a);
    }
  }
  if (files.length !== 1) {
    process.stderr.write(`lincheck: expected exactly one history file (or - for stdin), got ${files.length}\n\n${USAGE}`);
    return 2;
  }
  const file = files[0];
  let text: string;
  try {
    text = file === '-' ? await readAll(process.stdin) : await readFile(file, 'utf8');
  } catch (err) {
    process.stderr.write(`lincheck: cannot read ${file}: ${(err as Error).message}\n`);
    return 2;
  }
  let operations;
  try {
    operations = pairOperations(parseHistory(text));
  } catch (err) {
    if (err instanceof HistoryError) {
      process.stderr.write(`lincheck: ${file}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const started = process.hrtime.bigint();
  const stats: CheckStats = { keys: 0, operations: 0, pendingInfo: 0, droppedInfo: 0, steps: 0, cacheEntries: 0 };
  const result = checkOperations(operations, { timeoutMs }, stats);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (json) {
    process.stdout.write(JSON.stringify({ ...result, stats: { ...stats, ms: Math.round(ms * 10) / 10 } }) + '\n');
  } else if (result.ok === true) {
    process.stdout.write(`linearizable: ${stats.operations} operations on ${stats.keys} keys, checked in ${ms.toFixed(1)} ms\n`);
  } else {
    process.stdout.write(`${result.status === 'unknown' ? 'unknown' : 'NOT linearizable'}: ${result.explanation}\n`);
  }
  return result.ok === true ? 0 : result.ok === false ? 1 : 3;
}
