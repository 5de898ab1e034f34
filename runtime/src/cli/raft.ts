/**
 * `ha-runtime raft`: starts one member of the replicated key-value store. Parses flags/env,
 * opens the write-ahead log, starts the peer transport and the HTTP API, and handles SIGTERM
 * (transfer leadership, drain, exit 0). Exit codes: 0 clean stop, 1 runtime failure (storage),
 * 2 bad flags.
 */
import { mkdirSync } from 'fs';
import type { Server } from 'http';
import { formatHostPort, parseCommandLine } from './flags';
import { createClientServer } from './http-server';
import { parseRaftConfig, raftUsage, type RaftCommandConfig } from './raft-config';
import { readTlsMaterial, watchTlsFiles, type TlsMaterial } from './tls-files';
import { EtcdCodec } from '../api/etcd/codec';
import { Forwarder } from '../api/etcd/forwarder';
import { createEtcdHttpHandler } from '../api/etcd/gateway';
import { createEtcdGrpcServer } from '../api/etcd/grpc';
import { ClientPort } from '../api/etcd/listener';
import { EtcdService } from '../api/etcd/service';
import { createKvHandler } from '../api/http-v1';
import { Logger } from '../observability/logger';
import { RaftKvServer } from '../server/raft-kv-server';
import { SlotGuard } from '../shardmap';
import { FileLogStore } from '../storage';
import { TcpTransport } from '../transport';

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

  const transportLog = log.child({ component: 'transport' });
  let server: RaftKvServer | undefined;
  const { store, recovered } = await FileLogStore.open(config.dataDir, {
    segmentSizeBytes: config.walSegmentBytes,
    metrics: { onSync: (ms) => server?.fsyncLatency.observe(ms / 1000) },
  });
  const peers = new Map(config.members.filter((m) => m.id !== config.id)
    .map((m) => [m.id, formatHostPort(m.peerHost, m.peerPort)]));
  const transport = await TcpTransport.start({
    clusterId: config.clusterToken,
    localId: config.id,
    listen: formatHostPort(config.listenPeer.host, config.listenPeer.port),
    peers,
    metadata: { clientUrl: config.advertiseClient, name: config.name },
    maxFrameBytes: config.maxPeerFrameBytes,
    ...(peerTls ? { tls: { ...peerTls, ca: peerTls.ca!, clientCertAuth: config.security.peerTls!.clientCertAuth } } : {}),
    // The transport reports links going down and refused connections: worth a warning, never fatal.
    log: (line) => transportLog.warn(line),
  });
  server = await RaftKvServer.create(config, store, transport, recovered, log);
  const kv = server;
  // Installed before the first entry applies: every member must judge every write by the same rule.
  const slots = new SlotGuard();
  kv.stateMachine.guard = slots;
  const { security } = config;
  const requireClientCert = security.clientTls?.clientCertAuth ?? false;
  // The etcd v3 API shares the client port, as etcd: gRPC and HTTP/1.1 (JSON gateway, /v1, probes, /metrics).
  const codec = new EtcdCodec();
  const forwarder = new Forwarder(() => kv.leaderClientUrl(), config.requestTimeoutMs);
  const etcd = new EtcdService(kv, forwarder);
  const v1 = createKvHandler(kv, config.limits, slots, { requireClientCert, metricsPublic: security.metricsPublic });
  const client = createClientServer(createEtcdHttpHandler(etcd, codec, v1, { requireClientCert }), config.http,
    clientTls && { ...clientTls, requestCert: requireClientCert });
  const http = client.server;
  // Plain: one listener routes each connection by its first bytes (gRPC or HTTP/1.1). With client TLS the https
  // server listens itself and gRPC is not served yet (ALPN routing is not done; docs/api.md).
  const clientPort = clientTls ? undefined : new ClientPort(http, createEtcdGrpcServer(etcd, codec),
    { maxConnections: config.http.maxConnections, firstBytesTimeoutMs: config.http.headersTimeoutMs });
  if (clientPort) await clientPort.listen(config.listenClient.port, config.listenClient.host);
  else await listen(http, config.listenClient);
  const metricsServer = security.listenMetrics
    ? createClientServer(createKvHandler(kv, config.limits, slots, { opsOnly: true }), config.http).server : undefined;
  if (metricsServer) await listen(metricsServer, security.listenMetrics!);
  const stopWatching = watchCertificates(config, peerTls, clientTls, log, {
    peer: (m) => transport.setTls({ key: m.key, cert: m.cert, ca: m.ca!, clientCertAuth: security.peerTls!.clientCertAuth }),
    client: (m) => client.setTls(m),
  });
  log.info('listening', {
    client: `${config.listenClient.host}:${config.listenClient.port}`,
    peer: `${config.listenPeer.host}:${config.listenPeer.port}`,
    advertiseClient: config.advertiseClient,
    peerTls: peerTls !== undefined,
    clientTls: clientTls !== undefined,
    clientCertAuth: security.clientTls?.clientCertAuth ?? false,
    ...(security.listenMetrics ? { metrics: formatHostPort(security.listenMetrics.host, security.listenMetrics.port) } : {}),
  });
  kv.start();

  const exitCode = await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info('signal received: graceful stop', { signal });
      metricsServer?.close();
      metricsServer?.closeAllConnections();
      kv.shutdown(http).finally(() => { clientPort?.close(0); forwarder.close(); })
        .then(() => resolve(0), (e) => { log.error('shutdown failed', { err: e }); resolve(1); });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    kv.onFatal = (err) => {
      if (stopping) return;
      stopping = true;
      metricsServer?.closeAllConnections();
      metricsServer?.close();
      // Exit so the supervisor (kubelet) restarts us: recovery re-reads what really reached the disk.
      http.closeAllConnections();
      clientPort?.close(0);
      http.close();
      void transport.close().finally(() => { log.error('exiting after storage failure', { err: err.message }); resolve(1); });
    };
  });
  // Whatever is still open (a peer reconnect timer, a half-closed socket) must not keep a stopped
  // member alive: the supervisor restarts on exit, not on silence.
  stopWatching();
  setTimeout(() => process.exit(exitCode), exitCode === 0 ? 1000 : 100).unref();
  return exitCode;
}

function listen(server: Server, at: { host: string; port: number }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => { server.off('error', reject); resolve(); });
  });
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
