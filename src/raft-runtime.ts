import { Duration, Size } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { memberHost, MEMBER_ID, MEMBER_NAMESPACE, MountedTls, RaftRuntimeContext, RenderedRuntime } from './private/raft-render';
import { checkImage } from './private/validate';
import { HaProbe } from './probes';

/** Options of {@link RaftRuntime.haRuntime}. */
export interface HaRuntimeOptions {
  /**
   * How much etcd-API history (older revisions of keys, which watches resume from) the members keep: the leader
   * compacts revisions older than this (`--auto-compaction-mode periodic`), checking every tenth of it. The store
   * is in memory and `/v1` overwrites are history too, so keeping all of it (`Duration.seconds(0)`, etcd's default)
   * grows the store with every write until the space quota (`spaceQuota`) refuses writes.
   * @default Duration.minutes(5) - as Kubernetes' API server compacts its etcd
   */
  readonly historyRetention?: Duration;
  /**
   * The space quota (etcd's `--quota-backend-bytes`): the leader refuses writes that would grow the in-memory store
   * (keys, values and history, about the heap they take) past it, with etcd's "etcdserver: mvcc: database space
   * exceeded", instead of every member running out of memory at once. Deletes and compactions are always accepted.
   * At most half the container's memory limit, which is V8's heap limit in a container.
   * @default - a fifth of the container's memory limit (the runtime's default): about 250,000 keys of 256 B in 512Mi
   */
  readonly spaceQuota?: Size;
}

/**
 * How a generic Raft/Paxos image (etcd, ...) takes its member id, peers and data dir. Strings may use these
 * placeholders, filled in per member: `{id}` (the member name = pod name), `{namespace}`, `{peerService}`,
 * `{clientService}`, `{dataDir}`, `{clientPort}`, `{peerPort}`, `{clusterName}` and `{initialCluster}`
 * (every member rendered with `initialClusterMember`, joined with commas, in ordinal order), and with peer TLS
 * `{peerCertFile}`, `{peerKeyFile}`, `{peerTrustedCaFile}` (the mounted certificate, key and CA bundle).
 * `{id}` and `{namespace}` become Kubernetes `$(VAR)` references, expanded by the kubelet.
 */
export interface GenericRaftRuntimeOptions {
  /** Container arguments, with placeholders. */
  readonly args: string[];
  /**
   * Container command (entrypoint), with placeholders.
   * @default - the image's ENTRYPOINT
   */
  readonly command?: string[];
  /**
   * Environment variables, with placeholders.
   * @default - none besides the member id and namespace
   */
  readonly env?: { [name: string]: string };
  /**
   * Template of one `{initialCluster}` entry; `{member}` is that member's name.
   * @default '{member}={member}.{peerService}.{namespace}.svc:{peerPort}'
   */
  readonly initialClusterMember?: string;
  /**
   * Readiness probe (should mean: member of a quorum, caught up).
   * @default HaProbe.tcp() on the client port
   */
  readonly readiness?: HaProbe;
  /**
   * Liveness probe.
   * @default HaProbe.tcp() on the client port
   */
  readonly liveness?: HaProbe;
  /**
   * Startup probe.
   * @default HaProbe.tcp() on the client port
   */
  readonly startup?: HaProbe;
}

/** Client-facing TLS of an etcd member (`--cert-file`, `--key-file`, `--trusted-ca-file`, `--client-cert-auth`). */
export interface EtcdClientTlsOptions {
  /**
   * Name of a `kubernetes.io/tls` Secret holding `tls.crt`, `tls.key` and `ca.crt`; its certificate must name
   * the client Service and every member (`*.<name>-peers.<namespace>.svc`).
   */
  readonly secretName: string;
  /**
   * Require client certificates signed by `ca.crt` (`--client-cert-auth`).
   * @default true
   */
  readonly clientCertAuth?: boolean;
}

