/**
 * `ha-runtime raft`: starts one member of the replicated key-value store. Parses flags/env,
 * decides who this member is (cli/member-start.ts: restart, bootstrap, or rejoin as a new
 * incarnation), opens the write-ahead log, starts the peer transport and the HTTP API, and handles
 * SIGTERM (transfer leadership, drain, exit 0). A full disk does not exit: the member keeps serving
 * reads with a NOSPACE alarm and restarts itself in-process once space returns. Exit codes: 0 clean
 * stop, 1 runtime failure (storage other than a full disk), 2 bad flags.
 */
import { mkdirSync, promises as fsp } from 'fs';
import type { IncomingMessage, Server, ServerResponse } from 'http';
import { formatHostPort, parseCommandLine } from './flags';
import { createClientServer } from './http-server';
import { decideMemberStart, forceNewClusterOnDisk, MemberStart } from './member-start';
import { parseRaftConfig, raftUsage, type RaftCommandConfig } from './raft-config';
import { readTlsMaterial, watchTlsFiles, type TlsMaterial } from './tls-files';
import { authorizeV1 } from '../api/etcd/auth';
import { EtcdCodec } from '../api/etcd/codec';
import { Forwarder } from '../api/etcd/forwarder';
import { createEtcdHttpHandler } from '../api/etcd/gateway';
import { createEtcdGrpcServer } from '../api/etcd/grpc';
import { GrpcMetrics } from '../api/etcd/grpc-metrics';
import { ClientPort } from '../api/etcd/listener';
import { EtcdService } from '../api/etcd/service';
import { createKvHandler } from '../api/http-v1';
import { isPristine } from '../membership';
import { Logger } from '../observability/logger';
import { RaftServerConfig } from '../server/config';
import { isNoSpace, RaftKvServer } from '../server/raft-kv-server';
import { V1_CHECKED_METADATA, V1_ON_MVCC_METADATA } from '../server/v1-store';
import { SlotGuard } from '../shardmap';
import { FileLogStore, writeIdentity } from '../storage';
import { PeerTlsOptions, TcpTransport } from '../transport';

/** How one run of the member ended. */
type RunEnd = { kind: 'signal'; code: number } | { kind: 'no_space' } | { kind: 'failed' };

/** Runs a member until SIGTERM/SIGINT or a fatal error; resolves with the process exit code. */
export async function raftCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandLine('raft', argv, raftUsage, parseRaftConfig);
  if ('exitCode' in parsed) return parsed.exitCode;
  const config = parsed.config;
  const log = new Logger(config.logLevel, { member: config.name });
  let peerTls: TlsMaterial | undefined;
  let clientTls: TlsMaterial | undefined;
  try {
    const { security } = config;
    peerTls = security.peerTls && readTlsMaterial(security.peerTls);
    clientTls = security.clientTls && readTlsMaterial(security.clientTls);
  } catch (e) {
    process.stderr.write(`ha-runtime raft: ${(e as Error).message}\n`);
    return 2;
  }
  try {
    mkdirSync(config.dataDir, { recursive: true });
  } catch (e) {
    log.error('cannot create --data-dir', { dir: config.dataDir, err: e });
    return 1;
  }
  if (config.forceNewCluster) {
    try {
      await forceNewClusterOnDisk(config, log);
    } catch (e) {
      log.error('--force-new-cluster failed', { err: (e as Error).message });
      return 1;
    }
  }
  const signals = new SignalLatch();
  const desired = new DesiredMembers(config, log);
  const exitCode = await runUntilStopped(config, log, signals, desired, { peer: peerTls, client: clientTls });
  signals.dispose();
  desired.stop();
  // Whatever is still open (a peer reconnect timer, a half-closed socket) must not keep a stopped
  // member alive: the supervisor restarts on exit, not on silence.
  setTimeout(() => process.exit(exitCode), exitCode === 0 ? 1000 : 100).unref();
  return exitCode;
}

