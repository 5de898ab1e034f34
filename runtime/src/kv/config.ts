/**
 * The `ha-runtime raft` flags, etcd-like, each also settable from an environment variable
 * (`--foo-bar` <-> `HA_RAFT_FOO_BAR`; a flag wins over the variable) so a StatefulSet can set them.
 */
import { hostname } from 'os';

/** A bad flag or variable: the CLI prints the message and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** One member of `--initial-cluster`: its name, numeric Raft id (1-based position) and peer address. */
export interface ClusterMember {
  readonly name: string;
  readonly id: number;
  readonly peerHost: string;
  readonly peerPort: number;
}

/** Request limits; every one is a flag (see docs/api.md). */
export interface KvLimits {
  /** Longest key, in UTF-8 bytes after percent-decoding. */
  readonly maxKeyBytes: number;
  /** Largest value (request body), in bytes. */
  readonly maxValueBytes: number;
  /** Most items one prefix listing returns. */
  readonly maxListItems: number;
}

/** The resolved configuration of one Raft KV member. */
export interface RaftServerConfig {
  readonly name: string;
  readonly id: number;
  readonly dataDir: string;
  readonly listenClient: { host: string; port: number };
  readonly listenPeer: { host: string; port: number };
  readonly advertiseClient: string;
  readonly members: readonly ClusterMember[];
  /** Peers reject handshakes carrying another token: two clusters never cross-talk. */
  readonly clusterToken: string;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** A proposal or read not answered within this time fails with a retryable 503. */
  readonly requestTimeoutMs: number;
  /** Take a state machine snapshot and compact the log every this many applied entries. */
  readonly snapshotEntries: number;
  /** Entries kept in memory behind a snapshot for lagging followers (beyond them, the leader sends the snapshot). */
  readonly snapshotCatchupEntries: number;
  /** SIGTERM: the most time spent transferring leadership and draining before closing anyway. */
  readonly shutdownTimeoutMs: number;
  /** Write-ahead log segment size in bytes. */
  readonly walSegmentBytes: number;
  readonly limits: KvLimits;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
}

interface FlagSpec {
  readonly help: string;
  readonly default?: string;
}

/** Every flag, its help line and default. The env name is derived: `--data-dir` -> `HA_RAFT_DATA_DIR`. */
export const RAFT_FLAGS: Record<string, FlagSpec> = {
  'id': { help: 'this member\'s name; must appear in --initial-cluster (in a StatefulSet: the pod name)' },
  'data-dir': { help: 'directory for the write-ahead log and snapshots (the only writable path)' },
  'listen-client': { help: 'HOST:PORT for the HTTP client API, /livez, /readyz, /metrics', default: '0.0.0.0:7379' },
  'listen-peer': { help: 'HOST:PORT for Raft peer traffic', default: '0.0.0.0:7380' },
  'advertise-client': { help: 'client URL other members redirect writes to (default: http://<hostname>:<client port>)' },
  'initial-cluster': { help: 'NAME=HOST:PEERPORT,... every voter, in the same order on every member' },
  'initial-cluster-token': { help: 'cluster identity checked in the peer handshake', default: 'ha-raft' },
  'tick-ms': { help: 'Raft tick interval in milliseconds (heartbeat = heartbeat-ticks x tick)', default: '50' },
  'election-ticks': { help: 'election timeout in ticks (randomized in [n, 2n))', default: '10' },
  'heartbeat-ticks': { help: 'heartbeat interval in ticks', default: '1' },
  'request-timeout-ms': { help: 'fail a pending write or read with 503 after this long', default: '5000' },
  'snapshot-entries': { help: 'snapshot and compact the log every N applied entries (etcd 3.4: --snapshot-count 100000)', default: '100000' },
  'snapshot-catchup-entries': { help: 'log entries kept behind a snapshot so a lagging follower catches up without one', default: '5000' },
  'shutdown-timeout-ms': { help: 'SIGTERM: bound on leadership transfer plus draining', default: '5000' },
  'wal-segment-bytes': { help: 'start a new write-ahead log segment file at this size', default: '67108864' },
  'max-key-bytes': { help: 'longest key in UTF-8 bytes', default: '1024' },
  'max-value-bytes': { help: 'largest value in bytes', default: '1048576' },
  'max-list-items': { help: 'most items one prefix listing returns', default: '1000' },
  'log-level': { help: 'debug|info|warn|error', default: 'info' },
};

