/**
 * What the kernel knows about an MPTCP connection: struct mptcp_info and,
 * per subflow, its addresses, interface and struct tcp_info. Numbers are
 * plain JSON-safe numbers (byte counters stay exact up to 2^53); 64-bit
 * MPTCP sequence numbers are decimal strings.
 *
 * Interface indexes are looked up in the calling thread's network namespace,
 * which is the connection's own unless the socket was made under inNetns().
 */
import type net from 'node:net';
import { native, type RawMptcpInfo, type RawSockAddr, type RawSubflow, type RawSubflows } from './native.js';
import { socketFd } from './socket.js';

/** MPTCP_INFO_FLAG_*, include/uapi/linux/mptcp.h. */
export const MPTCP_INFO_FLAG_FALLBACK = 1;
export const MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED = 2;

/** MPTCP_SUBFLOW_FLAG_*, include/uapi/linux/mptcp.h (as `ss -ti` prints them: M m J j B b e c v). */
export const SUBFLOW_FLAG = {
  MCAP_REM: 1 << 0,
  MCAP_LOC: 1 << 1,
  JOIN_REM: 1 << 2,
  JOIN_LOC: 1 << 3,
  BKUP_REM: 1 << 4,
  BKUP_LOC: 1 << 5,
  FULLY_ESTABLISHED: 1 << 6,
  CONNECTED: 1 << 7,
  MAPVALID: 1 << 8,
} as const;

/** Connection-level state (struct mptcp_info). Optional fields need a newer kernel. */
export interface MptcpInfo {
  token: number;
  /** Subflows besides the initial one (mptcpi_subflows). */
  extraSubflows: number;
  /** All subflows including the initial one (mptcpi_subflows_total; newer kernels only). */
  subflowsTotal?: number;
  /** Limit on extra subflows (`ip mptcp limits` subflows). */
  subflowsMax: number;
  addAddrSignal: number;
  addAddrAccepted: number;
  addAddrSignalMax: number;
  addAddrAcceptedMax: number;
  localAddrUsed?: number;
  localAddrMax?: number;
  checksum?: boolean;
  remoteKeyReceived: boolean;
  flags: number;
  writeSeq: string;
  sndUna: string;
  rcvNxt: string;
  retransmits?: number;
  bytesSent?: number;
  bytesReceived?: number;
  bytesAcked?: number;
  bytesRetrans?: number;
  lastDataSentMs?: number;
  lastDataRecvMs?: number;
  lastAckRecvMs?: number;
}

/** A subflow end. */
export interface SubflowEndpoint {
  family: 4 | 6;
  address: string;
  port: number;
}

/** TCP states, include/net/tcp_states.h. */
const TCP_STATES = ['unknown', 'established', 'syn-sent', 'syn-recv', 'fin-wait1', 'fin-wait2', 'time-wait', 'close', 'close-wait', 'last-ack', 'listen', 'closing', 'new-syn-recv'] as const;
export type TcpState = (typeof TCP_STATES)[number];

/** One subflow: its 4-tuple, interface and TCP state. Optional fields need a newer kernel. */
export interface SubflowInfo {
  /** Subflow id (MPTCP_FULL_INFO, Linux 6.5+). */
  id?: number;
  local: SubflowEndpoint;
  remote: SubflowEndpoint;
  /** Interface holding the local address (or the IPv6 scope id), when found. */
  ifindex?: number;
  state: TcpState;
  rttUs: number;
  rttVarUs: number;
  minRttUs?: number;
  rtoUs: number;
  sndCwnd: number;
  pmtu: number;
  totalRetrans: number;
  lost: number;
  /**
   * Retransmission timeouts in a row without progress. The kernel marks a
   * subflow stale (and stops sending on it while another works) once this
   * reaches net.mptcp.stale_loss_cnt.
   */
  rtoInARow?: number;
  bytesSent?: number;
  bytesReceived?: number;
  bytesAcked?: number;
  bytesRetrans?: number;
  /** Bytes per second (tcpi_delivery_rate). */
  deliveryRate?: number;
  /**
   * From sock_diag (INET_DIAG_ULP_INFO; absent when it could not be read):
   * the subflow is a backup if either side asked for it -- `backupLocal`
   * (this host set the B bit, i.e. a backup endpoint) or `backupRemote` (the
   * peer did).
   */
  backup?: boolean;
  backupLocal?: boolean;
  backupRemote?: boolean;
  /** Address ids: of the local endpoint (0 for the initial subflow's address) and the peer's. */
  localId?: number;
  remoteId?: number;
  /** Raw MPTCP_SUBFLOW_FLAG_* bits from sock_diag. */
  flags?: number;
}

/** Everything about one connection from a single snapshot. */
export interface MptcpStatus {
  transport: 'mptcp' | 'tcp-fallback';
  info: MptcpInfo | null;
  subflows: SubflowInfo[];
  /** Subflows the kernel reported; more than subflows.length only when it changed between reads. */
  subflowsReported: number;
  /** Socket options the data came from. */
  source?: 'full-info' | 'subflow-addrs';
}

function num(v: bigint | undefined): number | undefined {
  return v === undefined ? undefined : Number(v);
}

/** Copies the defined entries of `extra` onto `base` (exactOptionalPropertyTypes-friendly). */
function withDefined<T extends object>(base: T, extra: Record<string, unknown>): T {
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) (base as Record<string, unknown>)[k] = v;
  return base;
}

