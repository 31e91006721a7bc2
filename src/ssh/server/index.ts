/**
 * mpsshd's SSH server: listeners, the pool of waiting workers, MaxStartups,
 * and the registry of running sessions. The daemon owns one; stopping it
 * closes the listeners and idle workers but never a running session.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import type { SshConfig } from '../../config/ssh-schema.js';
import { connectionTransport } from '../../mptcp/socket.js';
import type { ListenerStatus } from '../../status/snapshot.js';
import type { Logger } from '../../util/logger.js';
import {
  addrMatchList, graceTimeoutLine, logAuthLine, normaliseClientAddress, penalise, penalised, penaltyEventFor, shouldDropConnection, sourceKey, startupDroppedLine, startupsForMemory,
  type MaxStartups, type PenaltyEvent, type PenaltyState,
} from '../auth/index.js';
import { OpenSshBackend } from '../openssh/backend.js';
import type { HandoffMessage, SessionReport } from './control-protocol.js';
import { serveSigner, type UserauthReply } from './host-key-signer.js';
import type { UserauthAnswer } from './sign-protocol.js';
import { loadHostKeys, type HostKey } from './host-keys.js';
import { listenTargets } from '../../config/listen-targets.js';
import { Listeners } from './listeners.js';
import { checkClientIdent, MAX_IDENT, serverIdentLine, type IdentVerdict } from './ident.js';
import { WorkerPool } from './pool.js';
import { preparePrivsep, type PrivsepUser } from './privsep-user.js';
import { Authenticator, readKeyFileAsUser, type AuthSuccess, type UserauthVerdict } from './authenticator.js';
import { spawnUserHelper, startLoginProcess, type LoginProcess } from '../user-side/index.js';
import { unixListen } from '../../native/sandbox.js';
import { native } from '../../mptcp/native.js';
import { socketPair } from '../../mptcp/fdpass.js';
import type { KnownSession } from './worker-trust.js';
import type { SigningKey } from './host-key-signer.js';
import { SessionRegistry, type SessionEvent } from './sessions.js';

/** A host key the restarted daemon no longer has: every request for it is refused. */
const MISSING_KEY: SigningKey = {
  type: 'none',
  sign: () => new Error('host key no longer configured'),
  getPublicSSH: () => Buffer.alloc(0),
};

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

/** The memory this daemon's processes may use: the host's, or its cgroup's limit (systemd's MemoryMax) when lower. */
function memoryLimit(): number {
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  return constrained !== undefined && constrained > 0 ? Math.min(constrained, os.totalmem()) : os.totalmem();
}

export class SshServer {
  private readonly log: Logger;
  private cfg: SshConfig;
  private keys: HostKey[] = [];
  private listeners: Listeners | undefined;
  private pool: WorkerPool;
  readonly sessions: SessionRegistry;
  /** Connections given to the system's sshd (ssh.Server: openssh). */
  readonly openssh: OpenSshBackend;
  private state: 'up' | 'degraded' | 'disabled' = 'disabled';
  /** Connections whose identification line is still awaited, by source (they count for MaxStartups). */
  private readonly identPending = new Map<string, number>();
  /** PerSourcePenalties: when each penalised source is forgiven. Kept across reloads. */
  private readonly penalties: PenaltyState = new Map();
  private startError: string | undefined;
  /** The user workers run as; set when a root daemon starts the built-in server. */
  private privsep: PrivsepUser | undefined;
  /** Host keys read for the sessions found at start, before start() loads its own. */
  private foundKeys: HostKey[] | undefined;

  constructor(private readonly opts: SshServerOptions) {
    this.log = opts.log.child({ mod: 'ssh' });
    this.cfg = opts.config;
    this.pool = new WorkerPool(this.log, opts.config.PreforkWorkers, () => this.privsep);
    const unauthenticatedEnd = (e: { remoteAddress: string; reason: string; authFailures: number; clean: boolean }): void =>
      this.penalise(e.remoteAddress, penaltyEventFor({ authenticated: false, reason: e.reason, authFailures: e.authFailures, clean: e.clean }));
    this.sessions = new SessionRegistry(this.log, path.join(opts.runDir, 'sessions'), opts.onEvent, opts.pollMs, unauthenticatedEnd);
    this.openssh = new OpenSshBackend({
      log: this.log,
      sessionDir: this.sessions.sessionDir,
      snapshotDir: path.join(opts.runDir, 'sshd-config'),
      onEvent: opts.onEvent,
      onUnauthenticatedEnd: unauthenticatedEnd,
      ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
    });
  }

