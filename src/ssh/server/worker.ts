/**
 * One SSH connection in its own process, which runs as the unprivileged
 * privilege separation user from before the first byte to the end: the SSH
 * protocol (ssh2) on the descriptor the daemon handed over, authentication
 * decided by the daemon (worker-auth.ts), then the channels, whose programs
 * and sockets the user's side opens with the user's credentials. The worker
 * answers the daemon's status requests on the handoff socket and, so that a
 * restarted daemon can find it again, on a session socket the daemon made.
 */
import net from 'node:net';
import ssh2 from 'ssh2';
import type { AuthContext, AuthenticationType, ClientInfo, Connection } from 'ssh2';
import type { SshConfig } from '../../config/ssh-schema.js';
import { mptcpStatus } from '../../mptcp/info.js';
import type { Logger } from '../../util/logger.js';
import { channelPolicy } from './channel-policy.js';
import { chooseAlgorithms, hostKeyOrder } from './algorithms.js';
import { requestUserauth, userauthMessage } from './worker-auth.js';
import type { KeyOptions } from '../auth/key-options.js';
import type { ConnectionContext, UserAccount } from '../context.js';
import type { DaemonRequest, HandoffMessage, SessionReport } from './control-protocol.js';
import { jsonLines, type JsonLines } from './json-lines.js';
import { connectUserSide, type UserSide } from '../user-side/index.js';
import { graceTimeoutLine, logAuthLine, normaliseClientAddress } from '../auth/index.js';
import { SERVER_SOFTWARE, serverIdentLine } from './ident.js';
import { remoteHostKeys } from './remote-host-key.js';
import { socketBackpressure } from '../backpressure.js';
import type { LogRelay } from './log-relay.js';
import { acceptKeyQuery, allowRepeatedUserauthService, applyKeepalive, disconnectWithText, negotiationFailure, supportedAlgorithms } from '../ssh2-internals.js';
import { serveHostKeyUpdates, type ServedKey } from './host-key-update.js';
import { SIGNER_FD } from './monitor-frames.js';
import { receiveFd } from '../../mptcp/fdpass.js';
import { replaceFd } from '../../native/fds.js';

/** What serves the channels of an authenticated connection (sessions, forwarding). */
export type AttachChannels = (client: Connection, ctx: ConnectionContext, counts: (kind: string, open: boolean) => void) => { close(): Promise<void> | void };

export interface WorkerDeps {
  log: Logger;
  handoff: HandoffMessage;
  ssh: SshConfig;
  socket: net.Socket;
  /** The handoff socket, already a JSON-lines channel to the daemon. */
  daemon: net.Socket;
  /** A listening socket in the daemon's session directory, for a restarted daemon. */
  sessionListener?: number;
  attach: AttachChannels;
  /** The worker's log destination, relayed to the daemon over the control channels. */
  relay?: LogRelay;
  /** Called once the connection is over and everything is cleaned up. */
  onDone(): void;
}

/** Serves one connection until it closes. */
export function runConnection(deps: WorkerDeps): ConnectionWorker {
  const worker = new ConnectionWorker(deps);
  worker.start();
  return worker;
}

/** What the daemon's answer to a successful authentication hands over. */
interface Login {
  account: UserAccount;
  options: KeyOptions;
  fds: number[];
}

/**
 * One connection, from the injected socket to the end: the SSH transport, the
 * relay of authentication to the daemon, the channels once logged in, the
 * reports to the daemon's control channels, and the shutdown.
 */
export class ConnectionWorker {
  private readonly log: Logger;
  private readonly handoff: HandoffMessage;
  private readonly cfg: SshConfig;
  private readonly socket: net.Socket;
  private readonly channels: Record<string, number> = {};
  private readonly controls = new Set<JsonLines>();
  private readonly pressure: ReturnType<typeof socketBackpressure>;
  private readonly served: (ServedKey & { key: object })[];
  private readonly server: ssh2.Server;
  /** When LoginGraceTime ends (ms since the epoch), or undefined when it is 0 (no limit). */
  private readonly graceDeadline: number | undefined;
  private grace: NodeJS.Timeout | undefined;
  private sessionServer: net.Server | undefined;
  private client: Connection | undefined;
  private login: Login | undefined;
  private attached: { close(): Promise<void> | void } | undefined;
  private user = '';
  private authenticatedAt: number | undefined;
  private authFailures = 0;
  private finished = false;

