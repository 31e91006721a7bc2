/**
 * sock_diag (NETLINK_SOCK_DIAG) requests and replies for MPTCP sockets and
 * their TCP subflows, as `ss -M` and `ss -ti` read them. Pure: bytes in,
 * values out; the socket is in sock-diag.ts.
 *
 * Layouts: include/uapi/linux/inet_diag.h (struct inet_diag_req_v2,
 * inet_diag_msg, INET_DIAG_*), include/uapi/linux/sock_diag.h,
 * include/uapi/linux/tcp.h (struct tcp_info), include/uapi/linux/mptcp.h
 * (struct mptcp_info, MPTCP_SUBFLOW_ATTR_*), Linux 6.18. Every field is read
 * only when the kernel's struct is long enough to hold it: older kernels
 * send shorter structs.
 */
import type { RawMptcpInfo, RawTcpInfo } from './kernel-info.js';
import { attrMap, encodeAttr, parseAttrs } from './nlmsg.js';
import { formatIp } from './rt-decode.js';

export const NETLINK_SOCK_DIAG = 4;
export const SOCK_DIAG_BY_FAMILY = 20;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_TCP = 6;
export const IPPROTO_MPTCP = 262;

/** INET_DIAG_* reply attributes. */
export const INET_DIAG_INFO = 2;
export const INET_DIAG_SHUTDOWN = 8;
export const INET_DIAG_ULP_INFO = 19;
/** Request attribute carrying a protocol above 255 (IPPROTO_MPTCP does not fit sdiag_protocol). */
export const INET_DIAG_REQ_PROTOCOL = 3;
/** INET_ULP_INFO_* nested in INET_DIAG_ULP_INFO. */
export const INET_ULP_INFO_NAME = 1;
export const INET_ULP_INFO_MPTCP = 3;
/** MPTCP_SUBFLOW_ATTR_* nested in INET_ULP_INFO_MPTCP. */
export const MPTCP_SUBFLOW_ATTR_TOKEN_REM = 1;
export const MPTCP_SUBFLOW_ATTR_TOKEN_LOC = 2;
export const MPTCP_SUBFLOW_ATTR_FLAGS = 8;
export const MPTCP_SUBFLOW_ATTR_ID_REM = 9;
export const MPTCP_SUBFLOW_ATTR_ID_LOC = 10;

/** TCP_LISTEN (include/net/tcp_states.h): listeners are not connections. */
export const TCP_LISTEN = 10;
/** Every state but TCP_LISTEN and TCP_NEW_SYN_RECV (request sockets). */
export const CONNECTION_STATES = 0xffffffff & ~(1 << TCP_LISTEN) & ~(1 << 12);

const INET_DIAG_REQ_V2_LEN = 56;
const INET_DIAG_MSG_LEN = 72;

/** A sock_diag dump request for every socket of one family and protocol, asking for INET_DIAG_INFO. */
export function inetDiagDumpRequest(family: number, protocol: number, states = CONNECTION_STATES): Buffer {
  const req = Buffer.alloc(INET_DIAG_REQ_V2_LEN);
  req.writeUInt8(family, 0);
  req.writeUInt8(protocol & 0xff, 1);
  req.writeUInt8(1 << (INET_DIAG_INFO - 1), 2);
  req.writeUInt32LE(states >>> 0, 4);
  // The sockid stays zero: a dump ignores it. The cookie must be "none" (~0) only for lookups.
  if (protocol <= 0xff) return req;
  const proto = Buffer.alloc(4);
  proto.writeUInt32LE(protocol, 0);
  return Buffer.concat([req, encodeAttr(INET_DIAG_REQ_PROTOCOL, proto)]);
}

/** One socket of a dump. */
export interface InetDiagSocket {
  family: 4 | 6;
  /** TCP state number (include/net/tcp_states.h). */
  state: number;
  local: { address: string; port: number };
  remote: { address: string; port: number };
  /** Interface the socket is bound to (SO_BINDTODEVICE), 0 if none. */
  boundIfindex: number;
  /** The kernel's socket cookie, as a decimal string (64 bits). */
  cookie: string;
  uid: number;
  /** Inode of the socket's file; 0 for sockets no process holds (MPTCP subflows). */
  inode: number;
  /** Raw attributes by type. */
  attrs: Map<number, Buffer>;
}

/** Attributes by type, or null when they are malformed (a kernel never sends such; a test or fuzzer does). */
function attrsOrNull(b: Buffer): Map<number, Buffer> | null {
  try {
    return attrMap(parseAttrs(b));
  } catch {
    return null;
  }
}

/** Decodes struct inet_diag_msg and its attributes; null when too short, malformed or of an unknown family. */
export function decodeInetDiagMsg(payload: Buffer): InetDiagSocket | null {
  if (payload.length < INET_DIAG_MSG_LEN) return null;
  const attrs = attrsOrNull(payload.subarray(INET_DIAG_MSG_LEN));
  if (attrs === null) return null;
  const af = payload.readUInt8(0);
  if (af !== AF_INET && af !== AF_INET6) return null;
  const family: 4 | 6 = af === AF_INET ? 4 : 6;
  const addrLen = family === 4 ? 4 : 16;
  return {
    family,
    state: payload.readUInt8(1),
    local: { address: formatIp(family, payload.subarray(8, 8 + addrLen)), port: payload.readUInt16BE(4) },
    remote: { address: formatIp(family, payload.subarray(24, 24 + addrLen)), port: payload.readUInt16BE(6) },
    boundIfindex: payload.readUInt32LE(40),
    cookie: (BigInt(payload.readUInt32LE(44)) | (BigInt(payload.readUInt32LE(48)) << 32n)).toString(),
    uid: payload.readUInt32LE(64),
    inode: payload.readUInt32LE(68),
    attrs,
  };
}

