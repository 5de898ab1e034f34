/**
 * The router: a stateless HTTP front for several Raft key-value shards. Each `/v1/kv/<key>` goes
 * to the shard that owns the key's slot in the slot map (runtime/src/shardmap; the map is read
 * from the shards themselves, highest epoch wins, and re-read when a shard answers
 * `wrong_shard`), to that shard's leader: learned from the 307 a follower answers with, cached,
 * forgotten when it stops answering. Failed attempts are retried on other members with bounded,
 * jittered exponential backoff within a per-request budget: reads always, writes only while no
 * attempt may have applied (see `forward`). Every member is health-checked (`/readyz`); a member
 * failing `ejectAfter` checks in a row is ejected (tried last), and readmitted after
 * `readmitAfter` passes. Prefix listings are merged from every shard (`listAcrossShards`).
 */
import { promises as dns } from 'node:dns';
import { Agent, createServer, IncomingHttpHeaders, IncomingMessage, request as httpRequest, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { RouterConfig, ShardSource } from './config';
import { MapReader, sourceOfSpec, specOfSource } from './map-reader';
import { errorBody, internalError, KvError, OutcomeUnknownError, sendError, sendJson, UnavailableError } from '../errors';
import { MetricsRegistry, registerProcessMetrics } from '../observability/metrics';
import { isReserved, RECORD_KEY, ShardMap, slotCounts, slotOf } from '../shardmap/map';

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

// x-ha-migration: only the migrator may read and write slots a shard does not serve (api/http-v1.ts).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length', 'upgrade', 'proxy-connection', 'te', 'trailer', 'x-ha-migration']);
/**
 * A write is not sent with less of the retry budget left than this: a timed-out write may have applied, so an attempt
 * too short to be answered would turn "surely not applied" into "unknown" for nothing (CI saw it on a loaded machine).
 */
const MIN_WRITE_ATTEMPT_MS = 200;
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The router service. `start()` listens; `close()` stops listening, timers and connections. */
export class Router {
  private readonly shards = new Map<string, Shard>();
  private readonly mapReader: MapReader;
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
  private readonly wrongShard = this.metrics.counter('ha_router_wrong_shard_total', 'Requests a shard refused as not its slot (the router then re-reads the slot map).');

  constructor(private readonly config: RouterConfig, private readonly resolve: Resolver = defaultResolver) {
    registerProcessMetrics(this.metrics);
    for (const [name, source] of config.shards) this.addShard(name, source);
    this.mapReader = new MapReader({
      configured: () => [...config.shards].map(([name, source]) => ({ name, spec: specOfSource(source) })),
      readRecord: (name) => this.readRecord(name),
      createRecord: (name, text) => this.createRecord(name, text),
      learnShard: (name, spec) => { if (!this.shards.has(name)) this.addShard(name, sourceOfSpec(spec)); },
    });
    this.registerGauges();
  }

  /** The shard that owns `key` in the current slot map. Throws before the map is known. */
  public shardFor(key: string): string {
    const map = this.mapReader.map;
    if (!map) throw new Error('the router has no slot map yet (start() reads it)');
    return map.owners[slotOf(key)];
  }

  /** The slot map the router routes by (undefined until one is read). */
  public get shardMap(): ShardMap | undefined {
    return this.mapReader.map;
  }

  /** Re-reads the slot map from the shards (also done on `wrong_shard` and every --map-interval-ms). */
  public refreshMap(): Promise<void> {
    return this.mapReader.refresh();
  }

  /** Resolves DNS shards once, reads the slot map, starts health checks and listens; resolves to the bound port. */
  public async start(): Promise<number> {
    await this.refreshDns();
    await this.checkHealth();
    // A fresh store gets its first map here; without one every key answers 503 until a refresh finds it.
    // Bounded: a router whose shards are all down still starts (and says why on /readyz).
    await Promise.race([this.mapReader.refresh().catch(() => undefined), sleep(2000)]);
    this.timers.push(setInterval(() => void this.checkHealth(), this.config.healthIntervalMs));
    this.timers.push(setInterval(() => void this.mapReader.refresh().catch(() => undefined), this.config.mapIntervalMs));
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

  /** Starts draining: `/readyz` answers 503 from now on while requests are still served. */
  public drain(): void {
    this.draining = true;
  }

  /** Whether `drain()` was called. */
  public isDraining(): boolean {
    return this.draining;
  }

  /** Stops timers, the listener and idle upstream connections. */
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
        if (!this.mapReader.map) {
          status = 503;
          return sendJson(res, 503, { ready: false, reason: `no slot map yet: ${this.mapReader.lastError}` });
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
      if (path === '/v1/shardmap') {
        status = 200;
        return sendJson(res, 200, this.mapStatus());
      }
      if (path !== '/v1/kv' && !path.startsWith('/v1/kv/')) {
        status = 404;
        return sendError(res, new KvError(404, 'not_found', `no route for ${req.method} ${path}; the API is /v1/kv/<key>`));
      }
      const rawKey = path.slice('/v1/kv/'.length);
      if (rawKey === '' || url.searchParams.has('prefix')) {
        shardLabel = 'all';
        const answer = await this.listAcrossShards(req.method ?? 'GET', url.search.slice(1));
        status = answer.status;
        res.writeHead(answer.status, { 'Content-Type': 'application/json', 'Content-Length': String(answer.body.length) });
        res.end(answer.body);
        return;
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
      if (isReserved(key)) {
        status = 400;
        return sendError(res, new KvError(400, 'reserved_key', `keys under '${RECORD_KEY.split('/')[0]}/' are the store's own (the slot map); choose another key`));
      }
      const { shard, answer } = await this.route(key, req.method ?? 'GET', req.headers, `${path}${url.search}`, body);
      shardLabel = shard;
      status = answer.status;
      const headers: Record<string, string | string[]> = { 'X-HA-Shard': shard };
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
   * Sends a key's request to the shard that owns its slot. A `wrong_shard` answer (the shard's
   * map is newer, or older, than ours: nothing was read or written) re-reads the map and tries
   * again within the retry budget, so a stale map costs a refresh, never a wrong answer.
   */
  private async route(key: string, method: string, reqHeaders: IncomingHttpHeaders, pathAndQuery: string,
    body: Buffer): Promise<{ shard: string; answer: Upstream }> {
    const deadline = Date.now() + this.config.retryBudgetMs;
    const slot = slotOf(key);
    for (let attempt = 0; ; attempt++) {
      const map = this.mapReader.map ?? (await this.mapReader.refresh().catch(() => undefined), this.mapReader.map);
      if (!map) {
        return { shard: 'none', answer: jsonAnswer(503, errorBody(new UnavailableError('no_shard_map', `no slot map could be read from the shards: ${this.mapReader.lastError}`))) };
      }
      const shard = this.shards.get(map.owners[slot]);
      if (!shard) {
        return { shard: 'none', answer: jsonAnswer(503, errorBody(new UnavailableError('no_shard_map', `slot ${slot} belongs to shard '${map.owners[slot]}', whose members the map does not name`))) };
      }
      const answer = await this.forward(shard, method, reqHeaders, pathAndQuery, body, deadline);
      const refused = answer.status === 421 ? errorFields(answer) : undefined;
      if (refused?.error !== 'wrong_shard' || Date.now() >= deadline) return { shard: shard.name, answer };
      this.wrongShard.inc({ shard: shard.name });
      // A newer epoch than ours: re-read now. Ours or older: that shard has not applied the switch yet (milliseconds).
      if (typeof refused.epoch === 'number' && refused.epoch > map.epoch) await this.mapReader.refresh().catch(() => undefined);
      else await sleep(Math.min(backoffMs(attempt), Math.max(0, deadline - Date.now())));
      if (attempt % 4 === 3) await this.mapReader.refresh().catch(() => undefined);
    }
  }

  /**
   * A prefix listing over every shard that owns slots: each returns its first `limit` keys after
   * `after`; the merge keeps the first `limit` of their union, and `more` is true when any shard
   * had more or the union is longer. A slot switches owner between two answers only if their
   * map epochs differ, so such a listing is retried (it would miss or repeat that slot's keys).
   */
  private async listAcrossShards(method: string, rawQuery: string): Promise<Upstream> {
    if (method !== 'GET') return jsonAnswer(405, errorBody(new KvError(405, 'method_not_allowed', `${method} is not allowed on a listing; use GET`)));
    // The raw query goes to the shards as the client wrote it ('+' is a plus on a member, not a space).
    const params = new Map(rawQuery.split('&').filter((p) => p !== '').map((p) => [p.split('=')[0], p.includes('=') ? p.slice(p.indexOf('=') + 1) : ''] as const));
    if (params.has('slot')) return jsonAnswer(400, errorBody(new KvError(400, 'bad_query', 'slot= listings are for the resharding migrator, on a member')));
    const rawPrefix = params.get('prefix');
    if (rawPrefix === undefined) return jsonAnswer(400, errorBody(new KvError(400, 'bad_key', 'the key is empty: use /v1/kv/<key>, or /v1/kv/?prefix=P to list')));
    let prefix: string;
    try {
      prefix = decodeURIComponent(rawPrefix);
    } catch {
      return jsonAnswer(400, errorBody(new KvError(400, 'bad_encoding', `prefix '${rawPrefix}' is not valid percent-encoding`)));
    }
    if (isReserved(prefix)) return jsonAnswer(400, errorBody(new KvError(400, 'reserved_key', 'keys under __ha/ are the store\'s own')));
    const deadline = Date.now() + this.config.retryBudgetMs;
    for (let attempt = 0; ; attempt++) {
      const map = this.mapReader.map;
      if (!map) return jsonAnswer(503, errorBody(new UnavailableError('no_shard_map', `no slot map could be read from the shards: ${this.mapReader.lastError}`)));
      const owners = [...slotCounts(map.owners).keys()].map((n) => this.shards.get(n)).filter((s): s is Shard => s !== undefined);
      const answers = await Promise.all(owners.map((s) => this.forward(s, 'GET', {}, `/v1/kv/?${rawQuery}`, Buffer.alloc(0), deadline)));
      const failed = answers.find((a) => a.status !== 200);
      if (failed) return failed;
      const parts = answers.map((a) => JSON.parse(a.body.toString('utf8')) as { items: { key: string; value: string }[]; more: boolean; epoch?: number });
      const epochs = new Set(parts.map((p) => p.epoch));
      if (epochs.size > 1 && Date.now() < deadline) {
        await sleep(backoffMs(attempt));
        await this.mapReader.refresh().catch(() => undefined);
        continue;
      }
      const limit = Number(params.get('limit') ?? Infinity);
      const byKey = new Map<string, string>();
      for (const p of parts) for (const item of p.items) byKey.set(item.key, item.value);
      const keys = [...byKey.keys()].sort();
      const items = keys.slice(0, limit).map((key) => ({ key, value: byKey.get(key) }));
      const more = parts.some((p) => p.more) || keys.length > limit;
      return jsonAnswer(200, { items, more, epoch: [...epochs][0] ?? map.epoch, shards: owners.length });
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
  private async forward(shard: Shard, method: string, reqHeaders: IncomingHttpHeaders, pathAndQuery: string, body: Buffer,
    deadline = Date.now() + this.config.retryBudgetMs): Promise<Upstream> {
    const isRead = method === 'GET' || method === 'HEAD';
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(reqHeaders)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    const tried = new Set<string>();
    let attempt = 0;
    let redirects = 0;
    // Members that failed to answer during this request: a redirect to one of them is stale.
    const unreachable = new Set<string>();
    let lastError = 'no member to try';
    let target = this.pickTarget(shard, tried);
    for (;;) {
      const remaining = deadline - Date.now();
      if (target === undefined || remaining <= 0 || (!isRead && attempt > 0 && remaining < MIN_WRITE_ATTEMPT_MS)) break;
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
          // A frozen slot is the leader saying "a moment": keep going to it.
          if (shard.leader === target && errorFields(r)?.error !== 'slot_frozen') shard.leader = undefined;
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
      if (shard.leader !== undefined) tried.delete(shard.leader);
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

  private addShard(name: string, source: ShardSource): void {
    const members = new Map<string, Member>();
    if (source.kind === 'static') for (const url of source.urls) members.set(url, { url, healthy: true, failures: 0, passes: 0 });
    this.shards.set(name, { name, source, members });
    // Every shard's series exists from the start, so a dashboard sees 0 rather than nothing.
    for (const c of [this.retries, this.redirects, this.ejections, this.wrongShard]) c.inc({ shard: name }, 0);
    if (source.kind === 'dns' && this.timers.length > 0) void this.refreshDns();
  }

  /** A shard's record (text), undefined when it has none; throws when the shard does not answer. */
  private async readRecord(name: string): Promise<string | undefined> {
    const shard = this.shards.get(name);
    if (!shard) throw new Error(`unknown shard ${name}`);
    const r = await this.forward(shard, 'GET', {}, `/v1/kv/${encodeURIComponent(RECORD_KEY)}`, Buffer.alloc(0),
      Date.now() + Math.min(this.config.retryBudgetMs, 3000));
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`shard ${name}: reading the slot map answered ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
    return r.body.toString('utf8');
  }

  /** Creates a shard's record if it has none; false when one exists already. */
  private async createRecord(name: string, text: string): Promise<boolean> {
    const shard = this.shards.get(name) as Shard;
    const r = await this.forward(shard, 'PUT', {}, `/v1/kv/${encodeURIComponent(RECORD_KEY)}?prev_exist=false`, Buffer.from(text));
    if (r.status === 412) return false;
    if (r.status !== 200) throw new Error(`shard ${name}: creating the slot map answered ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
    return true;
  }

  /** `/v1/shardmap`: the map in force, slots per shard, and the migration in progress (slots still to move). */
  private mapStatus(): Record<string, unknown> {
    const map = this.mapReader.map;
    if (!map) return { epoch: null, error: this.mapReader.lastError };
    const progress = this.mapReader.migration();
    return {
      epoch: map.epoch,
      slots: Object.fromEntries(slotCounts(map.owners)),
      shards: map.shards,
      migration: progress ?? null,
      refreshedAt: new Date(this.mapReader.refreshedAt).toISOString(),
    };
  }

  /** Scrape-time gauges over the live shard table. */
  private registerGauges(): void {
    this.metrics.gaugeFamily('ha_router_member_healthy', '1 if the member passes its health checks.', () =>
      [...this.shards.values()].flatMap((shard) =>
        [...shard.members.values()].map((m) => [{ shard: shard.name, member: m.url }, m.healthy ? 1 : 0] as const)));
    this.metrics.gauge('ha_router_shardmap_epoch', 'Epoch of the slot map the router routes by (0 before one is read).', () => this.mapReader.map?.epoch ?? 0);
    this.metrics.gaugeFamily('ha_router_slots', 'Slots each shard owns in the router\'s slot map.', () =>
      [...slotCounts(this.mapReader.map?.owners ?? []).entries()].map(([shard, n]) => [{ shard }, n] as const));
    this.metrics.gauge('ha_router_slots_to_move', 'Slots a running migration has yet to move (0 when none runs).', () => this.mapReader.migration()?.remaining ?? 0);
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

/** The JSON error body of an upstream answer, if it is one. */
function errorFields(r: Upstream): { error?: unknown; epoch?: unknown } | undefined {
  try {
    return JSON.parse(r.body.toString('utf8')) as { error?: unknown; epoch?: unknown };
  } catch {
    return undefined;
  }
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
