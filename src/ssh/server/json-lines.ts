/**
 * Newline-delimited JSON over a Unix stream socket: the language the daemon
 * and its SSH workers speak. Lines are bounded, so a confused or hostile
 * peer cannot grow memory; a bad line is reported, never thrown.
 */
import type net from 'node:net';

/** Longest line accepted (a status with many subflows stays far below). */
export const MAX_LINE = 1024 * 1024;

export interface JsonLines {
  send(msg: unknown): boolean;
  close(): void;
}

/**
 * Reads `socket` line by line; `onMessage` gets each parsed value, `onBad`
 * each unparsable or oversize line (the socket is then destroyed for oversize).
 */
export function jsonLines(socket: net.Socket, onMessage: (msg: unknown) => void, onBad: (why: string) => void, maxLine = MAX_LINE): JsonLines {
  let buf = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        onBad(`not JSON: ${line.slice(0, 80)}`);
        continue;
      }
      onMessage(value);
    }
    if (buf.length > maxLine) {
      onBad(`line longer than ${maxLine} bytes`);
      buf = '';
      socket.destroy();
    }
  });
  socket.on('error', () => {});
  return {
    send(msg) {
      if (socket.destroyed || !socket.writable) return false;
      socket.write(`${JSON.stringify(msg)}\n`);
      return true;
    },
    close() {
      socket.end();
    },
  };
}
