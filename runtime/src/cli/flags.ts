/**
 * What every `ha-runtime` command shares when it reads its flags and environment: one usage
 * error (the command prints it and exits 2), HOST:PORT parsing, and the flag -> variable naming.
 */
import { formatHostPort, splitHostPort } from '../util/host-port';

/** A bad flag or variable; the message names it and the fix. Commands print it and exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Parses a HOST:PORT flag value (IPv6 as `[::1]:7380`, port 1-65535); `what` names the flag or variable. */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const parsed = splitHostPort(value);
  if (!parsed) throw new UsageError(`${what}: '${value}' is not HOST:PORT (e.g. 0.0.0.0:7379 or kv-0.kv-peers.ns.svc:7380)`);
  if (parsed.port < 1 || parsed.port > 65535) throw new UsageError(`${what}: port ${parsed.port} in '${value}' is outside 1-65535`);
  return parsed;
}

export { formatHostPort };

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

/**
 * Reads `--name value`, `--name=value` and, for boolean flags, a bare `--name` (= `true`) into
 * name -> value. Every name must be in `known`; `command` names the --help to see.
 */
export function readFlagArgs(command: string, argv: readonly string[],
  known: Readonly<Record<string, { readonly boolean?: boolean } | string>>): Map<string, string> {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}': flags look like --name value`);
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) { value = name.slice(eq + 1); name = name.slice(0, eq); }
    const spec = known[name];
    if (spec === undefined) throw new UsageError(`unknown flag --${name}; see ha-runtime ${command} --help`);
    if (value === undefined && typeof spec === 'object' && spec.boolean) value = 'true';
    value ??= argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    values.set(name, value);
  }
  return values;
}