/** The client listener(s), created once and kept across in-process restarts (NOSPACE). */
interface Listeners {
  readonly http: Server;
  readonly metrics: Server | undefined;
  close(): void;
}

/** What one member run needs that outlives it: TLS material, the listeners, the decided identity. */
interface RunContext {
  config: RaftCommandConfig;
  readonly log: Logger;
  readonly signals: SignalLatch;
  readonly desired: DesiredMembers;
  readonly peerTls: PeerTlsOptions | undefined;
  /** Client TLS material; replaced when the files rotate. */
  clientTls: TlsMaterial | undefined;
  start?: MemberStart;
  listeners?: Listeners;
  /** The current run's handlers (the listeners delegate to them) and transport (certificate rotation). */
  handler?: (req: IncomingMessage, res: ServerResponse) => void;
  opsHandler?: (req: IncomingMessage, res: ServerResponse) => void;
  transport?: TcpTransport;
  /** The current run's etcd v3 API (the gRPC services delegate to it) and its follower-to-leader forwarder. */
  etcd?: EtcdService;
  readonly etcdCodec: EtcdCodec;
  /** The client port's gRPC call counters (they outlive a run; each run's member renders them). */
  readonly grpcMetrics: GrpcMetrics;
}

async function runUntilStopped(config: RaftCommandConfig, log: Logger, signals: SignalLatch, desired: DesiredMembers,
  tlsFiles: { peer?: TlsMaterial; client?: TlsMaterial }): Promise<number> {
  const peerTls: PeerTlsOptions | undefined = tlsFiles.peer &&
    { ...tlsFiles.peer, ca: tlsFiles.peer.ca!, clientCertAuth: config.security.peerTls!.clientCertAuth };
  const ctx: RunContext = {
    config, log, signals, desired, peerTls, clientTls: tlsFiles.client, etcdCodec: new EtcdCodec(), grpcMetrics: new GrpcMetrics(),
  };
  const stopWatching = watchCertificates(config, tlsFiles.peer, tlsFiles.client, log, {
    peer: (m) => ctx.transport?.setTls({ key: m.key, cert: m.cert, ca: m.ca!, clientCertAuth: config.security.peerTls!.clientCertAuth }),
    client: (m) => {
      clientServerTls?.(m);
      // New forwarding channels to the leader dial with the rotated certificate.
      ctx.clientTls = m;
      ctx.etcd?.forwarder.close();
    },
  });
  let clientServerTls: ((m: TlsMaterial) => void) | undefined;
  try {
    for (;;) {
      const end = await runMember(ctx, (setTls) => { clientServerTls = setTls; });
      if (end.kind === 'signal') return end.code;
      if (end.kind === 'failed') return 1;
      if (end.kind === 'stopped') return 0;
      // NOSPACE: keep answering (reads from the last applied state, writes refused) until space returns.
      if (!await waitForSpace(ctx.config, log, signals)) return 0;
      log.info('space available again: restarting the member in-process from what reached the disk');
    }
  } finally {
    stopWatching();
    ctx.listeners?.close();
  }
}

