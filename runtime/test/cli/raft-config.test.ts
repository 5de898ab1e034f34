import * as assert from 'node:assert/strict';
import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { getHeapStatistics } from 'node:v8';
import { UsageError } from '../../src/cli/flags';
import { envName, parseAutoCompaction, parseInitialCluster, parseRaftConfig } from '../../src/cli/raft-config';

const CLUSTER = 'kv-0=kv-0.kv-peers.ns.svc:7380,kv-1=kv-1.kv-peers.ns.svc:7380,kv-2=kv-2.kv-peers.ns.svc:7380';

test('numeric ids are 1-based positions in --initial-cluster', () => {
  const c = parseRaftConfig(['--id', 'kv-1', '--data-dir', '/d', '--initial-cluster', CLUSTER], {});
  assert.equal(c.id, 2);
  assert.deepEqual(c.members.map((m) => [m.name, m.id, m.peerHost, m.peerPort]),
    [['kv-0', 1, 'kv-0.kv-peers.ns.svc', 7380], ['kv-1', 2, 'kv-1.kv-peers.ns.svc', 7380], ['kv-2', 3, 'kv-2.kv-peers.ns.svc', 7380]]);
  assert.deepEqual(c.listenClient, { host: '0.0.0.0', port: 7379 });
  assert.deepEqual(c.listenPeer, { host: '0.0.0.0', port: 7380 });
});

test('every flag is settable from HA_RAFT_* and a flag wins over the variable', () => {
  const env = {
    HA_RAFT_ID: 'kv-2',
    HA_RAFT_DATA_DIR: '/var/lib/ha-runtime',
    HA_RAFT_INITIAL_CLUSTER: CLUSTER,
    HA_RAFT_LISTEN_CLIENT: '127.0.0.1:9000',
    HA_RAFT_ADVERTISE_CLIENT: 'http://kv-2.kv.ns.svc:7379',
    HA_RAFT_MAX_KEY_BYTES: '64',
    HA_RAFT_TICK_MS: '25',
  };
  const c = parseRaftConfig(['--tick-ms', '40'], env);
  assert.equal(c.name, 'kv-2');
  assert.equal(c.dataDir, '/var/lib/ha-runtime');
  assert.deepEqual(c.listenClient, { host: '127.0.0.1', port: 9000 });
  assert.equal(c.advertiseClient, 'http://kv-2.kv.ns.svc:7379');
  assert.equal(c.limits.maxKeyBytes, 64);
  assert.equal(c.tickMs, 40);
  assert.equal(envName('initial-cluster-token'), 'HA_RAFT_INITIAL_CLUSTER_TOKEN');
});

test('bad flags fail with a message naming the flag and the fix', () => {
  const base = ['--data-dir', '/d', '--initial-cluster', CLUSTER];
  const cases: [string[], RegExp][] = [
    [['--id', 'kv-9', ...base], /--id 'kv-9' is not a member of --initial-cluster \(kv-0, kv-1, kv-2\)/],
    [base, /--id is required \(or set HA_RAFT_ID\)/],
    [['--id', 'kv-0', ...base, '--listen-client', 'nope'], /--listen-client: 'nope' is not HOST:PORT/],
    [['--id', 'kv-0', ...base, '--listen-peer', 'h:70000'], /port 70000/],
    [['--id', 'kv-0', ...base, '--tick-ms', '0'], /--tick-ms: '0' must be an integer >= 1/],
    [['--id', 'kv-0', ...base, '--heartbeat-ticks', '10'], /--heartbeat-ticks \(10\) must be less than --election-ticks/],
    [['--id', 'kv-0', ...base, '--bogus', '1'], /unknown flag --bogus/],
    [['--id', 'kv-0', ...base, '--advertise-client', 'kv-0:7379'], /--advertise-client: 'kv-0:7379' is not a URL/],
    [['--id', 'kv-0', ...base, '--log-level', 'loud'], /--log-level/],
    [['--id'], /--id needs a value/],
  ];
  for (const [argv, re] of cases) assert.throws(() => parseRaftConfig(argv, {}), (e: unknown) => e instanceof UsageError && re.test(e.message), argv.join(' '));
  assert.throws(() => parseInitialCluster('a=h:1,a=h:2'), /appears twice/);
  assert.throws(() => parseInitialCluster('a'), /not NAME=HOST:PEERPORT/);
});

