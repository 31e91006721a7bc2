/**
 * Where to listen, from ListenAddress and Port as sshd reads them: an
 * address without a port gets every Port; `host:port` and `[v6]:port` carry
 * their own; no ListenAddress means every address, IPv4 and IPv6, on one
 * dual-stack socket per port. Pure.
 */
import net from 'node:net';
import { hostPort, splitHostPort } from '../util/address.js';

export interface ListenTarget {
  /** Numeric address; undefined = every address (dual-stack "::", or 0.0.0.0 without IPv6). */
  host?: string;
  port: number;
  /** IPV6_V6ONLY: set when "::" is listed beside an explicit IPv4 wildcard. */
  ipv6Only: boolean;
  /** As the user wrote it, for logs and the status. */
  label: string;
}

export type TargetsResult = { ok: true; targets: ListenTarget[] } | { ok: false; error: string };

function parseOne(word: string): { host: string; port?: number } | string {
  // A bare IPv6 address has colons of its own: taken whole, without a port.
  if (net.isIPv6(word)) return { host: word };
  const hp = splitHostPort(word);
  if (hp !== null && (hp.bracketed ? net.isIPv6(hp.host) : net.isIPv4(hp.host))) return { host: hp.host, ...(hp.port !== undefined ? { port: hp.port } : {}) };
  return `ListenAddress "${word}": expected a numeric address, address:port or [v6-address]:port`;
}

/** The sockets to open for this ListenAddress/Port pair. */
export function listenTargets(listenAddress: readonly string[], ports: readonly number[]): TargetsResult {
  if (listenAddress.length === 0) return { ok: true, targets: ports.map((port) => ({ port, ipv6Only: false, label: `*:${port}` })) };
  const out: ListenTarget[] = [];
  for (const word of listenAddress) {
    const p = parseOne(word);
    if (typeof p === 'string') return { ok: false, error: p };
    if (p.port !== undefined && (p.port < 1 || p.port > 65535)) return { ok: false, error: `ListenAddress "${word}": bad port` };
    for (const port of p.port !== undefined ? [p.port] : ports) {
      const label = hostPort(p.host, port);
      if (!out.some((t) => t.label === label)) out.push({ host: p.host, port, ipv6Only: false, label });
    }
  }
  // "::" would also take IPv4 unless told not to; sshd sets V6ONLY on every IPv6 socket.
  for (const t of out) if (t.host !== undefined && net.isIPv6(t.host)) t.ipv6Only = true;
  return { ok: true, targets: out };
}
