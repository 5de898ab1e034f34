/**
 * `ha-runtime raft`: starts one member of the replicated key-value store. Parses flags/env,
 * decides who this member is (cli/member-start.ts: restart, bootstrap, or rejoin as a new
 * incarnation), opens the write-ahead log, starts the peer transport and the HTTP API, and handles
 * SIGTERM (transfer leadership, drain, exit 0). A full disk does not exit: the member keeps serving
 * reads with a NOSPACE alarm and restarts itself in-process once space returns. Exit codes: 0 clean
 * stop, 1 runtime failure (storage other than a full disk), 2 bad flags.
 */
import { mkdirSync, promises as fsp } from 'fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import { formatHostPort, parseCommandLine } from './flags';
import { decideMemberStart, forceNewClusterOnDisk, MemberStart } from './member-start';
import { parseRaftConfig, raftUsage } from './raft-config';
import { createKvHandler } from '../api/http-v1';
import { Logger } from '../observability/logger';
import { RaftServerConfig } from '../server/config';
import { isNoSpace, RaftKvServer } from '../server/raft-kv-server';
import { SlotGuard } from '../shardmap';
import { FileLogStore, writeIdentity } from '../storage';
import { TcpTransport } from '../transport';

/** How one run of the member ended. */
type RunEnd = { kind: 'signal'; code: number } | { kind: 'no_space' } | { kind: 'failed' };

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
  const exitCode = await runUntilStopped(config, log, signals, desired);
  signals.dispose();
  desired.stop();
  // Whatever is still open (a peer reconnect timer, a half-closed socket) must not keep a stopped
  // member alive: the supervisor restarts on exit, not on silence.
  setTimeout(() => process.exit(exitCode), exitCode === 0 ? 1000 : 100).unref();
  return exitCode;
}

async function runUntilStopped(config: RaftServerConfig, log: Logger, signals: SignalLatch, desired: DesiredMembers): Promise<number> {
  let http: Server | undefined;
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  let start: MemberStart | undefined;
  for (;;) {
    let server: RaftKvServer | undefined;
    const { store, recovered } = await FileLogStore.open(config.dataDir, {
      segmentSizeBytes: config.walSegmentBytes,
      metrics: { onSync: (ms) => server?.fsyncLatency.observe(ms / 1000) },
    });
    if (!start) {
      try {
        // A blank data dir may wait here (discovery, join) as long as the cluster is not reachable.
        start = await decideMemberStart(config, recovered, log, () => signals.signalled !== undefined);
      } catch (e) {
        log.error('cannot start this member', { err: (e as Error).message });
        await store.close();
        return 1;
      }
      if (!start) {
        await store.close();
        return 0;
      }
      config = { ...config, id: start.identity.memberId };
    }
    const identity = start.identity;
    const transport = await TcpTransport.start({
      clusterId: config.clusterToken,
      localId: config.id,
      listen: formatHostPort(config.listenPeer.host, config.listenPeer.port),
      metadata: { clientUrl: config.advertiseClient, name: config.name },
      // Until the server exists, answer conservatively: a member with a log is never "blank".
      probeInfo: () => server?.probeInfo() ?? { state: 'member', pristine: '0', clusterId: identity.clusterId },
      // Only current members are peers (setPeers follows the membership); a removed id is named as such.
      admitPeer: (id) => (server?.isRemoved(id) ? `member ${id} was removed from the cluster (a replaced incarnation)` : undefined),
      // The transport reports links going down and refused connections: worth a warning, never fatal.
      log: (line) => log.child({ component: 'transport' }).warn(line),
    });
    server = await RaftKvServer.create(config, store, transport, recovered, log, {
      identity, bootstrap: start.bootstrap, seedMembers: start.seedMembers, desiredMembers: desired.get,
    });
    if (start.writeIdentityAfterBootstrap) await writeIdentity(config.dataDir, identity);
    start = { ...start, bootstrap: false, writeIdentityAfterBootstrap: false };
    const kv = server;
    // Installed before the first entry applies: every member must judge every write by the same rule.
    const slots = new SlotGuard();
    kv.stateMachine.guard = slots;
    handler = createKvHandler(kv, config.limits, slots, kv);
    if (!http) {
      http = createServer({ keepAliveTimeout: 65_000 }, (req, res) => handler!(req, res));
      await listen(http, config);
      log.info('listening', {
        client: `${config.listenClient.host}:${config.listenClient.port}`,
        peer: `${config.listenPeer.host}:${config.listenPeer.port}`,
        advertiseClient: config.advertiseClient,
      });
    }
    kv.start();
    const end = await runOnce(kv, http, transport, log, signals);
    if (end.kind === 'signal') return end.code;
    if (end.kind === 'failed') {
      http.closeAllConnections();
      http.close();
      return 1;
    }
    // NOSPACE: keep answering (reads from the last applied state, writes refused) until space returns.
    const resumed = await waitForSpace(config, log, signals);
    if (!resumed) {
      http.closeAllConnections();
      http.close();
      return 0;
    }
    log.info('space available again: restarting the member in-process from what reached the disk');
  }
}

/** Runs the started member until a signal or a fatal storage error. */
function runOnce(kv: RaftKvServer, http: Server, transport: TcpTransport, log: Logger, signals: SignalLatch): Promise<RunEnd> {
  return new Promise<RunEnd>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info('signal received: graceful stop', { signal });
      kv.shutdown(http).then(() => resolve({ kind: 'signal', code: 0 }), (e) => { log.error('shutdown failed', { err: e }); resolve({ kind: 'signal', code: 1 }); });
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

function listen(http: Server, config: RaftServerConfig): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.listenClient.port, config.listenClient.host, () => resolve());
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
