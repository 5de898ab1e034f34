/**
 * etcd's simple tokens: every member learns a token when it applies the Authenticate entry that named it
 * (so a client may use it on any member), keeps it in memory only, and forgets it after `ttlMs` without use
 * (etcd's --auth-token-ttl, 300 s by default). A restart or a snapshot install forgets them all; clients
 * authenticate again on "invalid auth token", as they do against etcd. And etcd's JWT tokens ({@link JwtTokens}).
 */
import { constants as cryptoConstants, createPrivateKey, createPublicKey, KeyObject, sign, verify } from 'crypto';

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

/** etcd's `--auth-token jwt` sign methods. */
const JWT_ALGORITHMS: Record<string, { hash: string; kind: 'rsa' | 'rsa-pss' | 'ec' }> = {
  RS256: { hash: 'sha256', kind: 'rsa' },
  RS384: { hash: 'sha384', kind: 'rsa' },
  RS512: { hash: 'sha512', kind: 'rsa' },
  PS256: { hash: 'sha256', kind: 'rsa-pss' },
  PS384: { hash: 'sha384', kind: 'rsa-pss' },
  PS512: { hash: 'sha512', kind: 'rsa-pss' },
  ES256: { hash: 'sha256', kind: 'ec' },
  ES384: { hash: 'sha384', kind: 'ec' },
  ES512: { hash: 'sha512', kind: 'ec' },
};

/** What `--auth-token jwt,...` configures: the sign method, the keys (PEM) and the tokens' lifetime. */
export interface JwtOptions {
  readonly signMethod: string;
  readonly publicKey: string | Buffer;
  /** Without it the member verifies tokens but cannot issue them (etcd's verify-only mode). */
  readonly privateKey?: string | Buffer;
  readonly ttlMs: number;
}

/** The claims of a token this member issued or verified. */
export interface JwtClaims {
  readonly username: string;
  /** The auth revision the token was issued at: a later auth change makes it old (etcd's ErrAuthOldRevision). */
  readonly revision: number;
}

const b64url = (b: Buffer): string => b.toString('base64url');

/** The key types each kind of method signs with (an RSA-PSS key is for PS* only). */
const KEY_TYPES = { 'rsa': ['rsa'], 'rsa-pss': ['rsa', 'rsa-pss'], 'ec': ['ec'] } as const;

/**
 * Tokens already verified, with their claims. Verifying a signature costs 23 µs (RS256) to 58 µs (ES256) here, against
 * about 110 µs of grpc-js per call, and every call of an authenticated client carries the same token. Bounded: emptied
 * when full.
 */
const VERIFIED_CACHE_ENTRIES = 10_000;

/**
 * etcd's JWT tokens (`--auth-token jwt`): signed with the configured key, carrying `username`, `revision` and `exp` as
 * etcd's do, so any member holding the public key verifies any member's token, and tokens survive restarts and
 * snapshot installs (simple tokens do not). No state: nothing to learn from the log.
 */
export class JwtTokens {
  private readonly algorithm: { hash: string; kind: 'rsa' | 'rsa-pss' | 'ec' };
  private readonly publicKey: KeyObject;
  private readonly privateKey: KeyObject | undefined;
  private readonly verified = new Map<string, { readonly claims: JwtClaims; readonly exp: number }>();

  /** Throws, saying what is wrong, unless `options` name a known method and keys of its type. */
  constructor(private readonly options: JwtOptions, private readonly now: () => number = Date.now) {
    const algorithm = JWT_ALGORITHMS[options.signMethod];
    if (!algorithm) throw new Error(`sign-method=${options.signMethod} is not one of ${Object.keys(JWT_ALGORITHMS).join(', ')}`);
    this.algorithm = algorithm;
    this.publicKey = createPublicKey(options.publicKey);
    this.privateKey = options.privateKey === undefined ? undefined : createPrivateKey(options.privateKey);
    const allowed: readonly string[] = KEY_TYPES[algorithm.kind];
    for (const key of [this.publicKey, this.privateKey]) {
      if (key && !allowed.includes(key.asymmetricKeyType ?? '')) {
        throw new Error(`sign-method=${options.signMethod} needs ${allowed.map((t) => t.toUpperCase()).join(' or ')} keys, not ${key.asymmetricKeyType}`);
      }
    }
  }

  /** Whether this member can issue tokens (it has the private key). */
  get canSign(): boolean { return this.privateKey !== undefined; }

  /** A token for `username` at auth revision `revision`, valid for the configured TTL. */
  sign(username: string, revision: number): string {
    if (!this.privateKey) throw new Error('no priv-key: this member only verifies JWT tokens');
    const header = b64url(Buffer.from(JSON.stringify({ alg: this.options.signMethod, typ: 'JWT' })));
    const exp = Math.floor((this.now() + this.options.ttlMs) / 1000);
    const payload = b64url(Buffer.from(JSON.stringify({ exp, revision, username })));
    const signature = sign(this.algorithm.hash, Buffer.from(`${header}.${payload}`), this.keyOptions(this.privateKey));
    return `${header}.${payload}.${b64url(signature)}`;
  }

  /** The claims of a valid, unexpired token signed with this method and key; undefined for anything else. */
  verify(token: string): JwtClaims | undefined {
    const known = this.verified.get(token) ?? this.verifySignature(token);
    if (!known) return undefined;
    if (known.exp * 1000 <= this.now()) {
      this.verified.delete(token);
      return undefined;
    }
    if (!this.verified.has(token)) {
      if (this.verified.size >= VERIFIED_CACHE_ENTRIES) this.verified.clear();
      this.verified.set(token, known);
    }
    return known.claims;
  }

  /** A well-formed token signed with this method and key: its claims and expiry (seconds), else undefined. */
  private verifySignature(token: string): { claims: JwtClaims; exp: number } | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    try {
      const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as { alg?: unknown };
      if (header.alg !== this.options.signMethod) return undefined;
      const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
      if (!verify(this.algorithm.hash, signed, this.keyOptions(this.publicKey), Buffer.from(parts[2], 'base64url'))) return undefined;
      const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as Record<string, unknown>;
      const { username, revision, exp } = claims;
      if (typeof username !== 'string' || typeof revision !== 'number' || typeof exp !== 'number') return undefined;
      return { claims: { username, revision }, exp };
    } catch {
      return undefined; // not base64url JSON, or a signature of the wrong size
    }
  }

  private keyOptions(key: KeyObject): KeyObject | { key: KeyObject; padding?: number; saltLength?: number; dsaEncoding?: 'ieee-p1363' } {
    if (this.algorithm.kind === 'rsa-pss') {
      return { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: cryptoConstants.RSA_PSS_SALTLEN_DIGEST };
    }
    // JWS carries ECDSA signatures as r || s, not DER.
    if (this.algorithm.kind === 'ec') return { key, dsaEncoding: 'ieee-p1363' };
    return key;
  }
}
