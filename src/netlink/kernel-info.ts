/**
 * The kernel's struct mptcp_info and struct tcp_info (include/uapi/linux/
 * mptcp.h, tcp.h) as the project decodes them, whether they come from
 * getsockopt(MPTCP_INFO/TCP_INFO) through the addon or from sock_diag.
 */

/** struct mptcp_info as the addon decodes it (fields the kernel did not return are absent). */
export interface RawMptcpInfo {
  size: number;
  subflows: number;
  addAddrSignal: number;
  addAddrAccepted: number;
  subflowsMax: number;
  addAddrSignalMax: number;
  addAddrAcceptedMax: number;
  flags: number;
  token: number;
  writeSeq: bigint;
  sndUna: bigint;
  rcvNxt: bigint;
  localAddrUsed?: number;
  localAddrMax?: number;
  csumEnabled?: number;
  retransmits?: number;
  bytesRetrans?: bigint;
  bytesSent?: bigint;
  bytesReceived?: bigint;
  bytesAcked?: bigint;
  subflowsTotal?: number;
  endpAddAddrMax?: number;
  lastDataSent?: number;
  lastDataRecv?: number;
  lastAckRecv?: number;
}

/** The parts of struct tcp_info the addon decodes (absent when the kernel returned less). */
export interface RawTcpInfo {
  size: number;
  state: number;
  caState: number;
  /** Retransmission timeouts in a row without progress (tcpi_retransmits). */
  retransmits?: number;
  rto: number;
  sndMss: number;
  rcvMss: number;
  unacked: number;
  lost: number;
  retrans: number;
  pmtu: number;
  rtt: number;
  rttvar: number;
  sndCwnd: number;
  totalRetrans: number;
  pacingRate?: bigint;
  bytesAcked?: bigint;
  bytesReceived?: bigint;
  segsOut?: number;
  segsIn?: number;
  minRtt?: number;
  deliveryRate?: bigint;
  bytesSent?: bigint;
  bytesRetrans?: bigint;
  sndWnd?: number;
  rcvWnd?: number;
}
