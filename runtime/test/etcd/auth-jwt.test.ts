/**
 * etcd's JWT auth tokens (`--auth-token jwt,pub-key=...,priv-key=...,sign-method=RS256,ttl=...`), with the same
 * expectations against the runtime and etcd 3.4: Authenticate returns a signed token carrying `username`, `revision`
 * and `exp`; every member accepts it, also after a restart; a tampered token is "invalid auth token"; any later auth
 * change makes it "revision of auth store is old" (clients authenticate again), while etcdctl keeps working.
 * Ports 24880-24885 (runtime) and 24890-24895 (etcd).
 */
import * as assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { etcdctl, gateway, startEtcd, startRuntime, Target } from './etcd-clients';

const keys = mkdtempSync(join(tmpdir(), 'ha-jwt-'));
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
writeFileSync(join(keys, 'jwt.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
writeFileSync(join(keys, 'jwt.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
const AUTH_TOKEN = `jwt,pub-key=${join(keys, 'jwt.pub')},priv-key=${join(keys, 'jwt.key')},sign-method=RS256,ttl=2m`;

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const part = (token: string, i: number): any => JSON.parse(Buffer.from(token.split('.')[i], 'base64url').toString());

const TARGETS: [string, () => Promise<Target | undefined>][] = [
  ['runtime', () => startRuntime(24880, ['--auth-token', AUTH_TOKEN])],
  ['etcd 3.4', () => startEtcd(24890, ['--auth-token', AUTH_TOKEN])],
];

after(() => rmSync(keys, { recursive: true, force: true }));

for (const [label, start] of TARGETS) {
  describe(`JWT auth tokens against ${label}`, () => {
    let t: Target | undefined;
    before(async () => { t = await start(); }, { timeout: 40_000 });
    after(async () => { await t?.close(); });

    it('signed tokens work on every member and after a restart, until the auth state changes', { timeout: 60_000 }, async (ctx) => {
      if (!t) { ctx.skip('etcd is not installed'); return; }
      const ok = async (args: string[]): Promise<string> => {
        const r = await etcdctl(t!.endpoints, args);
        assert.equal(r.code, 0, `etcdctl ${args.join(' ')}: ${r.stderr}`);
        return r.stdout;
      };
      await ok(['user', 'add', 'root:rootpw']);
      await ok(['auth', 'enable']);
      const follower = (t.leaderIndex + 1) % 3;
      const auth = await gateway(t.endpoints[follower], '/auth/authenticate', { name: 'root', password: 'rootpw' });
      assert.equal(auth.status, 200, JSON.stringify(auth.body));
      const token = auth.body.token as string;
      assert.deepEqual(part(token, 0), { alg: 'RS256', typ: 'JWT' });
      const claims = part(token, 1);
      assert.equal(claims.username, 'root');
      assert.equal(typeof claims.revision, 'number');
      const ttl = claims.exp - Date.now() / 1000;
      assert.ok(ttl > 100 && ttl <= 121, `exp about 2 minutes ahead: ${ttl}`);

      for (const ep of t.endpoints) {
        const put = await gateway(ep, '/kv/put', { key: b64(`jwt/${ep}`), value: b64('v') }, token);
        assert.equal(put.status, 200, `${ep}: ${JSON.stringify(put.body)}`);
      }
      const [h, p, s] = token.split('.');
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, username: 'someone' })).toString('base64url')}.${s}`;
      for (const bad of [forged, `${h}.${p}.${s.slice(0, -4)}AAAA`, 'not-a-token']) {
        const refused = await gateway(t.endpoints[0], '/kv/range', { key: b64('jwt/') }, bad);
        assert.equal(refused.body.message ?? refused.body.error, 'etcdserver: invalid auth token', bad);
      }

      // A restarted member verifies the same token: nothing about it was kept in memory.
      await t.restart(follower);
      let read: { status: number; body: any } | undefined;
      for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
        // Linearizable: a member that just restarted answers once it caught up.
        read = await gateway(t.endpoints[follower], '/kv/range', { key: b64('jwt/'), range_end: b64('jwt0') }, token)
          .catch(() => undefined);
        if (read?.status === 200) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(read?.status, 200, `after the restart: ${JSON.stringify(read?.body)}`);
      assert.equal(read!.body.count, '3');

      // Any auth change moves the auth revision: the token is old, a new one works, and etcdctl (which
      // authenticates for each command) never notices.
      await ok(['user', 'add', 'bob:bobpw', '--user', 'root:rootpw']);
      const old = await gateway(t.endpoints[t.leaderIndex], '/kv/range', { key: b64('jwt/') }, token);
      assert.equal(old.body.message ?? old.body.error, 'etcdserver: revision of auth store is old');
      const again = await gateway(t.endpoints[0], '/auth/authenticate', { name: 'root', password: 'rootpw' });
      assert.ok(part(again.body.token, 1).revision > claims.revision);
      assert.equal((await gateway(t.endpoints[0], '/kv/range', { key: b64('jwt/') }, again.body.token)).status, 200);
      assert.match(await ok(['get', 'jwt/', '--prefix', '--keys-only', '--user', 'root:rootpw']), /jwt\//);
    });
  });
}
