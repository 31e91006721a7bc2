/**
 * Offering a connection that `mpssh` already made to the ProxyCommand ssh
 * runs, so that ssh starts only once the server is reached: a failure is then
 * mpssh's one line, not followed by ssh's complaints about a proxy that passed
 * nothing back. The connection travels over a Unix socket in a directory only
 * this user can enter, so no other local user can take it.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { handOverSocket, receiveFd, sendFd, socketFd } from '../../mptcp/index.js';

/** A connection waiting for the ProxyCommand to fetch it. */
export interface Handoff {
  /** Path of the Unix socket the ProxyCommand connects to. */
  path: string;
  /** Resolves once the connection was handed over. */
  done: Promise<void>;
  close(): void;
}

/** Offers `conn` on a private Unix socket; the first client of the socket gets it. */
export async function offerConnection(conn: net.Socket): Promise<Handoff> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-'));
  const sockPath = path.join(dir, 'conn');
  const server = net.createServer();
  let settle: (err?: Error) => void = () => {};
  const done = new Promise<void>((resolve, reject) => (settle = (err) => (err ? reject(err) : resolve())));
  server.on('connection', (peer) => {
    try {
      peer.pause();
      handOverSocket(conn, socketFd(peer));
      settle();
    } catch (err) {
      settle(err as Error);
    } finally {
      peer.destroy();
      server.close();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(sockPath, () => resolve());
  });
  const close = (): void => {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  void done.then(close, close);
  return { path: sockPath, done, close };
}

/** In the ProxyCommand: fetches the connection from `sockPath` and passes it on to ssh over `outFd`. */
export async function forwardOfferedConnection(sockPath: string, outFd = 1): Promise<void> {
  const peer = net.connect(sockPath);
  await new Promise<void>((resolve, reject) => {
    peer.once('connect', () => resolve());
    peer.once('error', reject);
  });
  peer.pause();
  const fd = receiveFd(socketFd(peer));
  try {
    sendFd(outFd, fd);
  } finally {
    fs.closeSync(fd);
    peer.destroy();
  }
}
