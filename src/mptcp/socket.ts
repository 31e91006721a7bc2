/**
 * MPTCP listening and connecting sockets for Node.js. libuv only creates TCP
 * sockets with protocol 0, so the addon makes the descriptor with
 * IPPROTO_MPTCP and Node adopts it: a listening fd through
 * `net.Server#listen({fd})`, an unconnected fd through `new net.Socket({fd})`
 * followed by an ordinary `socket.connect()` (libuv sees a TCP socket:
 * uv_guess_handle() checks SO_TYPE and the address family only), so connect
 * errors, events and timeouts are exactly those of a normal socket.
 *
 * Where MPTCP is unavailable (net.mptcp.enabled=0, or a kernel without it)
 * plain TCP sockets are made instead, logged once per reason, and reported as
 * transport 'tcp-fallback'. An MPTCP listener also accepts TCP-only clients:
 * the kernel falls back per connection, which `connectionTransport()` tells.
 */
import fs from 'node:fs';
import net from 'node:net';
import type { Logger } from '../util/logger.js';
import { MptcpSocketError, hasCode } from './errors.js';
import { native, type MadeSocket } from './native.js';

/** Whether a socket or connection really runs MPTCP. */
export type Transport = 'mptcp' | 'tcp-fallback';

/** Why a connection is not MPTCP: the socket could not be MPTCP (errno code), or the peer did not answer MP_CAPABLE. */
export type FallbackReason = 'ENOPROTOOPT' | 'EPROTONOSUPPORT' | 'peer';

/** IPPROTO_MPTCP, include/uapi/linux/in.h (Linux 5.6+). */
export const IPPROTO_MPTCP = 262;

const NO_MPTCP_CODES = ['ENOPROTOOPT', 'EPROTONOSUPPORT'];
const probed = new Map<string, boolean>();
const warned = new Set<string>();

/** Identity of the calling thread's network namespace ("net:[4026531840]"); sockets are made there. */
function netnsKey(): string {
  try {
    return fs.readlinkSync('/proc/thread-self/ns/net');
  } catch {
    return 'unknown';
  }
}

/** True when MPTCP sockets can be made in the current network namespace (probed once per namespace). */
export function mptcpAvailable(): boolean {
  const key = netnsKey();
  const known = probed.get(key);
  if (known !== undefined) return known;
  const addon = native();
  for (const family of [4, 6] as const) {
    try {
      const made = addon.mptcpSocket({ family, allowFallback: false });
      addon.closeFd(made.fd);
      probed.set(key, true);
      return true;
    } catch (err) {
      if (hasCode(err, ...NO_MPTCP_CODES)) {
        probed.set(key, false);
        return false;
      }
      // EAFNOSUPPORT (IPv4 or IPv6 disabled) tries the other family; other
      // failures (EMFILE, ...) say nothing about MPTCP and are not cached.
      if (!hasCode(err, 'EAFNOSUPPORT')) return false;
    }
  }
  return false;
}

/** Logs the first fallback of each kind at warn level, later ones at debug. */
function noteFallback(made: MadeSocket, log: Logger | undefined, what: string): void {
  if (made.mptcp || log === undefined) return;
  const code = made.fallbackCode ?? 'unknown';
  const why = code === 'ENOPROTOOPT' ? 'net.mptcp.enabled=0 in this network namespace' : code === 'EPROTONOSUPPORT' ? 'the kernel has no MPTCP' : code;
  const fields = { mod: 'mptcp', code, what };
  if (warned.has(code)) {
    log.debug(fields, 'MPTCP unavailable, using plain TCP');
  } else {
    warned.add(code);
    log.warn(fields, `MPTCP unavailable (${why}), falling back to plain TCP`);
  }
}

function checkPort(port: unknown, what: string): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new MptcpSocketError('ERR_MPTCP_BAD_PORT', `${what}: port must be an integer 0..65535, got ${String(port)}`);
  }
  return port;
}

function checkIp(host: unknown, what: string): 4 | 6 {
  const family = typeof host === 'string' ? net.isIP(host) : 0;
  if (family !== 4 && family !== 6) {
    throw new MptcpSocketError('ERR_MPTCP_BAD_ADDRESS', `${what}: expected a numeric IP address, got ${JSON.stringify(host)}`);
  }
  return family;
}

export interface ListenMptcpOptions {
  /** Numeric address; default "::" (dual-stack), or "0.0.0.0" where the kernel has no IPv6. */
  host?: string;
  port: number;
  backlog?: number;
  /** IPV6_V6ONLY for an IPv6 host; default false, so "::" accepts IPv4 too. */
  ipv6Only?: boolean;
  /** Use plain TCP when MPTCP is unavailable (default true); false makes that an error. */
  allowFallback?: boolean;
  log?: Logger;
}

export interface ListenMptcpResult {
  /** What the listening socket is; each accepted connection may still fall back (see connectionTransport). */
  transport: Transport;
  address: net.AddressInfo;
  fallbackReason?: FallbackReason;
}

/**
 * Makes `server` listen on an MPTCP socket; resolves once it listens.
 * Rejects with errno/code/syscall errors (EADDRINUSE from bind, ...).
 */
