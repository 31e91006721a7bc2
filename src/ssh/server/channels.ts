/**
 * The channel services of an authenticated connection: sessions (shell,
 * exec, subsystems) and forwarding (-L, -R, agent), wired together so that
 * agent forwarding requested on a session reaches the forwarding module.
 */
import type { Connection } from 'ssh2';
import { serveForwarding } from '../forward/index.js';
import { serveSessions } from '../session/index.js';
import type { ConnectionContext } from '../context.js';

/** Attaches every channel service; close() ends them all and resolves once their processes are gone. */
export function attachChannels(client: Connection, ctx: ConnectionContext, counts: (kind: string, open: boolean) => void): { close(): Promise<void> } {
  const fwd = serveForwarding(client, ctx, { onChannel: counts });
  const sessions = serveSessions(client, ctx, { agentForwarding: () => fwd.agentForwarding(), onChannel: counts });
  return {
    async close() {
      fwd.close();
      await sessions.close();
    },
  };
}
