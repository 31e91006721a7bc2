/**
 * Session channels of one connection: shell, exec and subsystems (sftp),
 * at most MaxSessions at once, all ended together when the connection goes.
 */
import type { Connection } from 'ssh2';
import type { ConnectionContext } from '../context.js';
import { emitEndOfWrite } from '../ssh2-internals.js';
import { SessionChannel, type SessionHooks } from './session-channel.js';

export interface SessionService {
  /** Ends every session and its processes; resolves when they are gone. */
  close(): Promise<void>;
  openChannels(): number;
}

export function serveSessions(client: Connection, ctx: ConnectionContext, hooks: SessionHooks & { onChannel?: (kind: 'session', open: boolean) => void } = {}): SessionService {
  const open = new Set<SessionChannel>();
  emitEndOfWrite(client);
  client.on('session', (accept, reject) => {
    if (open.size >= ctx.policy.maxSessions) {
      ctx.log.info(`session refused for ${ctx.account.name}: MaxSessions (${ctx.policy.maxSessions}) reached`);
      reject();
      return;
    }
    const session = accept();
    hooks.onChannel?.('session', true);
    const s = new SessionChannel(session, ctx, hooks, () => {
      if (open.delete(s)) hooks.onChannel?.('session', false);
    });
    open.add(s);
  });
  return {
    async close() {
      await Promise.all([...open].map((s) => s.end()));
    },
    openChannels: () => open.size,
  };
}
