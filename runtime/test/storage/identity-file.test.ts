import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { IDENTITY_FILE, IdentityFileError, readIdentity, writeIdentity } from '../../src/storage';

test('a joined member keeps the members its join answer listed, so a restart before its first snapshot still knows its peers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ha-identity-'));
  try {
    assert.equal(await readIdentity(dir), undefined);
    const seedMembers = [
      { id: 2, name: 'kv-1', peerUrl: '10.0.0.2:2380', clientUrl: 'https://kv-1:2379', autoPromote: false },
      { id: 4, name: 'kv-0', peerUrl: '10.0.0.1:2380', clientUrl: '', autoPromote: true },
    ];
    await writeIdentity(dir, { clusterId: '00112233445566ff', memberId: 4, name: 'kv-0', joined: true, seedMembers });
    assert.deepEqual(await readIdentity(dir), { clusterId: '00112233445566ff', memberId: 4, name: 'kv-0', joined: true, seedMembers });
    // An identity written before seedMembers existed still reads.
    await writeIdentity(dir, { clusterId: '00112233445566ff', memberId: 1, name: 'kv-0', joined: false });
    assert.deepEqual(await readIdentity(dir), { clusterId: '00112233445566ff', memberId: 1, name: 'kv-0', joined: false });
    writeFileSync(join(dir, IDENTITY_FILE), JSON.stringify({ version: 1, clusterId: '00112233445566ff', memberId: 4, name: 'kv-0', joined: true, seedMembers: [{ id: 'x' }] }));
    await assert.rejects(readIdentity(dir), (e: unknown) => e instanceof IdentityFileError && /malformed seedMembers/.test((e as Error).message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
