/**
 * Joins a channel and a socket both ways with flow control on each side,
 * half-closes passed on (EOF one way leaves the other way open), and
 * `counts(true)` now, `counts(false)` once both are gone (the channel counts
 * of the status API).
 */
import type { Duplex } from 'node:stream';

export function splice(channel: Duplex, sock: Duplex, counts?: (open: boolean) => void): void {
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
  sock.pipe(channel);
}