/** `--data-dir` -> `HA_RAFT_DATA_DIR`. */
export function envName(flag: string): string {
  return `HA_RAFT_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** The usage text listing every flag with its variable and default. */
export function raftUsage(): string {
  const lines = Object.entries(RAFT_FLAGS).map(([f, s]) =>
    `  --${f.padEnd(22)} ${s.help}${s.default !== undefined ? ` (default ${s.default})` : ''}\n  ${' '.repeat(24)} env ${envName(f)}`);
  return `usage: ha-runtime raft --id NAME --data-dir DIR --initial-cluster NAME=HOST:PORT,... [flags]\n\n${lines.join('\n')}\n`;
}

/** Parses `HOST:PORT` (IPv6 as `[::1]:7380`); `what` names the flag in errors. */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:\s]+):(\d+)$/.exec(value);
  if (!m) throw new UsageError(`${what}: '${value}' is not HOST:PORT (e.g. 0.0.0.0:7379 or kv-0.kv-peers.ns.svc:7380)`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new UsageError(`${what}: port ${port} in '${value}' is outside 1-65535`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

/** Parses `--initial-cluster`; numeric ids are the 1-based positions, identical on every member. */
export function parseInitialCluster(value: string): ClusterMember[] {
  const flag = '--initial-cluster';
  const parts = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length === 0) throw new UsageError(`${flag}: empty; give every voter as NAME=HOST:PEERPORT separated by commas`);
  const seen = new Set<string>();
  return parts.map((part, i) => {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag}: '${part}' is not NAME=HOST:PEERPORT`);
    const name = part.slice(0, eq);
    if (seen.has(name)) throw new UsageError(`${flag}: member name '${name}' appears twice; names must be unique`);
    seen.add(name);
    let url = part.slice(eq + 1);
    url = url.replace(/^[a-z]+:\/\//, ''); // accept etcd-style http://host:port too
    const { host, port } = parseHostPort(url, `${flag} member '${name}'`);
    return { name, id: i + 1, peerHost: host, peerPort: port };
  });
}

function positiveInt(flag: string, raw: string, min = 1): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${flag}: '${raw}' must be an integer >= ${min} (set --${flag} or ${envName(flag)})`);
  }
  return n;
}

/**
 * Resolves flags then environment then defaults into a config; throws {@link UsageError}
 * naming the flag and the fix on anything invalid or missing.
 */
export function parseRaftConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): RaftServerConfig {
  const fromFlags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}': flags look like --name value`);
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) { value = name.slice(eq + 1); name = name.slice(0, eq); }
    if (!(name in RAFT_FLAGS)) throw new UsageError(`unknown flag --${name}; see ha-runtime raft --help`);
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
    }
    fromFlags.set(name, value);
  }
  const get = (flag: string): string | undefined => {
    const v = fromFlags.get(flag) ?? env[envName(flag)];
    return v !== undefined && v !== '' ? v : RAFT_FLAGS[flag].default;
  };
  const required = (flag: string): string => {
    const v = get(flag);
    if (v === undefined) throw new UsageError(`--${flag} is required (or set ${envName(flag)}): ${RAFT_FLAGS[flag].help}`);
    return v;
  };

  const name = required('id');
  const members = parseInitialCluster(required('initial-cluster'));
  const self = members.find((m) => m.name === name);
  if (!self) {
    throw new UsageError(`--id '${name}' is not a member of --initial-cluster (${members.map((m) => m.name).join(', ')}); ` +
      'use one of those names (in a StatefulSet the pod name)');
  }
  const listenClient = parseHostPort(required('listen-client'), '--listen-client');
  const listenPeer = parseHostPort(required('listen-peer'), '--listen-peer');
  let advertiseClient = get('advertise-client');
  if (advertiseClient === undefined) {
    const host = listenClient.host === '0.0.0.0' || listenClient.host === '::' ? hostname() : listenClient.host;
    advertiseClient = `http://${host.includes(':') ? `[${host}]` : host}:${listenClient.port}`;
  }
  if (!/^https?:\/\/[^/\s]+$/.test(advertiseClient.replace(/\/$/, ''))) {
    throw new UsageError(`--advertise-client: '${advertiseClient}' is not a URL like http://kv-0.kv.ns.svc:7379`);
  }
  const logLevel = required('log-level');
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new UsageError(`--log-level: '${logLevel}' must be one of debug, info, warn, error`);
  }
  const electionTicks = positiveInt('election-ticks', required('election-ticks'), 2);
  const heartbeatTicks = positiveInt('heartbeat-ticks', required('heartbeat-ticks'));
  if (heartbeatTicks >= electionTicks) {
    throw new UsageError(`--heartbeat-ticks (${heartbeatTicks}) must be less than --election-ticks (${electionTicks})`);
  }
  return {
    name,
    id: self.id,
    dataDir: required('data-dir'),
    listenClient,
    listenPeer,
    advertiseClient: advertiseClient.replace(/\/$/, ''),
    members,
    clusterToken: required('initial-cluster-token'),
    tickMs: positiveInt('tick-ms', required('tick-ms')),
    electionTicks,
    heartbeatTicks,
    requestTimeoutMs: positiveInt('request-timeout-ms', required('request-timeout-ms')),
    snapshotEntries: positiveInt('snapshot-entries', required('snapshot-entries'), 2),
    snapshotCatchupEntries: positiveInt('snapshot-catchup-entries', required('snapshot-catchup-entries'), 0),
    shutdownTimeoutMs: positiveInt('shutdown-timeout-ms', required('shutdown-timeout-ms')),
    walSegmentBytes: positiveInt('wal-segment-bytes', required('wal-segment-bytes'), 4096),
    limits: {
      maxKeyBytes: positiveInt('max-key-bytes', required('max-key-bytes')),
      maxValueBytes: positiveInt('max-value-bytes', required('max-value-bytes'), 0),
      maxListItems: positiveInt('max-list-items', required('max-list-items')),
    },
    logLevel: logLevel as RaftServerConfig['logLevel'],
  };
}
