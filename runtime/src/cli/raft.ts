/**
 * `ha-runtime raft`: starts one member of the replicated key-value store. Parses flags/env,
 * opens the write-ahead log, starts the peer transport and the HTTP API, and handles SIGTERM
 * (transfer leadership, drain, exit 0). Exit codes: 0 clean stop, 1 runtime failure (storage),
 * 2 bad flags.
 */
import { mkdirSync } from 'fs';
import { createServer } from 'http';
import { formatHostPort, parseCommandLine } from './flags';
import { parseRaftConfig, raftUsage } from './raft-config';
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
    // The transport reports links going down and refused connections: worth a warning, never fatal.
    log: (line) => transportLog.warn(line),
  });
  server = await RaftKvServer.create(config, store, transport, recovered, log);
  const kv = server;
  // Installed before the first entry applies: every member must judge every write by the same rule.
  const slots = new SlotGuard();
  kv.stateMachine.guard = slots;
  // One client port for everything, as etcd: gRPC (etcd v3) and HTTP/1.1 (JSON gateway, /v1, probes, /metrics).
  const codec = new EtcdCodec();
  const forwarder = new Forwarder(() => kv.leaderClientUrl(), config.requestTimeoutMs);
  const etcd = new EtcdService(kv, forwarder);
  const http = createServer({ keepAliveTimeout: 65_000 }, createEtcdHttpHandler(etcd, codec, createKvHandler(kv, config.limits, slots)));
  const clientPort = new ClientPort(http, createEtcdGrpcServer(etcd, codec));
  await clientPort.listen(config.listenClient.port, config.listenClient.host);
  log.info('listening', {
    client: `${config.listenClient.host}:${config.listenClient.port}`,
    peer: `${config.listenPeer.host}:${config.listenPeer.port}`,
    advertiseClient: config.advertiseClient,
  });
  kv.start();

  const exitCode = await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info('signal received: graceful stop', { signal });
      kv.shutdown(http).finally(() => { clientPort.close(0); forwarder.close(); })
        .then(() => resolve(0), (e) => { log.error('shutdown failed', { err: e }); resolve(1); });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    kv.onFatal = (err) => {
      if (stopping) return;
      stopping = true;
      // Exit so the supervisor (kubelet) restarts us: recovery re-reads what really reached the disk.
      http.closeAllConnections();
      clientPort.close(0);
      void transport.close().finally(() => { log.error('exiting after storage failure', { err: err.message }); resolve(1); });
    };
  });
  // Whatever is still open (a peer reconnect timer, a half-closed socket) must not keep a stopped
  // member alive: the supervisor restarts on exit, not on silence.
  setTimeout(() => process.exit(exitCode), exitCode === 0 ? 1000 : 100).unref();
  return exitCode;
}
