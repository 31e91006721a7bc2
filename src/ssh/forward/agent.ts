/**
 * Agent forwarding: a Unix socket for the user's programs (SSH_AUTH_SOCK,
 * in a private directory under /tmp as sshd makes it), each connection to
 * it carried to the client's agent over an auth-agent@openssh.com channel.
 * The worker already runs as the user, so the directory is the user's.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from 'ssh2';
import type { ConnectionContext } from '../server/context.js';
import { splice } from './splice.js';
import { openAgentChannel } from '../server/ssh2-internals.js';

export interface AgentSocket {
  path: string;
  close(): void;
}

export async function startAgentSocket(client: Connection, ctx: ConnectionContext, onChannel?: (open: boolean) => void): Promise<AgentSocket> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ssh-'));
  fs.chmodSync(dir, 0o700);
  const sockPath = path.join(dir, `agent.${process.pid}`);
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
    server.once('error', reject);
    server.listen(sockPath, () => resolve());
  });
  fs.chmodSync(sockPath, 0o600);
  return {
    path: sockPath,
    close() {
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const WINDOW = 2 * 1024 * 1024;
const PACKET = 32 * 1024;
