/**
 * DNS rebinding protection. A web page in a local browser can point a name
 * it controls at 127.0.0.1 and then read the API as "its own" origin; the
 * only trace is the Host header, which then names the attacker's domain.
 * The read-only listeners therefore answer only Host headers that cannot be
 * rebound: IP literals, `localhost` and names under `.localhost` (which
 * resolve to loopback by definition, RFC 6761), and names the administrator
 * lists in `api.allowedHosts`.
 */
import net from 'node:net';

/** The host part of a Host header, lower-cased, without port or IPv6 brackets; undefined when malformed. */
export function hostOf(header: string): string | undefined {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0 || (end + 1 < h.length && !/^:\d{1,5}$/.test(h.slice(end + 1)))) return undefined;
    return h.slice(1, end);
  }
  const m = /^([^:\s/@]+)(:\d{1,5})?$/.exec(h);
  return m ? (m[1] as string).replace(/\.$/, '') : undefined;
}

/** Whether a request with this Host header (undefined: none sent, as HTTP/1.0 may) is answered. */
export function hostAllowed(header: string | undefined, allowedHosts: readonly string[]): boolean {
  if (header === undefined) return true;
  const host = hostOf(header);
  if (host === undefined || host === '') return false;
  if (net.isIP(host) !== 0) return true;
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  return allowedHosts.some((a) => a.toLowerCase().replace(/\.$/, '') === host);
}
