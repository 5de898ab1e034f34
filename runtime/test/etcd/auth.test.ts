/**
 * etcd's authentication through the etcd v3 API: etcdctl 3.4 (gRPC) and the JSON gateway against a
 * three-member runtime cluster, and the same suite against real etcd 3.4, so every expectation is etcd's
 * behaviour (ports 24200-24205 and 24210-24215). The tests run in order: they enable auth, use it, disable it.
 */
import * as assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { etcdctl, gateway, startEtcd, startRuntime, Target } from './etcd-clients';
import { etcdPackageDefinition } from '../../src/api/etcd/proto';
import { testsNeeding } from '../support/prerequisite';

const TARGETS: [string, () => Promise<Target | undefined>][] = [
  ['runtime', () => startRuntime(24200)],
  ['etcd 3.4', () => startEtcd(24210)],
];

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** A raw gRPC Range with whatever metadata we like (etcdctl always sends a valid token). */
function grpcRange(endpoint: string, key: string, metadata: Record<string, string>): Promise<{ code: number; details: string } | 'ok'> {
  const pkg = grpc.loadPackageDefinition(etcdPackageDefinition()).etcdserverpb as grpc.GrpcObject;
  const KV = pkg.KV as grpc.ServiceClientConstructor;
  const client = new KV(endpoint, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve) => {
    (client as any).Range({ key: Buffer.from(key) }, md, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null) => {
      client.close();
      resolve(err ? { code: err.code, details: err.details } : 'ok');
    });
  });
}

