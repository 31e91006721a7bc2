/**
 * Every MPTCP connection of the network namespace, from sock_diag: the
 * MPTCP sockets and the TCP subflows that carry them, joined by the
 * connection's local token. No descriptor is needed, so connections of other
 * processes (an OpenSSH client, sshd behind mpsshd) are seen like our own.
 */
import { decodeMptcpInfoStruct, decodeSubflowUlp, decodeTcpInfo, INET_DIAG_INFO, INET_DIAG_ULP_INFO, TCP_LISTEN, type InetDiagSocket } from '../netlink/sock-diag-codec.js';
import type { RawSubflow } from './native.js';
import type { FlowKey } from '../netlink/route-lookup.js';
import { unmapIPv4 } from '../util/address.js';
import { decodeMptcpInfo, decodeSubflow, MPTCP_INFO_FLAG_FALLBACK, type MptcpInfo, type SubflowEndpoint, type SubflowInfo } from './info.js';

/** TCP states of a subflow on its way out (include/net/tcp_states.h). */
const CLOSING = new Set(['fin-wait1', 'fin-wait2', 'time-wait', 'close', 'last-ack', 'closing']);

/** One MPTCP connection and its subflows. */
export interface MptcpConnection {
  /** The local token: the kernel's name for the connection on this host. */
  token: number;
  family: 4 | 6;
  /** TCP state number of the MPTCP socket. */
  state: number;
  local: { address: string; port: number };
  remote: { address: string; port: number };
  /** Owner of the socket (uid) and its inode (0 when no process holds it). */
  uid: number;
  inode: number;
  cookie: string;
  /** The socket fell back to plain TCP: it has one path and no MPTCP options. */
  fallback: boolean;
  info: MptcpInfo | null;
  subflows: SubflowInfo[];
}

/** A listening MPTCP socket's local end, used to tell incoming connections from outgoing ones. */
export interface ListenerKey {
  address: string;
  port: number;
}

/** Joins MPTCP sockets and TCP subflows by token (pure). Listeners and sockets without a token are left out. */
export function joinConnections(mptcp: readonly InetDiagSocket[], tcp: readonly InetDiagSocket[]): MptcpConnection[] {
  const byToken = new Map<number, SubflowInfo[]>();
  for (const s of tcp) {
    const ulpRaw = s.attrs.get(INET_DIAG_ULP_INFO);
    if (ulpRaw === undefined) continue;
    const ulp = decodeSubflowUlp(ulpRaw);
    if (ulp === null) continue;
    const rawTcp = s.attrs.get(INET_DIAG_INFO);
    const tcpInfo = rawTcp === undefined ? null : decodeTcpInfo(rawTcp);
    const raw: RawSubflow = {
      local: { family: s.family, address: s.local.address, port: s.local.port, ...(s.boundIfindex > 0 ? { ifindex: s.boundIfindex } : {}) },
      remote: { family: s.family, address: s.remote.address, port: s.remote.port },
      diag: { flags: ulp.flags, ...(ulp.localId !== undefined ? { localId: ulp.localId } : {}), ...(ulp.remoteId !== undefined ? { remoteId: ulp.remoteId } : {}) },
    };
    if (tcpInfo !== null) raw.tcp = tcpInfo;
    const decoded = decodeSubflow(raw);
    // A subflow this host is closing (its endpoint removed, its link gone) carries no more data,
    // though its socket may retransmit a FIN for minutes: it has left the connection.
    if (decoded === undefined || CLOSING.has(decoded.state)) continue;
    const list = byToken.get(ulp.token) ?? [];
    list.push(decoded);
    byToken.set(ulp.token, list);
  }
  const out: MptcpConnection[] = [];
  for (const m of mptcp) {
    if (m.state === TCP_LISTEN) continue;
    const raw = m.attrs.get(INET_DIAG_INFO);
    const rawInfo = raw === undefined ? null : decodeMptcpInfoStruct(raw);
    const info = rawInfo === null ? null : decodeMptcpInfo(rawInfo);
    const token = info?.token ?? 0;
    if (token === 0 && info === null) continue;
    out.push({
      token,
      family: m.family,
      state: m.state,
      local: m.local,
      remote: m.remote,
      uid: m.uid,
      inode: m.inode,
      cookie: m.cookie,
      fallback: info !== null && (info.flags & MPTCP_INFO_FLAG_FALLBACK) !== 0,
      info,
      subflows: token !== 0 ? (byToken.get(token) ?? []).sort(subflowOrder) : [],
    });
  }
  return out;
}

/** The initial subflow (address id 0) first, then by local address and port. */
function subflowOrder(a: SubflowInfo, b: SubflowInfo): number {
  return (a.localId ?? 255) - (b.localId ?? 255) || a.local.address.localeCompare(b.local.address) || a.local.port - b.local.port;
}

/**
 * A subflow's ends with IPv4-mapped addresses written as IPv4 (an IPv6
 * socket's subflow to an IPv4 peer), and the flow the kernel routes it as.
 */
export function unmappedSubflow(s: Pick<SubflowInfo, 'local' | 'remote'>): { local: SubflowEndpoint; remote: SubflowEndpoint; flow: FlowKey } {
  const local = { ...s.local, address: unmapIPv4(s.local.address) };
  const remote = { ...s.remote, address: unmapIPv4(s.remote.address) };
  if (local.address !== s.local.address && remote.address !== s.remote.address) local.family = remote.family = 4;
  return { local, remote, flow: { family: local.family, src: local.address, dst: remote.address, sport: local.port, dport: remote.port } };
}

/** Whether a connection was accepted by one of `listeners` (same local port, and address or wildcard). */
export function isIncoming(c: Pick<MptcpConnection, 'local'>, listeners: readonly ListenerKey[]): boolean {
  return listeners.some((l) => l.port === c.local.port && (l.address === c.local.address || l.address === '0.0.0.0' || l.address === '::'));
}
