/**
 * The `ha-runtime raft` flags, etcd-like, each also settable from an environment variable
 * (`--foo-bar` <-> `HA_RAFT_FOO_BAR`; a flag wins over the variable) so a StatefulSet can set them.
 */
import { readFileSync } from 'fs';
import { hostname, totalmem } from 'os';
import { getHeapStatistics } from 'v8';
import { flagEnvName, parseHostPort, readFlagArgs, UsageError } from './flags';
import { JwtOptions, JwtTokens } from '../server/auth-tokens';
import { ClusterMember, RaftServerConfig } from '../server/config';

interface FlagSpec {
  readonly help: string;
  readonly default?: string;
  /** A switch: `--flag` alone means true; `--flag=false` or the variable set to false turns it off. */
  readonly boolean?: boolean;
}

/** Every flag, its help line and default. The env name is derived: `--data-dir` -> `HA_RAFT_DATA_DIR`. */
export const RAFT_FLAGS: Record<string, FlagSpec> = {
  'id': { help: 'this member\'s name; must appear in --initial-cluster (in a StatefulSet: the pod name)' },
  'data-dir': { help: 'directory for the write-ahead log and snapshots (the only writable path)' },
  'listen-client': { help: 'HOST:PORT for the HTTP client API, /livez, /readyz, /metrics', default: '0.0.0.0:7379' },
  'listen-peer': { help: 'HOST:PORT for Raft peer traffic', default: '0.0.0.0:7380' },
  'advertise-client': { help: 'client URL other members redirect writes to (default: http://<hostname>:<client port>)' },
  'initial-cluster': { help: 'NAME=HOST:PEERPORT,... every voter, in the same order on every member' },
  'initial-cluster-state': {
    help: 'new: a blank member may bootstrap, but only when every initial member answers and none has data; ' +
      'existing: a blank member only joins the running cluster (scale-up). Either way a blank member whose cluster exists joins as a new learner',
    default: 'new',
  },
  'advertise-peer': { help: 'HOST:PORT other members dial for Raft traffic (default: this member\'s --initial-cluster entry)' },
  'force-new-cluster': {
    help: 'true: make this member, with its data, the only member of a new cluster (after losing the others for good; ' +
      'what they held and this one did not is lost; docs/operations.md). Harmless to leave set afterwards',
    default: 'false',
  },
  'desired-members': {
    help: 'the StatefulSet replica count: the leader removes members named <name>-K with K >= N (highest first) and refuses to take them in',
  },
  'desired-members-file': { help: 'a file holding --desired-members, re-read every 2 s (a mounted ConfigMap changes it without restarting pods)' },
  'learner-catchup-entries': { help: 'a learner is promoted once within this many entries of the commit index', default: '1000' },
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
  'auth-token-ttl': { help: 'seconds an etcd API auth token lives without use (etcd\'s --auth-token-ttl)', default: '300' },
  'auth-token': {
    help: 'etcd API auth tokens, as etcd\'s flag: simple (in each member\'s memory), or ' +
      'jwt,pub-key=PATH,priv-key=PATH,sign-method=RS256|RS384|RS512|PS256|PS384|PS512|ES256|ES384|ES512[,ttl=5m] (signed; without priv-key the member only verifies)',
    default: 'simple',
  },
  'auto-compaction-mode': { help: 'etcd API history retention: periodic (keep a duration) or revision (keep N revisions)', default: 'periodic' },
  'auto-compaction-retention': { help: 'periodic: hours, or a duration like 30m, 1h30m; revision: a count; 0 keeps all history (etcd\'s default)', default: '0' },
  'quota-backend-bytes': {
    help: 'refuse writes that would grow the in-memory store past this many bytes (etcd\'s flag: RESOURCE_EXHAUSTED "database space exceeded", ' +
      'the NOSPACE alarm) instead of running out of memory; 0: a fifth of the memory the process may use (its cgroup limit, else the ' +
      'machine\'s), at most half the V8 heap limit; -1: no quota',
    default: '0',
  },
  'max-peer-frame-bytes': { help: 'largest peer frame accepted or sent (refused from its header, before buffering); must exceed the largest snapshot', default: String(128 * 1024 * 1024) },
  'peer-cert-file': { help: 'PEM certificate this member presents to peers (turns on peer TLS; with --peer-key-file and --peer-trusted-ca-file)' },
  'peer-key-file': { help: 'PEM private key of --peer-cert-file' },
  'peer-trusted-ca-file': { help: 'PEM CA bundle peers\' certificates must chain to' },
  'peer-client-cert-auth': { help: 'with peer TLS, require and verify the dialling peer\'s certificate (default true when peer certificates are given)', boolean: true },
  'cert-file': { help: 'PEM certificate for the client port (turns on https; with --key-file)' },
  'key-file': { help: 'PEM private key of --cert-file' },
  'trusted-ca-file': { help: 'PEM CA bundle client certificates must chain to (with --client-cert-auth)' },
  'client-cert-auth': { help: 'require a verified client certificate for every client request except /livez, /readyz (and /metrics, /v1/status with --metrics-public)', default: 'false', boolean: true },
  'metrics-public': { help: 'serve /metrics and /v1/status on the client port without a client certificate', default: 'false', boolean: true },
  'listen-metrics': { help: 'HOST:PORT for a plain-HTTP listener serving only /livez, /readyz, /metrics, /v1/status, no credentials (like etcd\'s --listen-metrics-urls)' },
  'tls-reload-interval-ms': { help: 'how often certificate files are re-read; a changed pair is used for new handshakes without a restart', default: '10000' },
  'http-headers-timeout-ms': { help: 'close a client connection whose request headers are not complete within this time (slow loris)', default: '10000' },
  'http-request-timeout-ms': { help: 'close a client connection whose whole request (headers and body) takes longer', default: '60000' },
  'http-idle-timeout-ms': { help: 'close a keep-alive client connection idle for this long', default: '30000' },
  'http-max-connections': { help: 'most concurrent client connections; beyond it new ones get 503 too_many_connections and are closed', default: '2048' },
};

