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
