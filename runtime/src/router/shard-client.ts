/**
 * The migrator's client for one shard: finds the leader (follows 307s), and retries every
 * request, writes included, until it answers or the deadline passes. Resending a write is safe
 * here because everything the migrator writes is idempotent or verified: puts of a known value
 * to a slot no client writes, deletes, and compare-and-swaps of the shard record whose 412 the
 * caller re-reads (runtime/src/router/migrator.ts).
 */
import { promises as dns } from 'node:dns';
import { Agent, request as httpRequest } from 'node:http';
import { ShardSource } from './config';

/** An answer with its body read. */
export interface ShardAnswer {
  readonly status: number;
  readonly body: Buffer;
}

/** See the module comment. */
export class ShardClient {
  private leader: string | undefined;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });

  constructor(readonly name: string, private readonly source: ShardSource, private readonly timeoutMs = 15_000) {}

  /** Sends until a final answer (not a 307, not a retryable 503); throws after `timeoutMs`. */
  async request(method: string, pathAndQuery: string, body?: Buffer, headers: Record<string, string> = {}): Promise<ShardAnswer> {
    const deadline = Date.now() + this.timeoutMs;
    let last = 'no member tried';
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      const members = await this.members();
      const target = this.leader ?? members[attempt % members.length];
      try {
        const r = await send(this.agent, `${target}${pathAndQuery}`, method, body, headers, Math.min(5000, deadline - Date.now()));
        if (r.status === 307 && typeof r.location === 'string') {
          this.leader = new URL(r.location, target).origin;
          continue;
        }
        if (r.status === 503) {
          last = `${target}: 503 ${r.body.toString('utf8').slice(0, 200)}`;
          this.leader = undefined;
        } else {
          if (method !== 'GET') this.leader = target;
          return r;
        }
      } catch (e) {
        last = `${target}: ${(e as Error).message}`;
        if (this.leader === target) this.leader = undefined;
      }
      await new Promise((r) => setTimeout(r, Math.min(500, 25 * 2 ** Math.min(attempt, 5))));
    }
    throw new Error(`shard ${this.name}: no answer within ${this.timeoutMs} ms (last: ${last})`);
  }

  close(): void {
    this.agent.destroy();
  }

  private async members(): Promise<string[]> {
    if (this.source.kind === 'static') return this.source.urls;
    const { host, port } = this.source;
    const addresses = (await dns.lookup(host, { all: true })).map((a) => a.address);
    if (addresses.length === 0) throw new Error(`shard ${this.name}: ${host} resolves to no address`);
    return addresses.map((a) => (a.includes(':') ? `http://[${a}]:${port}` : `http://${a}:${port}`));
  }
}

function send(agent: Agent, url: string, method: string, body: Buffer | undefined, headers: Record<string, string>,
  timeoutMs: number): Promise<ShardAnswer & { location?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, agent, headers: { ...headers, 'content-length': String(body?.length ?? 0) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const location = res.headers.location;
        resolve({ status: res.statusCode ?? 502, body: Buffer.concat(chunks), location: typeof location === 'string' ? location : undefined });
      });
      res.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    req.end(body);
  });
}