/** Options of `RaftRuntime.etcd`. */
export interface EtcdRuntimeOptions {
  /** etcd version, `MAJOR.MINOR.PATCH` (3.4 or later); the image is `quay.io/coreos/etcd:v<version>`. */
  readonly version: string;
  /**
   * Client TLS (peer TLS is RaftCluster's `peerTls`).
   * @default - plaintext clients (restrict them with `allowedClients`)
   */
  readonly tls?: EtcdClientTlsOptions;
  /**
   * Port of `--listen-metrics-urls`, where `/metrics` and `/health` are served over plain HTTP (probes use it).
   * @default 2381 (kubeadm's choice)
   */
  readonly metricsPort?: number;
}

/** Where an etcd member mounts its client TLS Secret. */
export const ETCD_CLIENT_TLS_DIR = '/etc/etcd/client-tls';

type RuntimeKind = 'ha-runtime' | 'generic' | 'etcd';

/**
 * What runs in each member: `RaftRuntime.haRuntime()` (this project's image), `RaftRuntime.etcd(...)` or
 * `RaftRuntime.generic(...)`. Each renders its own args, environment and probes.
 */
export class RaftRuntime {
  /** Image of the project's Raft key-value runtime, pinned (never `latest`). */
  public static readonly HA_RUNTIME_IMAGE = 'ghcr.io/cdk8s-ha/ha-runtime:0.1.0';

  /**
   * The cdk8s-ha runtime (`ha-runtime raft`): configured through HA_RAFT_* variables, probed on `/readyz`
   * (quorum member with a known leader, applied up to commit) and `/livez`. It hands leadership over on
   * SIGTERM and has no shell, so there is no preStop hook.
   */
  public static haRuntime(options: HaRuntimeOptions = {}): RaftRuntime {
    const retention = options.historyRetention ?? Duration.minutes(5);
    const seconds = retention.toSeconds({ integral: false });
    if (!Number.isInteger(seconds) || seconds < 0) {
      throw new Error(`RaftRuntime.haRuntime: historyRetention (${seconds} s) must be a whole, non-negative number of seconds; ` +
        'use e.g. Duration.minutes(5), or Duration.seconds(0) to keep all history');
    }
    const quotaBytes = options.spaceQuota === undefined ? undefined : options.spaceQuota.toKibibytes() * 1024;
    if (quotaBytes !== undefined && (!Number.isInteger(quotaBytes) || quotaBytes < 2 ** 20)) {
      throw new Error(`RaftRuntime.haRuntime: spaceQuota (${quotaBytes} bytes) must be at least 1 MiB; use e.g. Size.mebibytes(200), ` +
        'or leave it unset for a fifth of the memory limit');
    }
    return new RaftRuntime('ha-runtime', RaftRuntime.HA_RUNTIME_IMAGE, (ctx) => renderHaRuntime(ctx, seconds, quotaBytes), undefined);
  }

