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