  /** Every session, whoever serves it. */
  list(): SessionReport[] {
    return [...this.sessions.list(), ...this.openssh.list()];
  }

  /** Ends a session through the API; false when there is no such session. */
  closeSession(id: string, reason: string): boolean {
    return this.sessions.close(id, reason) || this.openssh.close(id);
  }

  /** Which server answers, and for OpenSSH the command line each connection gets. */
  serverInfo(): { server: 'builtin' | 'openssh'; command?: string[] } {
    const argv = this.openssh.current()?.argv;
    return this.cfg.Server === 'openssh' && argv !== undefined ? { server: 'openssh', command: argv } : { server: this.cfg.Server };
  }

  /** MaxStartups as it applies: the built-in server's workers must fit in memory (startupsForMemory). */
  private startups(): MaxStartups {
    return this.cfg.Server === 'builtin' ? startupsForMemory(this.cfg.MaxStartups, memoryLimit()) : this.cfg.MaxStartups;
  }

  /** Unauthenticated connections (MaxStartups), from one source when given. */
  private unauthenticated(source?: string): number {
    return this.sessions.unauthenticated(source) + this.openssh.unauthenticated(source);
  }

  private aliveSettings(c: SshConfig): { interval: number; countMax: number } {
    return { interval: c.ClientAliveInterval, countMax: c.ClientAliveCountMax };
  }

  /** Loads host keys, finds sessions of an earlier run, opens the listeners. Never throws for a busy port. */
  async start(): Promise<void> {
    this.sessions.start();
    this.sessions.monitorFor = (known) => this.monitorForFound(known);
    this.foundKeys = undefined;
    await this.sessions.discover();
    this.foundKeys = undefined;
    this.openssh.start();
    if (!this.cfg.Enabled) {
      this.log.info('SSH server disabled (ssh.Enabled: no)');
      return;
    }
    if (this.cfg.Server === 'openssh') {
      try {
        await this.openssh.prepare(this.cfg.OpenSSH, this.aliveSettings(this.cfg));
      } catch (err) {
        this.startError = `sshd's configuration was refused: ${(err as Error).message}`;
        this.log.error(`SSH server not started: ${this.startError}`);
        this.state = 'degraded';
        return;
      }
    } else {
      try {
        this.keys = loadHostKeys(this.cfg.HostKey, this.opts.dataDir, this.log);
        if (process.getuid?.() === 0) this.privsep = preparePrivsep(this.log);
      } catch (err) {
        this.startError = (err as Error).message;
        this.log.error(`SSH server not started: ${this.startError}`);
        this.state = 'degraded';
        return;
      }
    }
    const targets = listenTargets(this.cfg.ListenAddress, this.cfg.Port);
    if (!targets.ok) {
      this.startError = targets.error;
      this.log.error(`SSH server not started: ${targets.error}`);
      this.state = 'degraded';
      return;
    }
    if (this.cfg.Server === 'builtin') {
      this.pool.start();
      const ms = this.cfg.MaxStartups;
      const here = this.startups();
      if (here.full !== ms.full) {
        this.log.info({ event: 'max-startups-lowered', configured: ms, applied: here, memoryMiB: Math.round(memoryLimit() / 2 ** 20) }, `MaxStartups ${ms.begin}:${ms.rate}:${ms.full} applies as ${here.begin}:${here.rate}:${here.full}: each unauthenticated connection holds a worker process, and these may take a quarter of this host's memory`);
      }
    }
    this.listeners = new Listeners(this.log, this.cfg.UseMPTCP, (s, t) => this.accept(s, t.label), this.opts.retryMs);
    await this.listeners.start(targets.targets);
    this.state = 'up';
  }

