/**
 * Joins a channel and a socket both ways with flow control on each side,
 * half-closes passed on (EOF one way leaves the other way open), and
 * `counts(true)` now, `counts(false)` once both are gone (the channel counts
 * of the status API).
 */
import type net from 'node:net';
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

/**
 * A direct channel (-L to a port or a Unix socket): accepted only once the
 * user's side has connected, so that a refused destination is an open
 * failure on the client, as with sshd; then spliced.
 */
export function openWhenConnected(
  connecting: Promise<net.Socket>,
  channel: { accept(): Duplex | undefined; refuse(why: string): void },
  opts: { track(sock: net.Socket): void; counts?: (open: boolean) => void; pressure?: Backpressure; why(err: Error): string },
): void {
  connecting.then(
    (sock) => {
      opts.track(sock);
      const ch = channel.accept();
      if (!ch) {
        sock.destroy();
        return;
      }
      splice(ch, sock, opts.counts, opts.pressure);
    },
    (err: Error) => channel.refuse(opts.why(err)),
  );
}