  constructor(private readonly deps: WorkerDeps) {
    this.log = deps.log;
    this.handoff = deps.handoff;
    this.cfg = deps.ssh;
    this.socket = deps.socket;
    this.pressure = socketBackpressure(this.socket);
    const algos = chooseAlgorithms(this.cfg, supportedAlgorithms());
    this.served = servedHostKeys(this.handoff.hostKeys, algos.algorithms.serverHostKey);
    for (const p of algos.problems) this.log.warn(p);
    this.server = new ssh2.Server({
      // ssh2 takes a parsed key in the {key} form only; HostKeyAlgorithms decides which keys and in what order.
      hostKeys: this.served.map((s) => ({ key: s.key })) as unknown as Buffer[],
      algorithms: algos.algorithms,
      ident: SERVER_SOFTWARE,
      ...applyKeepalive(this.cfg.ClientAliveInterval, this.cfg.ClientAliveCountMax),
    } as ssh2.ServerConfig);
    this.graceDeadline = this.cfg.LoginGraceTime > 0 ? this.handoff.acceptedAt + this.cfg.LoginGraceTime * 1000 : undefined;
  }

  /** Opens the control channels, arms the login grace time and starts SSH on the socket. */
  start(): void {
    this.deps.relay?.connect((line) => this.broadcast({ op: 'log', line }));
    this.listenControl(this.deps.daemon);
    this.deps.daemon.on('close', () => this.log.info('daemon went away; the session goes on'));
    this.openSessionSocket();
    this.armLoginGrace();
    this.server.on('connection', (c, info) => this.onConnection(c, info));
    this.startTransport();
  }

  // ---- reporting to the daemon ----

  /** The session as the daemon lists it. */
  private report(): SessionReport {
    const { handoff, socket } = this;
    const st = socket.destroyed ? null : safeStatus(socket);
    const r: SessionReport = {
      id: handoff.id,
      pid: process.pid,
      user: this.user,
      remote: handoff.remote,
      local: handoff.local,
      startedAt: handoff.acceptedAt,
      transport: st?.transport ?? handoff.transport,
      channels: { ...this.channels },
      subflows: st?.subflows ?? [],
      sampledAt: Date.now(),
    };
    if (this.authenticatedAt !== undefined) r.authenticatedAt = this.authenticatedAt;
    if (st?.info?.bytesSent !== undefined) r.bytesSent = st.info.bytesSent;
    if (st?.info?.bytesReceived !== undefined) r.bytesReceived = st.info.bytesReceived;
    return r;
  }

  /** Sends to every control channel; false when none took it. */
  private broadcast(msg: unknown): boolean {
    let sent = false;
    for (const c of this.controls) sent = c.send(msg) || sent;
    return sent;
  }

  /** Answers the daemon's requests on one control channel (the handoff socket or a session-socket connection). */
  private listenControl(sock: net.Socket): void {
    const ch = jsonLines(
      sock,
      (raw) => {
        // The daemon (root) is trusted; only its vocabulary is checked.
        const msg = raw as DaemonRequest;
        if (msg.op === 'status' || msg.op === 'hello') ch.send({ op: 'status', seq: msg.op === 'status' && Number.isInteger(msg.seq) ? msg.seq : 0, session: this.report() });
        else if (msg.op === 'close') {
          this.client?.end();
          this.finish(String(msg.reason).slice(0, 200));
        } else {
          this.log.warn('daemon sent an unknown request, ignoring');
        }
      },
      (why) => this.log.warn({ why }, 'bad line from the daemon, ignoring'),
    );
    this.controls.add(ch);
    sock.on('close', () => this.controls.delete(ch));
    this.deps.relay?.flush();
  }

  /** The socket the next daemon can reach us on: the daemon made it (root-owned directory, mode 0600). */
  private openSessionSocket(): void {
    if (this.deps.sessionListener === undefined) return;
    const server = net.createServer({ pauseOnConnect: true }, (sock) => {
      takeMonitor(sock, this.log);
      sock.resume();
      this.listenControl(sock);
    });
    server.on('error', (err) => this.log.warn({ err }, 'session socket failed, a restarted daemon will not see this session'));
    server.listen({ fd: this.deps.sessionListener });
    this.sessionServer = server;
  }

  // ---- the SSH transport ----

  private armLoginGrace(): void {
    const deadline = this.graceDeadline;
    if (deadline === undefined) return;
    this.grace = setTimeout(() => this.graceOver(this.client), Math.max(0, deadline - Date.now()));
  }

  /** LoginGraceTime is over: sshd's log line, then the end of the connection. */
  private graceOver(client?: Connection): void {
    const { handoff } = this;
    logAuthLine(this.log, graceTimeoutLine({ ip: normaliseClientAddress(handoff.remote.address), port: handoff.remote.port }));
    client?.end();
    this.finish('login grace time over');
  }