test('--key=value form and etcd-style http:// peer URLs are accepted', () => {
  const c = parseRaftConfig(['--id=a', '--data-dir=/d', '--initial-cluster=a=http://10.0.0.1:2380'], {});
  assert.equal(c.members[0].peerHost, '10.0.0.1');
});

test('TLS, HTTP-limit and frame flags: defaults, switches, and refusals of half configurations', () => {
  const base = ['--id', 'kv-0', '--data-dir', '/d', '--initial-cluster', CLUSTER];
  const plain = parseRaftConfig(base, {});
  assert.equal(plain.security.peerTls, undefined, 'plaintext peers only when no cert flag is given');
  assert.equal(plain.security.clientTls, undefined);
  assert.equal(plain.maxPeerFrameBytes, 128 * 1024 * 1024);
  assert.deepEqual(plain.http, { headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, idleTimeoutMs: 30_000, maxConnections: 2048 });
  const tls = parseRaftConfig([...base, '--peer-cert-file', 'p.crt', '--peer-key-file', 'p.key', '--cert-file', 'c.crt', '--key-file', 'c.key',
    '--trusted-ca-file', 'ca.crt', '--client-cert-auth', '--metrics-public'], { HA_RAFT_PEER_TRUSTED_CA_FILE: 'ca.crt' });
  assert.deepEqual(tls.security.peerTls, { certFile: 'p.crt', keyFile: 'p.key', trustedCaFile: 'ca.crt', clientCertAuth: true });
  assert.deepEqual(tls.security.clientTls, { certFile: 'c.crt', keyFile: 'c.key', trustedCaFile: 'ca.crt', clientCertAuth: true });
  assert.equal(tls.security.metricsPublic, true);
  assert.match(tls.advertiseClient, /^https:\/\//, 'with --cert-file the default client URL is https');
  const off = parseRaftConfig([...base, '--peer-cert-file', 'p.crt', '--peer-key-file', 'p.key', '--peer-trusted-ca-file', 'ca.crt', '--peer-client-cert-auth=false'], {});
  assert.equal(off.security.peerTls?.clientCertAuth, false);
  const cases: [string[], RegExp][] = [
    [['--peer-cert-file', 'p.crt'], /peer TLS needs --peer-cert-file, --peer-key-file, --peer-trusted-ca-file; missing --peer-key-file, --peer-trusted-ca-file/],
    [['--cert-file', 'c.crt'], /client TLS needs both --cert-file and --key-file/],
    [['--client-cert-auth'], /--client-cert-auth needs client TLS and a CA/],
    [['--cert-file', 'c.crt', '--key-file', 'c.key', '--advertise-client', 'http://kv-0:2379'], /--advertise-client: 'http:\/\/kv-0:2379' is http, but --cert-file makes the client port https: use https:\/\//],
    [['--client-cert-auth=maybe'], /--client-cert-auth: 'maybe' must be true or false/],
    [['--http-headers-timeout-ms', '70000'], /--http-headers-timeout-ms \(70000\) must not exceed --http-request-timeout-ms \(60000\)/],
    [['--max-peer-frame-bytes', '1000'], /--max-peer-frame-bytes: '1000' must be an integer >= 1048576/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseRaftConfig([...base, ...args], {}), (e: unknown) => e instanceof UsageError && message.test((e as Error).message), args.join(' '));
  }
});

test('--quota-backend-bytes: bytes as given, -1 for none, 0 (the default) sized to the memory the process may use', () => {
  const base = ['--id', 'kv-0', '--data-dir', '/d', '--initial-cluster', CLUSTER];
  assert.equal(parseRaftConfig([...base, '--quota-backend-bytes', '1048576'], {}).quotaBytes, 1_048_576);
  assert.equal(parseRaftConfig([...base, '--quota-backend-bytes', '-1'], {}).quotaBytes, undefined);
  const auto = parseRaftConfig(base, {}).quotaBytes!;
  const memory = Math.min(process.constrainedMemory?.() || Infinity, totalmem());
  assert.equal(auto, Math.floor(Math.min(memory / 5, getHeapStatistics().heap_size_limit / 2)));
  assert.ok(auto > 0);
  assert.equal(parseRaftConfig(base, { HA_RAFT_QUOTA_BACKEND_BYTES: '0' }).quotaBytes, auto);
  for (const bad of ['2GB', '1.5', '-2']) {
    assert.throws(() => parseRaftConfig([...base, '--quota-backend-bytes', bad], {}),
      (e: unknown) => e instanceof UsageError && /--quota-backend-bytes: '.*' must be a number of bytes, 0 for the default or -1 for no quota/.test((e as Error).message), bad);
  }
});

test('--auth-token: simple (the default), or jwt with etcd\'s options; the keys are read and checked at start', () => {
  const base = ['--id', 'kv-0', '--data-dir', '/d', '--initial-cluster', CLUSTER];
  assert.equal(parseRaftConfig(base, {}).jwt, undefined);
  const dir = mkdtempSync(join(tmpdir(), 'ha-jwt-cfg-'));
  try {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const write = (name: string, key: KeyObject): string => {
      const path = join(dir, name);
      writeFileSync(path, key.export(key.type === 'public' ? { type: 'spki', format: 'pem' } : { type: 'pkcs8', format: 'pem' }));
      return path;
    };
    const [pub, priv, ecPub] = [write('rsa.pub', rsa.publicKey), write('rsa.key', rsa.privateKey), write('ec.pub', ec.publicKey)];
    const jwt = parseRaftConfig([...base, '--auth-token', `jwt,pub-key=${pub},priv-key=${priv},sign-method=RS512,ttl=1h30m`], {}).jwt!;
    assert.equal(jwt.signMethod, 'RS512');
    assert.equal(jwt.ttlMs, 90 * 60_000);
    assert.ok(jwt.privateKey);
    const verifyOnly = parseRaftConfig(base, { HA_RAFT_AUTH_TOKEN: `jwt,pub-key=${ecPub},sign-method=ES256` }).jwt!;
    assert.deepEqual([verifyOnly.privateKey, verifyOnly.ttlMs], [undefined, 300_000]);
    const refused: [string, RegExp][] = [
      ['jwt', /jwt needs pub-key= and sign-method=/],
      ['opaque', /must be simple or jwt/],
      [`jwt,pub-key=${pub},sign-method=HS256`, /sign-method=HS256 is not one of RS256/],
      [`jwt,pub-key=${ecPub},sign-method=RS256`, /sign-method=RS256 needs RSA keys, not ec/],
      [`jwt,pub-key=${join(dir, 'missing.pub')},sign-method=RS256`, /cannot read pub-key .*missing\.pub/],
      [`jwt,pub-key=${pub},sign-method=RS256,ttl=5 minutes`, /ttl=5 minutes is not a duration like 5m/],
      [`jwt,pub-key=${pub},sign-method=RS256,colour=red`, /'colour=red' is not one of pub-key=/],
    ];
    for (const [value, why] of refused) {
      assert.throws(() => parseRaftConfig([...base, '--auth-token', value], {}),
        (e: unknown) => e instanceof UsageError && /^--auth-token: /.test((e as Error).message) && why.test((e as Error).message), value);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--auto-compaction-retention: hours, or a Go duration in periodic mode; a count in revision mode; 0 keeps all', () => {
  assert.deepEqual(parseAutoCompaction('periodic', '2'), { mode: 'periodic', retention: 7_200_000 });
  assert.deepEqual(parseAutoCompaction('periodic', '1h30m'), { mode: 'periodic', retention: 5_400_000 });
  assert.deepEqual(parseAutoCompaction('periodic', '300s'), { mode: 'periodic', retention: 300_000 });
  assert.deepEqual(parseAutoCompaction('revision', '1000'), { mode: 'revision', retention: 1000 });
  assert.equal(parseAutoCompaction('periodic', '0'), undefined);
  for (const [mode, bad] of [['revision', '5m'], ['periodic', '1.5'], ['periodic', 'soon']]) {
    assert.throws(() => parseAutoCompaction(mode, bad), (e: unknown) => e instanceof UsageError && /^--auto-compaction-retention: /.test((e as Error).message), bad);
  }
});
