/**
 * -R: the client asks the server to listen (tcpip-forward) and to open a
 * forwarded-tcpip channel back for each connection that arrives. Listeners
 * are plain TCP on the server's own addresses, opened by the user-side
 * helper as the user (so the kernel applies its rules on privileged ports)
 * and accepted on here; they end with the connection.
 */
import net from 'node:net';
import type { Connection } from 'ssh2';
import type { ConnectionContext } from '../context.js';
import type { UserSide } from '../user-side/client.js';
import { listenAddresses, remoteForwardDecision } from './permits.js';
import { splice } from './splice.js';

/** Forwards one connection may hold at once; each is a listening socket. */
const MAX_REMOTE_FORWARDS = 256;

interface RemoteForward {
  bindAddr: string;
  /** Port as requested (0: the server chose `port`). */
  requested: number;
  port: number;
  servers: net.Server[];
}

export interface RemoteForwards {
  close(): void;
}

export function serveRemoteForwards(client: Connection, ctx: ConnectionContext, track: (sock: net.Socket) => void, onChannel?: (open: boolean) => void): RemoteForwards {
  const forwards: RemoteForward[] = [];
  /** tcpip-forward requests whose listen is still under way. */
  let pending = 0;
  const find = (addr: string, port: number) => forwards.findIndex((f) => f.bindAddr === addr && (f.requested === port || f.port === port));

  const onConnection = (fwd: RemoteForward, sock: net.Socket): void => {
    track(sock);
    sock.pause();
    client.forwardOut(fwd.bindAddr, fwd.port, sock.remoteAddress ?? '', sock.remotePort ?? 0, (err, ch) => {
      if (err) {
        ctx.log.debug({ err: err.message }, `client refused forwarded connection on port ${fwd.port}`);
        sock.destroy();
        return;
      }
      splice(ch, sock, onChannel, ctx.pressure);
      sock.resume();
    });
  };

  client.on('request', (accept, reject, name, info) => {
    if (name === 'tcpip-forward') {
      const { bindAddr, bindPort } = info as { bindAddr: string; bindPort: number };
      const d = remoteForwardDecision(ctx.policy, ctx.account.uid, bindAddr, bindPort);
      // Listens still under way count too: requests sent back to back must not all pass the cap.
      if (!d.ok || forwards.length + pending >= MAX_REMOTE_FORWARDS) {
        ctx.log.info(`refused remote port forward on ${bindAddr || '*'}:${bindPort} for ${ctx.account.name}: ${d.ok ? 'too many forwards' : d.reason}`);
        reject?.();
        return;
      }
      const fwd: RemoteForward = { bindAddr, requested: bindPort, port: bindPort, servers: [] };
      pending++;
      listenAll(ctx.user, listenAddresses(ctx.policy.gatewayPorts, bindAddr), bindPort, (s) => onConnection(fwd, s)).then(
        ({ servers, port }) => {
          pending--;
          fwd.servers = servers;
          fwd.port = port;
          forwards.push(fwd);
          ctx.log.info(`remote port forward on ${bindAddr || '*'}:${port} for ${ctx.account.name}`);
          accept?.(port);
        },
        (err: Error) => {
          pending--;
          ctx.log.info(`remote port forward on ${bindAddr || '*'}:${bindPort} failed: ${err.message}`);
          reject?.();
        },
      );
      return;
    }
    if (name === 'cancel-tcpip-forward') {
      const { bindAddr, bindPort } = info as { bindAddr: string; bindPort: number };
      const i = find(bindAddr, bindPort);
      if (i === -1) return reject?.();
      const [fwd] = forwards.splice(i, 1);
      for (const s of fwd!.servers) s.close();
      accept?.();
      return;
    }
    // Other requests (streamlocal-forward, hostkeys-prove) are other modules' to answer.
  });

  return {
    close() {
      for (const f of forwards.splice(0)) for (const s of f.servers) s.close();
    },
  };
}

/**
 * Listens on every address with one port (the first chosen by the kernel
 * when 0). An address family the host lacks is skipped; at least one
 * listener must come up.
 */
async function listenAll(user: UserSide, addrs: string[], port: number, onConn: (s: net.Socket) => void): Promise<{ servers: net.Server[]; port: number }> {
  const servers: net.Server[] = [];
  let chosen = port;
  let firstErr: Error | undefined;
  for (const host of addrs) {
    try {
      // `::` takes IPv4 too (dual stack); a later 0.0.0.0 then finds the port taken, which is fine.
      const l = await user.listenTcp(host, chosen, { ipv6Only: false });
      const srv = net.createServer({ pauseOnConnect: true }, onConn);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', (err) => {
          srv.close();
          reject(err);
        });
        srv.listen({ fd: l.fd }, () => resolve());
      });
      srv.on('error', () => {});
      if (chosen === 0) chosen = l.port;
      servers.push(srv);
    } catch (err) {
      firstErr ??= err as Error;
    }
  }
  if (servers.length === 0) throw firstErr ?? new Error('no address to listen on');
  return { servers, port: chosen };
}