  /**
   * etcd with its own flags: `--initial-cluster` of every member, `--initial-advertise-peer-urls`,
   * `--advertise-client-urls`, `--listen-*-urls`, `--initial-cluster-state new`, the cluster name as
   * `--initial-cluster-token`, and `--listen-metrics-urls` on `metricsPort`. Probes use the metrics port:
   * readiness `/health` (a quorum and a leader), liveness and startup `/health?serializable=true` (the local
   * member answers, so a lost quorum does not restart every member; etcd 3.4 ignores `serializable`, so there they
   * are a TCP check of the metrics port). With `peerTls`, peer URLs are https and
   * the `--peer-*` flags point at the mounted certificates.
   */
  public static etcd(options: EtcdRuntimeOptions): RaftRuntime {
    const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(options.version ?? '');
    if (!m || Number(m[1]) !== 3 || Number(m[2]) < 4) {
      throw new Error(`RaftRuntime.etcd: version (${JSON.stringify(options.version)}) must be an etcd 3.x release >= 3.4 written MAJOR.MINOR.PATCH; e.g. '3.5.17'`);
    }
    const metricsPort = options.metricsPort ?? 2381;
    if (!Number.isInteger(metricsPort) || metricsPort < 1 || metricsPort > 65535) {
      throw new Error(`RaftRuntime.etcd: metricsPort (${metricsPort}) must be an integer in 1..65535; e.g. 2381`);
    }
    if (options.tls) {
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(options.tls.secretName ?? '') || options.tls.secretName.length > 253) {
        throw new Error(`RaftRuntime.etcd: tls.secretName (${JSON.stringify(options.tls.secretName)}) must be a DNS-1123 subdomain; e.g. 'etcd-client-tls'`);
      }
    }
    const image = `quay.io/coreos/etcd:v${options.version}`;
    checkImage('RaftRuntime.etcd', 'version', image);
    // etcd 3.4 ignores ?serializable=true: its /health needs a quorum, so liveness there is a TCP check instead.
    const serializableHealth = Number(m[2]) >= 5;
    return new RaftRuntime('etcd', image, (ctx) => renderEtcd(ctx, options, metricsPort, serializableHealth), options.tls?.secretName);
  }

  /** Any other Raft/Paxos image, with its own flags mapped through placeholders. */
  public static generic(options: GenericRaftRuntimeOptions): RaftRuntime {
    if (options.args.length === 0 && (options.command ?? []).length === 0) {
      throw new Error('RaftRuntime.generic: args and command are both empty; map the member id, peers and data dir onto the image\'s flags');
    }
    return new RaftRuntime('generic', undefined, (ctx) => renderGeneric(ctx, options), undefined);
  }

  /**
   * Which runtime this is (the sharded store needs the cdk8s-ha one).
   * @internal
   */
  public readonly _kind: RuntimeKind;
  /**
   * The image the runtime runs unless the cluster names one; undefined when the cluster must name it.
   * @internal
   */
  public readonly _defaultImage?: string;
  /**
   * A Secret the runtime mounts at ETCD_CLIENT_TLS_DIR (etcd client TLS).
   * @internal
   */
  public readonly _clientTlsSecret?: string;
  private readonly renderer: (ctx: RaftRuntimeContext) => RenderedRuntime;

  private constructor(
    kind: RuntimeKind, defaultImage: string | undefined,
    renderer: (ctx: RaftRuntimeContext) => RenderedRuntime, clientTlsSecret: string | undefined,
  ) {
    this._kind = kind;
    this._defaultImage = defaultImage;
    this.renderer = renderer;
    this._clientTlsSecret = clientTlsSecret;
  }

  /**
   * Renders the member container's args, env, probes and extra ports for a cluster.
   * @internal
   */
  public _render(ctx: RaftRuntimeContext): RenderedRuntime {
    return this.renderer(ctx);
  }
}

