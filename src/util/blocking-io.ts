/**
 * Blocking reads and writes on a descriptor, for the few places that must
 * not return to the event loop: a worker waiting for its connection, and a
 * key exchange waiting for the daemon's signature.
 */
import fs from 'node:fs';

/** Reads exactly `n` bytes; throws on end of file. */
export function readExactly(fd: number, n: number, what = 'the peer'): Buffer {
  const buf = Buffer.alloc(n);
  let off = 0;
  while (off < n) {
    const got = fs.readSync(fd, buf, off, n - off, null);
    if (got === 0) throw new Error(`${what} closed the socket`);
    off += got;
  }
  return buf;
}

/** Writes all of `buf`. */
export function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off);
}