  /** Hands the socket to ssh2, which then writes through our batching and skips the identification line already sent. */
  private startTransport(): void {
    const { socket } = this;
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'connection socket error'));
    // Keystrokes and prompts must not wait for Nagle (sshd sets TCP_NODELAY on interactive sessions too).
    socket.setNoDelay(true);
    batchWrites(socket);
    skipFirstWrite(socket, serverIdentLine());
    this.server.injectSocket(socket);
  }

  private onConnection(c: Connection, info: ClientInfo): void {
    this.client = c;
    allowRepeatedUserauthService(c);
    c.on('error', (err: Error & { level?: string }) => this.onProtocolError(err));
    c.on('close', () => this.finish('connection closed'));
    c.on('end', () => this.finish('connection ended'));
    c.on('authentication', (ctx) => this.relayAuth(c, ctx, () => requestUserauth(SIGNER_FD, userauthMessage(ctx), this.graceDeadline)));
    c.on('ready', () => this.attachChannels(c, info));
  }

  private onProtocolError(err: Error & { level?: string }): void {
    const { handoff } = this;
    if (err.level === 'client-timeout') {
      // ssh2 only half-closes; a frozen client never answers that, so close for real.
      const ip = normaliseClientAddress(handoff.remote.address);
      this.log.info({ event: 'client-timeout', user: this.user, remoteAddress: ip, remotePort: handoff.remote.port }, `Timeout, client not responding from user ${this.user || '(unknown)'} ${ip} port ${handoff.remote.port}`);
      this.finish('keepalive timeout');
      return;
    }
    const failed = err.level === 'handshake' ? negotiationFailure(err.message) : undefined;
    if (failed) {
      const ip = normaliseClientAddress(handoff.remote.address);
      this.log.info({ event: 'negotiation-failed', remoteAddress: ip, remotePort: handoff.remote.port, ...failed }, `Unable to negotiate with ${ip} port ${handoff.remote.port}: no matching ${failed.what} found. Their offer: ${failed.theirs} [preauth]`);
      return;
    }
    this.log.debug({ err: err.message, level: err.level }, 'ssh protocol error');
  }

  // ---- authentication, decided by the daemon ----

  /** Acts on the daemon's answer to one request, or to its keyboard-interactive follow-ups. */
  private relayAuth(c: Connection, ctx: AuthContext, send: () => ReturnType<typeof requestUserauth>): void {
    let got: ReturnType<typeof requestUserauth>;
    try {
      got = send();
    } catch (err) {
      c.end();
      if (this.graceDeadline !== undefined && Date.now() >= this.graceDeadline) {
        this.graceOver();
        return;
      }
      this.log.error({ err: (err as Error).message }, 'the daemon did not answer an authentication request, closing the connection');
      this.finish('monitor unavailable');
      return;
    }
    const a = got.answer;
    if (a.auth === 'success') {
      this.login = { account: a.account, options: a.options as unknown as KeyOptions, fds: got.fds };
      ctx.accept();
    } else if (a.auth === 'pk-ok') acceptKeyQuery(ctx as Parameters<typeof acceptKeyQuery>[0]);
    else if (a.auth === 'partial') ctx.reject(a.methods as AuthenticationType[], true);
    else if (a.auth === 'prompt' && ctx.method === 'keyboard-interactive') {
      ctx.prompt(a.prompts, a.name, a.instructions, (answers: string[] | Error) => {
        // Aborted (a new request came): the daemon ends the exchange when it sees that request.
        if (!Array.isArray(answers)) return;
        this.relayAuth(c, ctx, () => requestUserauth(SIGNER_FD, { op: 'userauth-answers', answers: answers.slice(0, 16).map((x) => String(x).slice(0, 1024)) }, this.graceDeadline));
      });
    } else if (a.auth === 'disconnect') {
      this.authFailures++;
      // A fatal refusal leaves the request unanswered: the client sees the reason, not "Permission denied".
      if (a.fatal !== true) ctx.reject(['publickey']);
      // sshd's words and code: SSH2_DISCONNECT_PROTOCOL_ERROR (2), "Too many authentication failures".
      disconnectWithText(c, this.socket, 2, a.reason);
      setImmediate(() => this.finish(a.reason));
    } else {
      if (ctx.method !== 'none') this.authFailures++;
      ctx.reject((a.auth === 'failure' && a.methods !== undefined && a.methods.length > 0 ? a.methods : ['publickey']) as AuthenticationType[]);
    }
  }

  // ---- channels, once logged in ----

  private attachChannels(c: Connection, info: ClientInfo): void {
    const { handoff } = this;
    const ok = this.login;
    if (ok === undefined) {
      c.end();
      return;
    }
    clearTimeout(this.grace);
    if (ok.fds.length !== 2) {
      this.log.error('the daemon accepted the login but passed no user side, closing the connection');
      c.end();
      this.finish('no user side');
      return;
    }
    const userSide: UserSide = connectUserSide(ok.fds[0] as number, ok.fds[1] as number, this.log);
    this.user = ok.account.name;
    // As sshd's post-login process: who, from where (ps, top); the session id stays for tools.
    process.title = `mpsshd: ${this.user}@${normaliseClientAddress(handoff.remote.address)} [session ${handoff.id}]`;
    this.authenticatedAt = Date.now();
    const ctx: ConnectionContext = {
      log: this.log,
      account: ok.account,
      peer: { remoteAddress: normaliseClientAddress(info.ip), remotePort: info.port, localAddress: normaliseClientAddress(handoff.local.address), localPort: handoff.local.port },
      policy: channelPolicy(this.cfg, ok.options),
      extraEnv: {},
      user: userSide,
      pressure: this.pressure,
    };
    this.attached = this.deps.attach(c, ctx, (kind, open) => {
      this.channels[kind] = Math.max(0, (this.channels[kind] ?? 0) + (open ? 1 : -1));
    });
    // As sshd after login: every host key, for clients that keep known_hosts up to date.
    serveHostKeyUpdates(c, this.served, SIGNER_FD, this.log);
  }

  // ---- shutdown ----

  /** Ends the connection once: says why, closes the sockets, waits for the user's processes, then onDone. */
  private finish(reason: string): void {
    if (this.finished) return;
    this.finished = true;
    const { handoff, socket, log } = this;
    clearTimeout(this.grace);
    log.info({ reason }, `Connection closed by ${normaliseClientAddress(handoff.remote.address)} port ${handoff.remote.port}${this.user ? ` (user ${this.user})` : ''}: ${reason}`);
    this.broadcast({ op: 'closing', reason, authFailures: this.authFailures });
    // Packets batched in this turn (a disconnect message) go out before the socket closes.
    while (socket.writableCorked > 0) socket.uncork();
    socket.destroy();
    this.sessionServer?.close();
    // Leave once the user's processes have ended (hung up, killed after a grace time).
    Promise.resolve()
      .then(() => this.attached?.close())
      .catch((err: unknown) => log.warn({ err }, 'closing channels failed, ignoring'))
      .finally(() => setTimeout(() => this.deps.onDone(), 50).unref());
  }
}

