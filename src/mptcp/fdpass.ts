/**
 * Handing a connected socket to another process over a Unix socket
 * (SCM_RIGHTS), as OpenSSH's ProxyUseFdpass expects from a ProxyCommand: ssh
 * gives the proxy one end of a socketpair as its stdout (fd 1), the proxy
 * connects, sends the connected fd with one NUL byte and exits; ssh then
 * talks to the server over that fd directly.
 *
 * Handing over a Node-owned socket safely:
 *  - connect with `connectMptcp({ ..., paused: true })` (or never read):
 *    bytes Node has already read from the kernel (an SSH server's banner
 *    arrives right after connect) would be lost to the receiver;
 *  - after sendFd, closing the sender's copy is harmless: `socket.destroy()`
 *    only close(2)s the descriptor, and the connection lives on in the
 *    receiver's reference. Never call `socket.end()`: it shuts the
 *    connection down for writing, for every holder of it.
 * `handOverSocket()` does exactly this.
 *
 * Both calls are synchronous and block the event loop while the Unix socket
 * is not ready, at most `timeoutMs`.
 */
import net from 'node:net';
import { MptcpSocketError } from './errors.js';
import { native } from './native.js';
import { socketFd } from './socket.js';

export interface FdPassOptions {
  /** How long to wait for the Unix socket to be ready, in ms; default 5000, -1 waits forever. */
  timeoutMs?: number;
}

function timeout(opts: FdPassOptions | undefined): number {
  const t = opts?.timeoutMs ?? 5000;
  if (!Number.isInteger(t) || t < -1) throw new MptcpSocketError('ERR_MPTCP_BAD_TIMEOUT', `timeoutMs must be an integer >= -1, got ${t}`);
  return t;
}

/** Sends descriptor `fd` over the Unix socket `unixSocketFd` with one NUL byte (OpenSSH's format). */
export function sendFd(unixSocketFd: number, fd: number, opts?: FdPassOptions): void {
  native().sendFd(unixSocketFd, fd, timeout(opts));
}

/**
 * sendFd without blocking the event loop: on a full socket it retries every
 * 10 ms until `patienceMs` runs out, then throws ETIMEDOUT. For a peer that
 * may stop reading, where a blocking send would stall everything else.
 */
export async function sendFdPatiently(unixSocketFd: number, fd: number, patienceMs: number): Promise<void> {
  const deadline = Date.now() + patienceMs;
  for (;;) {
    try {
      sendFd(unixSocketFd, fd, { timeoutMs: 0 });
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'ETIMEDOUT') throw err;
      if (Date.now() >= deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Receives one descriptor from the Unix socket `unixSocketFd`; the caller
 * owns it (close-on-exec). Errors: EPIPE when the peer closed first, ENOMSG
 * for a message without a descriptor, ETIMEDOUT.
 */
export function receiveFd(unixSocketFd: number, opts?: FdPassOptions): number {
  return native().receiveFd(unixSocketFd, timeout(opts));
}

/** Whether `fd` becomes readable within `timeoutMs` (-1: no limit); blocks this process meanwhile. */
export function waitReadable(fd: number, timeoutMs: number): boolean {
  return native().waitReadable(fd, timeoutMs);
}

/** A connected AF_UNIX stream socket pair [a, b]; both ends are the caller's to close. */
export function socketPair(): [number, number] {
  return native().socketPair();
}

/**
 * Sends a connected socket's descriptor over `unixSocketFd`, then closes this
 * process's copy without shutting the connection down. Throws, leaving the
 * socket untouched, when Node has already buffered received bytes that the
 * receiver would never see.
 */
export function handOverSocket(socket: net.Socket, unixSocketFd: number, opts?: FdPassOptions): void {
  const fd = socketFd(socket);
  if (socket.readableLength > 0) {
    throw new MptcpSocketError('ERR_MPTCP_BUFFERED_DATA', `socket has ${socket.readableLength} received bytes buffered in this process; connect with paused: true before handing it over`);
  }
  socket.pause();
  sendFd(unixSocketFd, fd, opts);
  socket.destroy();
}

/** Wraps a received, connected TCP/MPTCP descriptor in a net.Socket (which then owns it). */
export function adoptSocket(fd: number): net.Socket {
  try {
    return new net.Socket({ fd, readable: true, writable: true });
  } catch (err) {
    native().closeFd(fd);
    throw err;
  }
}
