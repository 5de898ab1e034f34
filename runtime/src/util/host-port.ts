/**
 * HOST:PORT, the one parser for every address the runtime reads (flags, peer addresses, the
 * transport's listen address). IPv6 hosts are bracketed: `[::1]:7380`.
 */

/** Splits `HOST:PORT` by its syntax; undefined when `value` is not one. Callers check the port's range. */
export function splitHostPort(value: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^:\s[\]]+):(\d+)$/.exec(value);
  return m ? { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) } : undefined;
}

/** Like {@link splitHostPort}; throws a RangeError naming `what`, the value and an example. */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const parsed = splitHostPort(value);
  if (!parsed || parsed.port > 65535) throw new RangeError(`${what} '${value}' is not host:port (for example 10.0.0.7:2380 or [::1]:2380)`);
  return parsed;
}

/** The inverse of {@link splitHostPort}: brackets an IPv6 host. */
export function formatHostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
