/**
 * The replicated auth state: etcd 3.4's rules for users, roles, root and enabling; range permissions by
 * interval coverage; auth commands round-trip and apply identically on every member; snapshots keep it all.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { hashPassword, verifyPassword } from '../../src/api/etcd/auth';
import {
  AuthCommand, AuthRequest, decodeCommand, encodeCommand, GrpcCode, MvccCommand, MvccStateMachine, PermType, snapshotBytes,
} from '../../src/mvcc';
import { JwtTokens, SimpleTokens } from '../../src/server/auth-tokens';

const b = (s: string): Buffer => Buffer.from(s);
const none = Buffer.alloc(0);

/** A state machine and a helper applying auth writes as `caller` (root by default once set up). */
function machine(): { m: MvccStateMachine; run: (r: AuthRequest, caller?: string) => ReturnType<MvccStateMachine['apply']> } {
  const m = new MvccStateMachine();
  let index = 0;
  const run = (r: AuthRequest, caller = 'root'): ReturnType<MvccStateMachine['apply']> =>
    m.apply(++index, encodeCommand({ op: 'auth', requestId: index, request: { ...r, caller } as AuthCommand }));
  return { m, run };
}

function withUsers(): ReturnType<typeof machine> {
  const t = machine();
  const ok = (r: AuthRequest): void => assert.equal(t.run(r).error, undefined, JSON.stringify(r));
  ok({ kind: 'user_add', name: 'root', password: 'h', noPassword: false });
  ok({ kind: 'user_add', name: 'bob', password: 'h', noPassword: false });
  ok({ kind: 'role_add', name: 'r' });
  ok({ kind: 'role_grant_permission', name: 'r', perm: { permType: PermType.READ, key: b('foo/'), range_end: b('foo0') } });
  ok({ kind: 'role_grant_permission', name: 'r', perm: { permType: PermType.READWRITE, key: b('w'), range_end: none } });
  ok({ kind: 'user_grant_role', user: 'bob', role: 'r' });
  ok({ kind: 'user_grant_role', user: 'root', role: 'root' });
  ok({ kind: 'enable' });
  return t;
}

