/**
 * Unix-socket forwarding (OpenSSH's streamlocal extensions, PROTOCOL 2.4):
 * `ssh -L 8080:/run/app.sock` opens direct-streamlocal@openssh.com channels,
 * `ssh -R /tmp/gpg.sock:...` asks for streamlocal-forward@openssh.com and
 * gets a forwarded-streamlocal@openssh.com channel per connection. The
 * user's side connects and listens, so file permissions are checked as the
 * user's; the socket made for -R gets mode 0666 & ~StreamLocalBindMask.
 */
import net from 'node:net';
import type { Connection } from 'ssh2';
import type { ConnectionContext } from '../context.js';
import { OPEN_FAILURE, rejectChannel } from '../ssh2-internals.js';
import { openWhenConnected, splice } from './splice.js';

/** Listeners one connection may hold, as for -R. */
const MAX_STREAMLOCAL_FORWARDS = 256;

/** Whether a direction is allowed by AllowStreamLocalForwarding (already narrowed by the key's options). Pure. */
export function streamLocalAllowed(setting: ConnectionContext['policy']['streamLocalForwarding'], direction: 'local' | 'remote'): boolean {
  return setting === 'all' || setting === direction;
}

/** A path the client may name: absolute or relative (to the user's home, as sshd resolves it), no NUL, within sun_path. */
export function validSocketPath(p: unknown): p is string {
  return typeof p === 'string' && p.length > 0 && p.length < 108 && !p.includes('\0');
}

export function serveStreamLocal(client: Connection, ctx: ConnectionContext, track: (sock: net.Socket) => void, onChannel?: (kind: 'direct-streamlocal' | 'forwarded-streamlocal', open: boolean) => void): { close(): void } {
  const listeners = new Map<string, net.Server>();
  /** Paths of streamlocal-forward requests whose listen is still under way. */
  const reserved = new Set<string>();
  const where = (p: string): string => (p.startsWith('/') ? p : `${ctx.account.home.replace(/\/+$/, '')}/${p}`);

  client.on('openssh.streamlocal', (accept, reject, info: { socketPath: string }) => {
    if (!streamLocalAllowed(ctx.policy.streamLocalForwarding, 'local') || !validSocketPath(info.socketPath)) {
      ctx.log.info(`refused local Unix-socket forward to ${String(info.socketPath)} for ${ctx.account.name}`);
      rejectChannel(reject, OPEN_FAILURE.prohibited, 'open failed');
      return;
    }
    openWhenConnected(
      ctx.user.connectUnix(where(info.socketPath)),
      {
        accept,
        refuse: (why) => {
          ctx.log.info(`connect to ${info.socketPath} failed: ${why}`);
          rejectChannel(reject, OPEN_FAILURE.connectFailed, why);
        },
      },
      { track, counts: (o) => onChannel?.('direct-streamlocal', o), ...(ctx.pressure ? { pressure: ctx.pressure } : {}), why: (err) => err.message },
    );
  });

  client.on('request', (accept, reject, requestName, info) => {
    // The typings know only the TCP requests; ssh2 passes these too (server.js).
    const name = requestName as string;
    if (name === 'streamlocal-forward@openssh.com') {
      const socketPath = (info as { socketPath?: unknown }).socketPath;
      // Paths still being listened on count too: requests sent back to back must not pass the cap or the duplicate check.
      const taken = (p: string) => listeners.has(p) || reserved.has(p);
      if (!streamLocalAllowed(ctx.policy.streamLocalForwarding, 'remote') || !validSocketPath(socketPath) || listeners.size + reserved.size >= MAX_STREAMLOCAL_FORWARDS || taken(socketPath)) {
        ctx.log.info(`refused remote Unix-socket forward on ${String(socketPath)} for ${ctx.account.name}`);
        reject?.();
        return;
      }
      reserved.add(socketPath);
      ctx.user.listenUnix(where(socketPath), { mode: 0o666 & ~ctx.policy.streamLocalBindMask, unlinkFirst: ctx.policy.streamLocalBindUnlink }).then(
        (fd) => {
          reserved.delete(socketPath);
          const server = net.createServer({ pauseOnConnect: true }, (sock) => {
            track(sock);
            client.openssh_forwardOutStreamLocal(socketPath, (err, ch) => {
              if (err) {
                ctx.log.debug({ err: err.message }, `client refused a forwarded connection on ${socketPath}`);
                sock.destroy();
                return;
              }
              splice(ch, sock, (o) => onChannel?.('forwarded-streamlocal', o), ctx.pressure);
              sock.resume();
            });
          });
          server.on('error', (err) => ctx.log.debug({ err: err.message }, `Unix-socket forward on ${socketPath} failed`));
          server.listen({ fd });
          listeners.set(socketPath, server);
          ctx.log.info(`remote Unix-socket forward on ${socketPath} for ${ctx.account.name}`);
          accept?.();
        },
        (err: Error) => {
          reserved.delete(socketPath);
          ctx.log.info(`remote Unix-socket forward on ${socketPath} failed: ${err.message}`);
          reject?.();
        },
      );
      return;
    }
    if (name === 'cancel-streamlocal-forward@openssh.com') {
      const socketPath = (info as { socketPath?: unknown }).socketPath;
      const server = typeof socketPath === 'string' ? listeners.get(socketPath) : undefined;
      if (server === undefined || typeof socketPath !== 'string') return reject?.();
      server.close();
      listeners.delete(socketPath);
      accept?.();
    }
  });

  return {
    close() {
      for (const s of listeners.values()) s.close();
      listeners.clear();
    },
  };
}