/** Turns the addon's struct mptcp_info into MptcpInfo (pure). */
export function decodeMptcpInfo(raw: RawMptcpInfo): MptcpInfo {
  const base: MptcpInfo = {
    token: raw.token,
    extraSubflows: raw.subflows,
    subflowsMax: raw.subflowsMax,
    addAddrSignal: raw.addAddrSignal,
    addAddrAccepted: raw.addAddrAccepted,
    addAddrSignalMax: raw.addAddrSignalMax,
    addAddrAcceptedMax: raw.addAddrAcceptedMax,
    remoteKeyReceived: (raw.flags & MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED) !== 0,
    flags: raw.flags,
    writeSeq: String(raw.writeSeq),
    sndUna: String(raw.sndUna),
    rcvNxt: String(raw.rcvNxt),
  };
  return withDefined(base, {
    subflowsTotal: raw.subflowsTotal,
    localAddrUsed: raw.localAddrUsed,
    localAddrMax: raw.localAddrMax,
    checksum: raw.csumEnabled === undefined ? undefined : raw.csumEnabled !== 0,
    retransmits: raw.retransmits,
    bytesSent: num(raw.bytesSent),
    bytesReceived: num(raw.bytesReceived),
    bytesAcked: num(raw.bytesAcked),
    bytesRetrans: num(raw.bytesRetrans),
    lastDataSentMs: raw.lastDataSent,
    lastDataRecvMs: raw.lastDataRecv,
    lastAckRecvMs: raw.lastAckRecv,
  });
}

function endpoint(a: RawSockAddr | undefined): SubflowEndpoint | undefined {
  return a === undefined ? undefined : { family: a.family, address: a.address, port: a.port };
}

/** Turns one of the addon's subflows into SubflowInfo, or undefined when its addresses are missing (pure). */
export function decodeSubflow(raw: RawSubflow): SubflowInfo | undefined {
  const local = endpoint(raw.local);
  const remote = endpoint(raw.remote);
  const tcp = raw.tcp;
  if (local === undefined || remote === undefined || tcp === undefined || tcp.state === undefined) return undefined;
  const base: SubflowInfo = {
    local,
    remote,
    state: TCP_STATES[tcp.state] ?? 'unknown',
    rttUs: tcp.rtt,
    rttVarUs: tcp.rttvar,
    rtoUs: tcp.rto,
    sndCwnd: tcp.sndCwnd,
    pmtu: tcp.pmtu,
    totalRetrans: tcp.totalRetrans,
    lost: tcp.lost,
  };
  const diag = raw.diag;
  return withDefined(base, {
    id: raw.id,
    ifindex: raw.local?.ifindex,
    backup: diag === undefined ? undefined : (diag.flags & (SUBFLOW_FLAG.BKUP_LOC | SUBFLOW_FLAG.BKUP_REM)) !== 0,
    backupLocal: diag === undefined ? undefined : (diag.flags & SUBFLOW_FLAG.BKUP_LOC) !== 0,
    backupRemote: diag === undefined ? undefined : (diag.flags & SUBFLOW_FLAG.BKUP_REM) !== 0,
    localId: diag?.localId,
    remoteId: diag?.remoteId,
    flags: diag?.flags,
    minRttUs: tcp.minRtt,
    rtoInARow: tcp.retransmits,
    bytesSent: num(tcp.bytesSent),
    bytesReceived: num(tcp.bytesReceived),
    bytesAcked: num(tcp.bytesAcked),
    bytesRetrans: num(tcp.bytesRetrans),
    deliveryRate: num(tcp.deliveryRate),
  });
}

function fdOf(socketOrFd: net.Socket | number): number {
  return typeof socketOrFd === 'number' ? socketOrFd : socketFd(socketOrFd);
}

export interface SubflowQueryOptions {
  /**
   * Also ask sock_diag for each subflow's flags (backup) and address ids:
   * one netlink round trip per subflow, in the calling thread's namespace.
   * Default true.
   */
  diag?: boolean;
}

/** Reads the subflows, growing the buffer once if the kernel has more than fit. */
function readSubflows(fd: number, opts: SubflowQueryOptions | undefined): RawSubflows | null {
  const addon = native();
  const diag = opts?.diag ?? true;
  let raw = addon.mptcpSubflows(fd, { max: 8, diag });
  if (raw !== null && raw.total > raw.subflows.length && raw.total <= 256) raw = addon.mptcpSubflows(fd, { max: raw.total + 2, diag });
  return raw;
}

/** struct mptcp_info of a connection, or null when it is not MPTCP (plain TCP or fallen back). */
export function mptcpInfo(socketOrFd: net.Socket | number): MptcpInfo | null {
  const raw = native().mptcpInfo(fdOf(socketOrFd));
  return raw === null ? null : decodeMptcpInfo(raw);
}

/** The subflows of an MPTCP connection; [] when it is not MPTCP. */
export function subflows(socketOrFd: net.Socket | number, opts?: SubflowQueryOptions): SubflowInfo[] {
  return mptcpStatus(socketOrFd, opts).subflows;
}

/** Transport, mptcp_info and subflows of a connection from one snapshot (one getsockopt on Linux 6.5+). */
export function mptcpStatus(socketOrFd: net.Socket | number, opts?: SubflowQueryOptions): MptcpStatus {
  const raw = readSubflows(fdOf(socketOrFd), opts);
  if (raw === null) return { transport: 'tcp-fallback', info: null, subflows: [], subflowsReported: 0 };
  const list = raw.subflows.map(decodeSubflow).filter((s): s is SubflowInfo => s !== undefined);
  return {
    transport: 'mptcp',
    info: raw.info !== undefined && raw.info.token !== undefined ? decodeMptcpInfo(raw.info) : null,
    subflows: list,
    subflowsReported: raw.total,
    source: raw.source,
  };
}