  /** Applies a new config: new connections use it; listeners are reopened only when their addresses changed. */
  async reload(next: SshConfig): Promise<void> {
    const prev = this.cfg;
    if (next.Enabled && next.Server === 'openssh') {
      // sshd reads its configuration per connection: only a copy that passed sshd -t may replace the one in use.
      try {
        await this.openssh.prepare(next.OpenSSH, this.aliveSettings(next));
      } catch (err) {
        this.log.error({ err: (err as Error).message }, `reload refused for the SSH server: ${(err as Error).message}; connections keep the configuration checked before`);
        return;
      }
    }
    this.cfg = next;
    this.pool.resize(next.PreforkWorkers);
    const same = JSON.stringify([prev.Enabled, prev.Server, prev.ListenAddress, prev.Port, prev.UseMPTCP, prev.HostKey]) === JSON.stringify([next.Enabled, next.Server, next.ListenAddress, next.Port, next.UseMPTCP, next.HostKey]);
    if (same) return;
    await this.listeners?.close();
    this.listeners = undefined;
    this.state = 'disabled';
    this.startError = undefined;
    this.pool.close();
    this.pool = new WorkerPool(this.log, next.PreforkWorkers, () => this.privsep);
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
    this.openssh.stop();
  }

  /** Adds a penalty to the source of a connection that ended without a login; logs when the source becomes refused. */
  private penalise(address: string, event: PenaltyEvent | undefined): void {
    if (event === undefined || this.exempt(address)) return;
    const key = sourceKey(address);
    const now = Date.now();
    const before = penalised(this.penalties, this.cfg.PerSourcePenalties, key, now);
    const owed = penalise(this.penalties, this.cfg.PerSourcePenalties, key, event, now);
    if (!before && penalised(this.penalties, this.cfg.PerSourcePenalties, key, now)) {
      this.log.info({ event: 'source-penalised', source: key, penalty: event, seconds: Math.round(owed) }, `Source ${key} penalised for ${Math.round(owed)}s after repeated ${event} connections: refusing its connections`);
    }
  }

  private exempt(address: string): boolean {
    const list = this.cfg.PerSourcePenaltyExemptList.trim();
    return list !== '' && addrMatchList(normaliseClientAddress(address), list) === 'match';
  }

  private accept(socket: net.Socket, label: string): void {
    // IPv4 clients of a dual-stack listener are IPv4 everywhere (logs, records, SSH_CONNECTION), as with sshd.
    const remote = { address: normaliseClientAddress(socket.remoteAddress ?? ''), port: socket.remotePort ?? 0 };
    const local = { address: normaliseClientAddress(socket.localAddress ?? ''), port: socket.localPort ?? 0 };
    socket.on('error', () => {});
    const peer = { ip: remote.address, port: remote.port };
    const key = sourceKey(remote.address);
    if (penalised(this.penalties, this.cfg.PerSourcePenalties, key, Date.now()) && !this.exempt(remote.address)) {
      // Turned away before a byte is read or a worker spent; sshd logs these at VERBOSE.
      this.log.debug({ event: 'penalty-drop', source: key, remotePort: peer.port }, `drop connection from ${peer.ip} port ${peer.port}: source ${key} is penalised`);
      socket.destroy();
      return;
    }
    const perSource = this.cfg.PerSourceMaxStartups;
    if (perSource !== 'none' && (this.identPending.get(key) ?? 0) + this.unauthenticated(key) >= perSource) {
      this.log.info({ event: 'per-source-startups', source: key, limit: perSource }, `drop connection from ${peer.ip} port ${peer.port}: PerSourceMaxStartups ${perSource} reached for ${key}`);
      socket.destroy();
      return;
    }
    let pending = this.unauthenticated();
    for (const n of this.identPending.values()) pending += n;
    const drop = shouldDropConnection(this.startups(), pending, Math.random());
    if (!drop.allowed) {
      logAuthLine(this.log, startupDroppedLine(pending, peer, { ip: normaliseClientAddress(local.address), port: local.port }));
      socket.destroy();
      return;
    }
    if (this.cfg.Server === 'openssh') {
      // sshd speaks for itself from the first byte; not one byte is read here.
      const id = crypto.randomBytes(8).toString('hex');
      let transport: 'mptcp' | 'tcp-fallback' = 'tcp-fallback';
      try {
        transport = connectionTransport(socket);
      } catch {
        // an already-reset connection: sshd will see it close
      }
      this.openssh.serve(socket, id, remote, local, transport);
      return;
    }
    this.identPending.set(key, (this.identPending.get(key) ?? 0) + 1);
    // Our identification goes out at once, so clients that wait for it speak
    // too; the worker's SSH stack is told not to send it again.
    socket.write(serverIdentLine());
    readIdent(socket, this.cfg.LoginGraceTime * 1000, (early, verdict) => {
      const left = (this.identPending.get(key) ?? 1) - 1;
      if (left > 0) this.identPending.set(key, left);
      else this.identPending.delete(key);
      if (verdict.state === 'need-more') {
        logAuthLine(this.log, graceTimeoutLine(peer));
        this.penalise(remote.address, 'grace-exceeded');
        socket.destroy();
        return;
      }
      if (verdict.state === 'bad') {
        this.penalise(remote.address, 'noauth');
        this.log.info({ event: 'bad-ident', remoteAddress: peer.ip, remotePort: peer.port }, `Bad protocol version identification from ${peer.ip} port ${peer.port}: ${verdict.reason}`);
        socket.destroy();
        return;
      }
      if (socket.destroyed) return;
      this.handOff(socket, label, remote, local, peer, early);
    });
  }

