/**
 * A service manager's notification socket for tests: a Unix datagram socket
 * bound by python3 (Node has no AF_UNIX datagrams), printing each message it
 * receives as one JSON line. It plays systemd's side of sd_notify(3).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from '../../tools/netns.js';

const RECEIVER = `
import json, os, socket, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\\0" + addr[1:] if addr.startswith("@") else addr)
print(json.dumps("bound"), flush=True)
while True:
    print(json.dumps(s.recv(4096).decode()), flush=True)
`;

/** A bound notification socket and the messages it got so far. */
export interface NotifySocket {
  /** The value for $NOTIFY_SOCKET. */
  address: string;
  messages: string[];
  /** Resolves with the first message (from `from` on) for which `pred` holds. */
  waitForMessage(what: string, pred: (m: string) => boolean, opts?: { from?: number; timeoutMs?: number }): Promise<string>;
  close(): Promise<void>;
}

/** Binds `address` (a path, or '@name' for an abstract socket) and resolves once it is bound. */
export async function notifySocket(address: string): Promise<NotifySocket> {
  const proc: ChildProcess = spawn('python3', ['-c', RECEIVER, address], { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: string[] = [];
  let bound = false;
  let err = '';
  let buf = '';
  proc.stderr?.setEncoding('utf8').on('data', (c: string) => (err += c));
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const m = JSON.parse(buf.slice(0, nl)) as string;
      buf = buf.slice(nl + 1);
      if (!bound && m === 'bound') bound = true;
      else messages.push(m);
    }
  });
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
  const close = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exited;
  };
  try {
    await waitFor(`notification socket ${address} bound (${err.trim()})`, () => bound || proc.exitCode !== null, 5000);
    if (!bound) throw new Error(`python3 could not bind ${address}: ${err.trim()}`);
  } catch (e) {
    await close();
    throw e;
  }
  return {
    address,
    messages,
    waitForMessage: (what, pred, opts = {}) =>
      waitFor(`notification: ${what} (got: ${JSON.stringify(messages)})`, () => messages.slice(opts.from ?? 0).find(pred), opts.timeoutMs ?? 8000),
    close,
  };
}
