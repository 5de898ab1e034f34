// Container image references by the OCI distribution grammar (distribution/reference, reference.go), internal.
// reference := name [ ":" tag ] [ "@" digest ]; name := [domain "/"] path-component ["/" path-component]*

/** A parsed image reference, or the reason it is not one. */
export interface ImageReference {
  /** Registry host[:port], when the first component names one. */
  readonly domain?: string;
  /** Repository path, e.g. `library/nginx` or `coreos/etcd`. */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
/** Hex digits of the registered digest algorithms (opencontainers/go-digest); others need at least 32. */
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
/** Longest repository name the grammar allows. */
const NAME_TOTAL_LENGTH_MAX = 255;

/** Whether `component` (before the first `/`) names a registry: it has a `.` or a `:port`, or is `localhost`. */
function isDomain(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost' || component !== component.toLowerCase();
}

function checkDomain(domain: string): string | undefined {
  let host = domain;
  const ipv6 = /^\[[0-9a-fA-F:.]+\](?::(\d+))?$/.exec(domain);
  if (ipv6) return undefined;
  const colon = domain.lastIndexOf(':');
  if (colon >= 0) {
    const port = domain.slice(colon + 1);
    if (!/^\d+$/.test(port)) return `registry port '${port}' is not a number`;
    host = domain.slice(0, colon);
  }
  if (!host.split('.').every((c) => DOMAIN_COMPONENT.test(c))) return `registry '${domain}' is not a host name`;
  return undefined;
}

/**
 * Parses `image` by the OCI reference grammar.
 * @returns the parts, or a string saying what is wrong (naming the offending part)
 */
export function parseImageReference(image: string): ImageReference | string {
  if (image.length === 0) return 'the image is empty';
  if (/\s/.test(image)) return 'it contains whitespace';
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return `digest '${digest}' is not algorithm:hex (e.g. sha256: and 64 hex digits)`;
    const [algorithm, hex] = digest.split(':');
    const length = DIGEST_HEX_LENGTH[algorithm];
    if (length !== undefined && hex.length !== length) return `digest '${digest}' has ${hex.length} hex digits; ${algorithm} has ${length}`;
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.indexOf(':', lastSlash + 1);
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return tag.length === 0 ? 'the tag after \':\' is empty' : `tag '${tag}' is not [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`;
  }
  if (rest.length === 0) return 'the repository name is empty';
  if (rest.length > NAME_TOTAL_LENGTH_MAX) return `the repository name is longer than ${NAME_TOTAL_LENGTH_MAX} characters`;
  const parts = rest.split('/');
  let domain: string | undefined;
  if (parts.length > 1 && isDomain(parts[0])) {
    domain = parts.shift()!;
    const bad = checkDomain(domain);
    if (bad) return bad;
  }
  for (const p of parts) {
    if (p !== p.toLowerCase() && PATH_COMPONENT.test(p.toLowerCase())) return `repository name '${parts.join('/')}' must be lowercase`;
    if (!PATH_COMPONENT.test(p)) return `repository path component '${p}' is not lowercase letters and digits separated by '.', '_', '__' or '-'`;
  }
  return { domain, path: parts.join('/'), tag, digest };
}
