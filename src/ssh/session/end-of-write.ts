/**
 * `eow@openssh.com`: the OpenSSH client sends it when it can no longer
 * write a channel's output (`ssh host 'cat /dev/zero' | head -c 1M` after
 * head exits). sshd then closes its end of the program's output pipe, so
 * the program dies of SIGPIPE instead of streaming for ever into a client
 * that discards the data. ssh2 rejects requests it does not know before any
 * listener sees them, so this hooks its channel-request dispatch and turns
 * the request into an `eow` event on the session.
 */
import type { Connection } from 'ssh2';

type RequestHandler = (p: unknown, recipient: number, type: string, wantReply: boolean, data: unknown) => void;
interface Internals {
  _protocol?: { _handlers?: { CHANNEL_REQUEST?: RequestHandler } };
  _chanMgr?: { get(id: number): unknown };
}

export function emitEndOfWrite(client: Connection): void {
  const c = client as unknown as Internals;
  const handlers = c._protocol?._handlers;
  const original = handlers?.CHANNEL_REQUEST;
  if (!handlers || !original || !c._chanMgr) return;
  const chanMgr = c._chanMgr;
  handlers.CHANNEL_REQUEST = (p, recipient, type, wantReply, data) => {
    if (type === 'eow@openssh.com') {
      const session = chanMgr.get(recipient);
      if (session && typeof (session as NodeJS.EventEmitter).emit === 'function') (session as NodeJS.EventEmitter).emit('eow');
      return;
    }
    original(p, recipient, type, wantReply, data);
  };
}
