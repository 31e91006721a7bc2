/**
 * MPTCP sockets for the daemon and the client: listen, connect (with TCP
 * fallback), per-connection introspection and descriptor passing.
 */
export { MptcpSocketError, hasCode, type SystemErrorLike } from './errors.js';
export {
  IPPROTO_MPTCP,
  connectMptcp,
  connectionTransport,
  listenMptcp,
  mptcpAvailable,
  socketFd,
  type ConnectMptcpOptions,
  type ConnectMptcpResult,
  type FallbackReason,
  type ListenMptcpOptions,
  type ListenMptcpResult,
  type Transport,
} from './socket.js';
export {
  MPTCP_INFO_FLAG_FALLBACK,
  MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED,
  SUBFLOW_FLAG,
  decodeMptcpInfo,
  decodeSubflow,
  mptcpInfo,
  mptcpStatus,
  subflows,
  type MptcpInfo,
  type MptcpStatus,
  type SubflowEndpoint,
  type SubflowInfo,
  type SubflowQueryOptions,
  type TcpState,
} from './info.js';
export { adoptSocket, handOverSocket, receiveFd, sendFd, socketPair, type FdPassOptions } from './fdpass.js';
