/**
 * Forwarding decisions, as sshd makes them (channels.c, serverloop.c).
 * Pure, so each rule is a row in a table test.
 */
import type { PermitSpec } from '../auth/key-options.js';
import type { ChannelPolicy } from '../context.js';

/** sshd refuses non-root listeners below this port (IPPORT_RESERVED). */
const RESERVED_PORTS = 1024;

/** A `host:port` matched against PermitOpen / PermitListen: the host as the client wrote it, case-insensitively. */
export function permits(list: 'any' | 'none' | readonly PermitSpec[], host: string, port: number): boolean {
  if (list === 'any') return true;
  if (list === 'none') return false;
  return list.some((p) => (p.host === '*' || p.host.toLowerCase() === host.toLowerCase()) && (p.port === '*' || p.port === port));
}

export type Decision = { ok: true } | { ok: false; reason: string };

/** May the client open a connection to host:port from the server (-L, direct-tcpip)? */
export function localForwardDecision(policy: Pick<ChannelPolicy, 'tcpForwarding' | 'permitOpen'>, host: string, port: number): Decision {
  if (policy.tcpForwarding !== 'all' && policy.tcpForwarding !== 'local') return { ok: false, reason: 'local forwarding disabled' };
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { ok: false, reason: `bad port ${port}` };
  if (!permits(policy.permitOpen, host, port)) return { ok: false, reason: `${host}:${port} not permitted by PermitOpen` };
  return { ok: true };
}

/** May the client listen on bindAddr:port on the server (-R, tcpip-forward)? */
export function remoteForwardDecision(policy: Pick<ChannelPolicy, 'tcpForwarding' | 'permitListen'>, uid: number, bindAddr: string, port: number): Decision {
  if (policy.tcpForwarding !== 'all' && policy.tcpForwarding !== 'remote') return { ok: false, reason: 'remote forwarding disabled' };
  if (!Number.isInteger(port) || port < 0 || port > 65535) return { ok: false, reason: `bad port ${port}` };
  if (port !== 0 && port < RESERVED_PORTS && uid !== 0) return { ok: false, reason: `port ${port} is privileged` };
  // The address as the client sent it, as sshd matches it: "" means every
  // address under GatewayPorts clientspecified (listenAddresses), so it
  // must not pass for "localhost".
  if (!permits(policy.permitListen, bindAddr, port)) return { ok: false, reason: `${bindAddr === '' ? '""' : bindAddr}:${port} not permitted by PermitListen` };
  return { ok: true };
}

/**
 * Where a remote forward really listens (GatewayPorts): `no` keeps it on
 * loopback whatever the client asks; `yes` opens it to all; with
 * `clientspecified` the client's address counts, `""` and `*` meaning all.
 */
export function listenAddresses(gatewayPorts: ChannelPolicy['gatewayPorts'], bindAddr: string): string[] {
  const loopback = ['127.0.0.1', '::1'];
  const all = ['::', '0.0.0.0'];
  if (gatewayPorts === 'no') return loopback;
  if (gatewayPorts === 'yes') return all;
  if (bindAddr === '' || bindAddr === '*') return all;
  if (bindAddr.toLowerCase() === 'localhost') return loopback;
  return [bindAddr];
}