  private handOff(socket: net.Socket, label: string, remote: { address: string; port: number }, local: { address: string; port: number }, peer: { ip: string; port: number }, early: Buffer): void {
    // Flowing mode emitted everything read so far; anything still buffered goes along too.
    const rest = socket.readableLength > 0 ? (socket.read() as Buffer | null) : null;
    if (rest) early = Buffer.concat([early, rest]);
    const id = crypto.randomBytes(8).toString('hex');
    // The keys this connection signs with, even if a reload changes them meanwhile.
    const keys = this.keys;
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
      hostKeys: keys.map((k) => k.publicLine),
      logLevel: this.opts.logLevel,
      early: early.toString('base64'),
    };
    if (socket.writableLength > 0) {
      // Our identification line is still queued in this process; it must reach the kernel before the descriptor moves.
      socket.once('drain', () => this.handOff(socket, label, remote, local, peer, early));
      return;
    }
    let sessionFd: number | undefined;
    try {
      // Root-only: the sockets of the sessions, which a restarted daemon finds here.
      fs.mkdirSync(this.sessions.sessionDir, { recursive: true, mode: 0o700 });
      sessionFd = unixListen(path.join(this.sessions.sessionDir, `${id}.sock`), 0o600);
      const w = this.pool.handOff(socket, msg, sessionFd);
      const log = this.log.child({ session: id, workerPid: w.pid });
      const cfg = this.cfg;
      // PAM and the login records need root; a daemon without it serves key logins only.
      const startLogin = this.privsep !== undefined ? (user: string) => startLoginProcess({ service: cfg.UsePAM ? cfg.PAMServiceName : null, user, rhost: peer.ip, log }) : undefined;
      const auth = new Authenticator(cfg, remote, log, Date.now, readKeyFileAsUser, startLogin);
      const reply = async (verdict: UserauthVerdict): Promise<UserauthReply> => {
        if (verdict.result !== 'success') return { answer: verdictAnswer(verdict) };
        const account = verdict.success.user.account;
        // The daemon's own knowledge from here on: this connection is this user's, whatever its worker says later.
        this.sessions.authenticated(id, account.name, () => auth.failures);
        const fds = await this.startUserSide(verdict.success, auth.takeLoginProcess() ?? startLogin?.(account.name), log);
        return { answer: { auth: 'success', account, options: verdict.success.options as unknown as Record<string, unknown>, fds: fds.length }, fds };
      };
      serveSigner(w.signer, keys.map((k) => k.signer), log, Date.now, {
        userauth: async (req, sessionId) =>
          reply(await auth.handle({ user: req.user, service: req.service, method: req.method, ...(req.key ? { key: { algo: req.key.algo, blob: Buffer.from(req.key.blob, 'base64') } } : {}), ...(req.sig !== undefined ? { signature: Buffer.from(req.sig, 'base64') } : {}), ...(req.password !== undefined ? { password: req.password } : {}) }, sessionId)),
        answers: async (req) => reply(await auth.answers(req.answers)),
        close: () => auth.close(),
      });
      this.sessions.adopt(w.control, { id, pid: w.pid, remote, local, acceptedAt: msg.acceptedAt, hostKeys: msg.hostKeys }, () => auth.failures);
      this.log.debug({ session: id, pid: w.pid, listen: label, remote, transport }, `Connection from ${peer.ip} port ${peer.port} on ${local.address} port ${local.port} (${transport})`);
    } catch (err) {
      this.log.error({ err, remote }, 'could not hand the connection to a worker, closing it');
      socket.destroy();
    } finally {
      if (sessionFd !== undefined) native().closeFd(sessionFd);
    }
  }

  /**
   * A monitor channel for a logged-in session an earlier daemon started:
   * signatures for its rekeys, with the host keys it was handed (matched by
   * their public halves; one no longer configured is refused). It answers no
   * authentication: that connection is logged in already.
   */
  private monitorForFound(known: KnownSession | undefined): number | undefined {
    if (known?.hostKeys === undefined || !this.cfg.Enabled || this.cfg.Server !== 'builtin') return undefined;
    let keys = this.keys;
    if (keys.length === 0) {
      // Sessions are found before start() loads (and logs) the keys: read them once for all of them.
      try {
        keys = this.foundKeys ??= loadHostKeys(this.cfg.HostKey, this.opts.dataDir, this.log.child({}, { level: 'warn' }));
      } catch {
        return undefined;
      }
    }
    const byLine = new Map(keys.map((k) => [k.publicLine, k.signer]));
    const signers = known.hostKeys.map((line) => byLine.get(line));
    const [mine, theirs] = socketPair();
    const sock = new net.Socket({ fd: mine, readable: true, writable: true });
    serveSigner(sock, signers.map((k) => k ?? MISSING_KEY), this.log.child({ session: known.id, workerPid: known.pid }));
    return theirs;
  }

  /**
   * Starts the user's side of a logged-in connection; returns the worker's
   * descriptors of it (none when it cannot start). As root, through the
   * connection's root process (`login`): it opens the PAM session, keeps the
   * login records and forks the user side; otherwise the helper directly.
   */
  private async startUserSide(login: AuthSuccess, proc: LoginProcess | undefined, log: Logger): Promise<number[]> {
    const { name, uid, gid } = login.user.account;
    try {
      if (proc !== undefined) {
        const cfg = this.cfg;
        const fds = await proc.openSession({ uid, gid, printLastLog: cfg.PrintLastLog, printMotd: cfg.PrintMotd });
        log.debug({ user: name }, 'session opened, user side started');
        return [fds.controlFd, fds.fdChannelFd];
      }
      const helper = spawnUserHelper({ name, uid, gid }, log);
      log.debug({ helperPid: helper.pid, user: name }, 'user side started');
      return [helper.controlFd, helper.fdChannelFd];
    } catch (err) {
      // sshd's words when PAM refuses the session.
      log.error({ err: (err as Error).message, user: name }, `cannot start the session for ${name}: ${(err as Error).message}`);
      proc?.close();
      return [];
    }
  }
}

