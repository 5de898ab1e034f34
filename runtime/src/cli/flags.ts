/**
 * What every `ha-runtime` command shares when it reads its flags and environment: one usage
 * error (the command prints it and exits 2), HOST:PORT parsing, and the flag -> variable naming.
 */

/** A bad flag or variable; the message names it and the fix. Commands print it and exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Parses `HOST:PORT` (IPv6 as `[::1]:7380`); `what` names the flag or variable in errors. */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:\s]+):(\d+)$/.exec(value);
  if (!m) throw new UsageError(`${what}: '${value}' is not HOST:PORT (e.g. 0.0.0.0:7379 or kv-0.kv-peers.ns.svc:7380)`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new UsageError(`${what}: port ${port} in '${value}' is outside 1-65535`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

/** The inverse of {@link parseHostPort}: brackets an IPv6 host. */
export function formatHostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** `('HA_RAFT', 'data-dir')` -> `HA_RAFT_DATA_DIR`: every flag is also settable from the environment. */
export function flagEnvName(prefix: string, flag: string): string {
  return `${prefix}_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * The start of every command: `--help` prints `usage()` (exit 0); a {@link UsageError} from `parse`
 * is printed as `ha-runtime <command>: message` (exit 2). Returns the config, or the exit code.
 */
export function parseCommandLine<T>(command: string, argv: readonly string[], usage: () => string,
  parse: (argv: readonly string[]) => T): { config: T } | { exitCode: number } {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage());
    return { exitCode: 0 };
  }
  try {
    return { config: parse(argv) };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`ha-runtime ${command}: ${e.message}\n`);
    return { exitCode: 2 };
  }
}