/** One run of the member: open the log, (first time) decide who we are, start transport and server, run. */
async function runMember(ctx: RunContext, onClientTls: (setTls: (m: TlsMaterial) => void) => void): Promise<RunEnd | { kind: 'stopped' }> {
  const { log, signals } = ctx;
  let server: RaftKvServer | undefined;
  const { store, recovered } = await FileLogStore.open(ctx.config.dataDir, {
    segmentSizeBytes: ctx.config.walSegmentBytes,
    metrics: { onSync: (ms) => server?.fsyncLatency.observe(ms / 1000) },
  });
  if (!ctx.start) {
    try {
      // A blank data dir may wait here (discovery, join) as long as the cluster is not reachable.
      ctx.start = await decideMemberStart(ctx.config, recovered, log, () => signals.signalled !== undefined, ctx.peerTls, ctx.clientTls);
    } catch (e) {
      log.error('cannot start this member', { err: (e as Error).message });
      await store.close();
      return { kind: 'failed' };
    }
    if (!ctx.start) {
      await store.close();
      return { kind: 'stopped' };
    }
    ctx.config = { ...ctx.config, id: ctx.start.identity.memberId };
  }
  const config = ctx.config;
  const start = ctx.start;
  const identity = start.identity;
  const pristineBeforeStart = isPristine({
    joined: identity.joined,
    term: recovered.hardState.term,
    lastIndex: recovered.entries.at(-1)?.index ?? 0,
    hasSnapshot: recovered.snapshot !== undefined,
  }, config.members.length);
  const transport = await TcpTransport.start({
    clusterId: config.clusterToken,
    localId: config.id,
    listen: formatHostPort(config.listenPeer.host, config.listenPeer.port),
    // What this release applies (v1-store.ts): the leader moves /v1 onto the MVCC store (V1_ON_MVCC_METADATA), and
    // proposes /v1 writes with their etcd auth caller (V1_CHECKED_METADATA), once every member says it can.
    metadata: {
      clientUrl: config.advertiseClient,
      name: config.name,
      [V1_ON_MVCC_METADATA[0]]: V1_ON_MVCC_METADATA[1],
      [V1_CHECKED_METADATA[0]]: V1_CHECKED_METADATA[1],
    },
    maxFrameBytes: config.maxPeerFrameBytes,
    ...(ctx.peerTls ? { tls: ctx.peerTls } : {}),
    // Until the server exists, answer from the recovered log: a member bootstrapping right now is pristine (a blank
    // member probing it must bootstrap too, not wait to join a cluster that cannot have a quorum without it).
    probeInfo: () => server?.probeInfo() ?? { state: 'member', pristine: pristineBeforeStart ? '1' : '0', clusterId: identity.clusterId },
    // Only current members are peers (setPeers follows the membership); a removed id is named as such.
    admitPeer: (id) => (server?.isRemoved(id) ? `member ${id} was removed from the cluster (a replaced incarnation)` : undefined),
    // The transport reports links going down and refused connections: worth a warning, never fatal.
    log: (line) => log.child({ component: 'transport' }).warn(line),
  });
  ctx.transport = transport;
  server = await RaftKvServer.create(config, store, transport, recovered, log, {
    identity, bootstrap: start.bootstrap, seedMembers: start.seedMembers, desiredMembers: ctx.desired.get,
  });
  if (start.writeIdentityAfterBootstrap) await writeIdentity(config.dataDir, identity);
  ctx.start = { ...start, bootstrap: false, writeIdentityAfterBootstrap: false };
  const kv = server;
  // Installed before the first entry applies: every member must judge every write by the same rule.
  const slots = new SlotGuard();
  kv.v1.guard = slots;
  const { security } = config;
  const requireClientCert = security.clientTls?.clientCertAuth ?? false;
  ctx.etcd?.forwarder.close();
  ctx.etcd = new EtcdService(kv, new Forwarder(() => kv.leaderClientUrl(), config.requestTimeoutMs, () => ctx.clientTls));
  ctx.grpcMetrics.register(kv.metrics);
  // The etcd v3 API shares the client port, as etcd: its JSON gateway and /version, /health go first.
  const etcd = ctx.etcd;
  ctx.handler = createEtcdHttpHandler(etcd, ctx.etcdCodec, createKvHandler(kv, config.limits, slots, {
    requireClientCert,
    metricsPublic: security.metricsPublic,
    kvPermission: (token, access, key, rangeEnd, linearizable) => authorizeV1(etcd, token, access, key, rangeEnd, linearizable),
  }, kv), { requireClientCert });
  ctx.opsHandler = createKvHandler(kv, config.limits, slots, { opsOnly: true });
  if (!ctx.listeners) ctx.listeners = await openListeners(ctx, onClientTls);
  kv.start();
  return runOnce(kv, ctx.listeners, transport, log, signals);
}

