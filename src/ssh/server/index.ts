/**
 * mpsshd's SSH server: listeners, the pool of waiting workers, MaxStartups,
 * and the registry of running sessions. The daemon owns one; stopping it
 * closes the listeners and idle workers but never a running session.
 */
import crypto from 'node:crypto';
import type net from 'node:net';
import path from 'node:path';
import type { SshConfig } from '../../config/ssh-schema.js';
import { connectionTransport } from '../../mptcp/socket.js';
import type { ListenerStatus } from '../../status/types.js';
import type { Logger } from '../../util/logger.js';
import { logAuthLine, normaliseClientAddress, shouldDropConnection, startupDroppedLine } from '../auth/index.js';
import type { HandoffMessage } from './control-protocol.js';
import { loadHostKeys, type HostKey } from './host-keys.js';
import { listenTargets } from './listen-targets.js';
import { Listeners } from './listeners.js';
import { WorkerPool } from './pool.js';
import { SessionRegistry, type SessionEvent } from './sessions.js';

export interface SshServerOptions {
  log: Logger;
  config: SshConfig;
  dataDir: string;
  /** Runtime directory (the daemon's stateDir); session sockets go in its `sessions/`. */
  runDir: string;
  logLevel: string;
  onEvent(e: SessionEvent): void;
  /** Overrides for tests. */
  pollMs?: number;
  retryMs?: number;
}

export class SshServer {
  private readonly log: Logger;
  private cfg: SshConfig;
  private keys: HostKey[] = [];
  private listeners: Listeners | undefined;
  private pool: WorkerPool;
  readonly sessions: SessionRegistry;
  private state: 'up' | 'degraded' | 'disabled' = 'disabled';
  private startError: string | undefined;

  constructor(private readonly opts: SshServerOptions) {
    this.log = opts.log.child({ mod: 'ssh' });
    this.cfg = opts.config;
    this.pool = new WorkerPool(this.log, opts.config.PreforkWorkers);
    this.sessions = new SessionRegistry(this.log, path.join(opts.runDir, 'sessions'), opts.onEvent, opts.pollMs);
  }

  /** Loads host keys, finds sessions of an earlier run, opens the listeners. Never throws for a busy port. */
  async start(): Promise<void> {
    this.sessions.start();
    await this.sessions.discover();
    if (!this.cfg.Enabled) {
      this.log.info('SSH server disabled (ssh.Enabled: no)');
      return;
    }
    try {
      this.keys = loadHostKeys(this.cfg.HostKey, this.opts.dataDir, this.log);
    } catch (err) {
      this.startError = (err as Error).message;
      this.log.error(`SSH server not started: ${this.startError}`);
      this.state = 'degraded';
      return;
    }
    const targets = listenTargets(this.cfg.ListenAddress, this.cfg.Port);
    if (!targets.ok) {
      this.startError = targets.error;
      this.log.error(`SSH server not started: ${targets.error}`);
      this.state = 'degraded';
      return;
    }
    this.pool.start();
    this.listeners = new Listeners(this.log, this.cfg.UseMPTCP, (s, t) => this.accept(s, t.label), this.opts.retryMs);
    await this.listeners.start(targets.targets);
    this.state = 'up';
  }

  /** Applies a new config: new connections use it; listeners are reopened only when their addresses changed. */
  async reload(next: SshConfig): Promise<void> {
    const prev = this.cfg;
    this.cfg = next;
    this.pool.resize(next.PreforkWorkers);
    const same = JSON.stringify([prev.Enabled, prev.ListenAddress, prev.Port, prev.UseMPTCP, prev.HostKey]) === JSON.stringify([next.Enabled, next.ListenAddress, next.Port, next.UseMPTCP, next.HostKey]);
    if (same) return;
    await this.listeners?.close();
    this.listeners = undefined;
    this.state = 'disabled';
    this.startError = undefined;
    this.pool.close();
    this.pool = new WorkerPool(this.log, next.PreforkWorkers);
    await this.start();
  }

  status(): { state: 'up' | 'degraded' | 'disabled'; listeners: ListenerStatus[]; error?: string } {
    const listeners = this.listeners?.status() ?? [];
    const down = listeners.some((l) => l.state === 'down');
    const state = this.state === 'up' && down ? 'degraded' : this.state;
    return { state, listeners, ...(this.startError !== undefined ? { error: this.startError } : {}) };
  }

  /** Closes listeners and idle workers; running sessions go on (their workers are separate processes). */
  async close(): Promise<void> {
    await this.listeners?.close();
    this.pool.close();
    this.sessions.stop();
  }

  private accept(socket: net.Socket, label: string): void {
    const remote = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    const local = { address: socket.localAddress ?? '', port: socket.localPort ?? 0 };
    socket.on('error', () => {});
    const peer = { ip: normaliseClientAddress(remote.address), port: remote.port };
    const drop = shouldDropConnection(this.cfg.MaxStartups, this.sessions.unauthenticated(), Math.random());
    if (!drop.allowed) {
      logAuthLine(this.log, startupDroppedLine(this.sessions.unauthenticated(), peer, { ip: normaliseClientAddress(local.address), port: local.port }));
      socket.destroy();
      return;
    }
    const id = crypto.randomBytes(8).toString('hex');
    let transport: 'mptcp' | 'tcp-fallback' = 'tcp-fallback';
    try {
      transport = connectionTransport(socket);
    } catch {
      // an already-reset connection: the worker will see it close
    }
    const msg: HandoffMessage = {
      op: 'connection',
      id,
      acceptedAt: Date.now(),
      remote,
      local,
      transport,
      ssh: this.cfg,
      hostKeys: this.keys.map((k) => k.pem.toString('utf8')),
      sessionDir: this.sessions.sessionDir,
      logLevel: this.opts.logLevel,
    };
    try {
      const w = this.pool.handOff(socket, msg);
      this.sessions.adopt(id, w.control);
      this.log.debug({ session: id, pid: w.pid, listen: label, remote, transport }, `Connection from ${peer.ip} port ${peer.port} on ${local.address} port ${local.port} (${transport})`);
    } catch (err) {
      this.log.error({ err, remote }, 'could not hand the connection to a worker, closing it');
      socket.destroy();
    }
  }
}