function renderHaRuntime(ctx: RaftRuntimeContext, historyRetentionSeconds: number, quotaBytes: number | undefined): RenderedRuntime {
  if (quotaBytes !== undefined && ctx.memoryLimitBytes !== undefined && quotaBytes > ctx.memoryLimitBytes / 2) {
    const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
    throw new Error(`${ctx.owner}: RaftRuntime.haRuntime spaceQuota (${mib(quotaBytes)}) is more than half the memory limit ` +
      `(${mib(ctx.memoryLimitBytes)}): in a container V8's heap limit is half the memory limit, so the store would run out of heap ` +
      `before the quota refused a write; lower spaceQuota to at most ${mib(ctx.memoryLimitBytes / 2)} or raise resources.memory.limit`);
  }
  const initialCluster = ctx.memberNames.map((m) => `${m}=${memberHost(ctx, m)}:${ctx.peerPort}`).join(',');
  const env: k8s.EnvVar[] = [
    { name: 'HA_RAFT_DATA_DIR', value: ctx.dataDir },
    { name: 'HA_RAFT_LISTEN_CLIENT', value: `0.0.0.0:${ctx.clientPort}` },
    { name: 'HA_RAFT_LISTEN_PEER', value: `0.0.0.0:${ctx.peerPort}` },
    { name: 'HA_RAFT_ADVERTISE_CLIENT', value: `http://${memberHost(ctx, MEMBER_ID)}:${ctx.clientPort}` },
    { name: 'HA_RAFT_INITIAL_CLUSTER', value: initialCluster },
    // Checked in the peer handshake: two clusters in one namespace can never join each other.
    { name: 'HA_RAFT_INITIAL_CLUSTER_TOKEN', value: ctx.name },
    // The same host form as the initial cluster: a pod beyond it (a scale-up) tells the cluster where to dial it.
    { name: 'HA_RAFT_ADVERTISE_PEER', value: `${memberHost(ctx, MEMBER_ID)}:${ctx.peerPort}` },
    // Re-read every 2 s: a changed count reaches running members without a restart (scale-down removes ordinals >= it).
    { name: 'HA_RAFT_DESIRED_MEMBERS_FILE', value: ctx.desiredMembersFile },
    // The store is in memory: history is compacted (periodic mode, the runtime's default) unless the user keeps it all.
    { name: 'HA_RAFT_AUTO_COMPACTION_RETENTION', value: `${historyRetentionSeconds}s` },
    // Unset, the runtime takes a fifth of the memory limit it finds in its cgroup.
    ...(quotaBytes === undefined ? [] : [{ name: 'HA_RAFT_QUOTA_BACKEND_BYTES', value: String(quotaBytes) }]),
    ...tlsEnv(ctx.peerTls),
  ];
  return {
    args: ['raft'],
    env,
    readiness: HaProbe.http('/readyz'),
    liveness: HaProbe.http('/livez'),
    startup: HaProbe.http('/livez'),
    ports: [],
    peerEgressPorts: [ctx.clientPort, ctx.peerPort],
    readsDesiredMembers: true,
  };
}

/** The runtime's peer TLS variables: the names of etcd's flags (`--peer-cert-file` is HA_RAFT_PEER_CERT_FILE). */
function tlsEnv(tls: MountedTls | undefined): k8s.EnvVar[] {
  if (!tls) return [];
  return [
    { name: 'HA_RAFT_PEER_CERT_FILE', value: tls.certFile },
    { name: 'HA_RAFT_PEER_KEY_FILE', value: tls.keyFile },
    { name: 'HA_RAFT_PEER_TRUSTED_CA_FILE', value: tls.trustedCaFile },
    { name: 'HA_RAFT_PEER_CLIENT_CERT_AUTH', value: 'true' },
  ];
}

function renderEtcd(ctx: RaftRuntimeContext, options: EtcdRuntimeOptions, metricsPort: number, serializableHealth: boolean): RenderedRuntime {
  const peerScheme = ctx.peerTls ? 'https' : 'http';
  const clientScheme = options.tls ? 'https' : 'http';
  const self = memberHost(ctx, MEMBER_ID);
  const args = [
    `--name=${MEMBER_ID}`,
    // A subdirectory: the volume root may hold lost+found, and etcd wants a directory of its own.
    `--data-dir=${ctx.dataDir}/etcd`,
    `--listen-peer-urls=${peerScheme}://0.0.0.0:${ctx.peerPort}`,
    `--listen-client-urls=${clientScheme}://0.0.0.0:${ctx.clientPort}`,
    `--advertise-client-urls=${clientScheme}://${self}:${ctx.clientPort}`,
    `--initial-advertise-peer-urls=${peerScheme}://${self}:${ctx.peerPort}`,
    `--initial-cluster=${ctx.memberNames.map((m) => `${m}=${peerScheme}://${memberHost(ctx, m)}:${ctx.peerPort}`).join(',')}`,
    '--initial-cluster-state=new',
    `--initial-cluster-token=${ctx.name}`,
    `--listen-metrics-urls=http://0.0.0.0:${metricsPort}`,
  ];
  if (ctx.peerTls) {
    args.push(
      `--peer-cert-file=${ctx.peerTls.certFile}`,
      `--peer-key-file=${ctx.peerTls.keyFile}`,
      `--peer-trusted-ca-file=${ctx.peerTls.trustedCaFile}`,
      '--peer-client-cert-auth=true',
    );
  }
  if (options.tls) {
    args.push(
      `--cert-file=${ETCD_CLIENT_TLS_DIR}/tls.crt`,
      `--key-file=${ETCD_CLIENT_TLS_DIR}/tls.key`,
      `--trusted-ca-file=${ETCD_CLIENT_TLS_DIR}/ca.crt`,
      `--client-cert-auth=${options.tls.clientCertAuth ?? true}`,
    );
  }
  // /health without serializable needs a leader and a quorum read: right for readiness, wrong for liveness (a lost
  // quorum would restart every member).
  const alive = serializableHealth ? HaProbe.http('/health?serializable=true', { port: metricsPort }) : HaProbe.tcp({ port: metricsPort });
  return {
    args,
    env: [],
    readiness: HaProbe.http('/health', { port: metricsPort }),
    liveness: alive,
    startup: alive,
    ports: [{ name: 'metrics', port: metricsPort }],
    peerEgressPorts: [ctx.peerPort],
    readsDesiredMembers: false,
  };
}