/** Opens the client listener (and --listen-metrics), delegating to the current run's handlers. */
async function openListeners(ctx: RunContext, onClientTls: (setTls: (m: TlsMaterial) => void) => void): Promise<Listeners> {
  const { config } = ctx;
  const { security } = config;
  // One listener routes each connection to gRPC or HTTP/1.1 (by ALPN with TLS, else by its first bytes); it
  // terminates client TLS itself, so the HTTP server behind it is plain.
  const client = createClientServer((req, res) => ctx.handler!(req, res), config.http);
  const grpcServer = createEtcdGrpcServer(() => ctx.etcd!, ctx.etcdCodec, {
    metrics: ctx.grpcMetrics,
    electionTimeoutMs: config.electionTicks * config.tickMs,
  });
  const clientPort = new ClientPort(client, grpcServer,
    { maxConnections: config.http.maxConnections, firstBytesTimeoutMs: config.http.headersTimeoutMs },
    ctx.clientTls && { ...ctx.clientTls, requestCert: security.clientTls!.clientCertAuth });
  if (ctx.clientTls) onClientTls((m) => clientPort.setTls(m));
  await clientPort.listen(config.listenClient.port, config.listenClient.host);
  const metrics = security.listenMetrics ? createClientServer((req, res) => ctx.opsHandler!(req, res), config.http) : undefined;
  if (metrics) await listen(metrics, security.listenMetrics!);
  ctx.log.info('listening', {
    client: `${config.listenClient.host}:${config.listenClient.port}`,
    peer: `${config.listenPeer.host}:${config.listenPeer.port}`,
    advertiseClient: config.advertiseClient,
    peerTls: ctx.peerTls !== undefined,
    clientTls: ctx.clientTls !== undefined,
    clientCertAuth: security.clientTls?.clientCertAuth ?? false,
    ...(security.listenMetrics ? { metrics: formatHostPort(security.listenMetrics.host, security.listenMetrics.port) } : {}),
  });
  return {
    http: client,
    metrics,
    close: () => {
      clientPort.close(0);
      ctx.etcd?.forwarder.close();
      for (const srv of [client, metrics]) {
        srv?.closeAllConnections();
        srv?.close();
      }
    },
  };
}

/** Runs the started member until a signal or a fatal storage error. */
function runOnce(kv: RaftKvServer, listeners: Listeners, transport: TcpTransport, log: Logger, signals: SignalLatch): Promise<RunEnd> {
  return new Promise<RunEnd>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info('signal received: graceful stop', { signal });
      listeners.metrics?.closeAllConnections();
      listeners.metrics?.close();
      kv.shutdown(listeners.http).then(() => resolve({ kind: 'signal', code: 0 }), (e) => { log.error('shutdown failed', { err: e }); resolve({ kind: 'signal', code: 1 }); });
    };
    signals.onSignal(stop);
    kv.onFatal = (err) => {
      if (stopping) return;
      stopping = true;
      signals.onSignal(undefined);
      if (isNoSpace(err)) {
        // Stay up: the peers see us unreachable (the cluster goes on without us), clients still read.
        log.error('disk full: NOSPACE alarm raised; serving reads, refusing writes until space returns', { err: err.message });
        void Promise.allSettled([transport.close(), kv.closeStore()]).then(() => resolve({ kind: 'no_space' }));
        return;
      }
      // Exit so the supervisor (kubelet) restarts us: recovery re-reads what really reached the disk.
      void transport.close().finally(() => { log.error('exiting after storage failure', { err: err.message }); resolve({ kind: 'failed' }); });
    };
  });
}

/**
 * Free space the member needs before it restarts after a full disk: two WAL segments, so the first
 * rotation after the restart cannot hit ENOSPC again at once.
 */
function neededBytes(config: RaftServerConfig): number {
  return 2 * config.walSegmentBytes;
}

