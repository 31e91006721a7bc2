/**
 * Joins a channel and a socket both ways with flow control on each side,
 * half-closes passed on (EOF one way leaves the other way open), and one
 * `done` when both are gone.
 */
import type { Duplex } from 'node:stream';

export function splice(channel: Duplex, sock: Duplex, done: () => void): void {
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    channel.destroy();
    sock.destroy();
    done();
  };
  channel.on('error', finish);
  sock.on('error', finish);
  channel.on('close', finish);
  sock.on('close', finish);
  channel.pipe(sock);
  sock.pipe(channel);
}