export async function listenMptcp(server: net.Server, opts: ListenMptcpOptions): Promise<ListenMptcpResult> {
  const port = checkPort(opts.port, 'listenMptcp');
  if (opts.host !== undefined) checkIp(opts.host, 'listenMptcp');
  const backlog = opts.backlog ?? 511;
  const addon = native();
  const request = { port, backlog, ipv6Only: opts.ipv6Only ?? false, allowFallback: opts.allowFallback ?? true };
  let made: MadeSocket;
  try {
    made = addon.mptcpListen({ ...request, address: opts.host ?? '::' });
  } catch (err) {
    if (opts.host !== undefined || !hasCode(err, 'EAFNOSUPPORT')) throw err;
    made = addon.mptcpListen({ ...request, address: '0.0.0.0' });
  }
  noteFallback(made, opts.log, 'listen');
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    try {
      server.listen({ fd: made.fd, backlog });
    } catch (err) {
      // Thrown before Node adopted the fd (e.g. ERR_SERVER_ALREADY_LISTEN).
      server.off('error', onError);
      server.off('listening', onListening);
      addon.closeFd(made.fd);
      reject(err);
    }
  });
  const result: ListenMptcpResult = { transport: made.mptcp ? 'mptcp' : 'tcp-fallback', address: server.address() as net.AddressInfo };
  if (!made.mptcp) result.fallbackReason = made.fallbackCode as FallbackReason;
  return result;
}

export interface ConnectMptcpOptions {
  /** Numeric IP address of the peer (no name resolution here: resolve first). */
  host: string;
  port: number;
  /** Numeric source address to bind before connecting (same family as host). */
  localAddress?: string;
  localPort?: number;
  /** Give up after this many ms with code ETIMEDOUT; default: the kernel's SYN retries. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Use plain TCP when MPTCP is unavailable (default true); false makes that an error. */
  allowFallback?: boolean;
  /**
   * Leave the socket paused: nothing is read from the kernel until the caller
   * resumes it. Needed before handing the fd to another process (sendFd),
   * since bytes Node has read would be lost to the receiver.
   */
  paused?: boolean;
  log?: Logger;
}

export interface ConnectMptcpResult {
  socket: net.Socket;
  /** Whether this connection really runs MPTCP (the peer answered MP_CAPABLE). */
  transport: Transport;
  fallbackReason?: FallbackReason;
}

/**
 * Connects to host:port over MPTCP and resolves with the connected socket.
 * Errors are Node's own connect errors (ECONNREFUSED, EHOSTUNREACH, ... with
 * errno/code/syscall/address/port), ETIMEDOUT for timeoutMs, or an
 * AbortError for the signal; the socket is destroyed on any failure.
 */
export async function connectMptcp(opts: ConnectMptcpOptions): Promise<ConnectMptcpResult> {
  const family = checkIp(opts.host, 'connectMptcp');
  const port = checkPort(opts.port, 'connectMptcp');
  if (opts.localAddress !== undefined && checkIp(opts.localAddress, 'connectMptcp localAddress') !== family) {
    throw new MptcpSocketError('ERR_MPTCP_BAD_ADDRESS', `connectMptcp: localAddress ${opts.localAddress} is not of the family of ${opts.host}`);
  }
  opts.signal?.throwIfAborted();
  const addon = native();
  const made = addon.mptcpSocket({
    family,
    allowFallback: opts.allowFallback ?? true,
    ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress, localPort: opts.localPort ?? 0 } : {}),
  });
  noteFallback(made, opts.log, 'connect');
  let socket: net.Socket;
  try {
    // manualStart (an option of Node's own, used by child_process) keeps the
    // constructor from starting to read on the still unconnected fd; reading
    // then starts after connect unless the socket is paused.
    const socketOpts = { fd: made.fd, readable: true, writable: true, manualStart: true } as net.SocketConstructorOpts;
    socket = new net.Socket(socketOpts);
  } catch (err) {
    addon.closeFd(made.fd);
    throw err;
  }
  if (opts.paused) socket.pause();
  await waitConnected(socket, opts.host, port, opts);
  const transport: Transport = made.mptcp && addon.mptcpConnection(socketFd(socket)) ? 'mptcp' : 'tcp-fallback';
  const result: ConnectMptcpResult = { socket, transport };
  if (!made.mptcp) result.fallbackReason = made.fallbackCode as FallbackReason;
  else if (transport === 'tcp-fallback') {
    result.fallbackReason = 'peer';
    opts.log?.debug({ mod: 'mptcp', host: opts.host, port }, 'peer did not answer MP_CAPABLE, connection runs plain TCP');
  }
  return result;
}

/** Starts socket.connect() and settles once it connected, failed, timed out or was aborted. */
function waitConnected(socket: net.Socket, host: string, port: number, opts: ConnectMptcpOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('error', fail);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: Error): void => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onConnect = (): void => {
      cleanup();
      resolve();
    };
    const onAbort = (): void => {
      const reason: unknown = opts.signal?.reason;
      fail(reason instanceof Error ? reason : new DOMException('connect aborted', 'AbortError'));
    };
    socket.once('connect', onConnect);
    socket.once('error', fail);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.timeoutMs !== undefined && opts.timeoutMs > 0) {
      timer = setTimeout(() => {
        fail(new MptcpSocketError('ETIMEDOUT', `connect ETIMEDOUT ${host}:${port} (after ${opts.timeoutMs} ms)`, { syscall: 'connect', address: host, port }));
      }, opts.timeoutMs);
    }
    socket.connect({ host, port });
  });
}

interface WithHandle {
  _handle?: { fd?: number } | null;
}

/** The file descriptor under a connected/listening net.Socket or net.Server (libuv's handle fd). */
export function socketFd(socket: net.Socket | net.Server): number {
  const fd = (socket as unknown as WithHandle)._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new MptcpSocketError('ERR_MPTCP_NO_FD', 'socket has no file descriptor (not open, already closed, or not a TCP socket)');
  }
  return fd;
}

/** Whether the connection on a socket (or fd) really runs MPTCP or fell back to TCP. */
export function connectionTransport(socketOrFd: net.Socket | number): Transport {
  const fd = typeof socketOrFd === 'number' ? socketOrFd : socketFd(socketOrFd);
  return native().mptcpConnection(fd) ? 'mptcp' : 'tcp-fallback';
}