/** TLS files of one listener (PEM paths); re-read every tlsReloadIntervalMs. */
export interface TlsFilesConfig {
  readonly certFile: string;
  readonly keyFile: string;
  /** Peer TLS: always set. Client TLS: set when client certificates are verified. */
  readonly trustedCaFile?: string;
  /** Require and verify the other side's certificate. */
  readonly clientCertAuth: boolean;
}

/** Who may talk to this member: peer and client TLS, and which operations endpoints are public. */
export interface SecurityConfig {
  /** Peer mTLS (`--peer-*-file`); undefined means plaintext peers (the runtime default, an explicit opt-out in RaftCluster). */
  readonly peerTls?: TlsFilesConfig & { readonly trustedCaFile: string };
  /** https on the client port (`--cert-file`, `--key-file`). */
  readonly clientTls?: TlsFilesConfig;
  /** /metrics and /v1/status need no client certificate. */
  readonly metricsPublic: boolean;
  /** A separate plain-HTTP listener for probes and metrics. */
  readonly listenMetrics?: { host: string; port: number };
  readonly tlsReloadIntervalMs: number;
}

/** Limits of every client-facing HTTP server (docs/api.md, "Limits"). */
export interface HttpServerLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
}

/** What `ha-runtime raft` runs with: the member's config plus what only the command wires (TLS, HTTP, frames). */
export interface RaftCommandConfig extends RaftServerConfig {
  readonly maxPeerFrameBytes: number;
  readonly security: SecurityConfig;
  readonly http: HttpServerLimits;
}

/**
 * The variables `etcdctl member add` prints for the new member, honoured after our own flags and
 * variables so its output can start a member as it starts an etcd one (docs/operations.md).
 */
const ETCD_ENV: Record<string, string> = {
  'id': 'ETCD_NAME',
  'data-dir': 'ETCD_DATA_DIR',
  'initial-cluster': 'ETCD_INITIAL_CLUSTER',
  'initial-cluster-state': 'ETCD_INITIAL_CLUSTER_STATE',
  'initial-cluster-token': 'ETCD_INITIAL_CLUSTER_TOKEN',
  'advertise-peer': 'ETCD_INITIAL_ADVERTISE_PEER_URLS',
};

function etcdEnv(flag: string, env: NodeJS.ProcessEnv): string | undefined {
  const name = ETCD_ENV[flag];
  return name ? env[name] : undefined;
}

