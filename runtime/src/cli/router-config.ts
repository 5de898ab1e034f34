/**
 * Configuration of `ha-runtime router`: shards from flags, environment or DNS.
 *
 *   --shard NAME=URL,URL,...          (repeatable)  or  HA_ROUTER_SHARD_<NAME>=URL,URL,...
 *                                                   or  HA_ROUTER_SHARDS="a=URL,URL;b=URL"
 *   --shard-dns NAME=HOST:PORT        (repeatable)  or  HA_ROUTER_SHARD_DNS="a=HOST:PORT;b=..."
 *     HOST is a headless Service; every address it resolves to is a member, re-resolved every
 *     --dns-interval-ms.
 * Flags win over the environment for the same shard name.
 */
import { parseHostPort, UsageError } from './flags';
import { RouterConfig, ShardSource } from '../router/config';

const NUMERIC_FLAGS: Record<string, { env: string; default: number; min: number; help: string }> = {
  'health-interval-ms': { env: 'HA_ROUTER_HEALTH_INTERVAL_MS', default: 1000, min: 50, help: 'health-check every member this often' },
  'eject-after': { env: 'HA_ROUTER_EJECT_AFTER', default: 2, min: 1, help: 'failed checks in a row before a member is ejected' },
  'readmit-after': { env: 'HA_ROUTER_READMIT_AFTER', default: 2, min: 1, help: 'passed checks in a row before it is readmitted' },
  'drain-ms': { env: 'HA_ROUTER_DRAIN_MS', default: 5000, min: 0, help: 'after SIGTERM, keep serving this long (readyz 503) before closing' },
  'dns-interval-ms': { env: 'HA_ROUTER_DNS_INTERVAL_MS', default: 10_000, min: 100, help: 're-resolve --shard-dns names this often' },
  'map-interval-ms': { env: 'HA_ROUTER_MAP_INTERVAL_MS', default: 5000, min: 100, help: 're-read the slot map from the shards this often' },
  'request-timeout-ms': { env: 'HA_ROUTER_REQUEST_TIMEOUT_MS', default: 5000, min: 10, help: 'bound on one upstream request' },
  'retry-budget-ms': { env: 'HA_ROUTER_RETRY_BUDGET_MS', default: 10_000, min: 10, help: 'bound on a client request, retries included' },
  'max-body-bytes': { env: 'HA_ROUTER_MAX_BODY_BYTES', default: 1_048_576 + 1024, min: 1, help: 'largest request body accepted' },
  'http-headers-timeout-ms': { env: 'HA_ROUTER_HTTP_HEADERS_TIMEOUT_MS', default: 10_000, min: 1, help: 'close a client connection whose headers are not complete within this time' },
  'http-request-timeout-ms': { env: 'HA_ROUTER_HTTP_REQUEST_TIMEOUT_MS', default: 60_000, min: 1, help: 'close a client connection whose whole request takes longer' },
  'http-idle-timeout-ms': { env: 'HA_ROUTER_HTTP_IDLE_TIMEOUT_MS', default: 30_000, min: 1, help: 'close a keep-alive client connection idle this long' },
  'http-max-connections': { env: 'HA_ROUTER_HTTP_MAX_CONNECTIONS', default: 4096, min: 1, help: 'most concurrent client connections (beyond: 503 and close)' },
};

/** The usage text. */
export function routerUsage(): string {
  const lines = Object.entries(NUMERIC_FLAGS).map(([f, s]) => `  --${f.padEnd(20)} ${s.help} (default ${s.default}; env ${s.env})`);
  return `usage: ha-runtime router [--listen HOST:PORT] (--shard NAME=URL,... | --shard-dns NAME=HOST:PORT)... [flags]

Routes /v1/kv/<key> to the shard that owns the key's slot in the slot map it reads from the shards
(docs/resharding.md), sending it to that shard's leader (learned from 307 redirects), retrying other
members with bounded backoff. The --shard list seeds the map: shards the map names are learned from it.
  --listen HOST:PORT     listen address (default 0.0.0.0:7400; env HA_ROUTER_LISTEN)
  --shard NAME=URL,...   a shard and its members' client URLs (env HA_ROUTER_SHARD_<NAME>, HA_ROUTER_SHARDS="a=URL,URL;b=URL")
  --shard-dns NAME=HOST:PORT  a shard whose members are the addresses of HOST (a headless Service)
${lines.join('\n')}
`;
}

const SHARD_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function parseUrls(name: string, raw: string, where: string): string[] {
  const urls = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (urls.length === 0) throw new UsageError(`${where}: shard '${name}' has no member URLs; give NAME=http://host:port,http://host:port`);
  return urls.map((u) => {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new UsageError(`${where}: shard '${name}': '${u}' is not a URL (e.g. http://kv-0.kv:7379)`);
    }
    if (url.protocol !== 'http:') throw new UsageError(`${where}: shard '${name}': '${u}' must be an http:// URL`);
    return url.origin;
  });
}

function splitAssignment(raw: string, where: string): [string, string] {
  const eq = raw.indexOf('=');
  if (eq <= 0) throw new UsageError(`${where}: '${raw}' is not NAME=VALUE`);
  const name = raw.slice(0, eq).trim();
  if (!SHARD_NAME.test(name)) throw new UsageError(`${where}: shard name '${name}' must be letters, digits, '.', '_' or '-'`);
  return [name, raw.slice(eq + 1).trim()];
}

