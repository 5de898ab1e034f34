import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRouterConfig } from '../../src/cli/router-config';

describe('router configuration', () => {
  it('reads shards from flags, per-shard variables and the list variable; flags win', () => {
    const c = parseRouterConfig(['--shard', 'a=http://10.0.0.1:7379,http://10.0.0.2:7379/', '--shard-dns', 'c=kv-c.default.svc:7379'], {
      HA_ROUTER_SHARD_A: 'http://ignored:1',
      HA_ROUTER_SHARD_B: 'http://b-0:7379',
      HA_ROUTER_SHARDS: 'd=http://d-0:7379;e=http://e-0:7379,http://e-1:7379',
      HA_ROUTER_HEALTH_INTERVAL_MS: '250',
    });
    assert.deepEqual([...c.shards.keys()].sort(), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(c.shards.get('a'), { kind: 'static', urls: ['http://10.0.0.1:7379', 'http://10.0.0.2:7379'] });
    assert.deepEqual(c.shards.get('c'), { kind: 'dns', host: 'kv-c.default.svc', port: 7379 });
    assert.deepEqual(c.shards.get('e'), { kind: 'static', urls: ['http://e-0:7379', 'http://e-1:7379'] });
    assert.equal(c.healthIntervalMs, 250);
    assert.equal(c.listenPort, 7400);
  });

  it('rejects bad input naming the flag and the fix', () => {
    assert.throws(() => parseRouterConfig([], {}), /no shards: give --shard NAME=URL/);
    assert.throws(() => parseRouterConfig(['--shard', 'a'], {}), /--shard: 'a' is not NAME=VALUE/);
    assert.throws(() => parseRouterConfig(['--shard', 'a=ftp://x'], {}), /must be an http:\/\/ URL/);
    assert.throws(() => parseRouterConfig(['--shard', 'a=http://x:1', '--shard', 'a=http://y:1'], {}), /shard 'a' is given twice/);
    assert.throws(() => parseRouterConfig(['--shard-dns', 'a=nohost'], {}), /is not HOST:PORT/);
    assert.throws(() => parseRouterConfig(['--shard', 'a=http://x:1', '--eject-after', '0'], {}), /--eject-after: '0' must be an integer >= 1/);
    assert.throws(() => parseRouterConfig(['--shard', 'a=http://x:1', '--bogus'], {}), /unknown argument '--bogus'/);
  });
});
