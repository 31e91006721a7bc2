/**
 * Forwarding services of one connection: -L (direct-tcpip), -R
 * (tcpip-forward), their Unix-socket forms (streamlocal) and the agent
 * socket, all closed with the connection.
 */
import type net from 'node:net';
import type { Connection } from 'ssh2';
import type { ConnectionContext } from '../context.js';
import { startAgentSocket, type AgentSocket } from './agent.js';
import { serveLocalForwards } from './local.js';
import { serveRemoteForwards } from './remote.js';
import { serveStreamLocal } from './streamlocal.js';

export type ForwardKind = 'direct-tcpip' | 'forwarded-tcpip' | 'auth-agent' | 'direct-streamlocal' | 'forwarded-streamlocal';

export interface ForwardingService {
  close(): void;
  /** SSH_AUTH_SOCK for this connection (made on first use), or undefined when refused. */
  agentForwarding(): Promise<string | undefined>;
}

export function serveForwarding(client: Connection, ctx: ConnectionContext, hooks: { onChannel?: (kind: ForwardKind, open: boolean) => void } = {}): ForwardingService {
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  serveLocalForwards(client, ctx, track, (o) => hooks.onChannel?.('direct-tcpip', o));
  const remote = serveRemoteForwards(client, ctx, track, (o) => hooks.onChannel?.('forwarded-tcpip', o));
  const streamLocal = serveStreamLocal(client, ctx, track, (kind, o) => hooks.onChannel?.(kind, o));
  let agent: Promise<AgentSocket | undefined> | undefined;
  return {
    agentForwarding() {
      if (!ctx.policy.agentForwarding) return Promise.resolve(undefined);
      agent ??= startAgentSocket(client, ctx, (o) => hooks.onChannel?.('auth-agent', o)).catch((err: Error) => {
        ctx.log.warn({ err: err.message }, 'cannot make the agent socket, agent forwarding refused');
        return undefined;
      });
      return agent.then((a) => a?.path);
    },
    close() {
      remote.close();
      streamLocal.close();
      for (const s of sockets) s.destroy();
      void agent?.then((a) => a?.close());
    },
  };
}