/**
 * A daemon that finds this session after a restart first passes a monitor
 * channel of its own (one NUL byte with the descriptor), which replaces the
 * dead daemon's: signatures for later key exchanges (rekeys) come from it.
 * Read before the socket is wrapped, so the descriptor is not lost to a
 * plain read.
 */
function takeMonitor(sock: net.Socket, log: Logger): void {
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (fd === undefined || fd < 0) return;
  try {
    replaceFd(receiveFd(fd, { timeoutMs: 1000 }), SIGNER_FD);
    log.info('a restarted daemon took over signing for this session');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'no monitor channel from the restarted daemon: a rekey will end this session');
  }
}

/** The remote host keys HostKeyAlgorithms lets serve, in its order (each keeps its index at the daemon). */
function servedHostKeys(publicLines: readonly string[], offered: readonly string[]): (ServedKey & { key: object })[] {
  const keys = remoteHostKeys(publicLines, SIGNER_FD);
  const types = publicLines.map((l) => l.split(' ')[0] as string);
  const order = hostKeyOrder(types, offered);
  return (order.length > 0 ? order : types.map((_t, i) => i)).map((i) => ({
    index: i,
    type: types[i] as string,
    blob: Buffer.from(publicLines[i]?.split(' ')[1] ?? '', 'base64'),
    key: keys[i] as object,
  }));
}

/**
 * Packets written during one turn of the event loop leave together, in one
 * writev: fewer system calls in a bulk transfer, and a channel's last data,
 * exit-status, EOF and close reach the client in one segment, as sshd sends
 * them (a client that starts a rekey between them can deadlock: paramiko does).
 */
function batchWrites(socket: net.Socket): void {
  const write = socket.write;
  let corked = false;
  socket.write = function (this: net.Socket, ...args: unknown[]) {
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      setImmediate(() => {
        corked = false;
        socket.uncork();
      });
    }
    return (write as (...a: unknown[]) => boolean).apply(socket, args);
  } as typeof socket.write;
}

/**
 * The daemon already sent our identification line on accept; ssh2 sends it
 * as its first write (and hashes it into the key exchange, so it must be
 * byte-identical). Drop exactly that write.
 */
function skipFirstWrite(socket: net.Socket, expected: Buffer): void {
  const original = socket.write;
  socket.write = function (this: net.Socket, data: unknown, ...rest: unknown[]) {
    socket.write = original;
    if (Buffer.isBuffer(data) && data.equals(expected)) return true;
    throw new Error('ssh2 did not start with the expected identification line');
  } as typeof socket.write;
}

function safeStatus(socket: net.Socket) {
  try {
    return mptcpStatus(socket);
  } catch {
    return null;
  }
}
