/**
 * The router: a stateless HTTP front for several Raft key-value shards. Each `/v1/kv/<key>` goes
 * to the shard that owns the key on a consistent-hash ring of shard names, to that shard's
 * leader: learned from the 307 a follower answers with, cached, forgotten when it stops
 * answering. Failed attempts are retried on other members with bounded, jittered exponential
 * backoff within a per-request budget: reads always, writes only while no attempt may have
 * applied (see `forward`). Every member is health-checked (`/readyz`); a member
 * failing `ejectAfter` checks in a row is ejected (tried last), and readmitted after
 * `readmitAfter` passes. Operations spanning shards (prefix listings) are rejected.
 */
import { promises as dns } from 'node:dns';
import { Agent, createServer, IncomingHttpHeaders, IncomingMessage, request as httpRequest, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { HashRing } from '../ring';
import { RouterConfig, ShardSource } from './config';
import { errorBody, internalError, KvError, OutcomeUnknownError, sendError, sendJson, UnavailableError } from '../errors';
import { MetricsRegistry } from '../observability/metrics';

/** How the router resolves a headless Service name to addresses (replaceable for tests). */
export type Resolver = (host: string) => Promise<string[]>;

const defaultResolver: Resolver = async (host) => (await dns.lookup(host, { all: true })).map((a) => a.address);

interface Member {
  readonly url: string;
  healthy: boolean;
  failures: number;
  passes: number;
}

interface Shard {
  readonly name: string;
  readonly source: ShardSource;
  members: Map<string, Member>;
  leader?: string;
}

interface Upstream {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** An upstream failure; `ambiguous` when the request may have reached the server. */
class UpstreamError extends Error {
  constructor(message: string, readonly ambiguous: boolean) {
    super(message);
  }
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length', 'upgrade', 'proxy-connection', 'te', 'trailer']);
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The router service. `start()` listens; `close()` stops listening, timers and connections. */
export class Router {
  private readonly shards = new Map<string, Shard>();
  private readonly ring: HashRing;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });
  private server: Server | undefined;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  private draining = false;
  private readonly metrics = new MetricsRegistry();
  private readonly requests = this.metrics.counter('ha_router_requests_total', 'Client requests by shard and status code.');
  private readonly retries = this.metrics.counter('ha_router_upstream_retries_total', 'Upstream attempts retried after an error or a 503.');
  private readonly redirects = this.metrics.counter('ha_router_redirects_total', 'Redirects to a shard leader followed.');
  private readonly ejections = this.metrics.counter('ha_router_ejections_total', 'Members ejected after failed health checks.');
  private readonly duration = this.metrics.histogram('ha_router_request_duration_seconds', 'Client request latency.', DURATION_BUCKETS);

  constructor(private readonly config: RouterConfig, private readonly resolve: Resolver = defaultResolver) {
    for (const [name, source] of config.shards) {
      const members = new Map<string, Member>();
      if (source.kind === 'static') for (const url of source.urls) members.set(url, { url, healthy: true, failures: 0, passes: 0 });
      this.shards.set(name, { name, source, members });
    }
    this.ring = new HashRing([...config.shards.keys()].map((id) => ({ id })));
    // Every shard's series exists from the start, so a dashboard sees 0 rather than nothing.
    for (const shard of config.shards.keys()) for (const c of [this.retries, this.redirects, this.ejections]) c.inc({ shard }, 0);
    this.registerGauges();
  }

  /** The shard that owns `key`. */
  public shardFor(key: string): string {
    return this.ring.get(key);
  }

  /** Resolves DNS shards once, starts health checks and listens; resolves to the bound port. */
  public async start(): Promise<number> {
    await this.refreshDns();
    await this.checkHealth();
    this.timers.push(setInterval(() => void this.checkHealth(), this.config.healthIntervalMs));
    if ([...this.shards.values()].some((s) => s.source.kind === 'dns')) {
      this.timers.push(setInterval(() => void this.refreshDns(), this.config.dnsIntervalMs));
    }
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    const server = this.config.createServer?.(handler) ?? createServer({ keepAliveTimeout: 65_000 }, handler);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.listenPort, this.config.listenHost, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  /** Stops timers, the listener and idle upstream connections. */
  /** Starts draining: `/readyz` answers 503 from now on while requests are still served. */
  public drain(): void {
    this.draining = true;
  }

  /** Whether `drain()` was called. */
  public isDraining(): boolean {
    return this.draining;
  }

  public async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.agent.destroy();
    const server = this.server;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let shardLabel = 'none';
    let status = 500;
    try {
      const url = new URL(req.url ?? '/', 'http://router');
      const path = url.pathname;
      if (path === '/livez') {
        status = 200;
        return sendJson(res, 200, { live: true });
      }
      if (path === '/readyz') {
        if (this.draining) {
          status = 503;
          return sendJson(res, 503, { ready: false, reason: 'draining: the router is shutting down' });
        }
        const missing = [...this.shards.values()].filter((s) => ![...s.members.values()].some((m) => m.healthy)).map((s) => s.name);
        status = missing.length === 0 ? 200 : 503;
        return sendJson(res, status, missing.length === 0 ? { ready: true } : { ready: false, reason: `no healthy member in shard(s) ${missing.join(', ')}` });
      }
      if (path === '/metrics') {
        status = 200;
        const text = this.metricsText();
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      if (path !== '/v1/kv' && !path.startsWith('/v1/kv/')) {
        status = 404;
        return sendError(res, new KvError(404, 'not_found', `no route for ${req.method} ${path}; the API is /v1/kv/<key>`));
      }
      const rawKey = path.slice('/v1/kv/'.length);
      if (rawKey === '' || url.searchParams.has('prefix')) {
        status = 400;
        return sendError(res, new KvError(400, 'cross_shard',
          `prefix listings span ${this.shards.size} shards and the router does not merge them; list each shard directly, or keep related keys in one shard`));
      }
      let key: string;
      try {
        key = decodeURIComponent(rawKey);
      } catch {
        status = 400;
        return sendError(res, new KvError(400, 'bad_encoding', `the key in ${path} is not valid percent-encoding`));
      }
      const body = await readBody(req, this.config.maxBodyBytes);
      if (body === undefined) {
        status = 413;
        return sendError(res, new KvError(413, 'value_too_large', `request body over ${this.config.maxBodyBytes} bytes (--max-body-bytes)`), { Connection: 'close' });
      }
      const shard = this.shards.get(this.ring.get(key)) as Shard;
      shardLabel = shard.name;
      const answer = await this.forward(shard, req, `${path}${url.search}`, body);
      status = answer.status;
      const headers: Record<string, string | string[]> = { 'X-HA-Shard': shard.name };
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      }
      headers['Content-Length'] = String(answer.body.length);
      res.writeHead(answer.status, headers);
      res.end(answer.body);
    } catch (err) {
      status = 500;
      if (!res.headersSent) sendError(res, internalError(err));
      else res.destroy();
    } finally {
      this.requests.inc({ shard: shardLabel, code: String(status) });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.duration.observe(seconds);
    }
  }

  /**
   * Sends the request to the shard's leader, following redirects and retrying other members.
   * Reads are retried after any failure. A write is retried only while every earlier attempt
   * surely did not apply (connection refused, a 307 from a follower, a 503 with outcome
   * `not_applied`): re-sending a write whose first attempt may have applied would apply it twice
   * (put v, another client's put w, put v again: a reader sees v, w, v), which no single put
   * explains, and a compare-and-swap (`?prev=`, `?prev_exist=`) would answer 412 for its own
   * write. Such a write is answered `503` with `outcome: unknown`, as the shard itself does, so
   * the client decides.
   */
  private async forward(shard: Shard, req: IncomingMessage, pathAndQuery: string, body: Buffer): Promise<Upstream> {
    const deadline = Date.now() + this.config.retryBudgetMs;
    const method = req.method ?? 'GET';
    const isRead = method === 'GET' || method === 'HEAD';
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    const tried = new Set<string>();
    let attempt = 0;
    let redirects = 0;
    // Members that failed to answer during this request: a redirect to one of them is stale.
    const unreachable = new Set<string>();
    let lastError = 'no member to try';
    let target = this.pickTarget(shard, tried);
    for (;;) {
      const remaining = deadline - Date.now();
      if (target === undefined || remaining <= 0) break;
      tried.add(target);
      try {
        const r = await this.send(`${target}${pathAndQuery}`, method, headers, body, Math.min(this.config.requestTimeoutMs, remaining));
        const location = r.headers.location;
        const redirectTo = r.status === 307 && typeof location === 'string' ? new URL(location, target).origin : undefined;
        if (redirectTo !== undefined && redirects < 5 && !unreachable.has(redirectTo)) {
          redirects++;
          this.redirects.inc({ shard: shard.name });
          shard.leader = redirectTo;
          target = redirectTo;
          tried.delete(redirectTo);
          continue;
        }
        if (redirectTo !== undefined) {
          // A follower that has not yet noticed its leader died points at it: an election in progress,
          // not an answer for the client (and a 307 surely did not apply). Back off and ask again.
          lastError = `${target} redirects to ${redirectTo}, which did not answer (election in progress?)`;
          if (shard.leader === redirectTo) shard.leader = undefined;
        } else if (r.status === 503 && (isRead || upstreamOutcome(r) === 'not_applied') && Date.now() < deadline) {
          // No leader yet (an election is running), or the member is stopping: the request
          // did not apply, so another try after a pause is safe.
          lastError = `${target} answered 503: ${r.body.toString('utf8').slice(0, 200)}`;
          if (shard.leader === target) shard.leader = undefined;
        } else {
          if (method !== 'GET' && r.status < 300) shard.leader = target;
          return r;
        }
      } catch (err) {
        const e = err as UpstreamError;
        lastError = `${target}: ${e.message}`;
        unreachable.add(target);
        if (shard.leader === target) shard.leader = undefined;
        if (e.ambiguous && !isRead) {
          return jsonAnswer(503, errorBody(new OutcomeUnknownError('outcome_unknown',
            `${lastError}; the ${method} reached shard ${shard.name} and may or may not take effect, so the router did not resend it`)));
        }
      }
      this.retries.inc({ shard: shard.name });
      await sleep(Math.min(backoffMs(attempt++), Math.max(0, deadline - Date.now())));
      target = this.pickTarget(shard, tried);
      if (target === undefined) {
        // Every member was tried once: start another round (the leader may be back).
        tried.clear();
        unreachable.clear();
        redirects = 0;
        target = this.pickTarget(shard, tried);
      }
    }
    // Every attempt so far surely did not apply (see above), so the write did not either.
    return jsonAnswer(503, errorBody(new UnavailableError('shard_unavailable',
      `shard ${shard.name}: no member answered within ${this.config.retryBudgetMs} ms (last: ${lastError})`)));
  }

  /** The cached leader, else a healthy member, else an ejected one; skipping those tried. */
  private pickTarget(shard: Shard, tried: Set<string>): string | undefined {
    if (shard.leader && !tried.has(shard.leader)) {
      const m = shard.members.get(shard.leader);
      if (!m || m.healthy) return shard.leader;
    }
    const members = [...shard.members.values()].filter((m) => !tried.has(m.url));
    const healthy = members.filter((m) => m.healthy);
    const pool = healthy.length > 0 ? healthy : members;
    return pool.length === 0 ? undefined : pool[Math.floor(Math.random() * pool.length)].url;
  }

  private send(url: string, method: string, headers: Record<string, string | string[]>, body: Buffer, timeoutMs: number): Promise<Upstream> {
    return new Promise((resolve, reject) => {
      let sent = false;
      const req = httpRequest(url, { method, agent: this.agent, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', (e) => {
          clearTimeout(timer);
          reject(new UpstreamError(e.message, true));
        });
      });
      req.on('finish', () => { sent = true; });
      const timer = setTimeout(() => req.destroy(new UpstreamError(`no answer within ${timeoutMs} ms`, true)), timeoutMs);
      req.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const refused = e.code === 'ECONNREFUSED' || e.code === 'EHOSTUNREACH' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN';
        reject(e instanceof UpstreamError ? e : new UpstreamError(e.message, sent && !refused));
      });
      req.end(body);
    });
  }

  private async checkHealth(): Promise<void> {
    const checks: Promise<void>[] = [];
    for (const shard of this.shards.values()) {
      for (const member of shard.members.values()) {
        checks.push((async () => {
          let ok = false;
          try {
            const r = await this.send(`${member.url}/readyz`, 'GET', {}, Buffer.alloc(0), Math.min(1000, this.config.healthIntervalMs));
            ok = r.status === 200;
          } catch {
            ok = false;
          }
          if (this.closed) return;
          if (ok) {
            member.failures = 0;
            member.passes++;
            if (!member.healthy && member.passes >= this.config.readmitAfter) member.healthy = true;
          } else {
            member.passes = 0;
            member.failures++;
            if (member.healthy && member.failures >= this.config.ejectAfter) {
              member.healthy = false;
              this.ejections.inc({ shard: shard.name });
              if (shard.leader === member.url) shard.leader = undefined;
            }
          }
        })());
      }
    }
    await Promise.all(checks);
  }

  private async refreshDns(): Promise<void> {
    await Promise.all([...this.shards.values()].map(async (shard) => {
      if (shard.source.kind !== 'dns') return;
      const { host, port } = shard.source;
      let addresses: string[];
      try {
        addresses = await this.resolve(host);
      } catch {
        return; // keep the last known members: a DNS hiccup must not empty a shard
      }
      const urls = addresses.map((a) => (a.includes(':') ? `http://[${a}]:${port}` : `http://${a}:${port}`));
      const next = new Map<string, Member>();
      // New members start unproven: ejected until their first passed check (readmitAfter applies).
      for (const url of urls) next.set(url, shard.members.get(url) ?? { url, healthy: shard.members.size === 0, failures: 0, passes: 0 });
      shard.members = next;
      if (shard.leader && !next.has(shard.leader)) shard.leader = undefined;
    }));
  }

  private metricsText(): string {
    return this.metrics.render();
  }

  /** Scrape-time gauges over the live shard table. */
  private registerGauges(): void {
    this.metrics.gaugeFamily('ha_router_member_healthy', '1 if the member passes its health checks.', () =>
      [...this.shards.values()].flatMap((shard) =>
        [...shard.members.values()].map((m) => [{ shard: shard.name, member: m.url }, m.healthy ? 1 : 0] as const)));
    this.metrics.gaugeFamily('ha_router_leader_known', '1 if the router has a cached leader for the shard.', () =>
      [...this.shards.values()].map((shard) => [{ shard: shard.name }, shard.leader ? 1 : 0] as const));
  }
}

/** 50 ms doubling to 1 s, with full jitter (AWS architecture blog, "Exponential Backoff and Jitter"). */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(1000, 50 * 2 ** attempt);
}

/**
 * The `outcome` a shard's 503 reports; `unknown` when the body does not say. `no_leader` is
 * `not_applied` by definition (docs/api.md), even where a member omits the field.
 */
function upstreamOutcome(r: Upstream): string {
  try {
    const body = JSON.parse(r.body.toString('utf8')) as { outcome?: unknown; error?: unknown };
    if (body.error === 'no_leader') return 'not_applied';
    return typeof body.outcome === 'string' ? body.outcome : 'unknown';
  } catch {
    return 'unknown';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function jsonAnswer(status: number, body: unknown): Upstream {
  return { status, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) };
}


/** Reads the body, or resolves undefined past `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
