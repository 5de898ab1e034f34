/**
 * Who this process is, decided before the member runs (issue 12): a data directory with an
 * identity file restarts as that member; a directory with a log but no identity (written before
 * identity files existed) is the initial member at its --initial-cluster position; a blank
 * directory runs discovery (membership/discovery.ts) while answering probes and /livez, then either
 * bootstraps or joins as a new incarnation through POST /v1/members/join.
 */
import { randomBytes } from 'crypto';
import { createServer, request as httpRequest, RequestListener, Server } from 'http';
import { createServer as createHttpsServer, request as httpsRequest } from 'https';
import { formatHostPort } from './flags';
import type { TlsMaterial } from './tls-files';
import { sendJson } from '../errors';
import { deriveClusterId, discoverAndDecide, forceNewCluster, JoinResult, MemberInfo, PeerAnswer } from '../membership';
import { Logger } from '../observability/logger';
import { RaftServerConfig } from '../server/config';
import { FileLogStore, RecoveredState, readIdentity, StoredIdentity, writeIdentity } from '../storage';
import { PeerTlsOptions, probePeer, TcpTransport } from '../transport';

/** The transport id of a process that has no member id yet: nobody dials it as a member. */
const DISCOVERY_ID = 2 ** 48 - 1;

/**
 * --force-new-cluster: rewrites this member's log into a one-member cluster with a new cluster id
 * (membership/force.ts). Returns true if it changed anything.
 */
export async function forceNewClusterOnDisk(config: RaftServerConfig, log: Logger): Promise<boolean> {
  const stored = await readIdentity(config.dataDir);
  const { store, recovered } = await FileLogStore.open(config.dataDir, { segmentSizeBytes: config.walSegmentBytes });
  try {
    const position = config.members.find((m) => m.name === config.name)?.id;
    const selfId = stored?.memberId ?? position;
    if (selfId === undefined) throw new Error('--force-new-cluster: this data dir has no identity and its name is not in --initial-cluster');
    const snap = recovered.snapshot;
    if (!snap && recovered.entries.length === 0) {
      throw new Error('--force-new-cluster needs this member\'s data; this data dir is blank (a blank member must never found a cluster alone)');
    }
    const forced = forceNewCluster(selfId, snap?.metadata.confState, recovered.entries, recovered.hardState, snap?.metadata.index ?? 0);
    if (!forced) return false;
    await store.save({ entries: forced.entries, hardState: forced.hardState });
    const clusterId = randomBytes(8).toString('hex');
    await writeIdentity(config.dataDir, { clusterId, memberId: selfId, name: config.name, joined: stored?.joined ?? false });
    log.warn('--force-new-cluster: this member is now the only member of a new cluster; other members must rejoin with blank data dirs',
      { removed: forced.removed, commit: forced.hardState.commit, clusterId });
    return true;
  } finally {
    await store.close();
  }
}

/** The decided start. */
export interface MemberStart {
  readonly identity: StoredIdentity;
  readonly bootstrap: boolean;
  readonly seedMembers?: MemberInfo[];
  /** Write the identity after the bootstrap entries are durable (a crash in between restarts as legacy data, same id). */
  readonly writeIdentityAfterBootstrap: boolean;
}

/** Decides the start; resolves undefined if stopped (signal) while waiting. */
export async function decideMemberStart(config: RaftServerConfig, recovered: RecoveredState, log: Logger,
  stopped: () => boolean, peerTls?: PeerTlsOptions, clientTls?: TlsMaterial): Promise<MemberStart | undefined> {
  const expectedClusterId = deriveClusterId(config.clusterToken, config.members.map((m) => m.name));
  const hasData = !!recovered.snapshot || recovered.entries.length > 0 || recovered.hardState.term > 0;
  const stored = await readIdentity(config.dataDir);
  const position = config.members.find((m) => m.name === config.name)?.id;
  if (stored) {
    if (stored.name !== config.name) {
      throw new Error(`--data-dir ${config.dataDir} belongs to member '${stored.name}', not '${config.name}': check --id and the volume`);
    }
    // A joined member restarted before its first snapshot knows its peers only from the join answer.
    return { identity: stored, bootstrap: false, writeIdentityAfterBootstrap: false, seedMembers: stored.seedMembers?.slice() };
  }
  if (hasData) {
    if (position === undefined) throw new Error(`--data-dir holds a log but no identity, and '${config.name}' is not in --initial-cluster`);
    const identity = { clusterId: expectedClusterId, memberId: position, name: config.name, joined: false };
    await writeIdentity(config.dataDir, identity);
    log.info('recorded the identity of existing data', { ...identity });
    return { identity, bootstrap: false, writeIdentityAfterBootstrap: false };
  }
  return discover(config, expectedClusterId, position, log, stopped, peerTls, clientTls);
}

