/**
 * -L: the client asks the server to connect somewhere and carry the bytes
 * (direct-tcpip). The channel is accepted only once the connection is up,
 * so a refused port is an open failure on the client, as with sshd.
 */
import net from 'node:net';
import type { Connection } from 'ssh2';
import type { ConnectionContext } from '../server/context.js';
import { localForwardDecision } from './permits.js';
import { splice } from './splice.js';

export function serveLocalForwards(client: Connection, ctx: ConnectionContext, track: (sock: net.Socket) => void, onChannel?: (open: boolean) => void): void {
  client.on('tcpip', (accept, reject, info) => {
    const d = localForwardDecision(ctx.policy, info.destIP, info.destPort);
    const what = `${info.destIP}:${info.destPort} for ${ctx.account.name} from ${info.srcIP}:${info.srcPort}`;
    if (!d.ok) {
      ctx.log.info(`refused local port forward to ${what}: ${d.reason}`);
      reject();
      return;
    }
    const sock = net.connect({ host: info.destIP, port: info.destPort });
    track(sock);
    sock.once('error', (err) => {
      ctx.log.info(`connect to ${info.destIP} port ${info.destPort} failed: ${err.message}`);
      reject();
    });
    sock.once('connect', () => {
      sock.removeAllListeners('error');
      const ch = accept();
      if (!ch) {
        sock.destroy();
        return;
      }
      splice(ch, sock, onChannel, ctx.pressure);
    });
  });
}