/** The worker's answer to a verdict that is not a login. */
function verdictAnswer(v: Exclude<UserauthVerdict, { result: 'success' }>): UserauthAnswer {
  switch (v.result) {
    case 'disconnect':
      return { auth: 'disconnect', reason: v.reason, ...(v.fatal ? { fatal: true } : {}) };
    case 'partial':
      return { auth: 'partial', methods: v.methods };
    case 'prompt':
      return { auth: 'prompt', name: v.name, instructions: v.instructions, prompts: v.prompts };
    case 'pk-ok':
      return { auth: 'pk-ok' };
    default:
      return { auth: 'failure', ...(v.methods ? { methods: v.methods } : {}) };
  }
}

/** Reads until the identification line is judged (or `waitMs` ends, 0 = no limit), then pauses the socket again. */
function readIdent(socket: net.Socket, waitMs: number, done: (early: Buffer, verdict: IdentVerdict) => void): void {
  let buf = Buffer.alloc(0);
  let finished = false;
  const finish = (verdict: IdentVerdict): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.pause();
    socket.off('data', onData);
    socket.off('close', onClose);
    done(buf, verdict);
  };
  const onData = (chunk: Buffer): void => {
    buf = Buffer.concat([buf, chunk]);
    const v = checkClientIdent(buf.subarray(0, MAX_IDENT + 1));
    if (v.state !== 'need-more') finish(v);
  };
  const onClose = (): void => finish({ state: 'bad', reason: 'connection closed before identification' });
  const timer = waitMs > 0 ? setTimeout(() => finish({ state: 'need-more' }), waitMs) : undefined;
  timer?.unref();
  socket.on('data', onData);
  socket.on('close', onClose);
  socket.resume();
}
