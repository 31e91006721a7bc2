/**
 * Both ends of a monitor channel in one process: a socket pair as two
 * net.Sockets, and a reader of the frames that arrive on one end.
 */
import net from 'node:net';
import { native } from '../../src/mptcp/native.js';
import { splitFrames } from '../../src/ssh/server/sign-protocol.js';

/** A socket pair as two net.Sockets, for talking to serveSigner asynchronously. */
export function pair(): [net.Socket, net.Socket] {
  const [a, b] = native().socketPair();
  return [new net.Socket({ fd: a, readable: true, writable: true }), new net.Socket({ fd: b, readable: true, writable: true })];
}

/** The frames arriving on `sock`, one per call, in order. */
export function answers(sock: net.Socket): () => Promise<Record<string, string>> {
  let buf: Buffer = Buffer.alloc(0);
  const queue: Record<string, string>[] = [];
  const waiting: ((v: Record<string, string>) => void)[] = [];
  sock.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    const s = splitFrames(buf);
    if ('error' in s) throw new Error(s.error);
    buf = s.rest;
    for (const f of s.frames) {
      const v = JSON.parse(f.toString()) as Record<string, string>;
      const w = waiting.shift();
      if (w) w(v);
      else queue.push(v);
    }
  });
  return () =>
    new Promise((resolve) => {
      const v = queue.shift();
      if (v) resolve(v);
      else waiting.push(resolve);
    });
}