/** `--data-dir` -> `HA_RAFT_DATA_DIR`. */
export function envName(flag: string): string {
  return flagEnvName('HA_RAFT', flag);
}

/** The usage text listing every flag with its variable and default. */
export function raftUsage(): string {
  const lines = Object.entries(RAFT_FLAGS).map(([f, s]) =>
    `  --${f.padEnd(22)} ${s.help}${s.default !== undefined ? ` (default ${s.default})` : ''}\n  ${' '.repeat(24)} env ${envName(f)}${ETCD_ENV[f] ? ` or ${ETCD_ENV[f]}` : ''}`);
  return `usage: ha-runtime raft --id NAME --data-dir DIR --initial-cluster NAME=HOST:PORT,... [flags]\n\n${lines.join('\n')}\n`;
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
 * Go's durations as etcd's flags take them (`5m`, `90s`, `1h30m`, `500ms`), in whole milliseconds; undefined if not
 * one. The one duration reader of the raft flags (--auto-compaction-retention, --auth-token's ttl).
 */
function goDurationMs(raw: string): number | undefined {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(raw)) return undefined;
  let ms = 0;
  for (const [, n, , unit] of raw.matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) ms += Number(n) * units[unit];
  return Math.round(ms);
}

/** --auth-token: `simple`, or `jwt,` with etcd's options; the keys are read and checked here. */
function parseAuthToken(raw: string): JwtOptions | undefined {
  const fail = (why: string): never => {
    throw new UsageError(`--auth-token: '${raw}': ${why} (set --auth-token or ${envName('auth-token')}; e.g. jwt,pub-key=jwt.pub,priv-key=jwt.key,sign-method=RS256)`);
  };
  const [kind, ...rest] = raw.split(',').map((p) => p.trim());
  if (kind === 'simple' && rest.length === 0) return undefined;
  if (kind !== 'jwt') return fail('must be simple or jwt,...');
  const opts = new Map<string, string>();
  for (const part of rest) {
    const [k, v] = part.split('=', 2);
    if (!['pub-key', 'priv-key', 'sign-method', 'ttl'].includes(k) || !v) fail(`'${part}' is not one of pub-key=, priv-key=, sign-method=, ttl=`);
    opts.set(k, v);
  }
  const read = (k: string): Buffer => {
    try { return readFileSync(opts.get(k)!); } catch (e) { return fail(`cannot read ${k} ${opts.get(k)}: ${(e as Error).message}`); }
  };
  if (!opts.has('pub-key') || !opts.has('sign-method')) fail('jwt needs pub-key= and sign-method=');
  const ttlMs = opts.has('ttl') ? goDurationMs(opts.get('ttl')!) ?? fail(`ttl=${opts.get('ttl')} is not a duration like 5m`) : 300_000;
  if (ttlMs < 1000) fail('ttl must be at least 1s');
  const options: JwtOptions = { signMethod: opts.get('sign-method')!, publicKey: read('pub-key'), privateKey: opts.has('priv-key') ? read('priv-key') : undefined, ttlMs };
  try {
    void new JwtTokens(options); // its constructor checks the method and the keys' type
  } catch (e) {
    fail((e as Error).message);
  }
  return options;
}

/** --quota-backend-bytes: -1 none, 0 the default for this process's memory (see the flag's help), else bytes. */
function parseQuota(raw: string): number | undefined {
  const value = raw.trim();
  if (value === '-1') return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`--quota-backend-bytes: '${raw}' must be a number of bytes, 0 for the default or -1 for no quota ` +
      `(set --quota-backend-bytes or ${envName('quota-backend-bytes')})`);
  }
  return Number(value) > 0 ? Number(value) : defaultQuotaBytes();
}

/**
 * The store's size is about the heap it takes (mvcc/quota.ts) and a member's RSS ran at about four times it under a
 * bulk load (docs/benchmarks.md): a fifth of the memory limit keeps a full store inside a Kubernetes memory limit, and
 * half the heap limit leaves V8 room to work.
 */
function defaultQuotaBytes(): number {
  const memory = Math.min(process.constrainedMemory?.() || Infinity, totalmem());
  return Math.floor(Math.min(memory / 5, getHeapStatistics().heap_size_limit / 2));
}

