/**
 * The slice of the addon the MPTCP layer uses (native/src/mptcp_socket.cc,
 * mptcp_info.cc, fdpass.cc). Every function throws an Error with errno, code
 * and syscall on a failed system call.
 */
import { addon } from '../native/load.js';
import type { RawMptcpInfo, RawTcpInfo } from '../netlink/kernel-info.js';
export type { RawMptcpInfo, RawTcpInfo };

/** A socket the addon made; `mptcp` false means plain TCP after fallback. */
export interface MadeSocket {
  fd: number;
  mptcp: boolean;
  /** Why MPTCP was not used: ENOPROTOOPT (net.mptcp.enabled=0) or EPROTONOSUPPORT (no MPTCP in the kernel). */
  fallbackCode?: string;
  fallbackErrno?: number;
}

/** A socket address as the addon decodes it. */
export interface RawSockAddr {
  family: 4 | 6;
  address: string;
  port: number;
  scopeId?: number;
  /** Local addresses only: interface holding the address in the caller's namespace. */
  ifindex?: number;
}

/** One subflow as the addon returns it. */
export interface RawSubflow {
  /** Subflow id (MPTCP_FULL_INFO only). */
  id?: number;
  local?: RawSockAddr;
  remote?: RawSockAddr;
  tcp?: RawTcpInfo;
  /** From sock_diag (INET_DIAG_ULP_INFO), when asked for and found. */
  diag?: { flags: number; localId?: number; remoteId?: number };
}

/** Result of mptcpSubflows(fd). */
export interface RawSubflows {
  /** Which socket options the data came from. */
  source: 'full-info' | 'subflow-addrs';
  /** Subflows the kernel has; may exceed subflows.length when it raced or the buffer was short. */
  total: number;
  subflows: RawSubflow[];
  info?: RawMptcpInfo;
}

export interface MptcpAddon {
  mptcpListen(opts: { address: string; port: number; backlog: number; ipv6Only?: boolean; allowFallback?: boolean }): MadeSocket;
  mptcpSocket(opts: { family: 4 | 6; localAddress?: string; localPort?: number; allowFallback?: boolean }): MadeSocket;
  socketProtocol(fd: number): number;
  mptcpConnection(fd: number): boolean;
  dupFd(fd: number): number;
  closeFd(fd: number): void;
  mptcpInfo(fd: number): RawMptcpInfo | null;
  /** legacyOnly skips MPTCP_FULL_INFO (to test the pre-6.5 path); diag adds sock_diag flags and address ids. */
  mptcpSubflows(fd: number, opts?: { max?: number; legacyOnly?: boolean; diag?: boolean }): RawSubflows | null;
  ifindexOfAddress(address: string): number;
  sendFd(unixFd: number, fd: number, timeoutMs: number): void;
  receiveFd(unixFd: number, timeoutMs: number): number;
  waitReadable(fd: number, timeoutMs: number): boolean;
  socketPair(): [number, number];
}

/** The addon, typed as the MPTCP layer sees it. */
export function native(): MptcpAddon {
  return addon<MptcpAddon>();
}
