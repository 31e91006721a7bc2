/**
 * Agent forwarding: a Unix socket for the user's programs (SSH_AUTH_SOCK,
 * in a private directory under /tmp as sshd makes it), each connection to
 * it carried to the client's agent over an auth-agent@openssh.com channel.
 * The user-side helper makes the directory and the socket as the user and
 * removes them when it exits; the worker accepts on the socket.
 */
import net from 'node:net';
import type { Connection } from 'ssh2';
import type { ConnectionContext } from '../context.js';
import { splice } from './splice.js';
import { openAgentChannel } from '../ssh2-internals.js';

export interface AgentSocket {
  path: string;
  close(): void;
}

export async function startAgentSocket(client: Connection, ctx: ConnectionContext, onChannel?: (open: boolean) => void): Promise<AgentSocket> {
  const { fd, path: sockPath } = await ctx.user.listenAgent();
  const server = net.createServer({ pauseOnConnect: true }, (sock) => {
    openAgentChannel(client, WINDOW, PACKET, (err, ch) => {
      if (err || !ch) {
        ctx.log.debug({ err: err?.message }, 'client refused an agent channel');
        sock.destroy();
        return;
      }
      splice(ch, sock, onChannel, ctx.pressure);
      sock.resume();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      server.close();
      reject(err);
    });
    server.listen({ fd }, () => resolve());
  });
  server.on('error', () => {});
  return {
    path: sockPath,
    close() {
      server.close();
    },
  };
}

const WINDOW = 2 * 1024 * 1024;
const PACKET = 32 * 1024;