void describe('AuthStore', () => {
  void it('enable needs a root user holding the root role (etcd\'s errors)', () => {
    const { run } = machine();
    assert.equal(run({ kind: 'enable' }).error?.message, 'etcdserver: root user does not exist');
    run({ kind: 'user_add', name: 'root', password: 'h', noPassword: false });
    const e = run({ kind: 'enable' }).error;
    assert.equal(e?.message, 'etcdserver: root user does not have root role');
    assert.equal(e?.code, GrpcCode.FAILED_PRECONDITION);
    run({ kind: 'user_grant_role', user: 'root', role: 'root' });
    assert.equal(run({ kind: 'enable' }).error, undefined);
  });

  void it('once enabled, admin writes need the root role; root cannot be deleted or lose its role', () => {
    const { run } = withUsers();
    assert.equal(run({ kind: 'role_add', name: 'x' }, '').error?.message, 'etcdserver: user name is empty');
    assert.equal(run({ kind: 'role_add', name: 'x' }, 'bob').error?.message, 'etcdserver: permission denied');
    assert.equal(run({ kind: 'role_add', name: 'x' }, 'ghost').error?.message, 'etcdserver: user name not found');
    assert.equal(run({ kind: 'user_delete', name: 'root' }).error?.message, 'etcdserver: invalid auth management');
    assert.equal(run({ kind: 'user_revoke_role', name: 'root', role: 'root' }).error?.message, 'etcdserver: invalid auth management');
    assert.equal(run({ kind: 'role_add', name: 'r' }).error?.message, 'etcdserver: role name already exists');
    assert.equal(run({ kind: 'user_add', name: '', password: '', noPassword: true }).error?.message, 'etcdserver: user name is empty');
    assert.equal(run({ kind: 'user_revoke_role', name: 'bob', role: 'zz' }).error?.message, 'etcdserver: role is not granted to the user');
    assert.equal(run({ kind: 'role_revoke_permission', role: 'r', key: b('nope'), range_end: none }).error?.message,
      'etcdserver: permission is not granted to the role');
    assert.equal(run({ kind: 'role_add', name: 'x' }).error, undefined);
  });

  void it('range permissions: covered by the union of the user\'s ranges, read and write apart, root bypasses', () => {
    const { m, run } = withUsers();
    const a = m.auth;
    const bob = { name: 'bob' };
    a.checkRead(bob, b('foo/a'));
    a.checkRead(bob, b('foo/'), b('foo0'));
    a.checkRead(bob, b('foo/a'), b('foo/b'));
    a.checkWrite(bob, b('w'));
    a.checkRead(bob, b('w'));
    assert.throws(() => a.checkWrite(bob, b('foo/a')), /permission denied/);
    assert.throws(() => a.checkRead(bob, b('foo'), b('foo0')), /permission denied/); // starts before the prefix
    assert.throws(() => a.checkRead(bob, b('foo/'), Buffer.from([0])), /permission denied/); // open-ended
    assert.throws(() => a.checkRead(bob, b('w'), b('x')), /permission denied/); // a point does not cover a range
    assert.throws(() => a.checkRead(undefined, b('foo/a')), /user name is empty/);
    a.checkRead({ name: 'root' }, Buffer.alloc(0), Buffer.from([0]));
    // Two adjacent grants cover the range between them together.
    run({ kind: 'role_grant_permission', name: 'r', perm: { permType: PermType.READ, key: b('foo0'), range_end: b('foo5') } });
    a.checkRead(bob, b('foo/z'), b('foo4'));
    // A nested txn is checked too.
    assert.throws(() => a.checkTxn(bob, { compare: [], success: [{ request_txn: { success: [{ request_put: { key: b('foo/a') } }] } }] }), /permission denied/);
  });

  void it('authenticate names a token <prefix>.<index>, refused when the auth revision moved since the check', () => {
    const { m, run } = withUsers();
    const rev = m.auth.revision;
    const r = run({ kind: 'authenticate', name: 'bob', tokenPrefix: 'abc', checkedRevision: rev }, '');
    assert.equal(r.error, undefined);
    assert.equal((r.response as { token?: string }).token, `abc.${m.appliedIndex}`);
    assert.equal(run({ kind: 'authenticate', name: 'bob', tokenPrefix: 'abc', checkedRevision: rev - 1 }, '').error?.message,
      'etcdserver: revision of auth store is old');
    assert.equal(run({ kind: 'authenticate', name: 'nobody', tokenPrefix: 'abc', checkedRevision: rev }, '').error?.message,
      'etcdserver: authentication failed, invalid user ID or password');
  });

  void it('auth commands round-trip, and a snapshot restores users, roles, the flag and the revision byte for byte', () => {
    const cmds: AuthCommand[] = [
      { kind: 'role_grant_permission', caller: 'root', name: 'r', perm: { permType: PermType.READWRITE, key: Buffer.from([0, 255]), range_end: Buffer.from([0]) } },
      { kind: 'user_add', caller: '', name: 'ünï', password: 'scrypt$x', noPassword: true },
      { kind: 'authenticate', caller: '', name: 'bob', tokenPrefix: 'p', checkedRevision: 9 },
      { kind: 'role_revoke_permission', caller: 'root', role: 'r', key: b('a'), range_end: none },
    ];
    for (const request of cmds) assert.deepEqual(decodeCommand(encodeCommand({ op: 'auth', requestId: 3, request })), { op: 'auth', requestId: 3, request });
    const { m } = withUsers();
    const whole = Buffer.concat([...m.snapshot().chunks]);
    const restored = new MvccStateMachine();
    restored.restore(whole);
    assert.equal(restored.auth.enabled, true);
    assert.equal(restored.auth.revision, m.auth.revision);
    assert.deepEqual(restored.auth.userList({ name: 'root' }), { users: ['bob', 'root'] });
    assert.deepEqual(restored.auth.roleGet({ name: 'bob' }, 'r').perm.map((p) => p.key.toString()), ['foo/', 'w']);
    assert.deepEqual(Buffer.concat([...restored.snapshot().chunks]), whole);
    // A store that never saw an auth write snapshots exactly as before (no auth frame).
    const plain = new MvccStateMachine();
    assert.deepEqual(Buffer.concat([...plain.snapshot().chunks]), snapshotBytes(plain.store.view(), 0));
  });

  void it('an auth write leaves no store events behind (watchers see nothing)', () => {
    const m = new MvccStateMachine();
    assert.equal(m.apply(1, encodeCommand({ op: 'put', requestId: 1, request: { key: b('k'), value: b('v') } })).events.length, 1);
    const r = m.apply(2, encodeCommand({ op: 'auth', requestId: 2, request: { kind: 'role_add', name: 'x', caller: '' } }));
    assert.equal(r.error, undefined);
    assert.deepEqual(r.events, []);
  });

  void it('a checked write is judged again at apply: refused once the role is gone, unchecked while auth is off', () => {
    const { m } = withUsers();
    let index = m.appliedIndex;
    const put = (caller: string, key: string): ReturnType<MvccStateMachine['apply']> => m.apply(++index, encodeCommand({
      op: 'checked', requestId: index, request: { caller, inner: { op: 'put', requestId: 0, request: { key: b(key), value: b('v') } } },
    }));
    const round: MvccCommand = { op: 'checked', requestId: 5, request: { caller: 'bob', inner: { op: 'txn', requestId: 0, request: { compare: [], success: [], failure: [] } } } };
    assert.deepEqual(decodeCommand(encodeCommand(round)), round);
    assert.equal(put('bob', 'w').error, undefined);
    assert.equal(put('bob', 'foo/a').error?.message, 'etcdserver: permission denied');
    assert.equal(put('', 'w').error?.message, 'etcdserver: user name is empty');
    const revision = m.store.revision;
    index = m.appliedIndex;
    assert.equal(m.apply(++index, encodeCommand({ op: 'auth', requestId: 1, request: { kind: 'user_revoke_role', name: 'bob', role: 'r', caller: 'root' } })).error, undefined);
    assert.equal(put('bob', 'w').error?.message, 'etcdserver: permission denied');
    assert.equal(m.store.revision, revision, 'refused writes change nothing');
    assert.equal(m.apply(++index, encodeCommand({ op: 'auth', requestId: 1, request: { kind: 'disable', caller: 'root' } })).error, undefined);
    assert.equal(put('bob', 'foo/a').error, undefined);
  });

  void it('passwords: scrypt hashes verify, wrong passwords and foreign strings do not', async () => {
    const h = await hashPassword('s3cret');
    assert.match(h, /^scrypt\$16384\$8\$1\$/);
    assert.notEqual(await hashPassword('s3cret'), h); // salted
    assert.equal(await verifyPassword('s3cret', h), true);
    assert.equal(await verifyPassword('s3cret!', h), false);
    assert.equal(await verifyPassword('s3cret', 's3cret'), false);
    assert.equal(await verifyPassword('x', 'scrypt$1073741824$8$1$AAAA$AAAA'), false); // absurd cost refused, not computed
  });

  void it('tokens expire after the TTL without use, and use extends them', () => {
    let now = 0;
    const t = new SimpleTokens(1000, () => now);
    t.assign('a.1', 'bob');
    now = 900;
    assert.equal(t.user('a.1'), 'bob');
    now = 1800;
    assert.equal(t.user('a.1'), 'bob');
    now = 2801;
    assert.equal(t.user('a.1'), undefined);
    t.assign('b.2', 'bob');
    t.assign('c.3', 'amy');
    t.invalidateUser('bob');
    assert.equal(t.user('b.2'), undefined);
    assert.equal(t.user('c.3'), 'amy');
  });

  void it('JWT tokens: each sign method round-trips; expiry, another key, another method or a changed claim fail', () => {
    let now = 1_700_000_000_000;
    const tokens = (signMethod: string, publicKey: KeyObject, privateKey?: KeyObject): JwtTokens => new JwtTokens({
      signMethod,
      publicKey: publicKey.export({ type: 'spki', format: 'pem' }),
      privateKey: privateKey?.export({ type: 'pkcs8', format: 'pem' }),
      ttlMs: 60_000,
    }, () => now);
    const pairs = {
      rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }),
      ec256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
      ec384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
      ec512: generateKeyPairSync('ec', { namedCurve: 'P-521' }),
    };
    const methods: [string, keyof typeof pairs][] = [['RS256', 'rsa'], ['RS384', 'rsa'], ['RS512', 'rsa'], ['PS256', 'rsa'], ['PS384', 'rsa'],
      ['PS512', 'rsa'], ['ES256', 'ec256'], ['ES384', 'ec384'], ['ES512', 'ec512']];
    for (const [signMethod, pair] of methods) {
      const { publicKey, privateKey } = pairs[pair];
      const jwt = tokens(signMethod, publicKey, privateKey);
      const token = jwt.sign('bob', 7);
      assert.deepEqual(jwt.verify(token), { username: 'bob', revision: 7 }, signMethod);
      const [h, , sig] = token.split('.');
      const forged = Buffer.from(JSON.stringify({ exp: now / 1000 + 60, revision: 7, username: 'root' })).toString('base64url');
      assert.equal(jwt.verify(`${h}.${forged}.${sig}`), undefined, `${signMethod}: a changed claim`);
      now += 61_000;
      assert.equal(jwt.verify(token), undefined, `${signMethod}: expired`);
    }
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const token = tokens('RS256', pairs.rsa.publicKey, pairs.rsa.privateKey).sign('bob', 1);
    assert.equal(tokens('RS256', other.publicKey).verify(token), undefined, 'another key');
    assert.equal(tokens('RS512', pairs.rsa.publicKey).verify(token), undefined, 'another method');
    const verifyOnly = tokens('RS256', pairs.rsa.publicKey);
    assert.deepEqual([verifyOnly.canSign, verifyOnly.verify(token)?.username], [false, 'bob']);
    assert.throws(() => verifyOnly.sign('bob', 1), /only verifies/);
    for (const junk of ['', 'a.b', 'a.b.c', '..', `${token}.x`]) assert.equal(verifyOnly.verify(junk), undefined, junk);
  });
});
