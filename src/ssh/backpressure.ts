/**
 * Backpressure from the client's TCP connection to the programs feeding it.
 * ssh2 completes a channel write as soon as the client's window allows, and
 * a client may open a window of 4 GiB and stop reading: everything then
 * piles up in the connection's write buffer in this process (1.8 GB was
 * seen). Writers into channels therefore also ask the connection, and pause
 * their source until the socket drains.
 */
import type net from 'node:net';

export interface Backpressure {
  /** The connection's write buffer is past its bound: stop feeding it. */
  congested(): boolean;
  /** Calls `cb` once the connection's write buffer has drained. */
  whenDrained(cb: () => void): void;
}

/** Bytes the connection may hold unsent before sources are paused (sshd holds 16-30 MB at most). */
export const WRITE_BUFFER_LIMIT = 4 * 1024 * 1024;

/** Backpressure of a connection's socket. */
export function socketBackpressure(sock: net.Socket, limit = WRITE_BUFFER_LIMIT): Backpressure {
  const waiting: (() => void)[] = [];
  sock.on('drain', () => {
    for (const cb of waiting.splice(0)) cb();
  });
  // Past `limit` the socket's own high-water mark is passed too, so a 'drain' is due.
  return { congested: () => sock.writableLength > limit, whenDrained: (cb) => waiting.push(cb) };
}

/** For channel handlers tested without a connection. */
export const NO_BACKPRESSURE: Backpressure = { congested: () => false, whenDrained: (cb) => cb() };

/** Pausable sources: a stream, or a pty's output. */
interface Source {
  pause(): unknown;
  resume(): unknown;
}

/**
 * Writes `chunk` to `dst`; when `dst` or the connection cannot take more,
 * pauses `src` until both can.
 */
export function writeOrPause(src: Source, dst: NodeJS.WritableStream, chunk: Buffer, pressure: Backpressure): void {
  const channelFull = !dst.write(chunk);
  const connectionFull = pressure.congested();
  if (!channelFull && !connectionFull) return;
  src.pause();
  let pending = (channelFull ? 1 : 0) + (connectionFull ? 1 : 0);
  const release = (): void => {
    if (--pending === 0) src.resume();
  };
  if (channelFull) dst.once('drain', release);
  if (connectionFull) pressure.whenDrained(release);
}