/**
 * Resolves flags then environment then defaults into a config; throws {@link UsageError}
 * naming the flag and the fix on anything invalid or missing.
 */
export function parseRaftConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): RaftCommandConfig {
  const fromFlags = readFlagArgs('raft', argv, RAFT_FLAGS);
  const get = (flag: string): string | undefined => {
    const v = fromFlags.get(flag) ?? env[envName(flag)] ?? etcdEnv(flag, env);
    return v !== undefined && v !== '' ? v : RAFT_FLAGS[flag].default;
  };
  const required = (flag: string): string => {
    const v = get(flag);
    if (v === undefined) throw new UsageError(`--${flag} is required (or set ${envName(flag)}): ${RAFT_FLAGS[flag].help}`);
    return v;
  };

  const name = required('id');
  const members = parseInitialCluster(required('initial-cluster'));
  const initialClusterState = required('initial-cluster-state');
  if (initialClusterState !== 'new' && initialClusterState !== 'existing') {
    throw new UsageError(`--initial-cluster-state: '${initialClusterState}' must be new or existing`);
  }
  const force = required('force-new-cluster');
  if (force !== 'true' && force !== 'false') throw new UsageError(`--force-new-cluster: '${force}' must be true or false`);
  const advertisePeerRaw = get('advertise-peer')?.replace(/^https?:\/\//, '').replace(/\/$/, '');
  if (advertisePeerRaw !== undefined) parseHostPort(advertisePeerRaw, '--advertise-peer');
  const self = members.find((m) => m.name === name);
  if (!self && advertisePeerRaw === undefined) {
    throw new UsageError(`--id '${name}' is not a member of --initial-cluster (${members.map((m) => m.name).join(', ')}); ` +
      'use one of those names (in a StatefulSet the pod name), or give --advertise-peer to join the running cluster as a new member');
  }
  const listenClient = parseHostPort(required('listen-client'), '--listen-client');
  const listenPeer = parseHostPort(required('listen-peer'), '--listen-peer');
  let advertiseClient = get('advertise-client');
  // With --cert-file the client port speaks only TLS: the URL other members forward and redirect to says so.
  const scheme = get('cert-file') !== undefined ? 'https' : 'http';
  if (advertiseClient === undefined) {
    const host = listenClient.host === '0.0.0.0' || listenClient.host === '::' ? hostname() : listenClient.host;
    advertiseClient = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${listenClient.port}`;
  }
  if (scheme === 'https' && advertiseClient.startsWith('http://')) {
    throw new UsageError(`--advertise-client: '${advertiseClient}' is http, but --cert-file makes the client port https: use https://`);
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
    id: self?.id ?? 0,
    initialClusterState,
    forceNewCluster: force === 'true',
    ...(get('desired-members') !== undefined ? { desiredMembers: positiveInt('desired-members', get('desired-members')!) } : {}),
    ...(get('desired-members-file') !== undefined ? { desiredMembersFile: get('desired-members-file')! } : {}),
    ...(advertisePeerRaw !== undefined ? { advertisePeer: advertisePeerRaw } : {}),
    learnerCatchUpEntries: positiveInt('learner-catchup-entries', required('learner-catchup-entries'), 0),
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
    autoCompaction: parseAutoCompaction(required('auto-compaction-mode'), required('auto-compaction-retention')),
    authTokenTtlMs: positiveInt('auth-token-ttl', required('auth-token-ttl')) * 1000,
    jwt: parseAuthToken(required('auth-token')),
    quotaBytes: parseQuota(required('quota-backend-bytes')),
    maxPeerFrameBytes: positiveInt('max-peer-frame-bytes', required('max-peer-frame-bytes'), 1024 * 1024),
    security: parseSecurity(get),
    http: parseHttpLimits(required),
  };
}

/** The HTTP server limits; the header deadline must not exceed the whole-request one (Node refuses that). */
export function parseHttpLimits(required: (flag: string) => string): HttpServerLimits {
  const limits = {
    headersTimeoutMs: positiveInt('http-headers-timeout-ms', required('http-headers-timeout-ms')),
    requestTimeoutMs: positiveInt('http-request-timeout-ms', required('http-request-timeout-ms')),
    idleTimeoutMs: positiveInt('http-idle-timeout-ms', required('http-idle-timeout-ms')),
    maxConnections: positiveInt('http-max-connections', required('http-max-connections')),
  };
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new UsageError(`--http-headers-timeout-ms (${limits.headersTimeoutMs}) must not exceed --http-request-timeout-ms (${limits.requestTimeoutMs})`);
  }
  return limits;
}

