/**
 * Addresses as the kernel and dual-stack sockets report them.
 */
import net from 'node:net';

/** An IPv4-mapped IPv6 address (`::ffff:10.0.0.5`, what a dual-stack socket reports) as plain IPv4; any other address unchanged. */
export function unmapIPv4(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m !== null && net.isIPv4(m[1] as string) ? (m[1] as string) : address;
}

/** `host:port`, with an IPv6 address in brackets (`[2001:db8::1]:22`), as URLs and OpenSSH write them. */
export function hostPort(address: string, port: number | string): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * Splits `host:port`, `[v6-address]:port`, `[v6-address]` or a bare host or
 * address into its parts; null when it is none of them. A port is 0-65535.
 * The one reading of listen addresses (the SSH server's and the API's).
 */
export function splitHostPort(text: string): { host: string; port?: number; bracketed: boolean } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+))(?::(\d{1,5}))?$/.exec(text);
  if (m === null) return null;
  const port = m[3] !== undefined ? Number(m[3]) : undefined;
  if (port !== undefined && port > 65535) return null;
  const bracketed = m[1] !== undefined;
  return { host: (m[1] ?? m[2]) as string, ...(port !== undefined ? { port } : {}), bracketed };
}
