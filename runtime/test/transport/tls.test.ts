import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MessageType, type Message } from '../../src/raft/types';
import { TcpTransport, type PeerTlsOptions, type TcpTransportOptions } from '../../src/transport';
import { msg } from '../raft/harness';
import { skipUnlessCi } from '../support/prerequisite';

// Ports 21300-21319 belong to this file.
const dir = mkdtempSync(join(tmpdir(), 'ha-tls-'));
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
  rmSync(dir, { recursive: true, force: true });
});

let opensslMissing = '';
function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}
/** A CA, and a leaf certificate signed by it with the given subjectAltName. */
function issue(ca: string, leaf: string, san: string): void {
  writeFileSync(join(dir, `${leaf}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${leaf}.key`, '-out', `${leaf}.csr`, '-subj', `/CN=${leaf}`);
  openssl('x509', '-req', '-in', `${leaf}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${leaf}.crt`, '-days', '1', '-extfile', `${leaf}.ext`);
}
function makeCa(ca: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '1', '-subj', `/CN=${ca}`);
}
function tlsFor(leaf: string, ca: string, verifyHostname?: boolean): PeerTlsOptions {
  const read = (f: string): Buffer => readFileSync(join(dir, f));
  return { key: read(`${leaf}.key`), cert: read(`${leaf}.crt`), ca: read(`${ca}.crt`), ...(verifyHostname === undefined ? {} : { verifyHostname }) };
}

before(() => {
  try {
    makeCa('ca');
    makeCa('rogue-ca');
    issue('ca', 'node', 'IP:127.0.0.1');
    issue('ca', 'dns-only', 'DNS:raft-0.raft.example');
    issue('rogue-ca', 'rogue', 'IP:127.0.0.1');
  } catch (e) {
    opensslMissing = `openssl could not make test certificates: ${(e as Error).message.split('\n')[0]}`;
  }
});

async function start(options: Partial<TcpTransportOptions> & { localId: number; port: number }): Promise<TcpTransport> {
  const t = await TcpTransport.start({ clusterId: 'tls', listen: `127.0.0.1:${options.port}`, minBackoffMs: 20, maxBackoffMs: 100, dialTimeoutMs: 500, ...options });
  cleanups.push(() => t.close());
  return t;
}
function heartbeat(from: number, to: number): Message {
  return msg({ type: MessageType.HEARTBEAT, from, to, term: 1 });
}
/** Sends heartbeats for `ms`; returns how many the receiver got. */
async function deliveredWithin(a: TcpTransport, b: TcpTransport, ms: number): Promise<number> {
  let got = 0;
  b.onMessage(() => got++);
  const end = Date.now() + ms;
  while (Date.now() < end && got === 0) {
    a.send([heartbeat(a.localId, b.localId)]);
    await new Promise((r) => setTimeout(r, 20));
  }
  return got;
}

describe('TcpTransport with mutual TLS', () => {
  it('delivers between peers whose certificates chain to the shared CA', async (t) => {
    if (opensslMissing) return skipUnlessCi(t, opensslMissing);
    const b = await start({ localId: 2, port: 21301, tls: tlsFor('node', 'ca'), peers: new Map([[1, '127.0.0.1:21300']]), metadata: { clientUrl: 'https://b' } });
    const a = await start({ localId: 1, port: 21300, tls: tlsFor('node', 'ca'), peers: new Map([[2, '127.0.0.1:21301']]), metadata: { clientUrl: 'https://a' } });
    assert.ok((await deliveredWithin(a, b, 3000)) > 0);
    assert.deepEqual(a.peerMetadata(2), { clientUrl: 'https://b' });
  });

  it('refuses a peer whose certificate another CA signed, and plain TCP', async (t) => {
    if (opensslMissing) return skipUnlessCi(t, opensslMissing);
    const logs: string[] = [];
    const b = await start({ localId: 2, port: 21303, tls: tlsFor('node', 'ca'), log: (l) => logs.push(l), peers: new Map([[1, '127.0.0.1:21302'], [3, '127.0.0.1:21304']]) });
    const rogue = await start({ localId: 1, port: 21302, tls: tlsFor('rogue', 'rogue-ca'), peers: new Map([[2, '127.0.0.1:21303']]) });
    assert.equal(await deliveredWithin(rogue, b, 600), 0);
    assert.ok(logs.some((l) => l.includes('TLS handshake with')), logs.join('\n'));
    const plain = await start({ localId: 3, port: 21304, peers: new Map([[2, '127.0.0.1:21303']]) });
    assert.equal(await deliveredWithin(plain, b, 600), 0);
  });

  it('checks the dialled host against the certificate unless told not to', async (t) => {
    if (opensslMissing) return skipUnlessCi(t, opensslMissing);
    const b = await start({ localId: 2, port: 21306, tls: tlsFor('dns-only', 'ca'), peers: new Map([[1, '127.0.0.1:21307']]) });
    const strict = await start({ localId: 1, port: 21305, tls: tlsFor('node', 'ca'), peers: new Map([[2, '127.0.0.1:21306']]) });
    assert.equal(await deliveredWithin(strict, b, 600), 0, 'a certificate for raft-0.raft.example must not pass for 127.0.0.1');
    await strict.close();
    const lax = await start({ localId: 1, port: 21307, tls: tlsFor('node', 'ca', false), peers: new Map([[2, '127.0.0.1:21306']]) });
    assert.ok((await deliveredWithin(lax, b, 3000)) > 0);
  });
});