for (const [label, start] of TARGETS) {
  describe(`etcd auth against ${label}`, () => {
    let t: Target | undefined;
    let all: string[];
    let follower: string[];
    const run = (args: string[], input?: string, endpoints = all): ReturnType<typeof etcdctl> => etcdctl(endpoints, args, { input });
    const ok = async (args: string[], input?: string, endpoints = all): Promise<string> => {
      const r = await run(args, input, endpoints);
      assert.equal(r.code, 0, `etcdctl ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
      return r.stdout;
    };
    /** etcdctl fails with exactly etcd's message. */
    const refused = async (args: string[], message: string, endpoints = all, input?: string): Promise<void> => {
      const r = await run(args, input, endpoints);
      assert.notEqual(r.code, 0, `etcdctl ${args.join(' ')} should have failed: ${r.stdout}`);
      assert.match(r.stderr, new RegExp(`Error: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n?$`), `etcdctl ${args.join(' ')}: ${r.stderr}`);
    };
    const root = ['--user', 'root:rootpw'];

    before(async () => {
      t = await start();
      if (!t) return;
      all = t.endpoints;
      follower = [t.endpoints[(t.leaderIndex + 1) % 3]];
    }, { timeout: 40_000 });
    after(async () => { await t?.close(); });

    const it = testsNeeding(() => t, 'etcd is not installed', 60_000);

    it('auth enable without a root user is refused; with one, etcdctl grants it the root role and enables', async () => {
      await refused(['auth', 'enable'], 'etcdserver: root user does not exist');
      assert.equal(await ok(['user', 'add', 'root:rootpw']), 'User root created\n');
      assert.equal(await ok(['auth', 'enable']), 'Authentication Enabled\n');
      assert.equal(await ok(['user', 'get', 'root', ...root]), 'User: root\nRoles: root\n');
    });

    it('without credentials every KV call is refused; root may do anything, through any member', async () => {
      await refused(['get', 'k'], 'etcdserver: user name is empty');
      await refused(['put', 'k', 'v'], 'etcdserver: user name is empty');
      await refused(['put', 'k', 'v', '--user', 'root:wrong'], 'etcdserver: authentication failed, invalid user ID or password');
      await refused(['put', 'k', 'v', '--user', 'nobody:x'], 'etcdserver: authentication failed, invalid user ID or password');
      assert.equal(await ok(['put', 'k', 'v', ...root], undefined, follower), 'OK\n');
      assert.equal(await ok(['get', 'k', '--print-value-only', ...root], undefined, follower), 'v\n');
      assert.equal(await ok(['del', 'k', ...root]), '1\n');
      await refused(['user', 'list'], 'etcdserver: user name is empty');
    });

    it('a role with READ on a prefix: its user reads the prefix, cannot write it or read outside it', async () => {
      assert.equal(await ok(['role', 'add', 'reader', ...root]), 'Role reader created\n');
      assert.equal(await ok(['role', 'grant-permission', 'reader', 'read', 'app/', '--prefix', ...root]), 'Role reader updated\n');
      assert.equal(await ok(['user', 'add', 'alice:alicepw', ...root]), 'User alice created\n');
      assert.equal(await ok(['user', 'grant-role', 'alice', 'reader', ...root]), 'Role reader is granted to user alice\n');
      await ok(['put', 'app/x', '1', ...root]);
      await ok(['put', 'other', '2', ...root]);
      const alice = ['--user', 'alice:alicepw'];
      assert.equal(await ok(['get', 'app/x', '--print-value-only', ...alice], undefined, follower), '1\n');
      assert.equal(await ok(['get', 'app/', '--prefix', '--keys-only', ...alice]), 'app/x\n\n');
      await refused(['put', 'app/x', '2', ...alice], 'etcdserver: permission denied');
      // Forwarded from a follower, the write keeps alice's identity: the leader refuses it too.
      await refused(['put', 'app/x', '2', ...alice], 'etcdserver: permission denied', follower);
      await refused(['get', 'other', ...alice], 'etcdserver: permission denied');
      await refused(['get', 'app', '--prefix', ...alice], 'etcdserver: permission denied');
      await refused(['del', 'app/x', ...alice], 'etcdserver: permission denied');
      // A txn comparing a key outside her range, or writing inside it, is refused as a whole.
      await refused(['txn', '-i', ...alice], 'etcdserver: permission denied', all, 'value("other") = "2"\n\nget app/x\n\n\n');
      await refused(['txn', '-i', ...alice], 'etcdserver: permission denied', all, 'value("app/x") = "1"\n\nput app/x 9\n\n\n');
      assert.match(await ok(['txn', '-i', ...alice], 'value("app/x") = "1"\n\nget app/x\n\n\n'), /^SUCCESS\n\napp\/x\n1\n$/m);
      // Not an admin: the user list is root's; her own user and role she may read.
      await refused(['user', 'list', ...alice], 'etcdserver: permission denied');
      assert.equal(await ok(['user', 'get', 'alice', ...alice]), 'User: alice\nRoles: reader\n');
      assert.equal(await ok(['role', 'get', 'reader', ...alice]), 'Role reader\nKV Read:\n\t[app/, app0) (prefix app/)\nKV Write:\n');
      // Membership changes, defragmentation and snapshots are root's.
      await refused(['member', 'add', 'x', '--peer-urls=http://127.0.0.1:1', ...alice], 'etcdserver: permission denied');
      // (etcd 3.4 answers these two with UNKNOWN "auth: permission denied"; we with PERMISSION_DENIED.)
      for (const args of [['defrag'], ['snapshot', 'save', join(tmpdir(), `auth-snap-${process.pid}.db`)]]) {
        const r = await etcdctl([all[0]], [...args, ...alice]);
        assert.notEqual(r.code, 0, r.stdout);
        assert.match(r.stderr, /permission denied/, r.stderr);
      }
      assert.equal(await ok(['user', 'list', ...root]), 'alice\nroot\n');
      assert.equal(await ok(['role', 'list', ...root]), 'reader\nroot\n');
    });

    it('watches only on permitted ranges', async () => {
      const alice = ['--user', 'alice:alicepw'];
      const r = await etcdctl(all, ['watch', 'other', ...alice], { timeoutMs: 5_000 });
      assert.match(r.stderr + r.stdout, /permission denied/);
    });

    it('READWRITE after a grant; revoking the permission takes it back', async () => {
      const alice = ['--user', 'alice:alicepw'];
      await ok(['role', 'grant-permission', 'reader', 'readwrite', 'app/', '--prefix', ...root]);
      assert.equal(await ok(['put', 'app/y', '3', ...alice], undefined, follower), 'OK\n');
      assert.equal(await ok(['role', 'revoke-permission', 'reader', 'app/', '--prefix', ...root]), 'Permission of range [app/, app0) is revoked from role reader\n');
      await refused(['get', 'app/y', ...alice], 'etcdserver: permission denied');
      await refused(['role', 'revoke-permission', 'reader', 'app/', '--prefix', ...root], 'etcdserver: permission is not granted to the role');
    });

    it('a password change invalidates login with the old password', async () => {
      assert.equal(await ok(['user', 'passwd', 'alice', '--interactive=false', ...root], 'newpw\n'), 'Password updated\n');
      await refused(['user', 'get', 'alice', '--user', 'alice:alicepw'], 'etcdserver: authentication failed, invalid user ID or password');
      assert.equal(await ok(['user', 'get', 'alice', '--user', 'alice:newpw']), 'User: alice\nRoles: reader\n');
    });

    it('the gateway: Authenticate gives a token the Authorization header carries; garbage tokens are refused cleanly', async () => {
      const ep = all[0];
      // Through a follower: it forwards Authenticate to the leader and answers once it knows the token itself.
      const auth = await gateway(follower[0], '/auth/authenticate', { name: 'root', password: 'rootpw' });
      assert.equal(auth.status, 200, JSON.stringify(auth.body));
      const token: string = auth.body.token;
      assert.match(token, /^[A-Za-z]{16}\.\d+$/);
      // The token works on every member, not only the one that answered Authenticate.
      for (const other of all) {
        const put = await gateway(other, '/kv/put', { key: b64('gw'), value: b64('1') }, token);
        assert.equal(put.status, 200, `${other}: ${JSON.stringify(put.body)}`);
      }
      const noToken = await gateway(ep, '/kv/range', { key: b64('gw') });
      assert.deepEqual([noToken.status, noToken.body.error, noToken.body.code], [400, 'etcdserver: user name is empty', 3]);
      for (const garbage of ['garbage', 'x.1', 'a'.repeat(10_000), '...']) {
        const r = await gateway(ep, '/kv/range', { key: b64('gw') }, garbage);
        assert.deepEqual([r.status, r.body.error, r.body.code], [401, 'etcdserver: invalid auth token', 16], garbage.slice(0, 20));
      }
      assert.deepEqual(await grpcRange(ep, 'gw', { token: 'garbage' }), { code: 16, details: 'etcdserver: invalid auth token' });
      assert.equal(await grpcRange(ep, 'gw', { token }), 'ok');
      const bad = await gateway(ep, '/auth/authenticate', { name: 'root', password: 'nope' });
      assert.deepEqual([bad.status, bad.body.error], [400, 'etcdserver: authentication failed, invalid user ID or password']);
      // A 1 MiB user name: refused like any unknown user, and the member goes on serving.
      const huge = await gateway(ep, '/auth/authenticate', { name: 'u'.repeat(1024 * 1024), password: 'x' });
      assert.deepEqual([huge.status, huge.body.error], [400, 'etcdserver: authentication failed, invalid user ID or password']);
      const addHuge = await gateway(ep, '/auth/user/add', { name: 'v'.repeat(1024 * 1024), password: 'x' }, 'garbage');
      assert.deepEqual([addHuge.status, addHuge.body.error], [401, 'etcdserver: invalid auth token']);
      assert.equal((await gateway(ep, '/kv/range', { key: b64('gw') }, token)).status, 200);
    });

    it('user and role deletion, then auth disable opens the store again', async () => {
      await refused(['user', 'delete', 'root', ...root], 'etcdserver: invalid auth management');
      await refused(['role', 'delete', 'root', ...root], 'etcdserver: invalid auth management');
      assert.equal(await ok(['role', 'delete', 'reader', ...root]), 'Role reader deleted\n');
      assert.equal(await ok(['user', 'get', 'alice', ...root]), 'User: alice\nRoles:\n');
      assert.equal(await ok(['user', 'delete', 'alice', ...root]), 'User alice deleted\n');
      assert.equal(await ok(['auth', 'disable', ...root]), 'Authentication Disabled\n');
      assert.equal(await ok(['get', 'app/x', '--print-value-only']), '1\n');
      assert.equal(await ok(['put', 'app/x', 'open']), 'OK\n');
      await refused(['user', 'get', 'alice'], 'etcdserver: user name not found');
    });
  });
}