async function discover(config: RaftServerConfig, expectedClusterId: string, position: number | undefined, log: Logger,
  stopped: () => boolean, peerTls: PeerTlsOptions | undefined, clientTls: TlsMaterial | undefined): Promise<MemberStart | undefined> {
  // A name outside --initial-cluster was never an initial member: it can only join (scale-up).
  const mode = position === undefined ? 'existing' : config.initialClusterState ?? 'new';
  let waitReason = 'probing the other members';
  const listen = formatHostPort(config.listenPeer.host, config.listenPeer.port);
  // Answer the others' probes ("blank") while we decide, so an all-blank cluster can bootstrap.
  const probeListener = await TcpTransport.start({
    clusterId: config.clusterToken,
    localId: DISCOVERY_ID,
    listen,
    probeInfo: () => ({ state: 'blank' }),
    metadata: { clientUrl: config.advertiseClient, name: config.name },
    ...(peerTls ? { tls: peerTls } : {}),
  });
  const http = await waitingHttp(config, () => waitReason, clientTls);
  try {
    const others = config.members.filter((m) => m.name !== config.name);
    const decision = await discoverAndDecide(mode, expectedClusterId, {
      probeAll: () => Promise.all(others.map(async (m): Promise<PeerAnswer> => {
        try {
          const a = await probePeer(formatHostPort(m.peerHost, m.peerPort), config.clusterToken, 1000, peerTls);
          return { name: m.name, info: a.metadata };
        } catch (e) {
          return { name: m.name, error: (e as Error).message };
        }
      })),
      onWait: (reason) => { waitReason = reason; log.warn('blank data dir: not starting yet', { reason }); },
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      stopped,
    });
    if (!decision) return undefined;
    if (decision.kind === 'bootstrap') {
      if (position === undefined) throw new Error(`'${config.name}' is not in --initial-cluster: it cannot bootstrap`);
      log.info('every initial member is blank: bootstrapping the cluster', { clusterId: expectedClusterId });
      const identity = { clusterId: expectedClusterId, memberId: position, name: config.name, joined: false };
      return { identity, bootstrap: true, writeIdentityAfterBootstrap: true };
    }
    waitReason = 'joining the running cluster as a new incarnation';
    log.info('the cluster exists and this data dir is blank: joining as a new incarnation (learner)', { via: decision.via });
    const joined = await joinCluster(config, decision.via, log, stopped, clientTls);
    if (!joined) return undefined;
    const identity = { clusterId: joined.clusterId, memberId: joined.member.id, name: config.name, joined: true, seedMembers: joined.members };
    // Durable before we answer anything as this id: a crash after this restarts as the learner the cluster expects.
    await writeIdentity(config.dataDir, identity);
    log.info('joined as a learner', { id: joined.member.id, clusterId: joined.clusterId });
    return { identity, bootstrap: false, seedMembers: joined.members, writeIdentityAfterBootstrap: false };
  } finally {
    await probeListener.close();
    await new Promise<void>((r) => { http.closeAllConnections(); http.close(() => r()); });
  }
}

/** /livez 200 and /readyz 503 while deciding, so a supervisor neither kills nor routes to us (over TLS when the client port has it). */
async function waitingHttp(config: RaftServerConfig, reason: () => string, clientTls: TlsMaterial | undefined): Promise<Server> {
  const handler: RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/livez') sendJson(res, 200, { ok: true, reason: 'discovering the cluster' });
    else if (path === '/v1/status') sendJson(res, 200, { name: config.name, state: 'discovering', reason: reason() });
    else sendJson(res, 503, { error: 'not_started', message: `this member has not started: ${reason()}`, retryable: true }, { 'Retry-After': '1' });
  };
  const http: Server = clientTls ? createHttpsServer({ cert: clientTls.cert, key: clientTls.key }, handler) : createServer(handler);
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.listenClient.port, config.listenClient.host, () => resolve());
  });
  return http;
}

/** Asks the cluster to take this member back; retries (following redirects to the leader) until it answers. */
async function joinCluster(config: RaftServerConfig, via: string[], log: Logger, stopped: () => boolean,
  clientTls: TlsMaterial | undefined): Promise<JoinResult | undefined> {
  const self = config.members.find((m) => m.name === config.name);
  const peerUrl = config.advertisePeer ?? (self ? formatHostPort(self.peerHost, self.peerPort) : undefined);
  if (!peerUrl) throw new Error('--advertise-peer is required for a member not listed in --initial-cluster');
  const body = JSON.stringify({ name: config.name, peerUrl, clientUrl: config.advertiseClient });
  let lastError = '';
  for (let attempt = 0; !stopped(); attempt++) {
    let url = via[attempt % via.length] + '/v1/members/join';
    for (let hop = 0; hop < 3; hop++) {
      try {
        const r = await postJson(url, body, 30_000, clientTls);
        if (r.status === 307 && r.location) { url = new URL(r.location, url).toString(); continue; }
        if (r.status === 200 || r.status === 201) return JSON.parse(r.body) as JoinResult;
        lastError = `${r.status} ${r.body.trim()}`;
      } catch (e) {
        lastError = (e as Error).message;
      }
      break;
    }
    if (attempt % 10 === 0) log.warn('join not accepted yet; retrying', { via: url, err: lastError });
    await new Promise((r) => setTimeout(r, 500));
  }
  return undefined;
}

/** POSTs JSON; an https URL is dialled with this member's client-port certificate (members trust the same CA). */
type PostAnswer = { status: number; body: string; location?: string };

function postJson(url: string, body: string, timeoutMs: number, clientTls: TlsMaterial | undefined): Promise<PostAnswer> {
  const headers = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  const tls = url.startsWith('https:') && clientTls ? { cert: clientTls.cert, key: clientTls.key, ca: clientTls.ca } : {};
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers, ...tls }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const location = res.headers.location;
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ...(location ? { location } : {}) });
      });
      res.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
    const timer = setTimeout(() => req.destroy(new Error(`timeout after ${timeoutMs} ms: POST ${url}`)), timeoutMs);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    req.end(body);
  });
}