function renderGeneric(ctx: RaftRuntimeContext, generic: GenericRaftRuntimeOptions): RenderedRuntime {
  const placeholders: Record<string, string> = {
    id: MEMBER_ID,
    namespace: MEMBER_NAMESPACE,
    peerService: ctx.peerServiceName,
    clientService: ctx.name,
    dataDir: ctx.dataDir,
    clientPort: String(ctx.clientPort),
    peerPort: String(ctx.peerPort),
    clusterName: ctx.name,
    ...(ctx.peerTls ? { peerCertFile: ctx.peerTls.certFile, peerKeyFile: ctx.peerTls.keyFile, peerTrustedCaFile: ctx.peerTls.trustedCaFile } : {}),
  };
  const fill = (template: string, what: string, extra: Record<string, string> = {}): string =>
    template.replace(/\{([a-zA-Z]+)\}/g, (match, key: string) => {
      const value = extra[key] ?? placeholders[key];
      if (value === undefined) {
        const known = [...Object.keys(extra), ...Object.keys(placeholders)].map((k) => `{${k}}`).join(', ');
        throw new Error(`${ctx.owner}: runtime ${what} (${JSON.stringify(template)}) uses an unknown placeholder ${match}; known: ${known}`);
      }
      return value;
    });
  const memberTemplate = generic.initialClusterMember ?? '{member}={member}.{peerService}.{namespace}.svc:{peerPort}';
  placeholders.initialCluster = ctx.memberNames.map((m) => fill(memberTemplate, 'initialClusterMember', { member: m })).join(',');
  const env = Object.entries(generic.env ?? {}).map(([k, v]): k8s.EnvVar => {
    if (k === 'HA_RAFT_ID' || k === 'POD_NAMESPACE') {
      throw new Error(`${ctx.owner}: runtime env ${k} (${JSON.stringify(v)}) is reserved (the member id and namespace); use {id} and {namespace} instead`);
    }
    return { name: k, value: fill(v, `env ${k}`) };
  });
  const texts = [...generic.args, ...generic.command ?? [], ...Object.values(generic.env ?? {})];
  if (ctx.peerTls && !texts.some((t) => t.includes('{peerCertFile}'))) {
    throw new Error(`${ctx.owner}: peerTls (certificates mounted) is on, but runtime RaftRuntime.generic(...) never passes {peerCertFile}; map {peerCertFile}, {peerKeyFile} and {peerTrustedCaFile} onto the image's TLS flags, or set peerTls: PeerTls.plaintext()`);
  }
  return {
    args: generic.args.map((a, i) => fill(a, `args[${i}]`)),
    command: generic.command?.map((c, i) => fill(c, `command[${i}]`)),
    env,
    readiness: generic.readiness ?? HaProbe.tcp(),
    liveness: generic.liveness ?? HaProbe.tcp(),
    startup: generic.startup ?? HaProbe.tcp(),
    ports: [],
    peerEgressPorts: [ctx.clientPort, ctx.peerPort],
    readsDesiredMembers: false,
  };
}
