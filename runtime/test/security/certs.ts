/** Test certificates made with openssl: a CA, leaves signed by it, and a rogue CA. */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Files of one leaf: PEM paths and contents. */
export interface Leaf {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Makes certificates in `dir` with openssl (throws if openssl is missing). */
export class TestCa {
  constructor(readonly dir: string, readonly name: string) {
    this.openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`,
      '-out', `${name}.crt`, '-days', '1', '-subj', `/CN=${name}`);
  }

  get caFile(): string {
    return join(this.dir, `${this.name}.crt`);
  }

  get ca(): Buffer {
    return readFileSync(this.caFile);
  }

  /** A leaf for `san` (e.g. `IP:127.0.0.1`) usable as server and client. Reissuing `leaf` overwrites its files (a rotation). */
  issue(leaf: string, san: string): Leaf {
    writeFileSync(join(this.dir, `${leaf}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n`);
    this.openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${leaf}.key.new`, '-out', `${leaf}.csr`, '-subj', `/CN=${leaf}`);
    this.openssl('x509', '-req', '-in', `${leaf}.csr`, '-CA', `${this.name}.crt`, '-CAkey', `${this.name}.key`, '-CAcreateserial',
      '-out', `${leaf}.crt.new`, '-days', '1', '-extfile', `${leaf}.ext`);
    // Replace both files the way a kubelet Secret update does: each appears whole.
    execFileSync('mv', [`${leaf}.key.new`, `${leaf}.key`], { cwd: this.dir });
    execFileSync('mv', [`${leaf}.crt.new`, `${leaf}.crt`], { cwd: this.dir });
    const certFile = join(this.dir, `${leaf}.crt`);
    const keyFile = join(this.dir, `${leaf}.key`);
    return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
  }

  private openssl(...args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: 'pipe' });
  }
}
