/**
 * `ha-runtime reshard --shard NAME=URL,... [--shard-dns NAME=HOST:PORT]...`: moves the store to
 * exactly the shards given (docs/resharding.md), online, then exits 0; 1 when a shard stays
 * unreachable (run it again: it resumes), 2 on bad flags. With --listen it serves /metrics and
 * /status while it runs.
 *
 * HA_RESHARD_CRASH_AT=STEP:N (tests only) kills this process with SIGKILL as the N-th STEP
 * starts: a crash at an exact point of the protocol, the way etcd's gofail failpoints do.
 */
import { createServer, Server } from 'node:http';
import { parseHostPort, UsageError } from './flags';
import { parseShardFlag } from './router-config';
import { Logger } from '../observability/logger';
import { ShardSource } from '../router/config';
import { MigrationStep, Migrator } from '../router/migrator';

interface ReshardConfig {
  readonly target: Map<string, ShardSource>;
  readonly requestTimeoutMs: number;
  readonly slotsPerStep: number;
  readonly listen?: { host: string; port: number };
}

/** The usage text. */
export function reshardUsage(): string {
  return `usage: ha-runtime reshard (--shard NAME=URL,... | --shard-dns NAME=HOST:PORT)... [--request-timeout-ms N] [--slots-per-step N] [--listen HOST:PORT]

Moves the store online to exactly the shards given: only the slots whose owner changes move, one at
a time (copy, freeze writes, copy the tail, switch with the epoch, delete the old copy). Interrupted,
run it again with the same shards to resume, or with the previous shards to roll back.
  --shard NAME=URL,...        a target shard and its members' client URLs
  --shard-dns NAME=HOST:PORT  a target shard whose members are the addresses of HOST
  --request-timeout-ms N      bound on each request to a shard, retries included (default 15000)
  --slots-per-step N          slots frozen and switched together (default 1; at most 64)
  --listen HOST:PORT          serve /metrics and /status while running
`;
}

function parseReshardConfig(argv: readonly string[]): ReshardConfig {
  const target = new Map<string, ShardSource>();
  let requestTimeoutMs = 15_000;
  let slotsPerStep = 1;
  let listen: ReshardConfig['listen'];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const [flag, inline] = arg.startsWith('--') && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--shard' || flag === '--shard-dns') {
      const [name, source] = parseShardFlag(flag, value());
      if (target.has(name)) throw new UsageError(`${flag}: shard '${name}' is given twice`);
      target.set(name, source);
    } else if (flag === '--request-timeout-ms') {
      const raw = value();
      if (!/^\d+$/.test(raw) || Number(raw) < 100) throw new UsageError(`--request-timeout-ms: '${raw}' must be an integer >= 100`);
      requestTimeoutMs = Number(raw);
    } else if (flag === '--slots-per-step') {
      const raw = value();
      if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 64) throw new UsageError(`--slots-per-step: '${raw}' must be an integer in 1..64`);
      slotsPerStep = Number(raw);
    } else if (flag === '--listen') {
      listen = parseHostPort(value(), '--listen');
    } else {
      throw new UsageError(`unknown argument '${arg}' (see ha-runtime reshard --help)`);
    }
  }
  if (target.size === 0) throw new UsageError('no shards: give every shard the store should end with, --shard NAME=URL,... or --shard-dns NAME=HOST:PORT');
  return { target, requestTimeoutMs, slotsPerStep, listen };
}

function crashFailpoint(): ((step: MigrationStep) => void) | undefined {
  const spec = process.env.HA_RESHARD_CRASH_AT;
  if (!spec) return undefined;
  const [step, nth] = spec.split(':');
  let seen = 0;
  return (s) => {
    if (s === step && ++seen === Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL');
  };
}

/** Runs the `reshard` subcommand; resolves to the process exit code. */
export async function reshardCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(reshardUsage());
    return 0;
  }
  let config: ReshardConfig;
  try {
    config = parseReshardConfig(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`ha-runtime reshard: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = new Logger('info', { component: 'reshard' });
  const migrator = new Migrator({
    target: config.target,
    requestTimeoutMs: config.requestTimeoutMs,
    slotsPerStep: config.slotsPerStep,
    log: (msg, fields) => logger.info(msg, fields),
    onStep: crashFailpoint(),
  });
  let server: Server | undefined;
  if (config.listen) {
    server = createServer((req, res) => {
      const text = req.url === '/metrics' ? migrator.metrics.render() : `${JSON.stringify(migrator.status())}\n`;
      res.writeHead(200, { 'Content-Type': req.url === '/metrics' ? 'text/plain; version=0.0.4' : 'application/json' }).end(text);
    });
    server.listen(config.listen.port, config.listen.host);
  }
  try {
    await migrator.run();
    return 0;
  } catch (err) {
    logger.error('migration stopped; run the same command again to resume', { err: (err as Error).message });
    return 1;
  } finally {
    server?.close();
  }
}