function parseBool(flag: string, raw: string | undefined): boolean | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new UsageError(`--${flag}: '${raw}' must be true or false (set --${flag} or ${envName(flag)})`);
}

/** All of a group of file flags, or none: half a TLS configuration is a mistake, not plaintext. */
function fileGroup(get: (flag: string) => string | undefined, flags: readonly string[], what: string): Record<string, string> | undefined {
  const given = flags.filter((f) => get(f) !== undefined);
  if (given.length === 0) return undefined;
  const missing = flags.filter((f) => get(f) === undefined);
  if (missing.length > 0) {
    throw new UsageError(`${what} needs ${flags.map((f) => `--${f}`).join(', ')}; missing ${missing.map((f) => `--${f}`).join(', ')} ` +
      `(or ${missing.map(envName).join(', ')})`);
  }
  return Object.fromEntries(flags.map((f) => [f, get(f)!]));
}

function parseSecurity(get: (flag: string) => string | undefined): SecurityConfig {
  const peerFiles = fileGroup(get, ['peer-cert-file', 'peer-key-file', 'peer-trusted-ca-file'], 'peer TLS');
  const peerClientCertAuth = parseBool('peer-client-cert-auth', get('peer-client-cert-auth'));
  if (!peerFiles && peerClientCertAuth) {
    throw new UsageError('--peer-client-cert-auth needs peer TLS: give --peer-cert-file, --peer-key-file and --peer-trusted-ca-file');
  }
  const certFile = get('cert-file');
  const keyFile = get('key-file');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError('client TLS needs both --cert-file and --key-file (or HA_RAFT_CERT_FILE and HA_RAFT_KEY_FILE)');
  }
  const clientCertAuth = parseBool('client-cert-auth', get('client-cert-auth'))!;
  const trustedCaFile = get('trusted-ca-file');
  if (clientCertAuth && (!certFile || !trustedCaFile)) {
    throw new UsageError('--client-cert-auth needs client TLS and a CA: give --cert-file, --key-file and --trusted-ca-file');
  }
  const listenMetrics = get('listen-metrics');
  return {
    peerTls: peerFiles && {
      certFile: peerFiles['peer-cert-file'],
      keyFile: peerFiles['peer-key-file'],
      trustedCaFile: peerFiles['peer-trusted-ca-file'],
      clientCertAuth: peerClientCertAuth ?? true,
    },
    clientTls: certFile && keyFile ? { certFile, keyFile, trustedCaFile, clientCertAuth } : undefined,
    metricsPublic: parseBool('metrics-public', get('metrics-public'))!,
    listenMetrics: listenMetrics !== undefined ? parseHostPort(listenMetrics, '--listen-metrics') : undefined,
    tlsReloadIntervalMs: positiveIntOf('tls-reload-interval-ms', get('tls-reload-interval-ms')!),
  };
}

function positiveIntOf(flag: string, raw: string): number {
  return positiveInt(flag, raw, 100);
}

/** etcd's --auto-compaction-mode/--auto-compaction-retention; undefined when the retention is 0 (off). */
export function parseAutoCompaction(mode: string, retention: string): RaftServerConfig['autoCompaction'] {
  if (mode !== 'periodic' && mode !== 'revision') {
    throw new UsageError(`--auto-compaction-mode: '${mode}' must be periodic or revision`);
  }
  const value = retention.trim();
  // A bare number is a revision count, or hours in periodic mode (etcd's reading); periodic also takes a Go duration.
  const n = /^\d+$/.test(value) ? Number(value) : undefined;
  const ms = mode === 'periodic' ? (n === undefined ? goDurationMs(value) : n * 3_600_000) : n;
  if (ms === undefined) {
    throw new UsageError(`--auto-compaction-retention: '${retention}' must be ${mode === 'revision' ? 'a revision count like 1000' : 'hours like 1, or a duration like 30m, 10s or 1h30m'}`);
  }
  if (ms === 0) return undefined;
  return { mode, retention: ms };
}