/** Reads a field only when the struct the kernel sent holds it. */
function reader(b: Buffer) {
  return {
    u8: (off: number): number | undefined => (b.length >= off + 1 ? b.readUInt8(off) : undefined),
    u32: (off: number): number | undefined => (b.length >= off + 4 ? b.readUInt32LE(off) : undefined),
    u64: (off: number): bigint | undefined => (b.length >= off + 8 ? b.readBigUInt64LE(off) : undefined),
  };
}

/** Copies the defined entries of `extra` onto `base`. */
function withDefined<T extends object>(base: T, extra: Record<string, unknown>): T {
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) (base as Record<string, unknown>)[k] = v;
  return base;
}

/** struct tcp_info (the fields mpssh shows); null when shorter than the 104 bytes every supported kernel sends. */
export function decodeTcpInfo(b: Buffer): RawTcpInfo | null {
  if (b.length < 104) return null;
  const r = reader(b);
  const base: RawTcpInfo = {
    size: b.length,
    state: b.readUInt8(0),
    caState: b.readUInt8(1),
    retransmits: b.readUInt8(2),
    rto: b.readUInt32LE(8),
    sndMss: b.readUInt32LE(16),
    rcvMss: b.readUInt32LE(20),
    unacked: b.readUInt32LE(24),
    lost: b.readUInt32LE(32),
    retrans: b.readUInt32LE(36),
    pmtu: b.readUInt32LE(60),
    rtt: b.readUInt32LE(68),
    rttvar: b.readUInt32LE(72),
    sndCwnd: b.readUInt32LE(80),
    totalRetrans: b.readUInt32LE(100),
  };
  return withDefined(base, {
    pacingRate: r.u64(104),
    bytesAcked: r.u64(120),
    bytesReceived: r.u64(128),
    segsOut: r.u32(136),
    segsIn: r.u32(140),
    minRtt: r.u32(148),
    deliveryRate: r.u64(160),
    bytesSent: r.u64(200),
    bytesRetrans: r.u64(208),
    sndWnd: r.u32(228),
    rcvWnd: r.u32(232),
  });
}

/** struct mptcp_info; null when shorter than the 40 bytes of its first version. */
export function decodeMptcpInfoStruct(b: Buffer): RawMptcpInfo | null {
  if (b.length < 40) return null;
  const r = reader(b);
  const base: RawMptcpInfo = {
    size: b.length,
    subflows: b.readUInt8(0),
    addAddrSignal: b.readUInt8(1),
    addAddrAccepted: b.readUInt8(2),
    subflowsMax: b.readUInt8(3),
    addAddrSignalMax: b.readUInt8(4),
    addAddrAcceptedMax: b.readUInt8(5),
    flags: b.readUInt32LE(8),
    token: b.readUInt32LE(12),
    writeSeq: b.readBigUInt64LE(16),
    sndUna: b.readBigUInt64LE(24),
    rcvNxt: b.readBigUInt64LE(32),
  };
  return withDefined(base, {
    localAddrUsed: r.u8(40),
    localAddrMax: r.u8(41),
    csumEnabled: r.u8(42),
    retransmits: r.u32(44),
    bytesRetrans: r.u64(48),
    bytesSent: r.u64(56),
    bytesReceived: r.u64(64),
    bytesAcked: r.u64(72),
    subflowsTotal: r.u8(80),
    lastDataSent: r.u32(84),
    lastDataRecv: r.u32(88),
    lastAckRecv: r.u32(92),
  });
}

/** What INET_DIAG_ULP_INFO says of an MPTCP subflow. */
export interface SubflowUlp {
  /** The connection's token on this host (joins the subflow to its MPTCP socket). */
  token: number;
  remoteToken?: number;
  flags: number;
  localId?: number;
  remoteId?: number;
}

/** Decodes INET_DIAG_ULP_INFO; null when the ULP is not MPTCP or carries no token. */
export function decodeSubflowUlp(b: Buffer): SubflowUlp | null {
  const ulp = attrsOrNull(b);
  if (ulp === null) return null;
  const name = ulp.get(INET_ULP_INFO_NAME);
  if (name === undefined || !name.toString('latin1').startsWith('mptcp')) return null;
  const mp = ulp.get(INET_ULP_INFO_MPTCP);
  if (mp === undefined) return null;
  const a = attrsOrNull(mp);
  if (a === null) return null;
  const u32 = (t: number): number | undefined => {
    const v = a.get(t);
    return v !== undefined && v.length >= 4 ? v.readUInt32LE(0) : undefined;
  };
  const u8 = (t: number): number | undefined => {
    const v = a.get(t);
    return v !== undefined && v.length >= 1 ? v.readUInt8(0) : undefined;
  };
  const token = u32(MPTCP_SUBFLOW_ATTR_TOKEN_LOC);
  if (token === undefined) return null;
  return withDefined({ token, flags: u32(MPTCP_SUBFLOW_ATTR_FLAGS) ?? 0 } as SubflowUlp, {
    remoteToken: u32(MPTCP_SUBFLOW_ATTR_TOKEN_REM),
    localId: u8(MPTCP_SUBFLOW_ATTR_ID_LOC),
    remoteId: u8(MPTCP_SUBFLOW_ATTR_ID_REM),
  });
}
