/**
 * Certificate files that rotate under a running process (cert-manager renews into the same Secret,
 * the kubelet swaps the mounted files): polled, and handed on only when a complete, matching
 * key pair has been read, so a half-written rotation never replaces working certificates.
 */
import { readFileSync } from 'fs';
import { createSecureContext } from 'tls';

/** The PEM contents of one listener's TLS files. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
}

/** Paths of the files to read. */
export interface TlsFilePaths {
  readonly certFile: string;
  readonly keyFile: string;
  readonly trustedCaFile?: string;
}

/** Reads and checks the files once; throws naming the file or the mismatch. */
export function readTlsMaterial(paths: TlsFilePaths): TlsMaterial {
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new Error(`cannot read ${what} '${file}': ${(e as Error).message}`);
    }
  };
  const material = {
    cert: read(paths.certFile, 'certificate'),
    key: read(paths.keyFile, 'private key'),
    ...(paths.trustedCaFile ? { ca: read(paths.trustedCaFile, 'CA bundle') } : {}),
  };
  try {
    // Throws on a key that does not match the certificate, or unparsable PEM.
    createSecureContext(material);
  } catch (e) {
    throw new Error(`TLS files ${paths.certFile} / ${paths.keyFile} are not a usable pair: ${(e as Error).message}`);
  }
  return material;
}

function sameMaterial(a: TlsMaterial, b: TlsMaterial): boolean {
  return a.cert.equals(b.cert) && a.key.equals(b.key) && (a.ca === undefined ? b.ca === undefined : b.ca !== undefined && a.ca.equals(b.ca));
}

/**
 * Polls `paths` every `intervalMs`; calls `onChange` with the new material when the files changed
 * and form a usable pair, and `onError` (once per distinct problem) when they do not, keeping the
 * previous material in use. Returns a function that stops polling.
 */
export function watchTlsFiles(paths: TlsFilePaths, current: TlsMaterial, intervalMs: number,
  onChange: (m: TlsMaterial) => void, onError: (message: string) => void): () => void {
  let last = current;
  let lastError = '';
  const timer = setInterval(() => {
    let next: TlsMaterial;
    try {
      next = readTlsMaterial(paths);
    } catch (e) {
      const message = (e as Error).message;
      if (message !== lastError) onError(message);
      lastError = message;
      return;
    }
    lastError = '';
    if (sameMaterial(last, next)) return;
    last = next;
    onChange(next);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