/** Polls the data dir's free space every second; false if a signal asked us to stop. */
async function waitForSpace(config: RaftServerConfig, log: Logger, signals: SignalLatch): Promise<boolean> {
  const needed = neededBytes(config);
  for (let i = 0; signals.signalled === undefined; i++) {
    try {
      const st = await fsp.statfs(config.dataDir);
      const free = st.bavail * st.bsize;
      if (free >= needed) return true;
      if (i % 30 === 0) log.warn('waiting for disk space', { free, needed, dataDir: config.dataDir });
    } catch (e) {
      log.warn('cannot read free space', { err: (e as Error).message });
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  return false;
}

function listen(server: Server, at: { host: string; port: number }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => { server.off('error', reject); resolve(); });
  });
}

/** --desired-members, or the number in --desired-members-file re-read every 2 s (undefined if unset or unreadable). */
class DesiredMembers {
  private value: number | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(config: RaftServerConfig, log: Logger) {
    this.value = config.desiredMembers;
    const file = config.desiredMembersFile;
    if (file === undefined) return;
    const read = (): void => {
      fsp.readFile(file, 'utf8').then((text) => {
        const n = Number(text.trim());
        const next = Number.isInteger(n) && n >= 1 ? n : undefined;
        if (next === undefined) log.warn('--desired-members-file does not hold a positive integer; ignored', { file, text: text.slice(0, 40) });
        if (next !== this.value) log.info('desired member count', { from: this.value ?? null, to: next ?? null });
        this.value = next;
      }, () => { this.value = config.desiredMembers; });
    };
    read();
    this.timer = setInterval(read, 2000);
    this.timer.unref();
  }

  readonly get = (): number | undefined => this.value;

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/** SIGTERM/SIGINT, remembered if they arrive while nobody listens (discovery, waiting for space). */
class SignalLatch {
  signalled: string | undefined;
  private handler: ((signal: string) => void) | undefined;
  private readonly listeners: ReadonlyArray<[NodeJS.Signals, () => void]>;

  constructor() {
    this.listeners = (['SIGTERM', 'SIGINT'] as const).map((s) => [s, () => this.fire(s)]);
    for (const [s, f] of this.listeners) process.on(s, f);
  }

  onSignal(handler: ((signal: string) => void) | undefined): void {
    this.handler = handler;
    if (handler && this.signalled) handler(this.signalled);
  }

  dispose(): void {
    for (const [s, f] of this.listeners) process.off(s, f);
  }

  private fire(signal: string): void {
    if (this.signalled) return;
    this.signalled = signal;
    this.handler?.(signal);
  }
}

/**
 * Re-reads the certificate files every --tls-reload-interval-ms and hands a changed, usable pair to
 * the transport or the client server (new handshakes use it; nothing restarts).
 */
function watchCertificates(config: RaftCommandConfig, peer: TlsMaterial | undefined, client: TlsMaterial | undefined, log: Logger,
  apply: { peer: (m: TlsMaterial) => void; client: (m: TlsMaterial) => void }): () => void {
  const stops: (() => void)[] = [];
  const interval = config.security.tlsReloadIntervalMs;
  const watch = (which: 'peer' | 'client', paths: { certFile: string; keyFile: string; trustedCaFile?: string }, current: TlsMaterial): void => {
    stops.push(watchTlsFiles(paths, current, interval, (m) => {
      try {
        apply[which](m);
        log.info('reloaded TLS certificates', { listener: which, cert: paths.certFile });
      } catch (e) {
        log.warn('could not use the new TLS certificates; keeping the previous ones', { listener: which, err: (e as Error).message });
      }
    }, (message) => log.warn('TLS files unusable; keeping the previous certificates', { listener: which, err: message })));
  };
  if (peer && config.security.peerTls) watch('peer', config.security.peerTls, peer);
  if (client && config.security.clientTls) watch('client', config.security.clientTls, client);
  return () => stops.forEach((stop) => stop());
}