/** One `--shard NAME=URL,...` or `--shard-dns NAME=HOST:PORT` value (shared with `ha-runtime reshard`). */
export function parseShardFlag(flag: '--shard' | '--shard-dns', raw: string): [string, ShardSource] {
  const [name, rest] = splitAssignment(raw, flag);
  return [name, flag === '--shard' ? { kind: 'static', urls: parseUrls(name, rest, flag) } : { kind: 'dns', ...parseHostPort(rest, `${flag} ${name}`) }];
}

/** Resolves flags, then environment, then defaults. Throws UsageError on bad input. */
export function parseRouterConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): RouterConfig {
  const flagShards = new Map<string, ShardSource>();
  const numbers = new Map<string, string>();
  let listen: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.includes('=') && arg.startsWith('--') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--listen') {listen = value();} else if (flag === '--shard') {
      const [name, rest] = splitAssignment(value(), '--shard');
      if (flagShards.has(name)) throw new UsageError(`--shard: shard '${name}' is given twice`);
      flagShards.set(name, { kind: 'static', urls: parseUrls(name, rest, '--shard') });
    } else if (flag === '--shard-dns') {
      const [name, rest] = splitAssignment(value(), '--shard-dns');
      if (flagShards.has(name)) throw new UsageError(`--shard-dns: shard '${name}' is given twice`);
      flagShards.set(name, { kind: 'dns', ...parseHostPort(rest, `--shard-dns ${name}`) });
    } else if (flag.startsWith('--') && NUMERIC_FLAGS[flag.slice(2)]) {numbers.set(flag.slice(2), value());} else {throw new UsageError(`unknown argument '${arg}' (see ha-runtime router --help)`);}
  }
  const shards = new Map<string, ShardSource>();
  if (env.HA_ROUTER_SHARDS) {
    for (const part of env.HA_ROUTER_SHARDS.split(';').map((s) => s.trim()).filter((s) => s !== '')) {
      const [name, rest] = splitAssignment(part, 'HA_ROUTER_SHARDS');
      shards.set(name, { kind: 'static', urls: parseUrls(name, rest, 'HA_ROUTER_SHARDS') });
    }
  }
  if (env.HA_ROUTER_SHARD_DNS) {
    for (const part of env.HA_ROUTER_SHARD_DNS.split(';').map((s) => s.trim()).filter((s) => s !== '')) {
      const [name, rest] = splitAssignment(part, 'HA_ROUTER_SHARD_DNS');
      shards.set(name, { kind: 'dns', ...parseHostPort(rest, `HA_ROUTER_SHARD_DNS ${name}`) });
    }
  }
  for (const [key, raw] of Object.entries(env)) {
    if (!key.startsWith('HA_ROUTER_SHARD_') || key === 'HA_ROUTER_SHARD_DNS' || raw === undefined) continue;
    const name = key.slice('HA_ROUTER_SHARD_'.length).toLowerCase();
    shards.set(name, { kind: 'static', urls: parseUrls(name, raw, key) });
  }
  for (const [name, source] of flagShards) shards.set(name, source);
  if (shards.size === 0) {
    throw new UsageError('no shards: give --shard NAME=URL,... or --shard-dns NAME=HOST:PORT (or HA_ROUTER_SHARDS / HA_ROUTER_SHARD_<NAME>)');
  }
  const num = (flag: string): number => {
    const spec = NUMERIC_FLAGS[flag];
    const raw = numbers.get(flag) ?? env[spec.env];
    if (raw === undefined) return spec.default;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < spec.min) throw new UsageError(`--${flag}: '${raw}' must be an integer >= ${spec.min} (flag --${flag} or env ${spec.env})`);
    return n;
  };
  const { host, port } = parseHostPort(listen ?? env.HA_ROUTER_LISTEN ?? '0.0.0.0:7400', '--listen');
  return {
    listenHost: host,
    listenPort: port,
    shards,
    healthIntervalMs: num('health-interval-ms'),
    ejectAfter: num('eject-after'),
    readmitAfter: num('readmit-after'),
    dnsIntervalMs: num('dns-interval-ms'),
    mapIntervalMs: num('map-interval-ms'),
    requestTimeoutMs: num('request-timeout-ms'),
    retryBudgetMs: num('retry-budget-ms'),
    maxBodyBytes: num('max-body-bytes'),
    drainMs: num('drain-ms'),
    http: httpLimits(num),
  };
}

function httpLimits(num: (flag: string) => number): NonNullable<RouterConfig['http']> {
  const limits = {
    headersTimeoutMs: num('http-headers-timeout-ms'),
    requestTimeoutMs: num('http-request-timeout-ms'),
    idleTimeoutMs: num('http-idle-timeout-ms'),
    maxConnections: num('http-max-connections'),
  };
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new UsageError(`--http-headers-timeout-ms (${limits.headersTimeoutMs}) must not exceed --http-request-timeout-ms (${limits.requestTimeoutMs})`);
  }
  return limits;
}
