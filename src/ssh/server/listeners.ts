/**
 * The SSH listening sockets, MPTCP unless UseMPTCP is no (and TCP where the
 * kernel has no MPTCP). A socket that cannot bind (the port held by
 * OpenSSH's sshd, an address not configured yet) is one log line and a
 * retry timer, never an exit: the path manager keeps running meanwhile.
 */
import net from 'node:net';
import { listenMptcp } from '../../mptcp/socket.js';
import type { Logger } from '../../util/logger.js';
import type { ListenerStatus } from '../../status/snapshot.js';
import type { ListenTarget } from '../../config/listen-targets.js';

export const RETRY_MS = 10_000;

interface Entry {
  target: ListenTarget;
  server: net.Server | undefined;
  status: ListenerStatus;
  retry: NodeJS.Timeout | undefined;
  lastError?: string;
}

export class Listeners {
  private readonly entries: Entry[] = [];
  private closed = false;

  constructor(
    private readonly log: Logger,
    private readonly useMptcp: boolean,
    private readonly onConnection: (socket: net.Socket, target: ListenTarget) => void,
    private readonly retryMs = RETRY_MS,
  ) {}

  /** Opens every target; resolves when each has bound or failed once. */
  async start(targets: readonly ListenTarget[]): Promise<void> {
    for (const target of targets) {
      this.entries.push({ target, server: undefined, status: { address: target.host ?? '*', port: target.port, state: 'down' }, retry: undefined });
    }
    await Promise.all(this.entries.map((e) => this.open(e)));
  }

  status(): ListenerStatus[] {
    return this.entries.map((e) => ({ ...e.status }));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.entries.map((e) => {
        clearTimeout(e.retry);
        return new Promise<void>((resolve) => (e.server ? e.server.close(() => resolve()) : resolve()));
      }),
    );
  }

  private async open(e: Entry): Promise<void> {
    if (this.closed) return;
    const server = net.createServer({ pauseOnConnect: true }, (socket) => this.onConnection(socket, e.target));
    server.on('error', (err) => this.log.error({ err, listen: e.target.label }, 'SSH listener error'));
    try {
      if (this.useMptcp) {
        const opts = { port: e.target.port, ipv6Only: e.target.ipv6Only, log: this.log, ...(e.target.host !== undefined ? { host: e.target.host } : {}) };
        const r = await listenMptcp(server, opts);
        e.status = { address: r.address.address, port: r.address.port, state: r.transport };
        if (r.transport === 'tcp-fallback') e.status.error = `kernel has no MPTCP (${r.fallbackReason ?? 'unknown'}): plain TCP`;
      } else {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ port: e.target.port, host: e.target.host ?? '::', ipv6Only: e.target.ipv6Only }, () => {
            server.off('error', reject);
            resolve();
          });
        });
        const a = server.address() as net.AddressInfo;
        e.status = { address: a.address, port: a.port, state: 'tcp-fallback', error: 'UseMPTCP no' };
      }
      e.server = server;
      if (e.lastError !== undefined) this.log.info({ listen: e.target.label }, `SSH listener on ${e.target.label} is up after: ${e.lastError}`);
      else this.log.info({ listen: e.target.label, transport: e.status.state }, `listening for SSH on ${e.target.label} (${e.status.state})`);
      delete e.lastError;
    } catch (err) {
      server.close();
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      const why = code === 'EADDRINUSE' ? `${e.target.label} is in use by another program (OpenSSH's sshd?)` : `${e.target.label}: ${(err as Error).message}`;
      e.status = { address: e.target.host ?? '*', port: e.target.port, state: 'down', error: why };
      if (e.lastError !== why) this.log.error({ listen: e.target.label, code }, `cannot listen for SSH: ${why}; retrying every ${Math.round(this.retryMs / 1000)} s, the path manager keeps running`);
      e.lastError = why;
      if (!this.closed) {
        e.retry = setTimeout(() => void this.open(e), this.retryMs);
        e.retry.unref();
      }
    }
  }
}
