/**
 * etcd's simple tokens: every member learns a token when it applies the Authenticate entry that named it
 * (so a client may use it on any member), keeps it in memory only, and forgets it after `ttlMs` without use
 * (etcd's --auth-token-ttl, 300 s by default). A restart or a snapshot install forgets them all; clients
 * authenticate again on "invalid auth token", as they do against etcd.
 */

/** See the file comment. */
export class SimpleTokens {
  private readonly tokens = new Map<string, { user: string; expires: number }>();
  private nextSweep = 0;

  constructor(readonly ttlMs = 300_000, private readonly now: () => number = Date.now) {}

  get size(): number { return this.tokens.size; }

  assign(token: string, user: string): void {
    const now = this.now();
    this.sweep(now);
    this.tokens.set(token, { user, expires: now + this.ttlMs });
  }

  /** The user a live token names (its TTL starts again), or undefined. */
  user(token: string): string | undefined {
    const t = this.tokens.get(token);
    if (!t) return undefined;
    const now = this.now();
    if (t.expires <= now) {
      this.tokens.delete(token);
      return undefined;
    }
    t.expires = now + this.ttlMs;
    return t.user;
  }

  invalidateUser(user: string): void {
    for (const [token, t] of this.tokens) if (t.user === user) this.tokens.delete(token);
  }

  clear(): void {
    this.tokens.clear();
  }

  /** Drops expired tokens at most once per TTL, so unused ones cannot pile up. */
  private sweep(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + this.ttlMs;
    for (const [token, t] of this.tokens) if (t.expires <= now) this.tokens.delete(token);
  }
}
