/**
 * Joins a channel and a socket both ways with flow control on each side,
 * half-closes passed on (EOF one way leaves the other way open), and
 * `counts(true)` now, `counts(false)` once both are gone (the channel counts
 * of the status API).
 */
import type { Duplex } from 'node:stream';
import { NO_BACKPRESSURE, writeOrPause, type Backpressure } from '../backpressure.js';

export function splice(channel: Duplex, sock: Duplex, counts?: (open: boolean) => void, pressure: Backpressure = NO_BACKPRESSURE): void {
  let finished = false;
  counts?.(true);
  const finish = (): void => {
    if (finished) return;
    finished = true;
    channel.destroy();
    sock.destroy();
    counts?.(false);
  };
  channel.on('error', finish);
  sock.on('error', finish);
  channel.on('close', finish);
  sock.on('close', finish);
  channel.pipe(sock);
  // Towards the client: the channel's window and the connection's write buffer both hold the socket back.
  sock.on('data', (d: Buffer) => writeOrPause(sock, channel, d, pressure));
  sock.on('end', () => channel.end());
}
