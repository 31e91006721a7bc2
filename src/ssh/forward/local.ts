/**
 * -L: the client asks the server to connect somewhere and carry the bytes
 * (direct-tcpip). The channel is accepted only once the connection is up,
 * so a refused port is an open failure on the client, as with sshd.
 */
import type net from 'node:net';
import type { Connection } from 'ssh2';
import type { ConnectionContext } from '../context.js';
import { localForwardDecision } from './permits.js';
import { openWhenConnected } from './splice.js';
import { OPEN_FAILURE, rejectChannel } from '../ssh2-internals.js';

/**
 * The C library's words for a failed connect, as sshd passes them to the
 * client (the user-side helper's errors carry them as their message).
 */
export function connectErrorText(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'Connection refused';
    case 'ENOTFOUND':
      return 'Name or service not known';
    case 'EAI_AGAIN':
      return 'Temporary failure in name resolution';
    case 'ETIMEDOUT':
      return 'Connection timed out';
    case 'EHOSTUNREACH':
      return 'No route to host';
    case 'ENETUNREACH':
      return 'Network is unreachable';
    default:
      return err.message;
  }
}

export function serveLocalForwards(client: Connection, ctx: ConnectionContext, track: (sock: net.Socket) => void, onChannel?: (open: boolean) => void): void {
  client.on('tcpip', (accept, reject, info) => {
    const d = localForwardDecision(ctx.policy, info.destIP, info.destPort);
    const what = `${info.destIP}:${info.destPort} for ${ctx.account.name} from ${info.srcIP}:${info.srcPort}`;
    if (!d.ok) {
      ctx.log.info(`refused local port forward to ${what}: ${d.reason}`);
      rejectChannel(reject, OPEN_FAILURE.prohibited, 'open failed');
      return;
    }
    // The user-side helper resolves and connects as the user; the worker only carries the bytes.
    openWhenConnected(
      ctx.user.connectTcp(info.destIP, info.destPort),
      {
        accept,
        refuse: (why) => {
          ctx.log.info(`connect to ${info.destIP} port ${info.destPort} failed: ${why}`);
          rejectChannel(reject, OPEN_FAILURE.connectFailed, why);
        },
      },
      { track, ...(onChannel ? { counts: onChannel } : {}), ...(ctx.pressure ? { pressure: ctx.pressure } : {}), why: (err) => connectErrorText(err as NodeJS.ErrnoException) },
    );
  });
}
