/**
 * A small HTTP/1.1 keep-alive client for the KV API, used by the tests, the fault-test workload and
 * the benchmark. It follows a follower's 307 to the leader, bounds every request in time, and never
 * retries on its own: the caller decides (and records) what an error means.
 */
import { Agent, request as httpRequest } from 'http';

/** A response, with the body fully read. */
export interface KvResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  /** The URL that finally answered (after redirects). */
  readonly url: string;
}

/** Options of one request. */
export interface KvRequestOptions {
  readonly method?: string;
  readonly body?: Uint8Array | string;
  readonly timeoutMs?: number;
  /** Follow this many 307 redirects. @default 3 */
  readonly maxRedirects?: number;
  readonly agent?: Agent;
  readonly headers?: Record<string, string>;
}

/** A shared keep-alive agent (one connection per concurrent request, reused). */
export function keepAliveAgent(maxSockets = 256): Agent {
  return new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

/** Sends one request; rejects on a network error or a timeout (the outcome is then unknown). */
export async function kvRequest(url: string, options: KvRequestOptions = {}): Promise<KvResponse> {
  let current = url;
  for (let hop = 0; ; hop++) {
    const res = await once(current, options);
    const location = res.headers.location;
    if (res.status === 307 && typeof location === 'string' && hop < (options.maxRedirects ?? 3)) {
      current = new URL(location, current).toString();
      continue;
    }
    return res;
  }
}

function once(url: string, options: KvRequestOptions): Promise<KvResponse> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : typeof options.body === 'string' ? Buffer.from(options.body) : options.body;
    const req = httpRequest(url, {
      method: options.method ?? 'GET',
      agent: options.agent,
      headers: { ...(body ? { 'Content-Length': String(body.length), 'Content-Type': 'application/octet-stream' } : {}), ...options.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), url }); });
      res.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
    const timer = setTimeout(() => req.destroy(new Error(`timeout after ${options.timeoutMs} ms: ${options.method ?? 'GET'} ${url}`)),
      options.timeoutMs ?? 5000);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    req.end(body);
  });
}

/** `/v1/kv/<key>` with the key percent-encoded. */
export function keyUrl(base: string, key: string, query = ''): string {
  return `${base}/v1/kv/${encodeURIComponent(key)}${query ? `?${query}` : ''}`;
}
