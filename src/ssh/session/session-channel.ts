/**
 * One session channel from open to close: the requests that set it up (pty,
 * env, agent forwarding), the one request that starts a program (shell,
 * exec, subsystem), then the plumbing between the channel and the program,
 * with the channel's flow control reaching the program: a client that stops
 * reading stops the program's writes, as with sshd.
 *
 * Order of the end, as sshd sends it: all output, exit-status (or
 * exit-signal), EOF, close. When the channel or the connection goes first,
 * the program's whole process group is hung up, as a terminal hangup does.
 */
import { NO_BACKPRESSURE, writeOrPause, type Backpressure } from '../backpressure.js';
import type { ServerChannel, Session } from 'ssh2';
import type { Writable } from 'node:stream';
import type { ConnectionContext } from '../context.js';
import { startChild, type Child, type PtyOutput } from './child.js';
import { sessionProgram, type SessionRequest } from './command.js';
import { acceptsEnv, sessionEnvironment } from './environment.js';
import { exitReport, signalFromSsh } from './signals.js';

/** Client variables a session keeps (sshd: 128), and their total size. */
export const MAX_CLIENT_ENV = 128;
export const MAX_CLIENT_ENV_BYTES = 64 * 1024;

export interface SessionHooks {
  /** Starts agent forwarding for the connection; resolves with SSH_AUTH_SOCK, or undefined when refused. */
  agentForwarding?: () => Promise<string | undefined>;
}

export class SessionChannel {
  private ptyReq?: { term: string; cols: number; rows: number };
  private readonly clientEnv: { name: string; value: string }[] = [];
  private clientEnvBytes = 0;
  private agentSock?: Promise<string | undefined>;
  private child?: Child;
  private channel?: ServerChannel;
  private ended = false;
  private ending?: Promise<void>;
  /** A forced command or a subsystem: the client may not signal it. */
  private restricted = false;
  /** The client sent eow@openssh.com: output still queued will never be read. */
  private outputRefused = false;
  /** The program has exited (its output may still be draining). */
  private programEnded = false;

  constructor(
    session: Session,
    private readonly ctx: ConnectionContext,
    private readonly hooks: SessionHooks,
    private readonly onClosed: () => void,
  ) {
    const log = ctx.log;
    session.on('pty', (accept, reject, info) => {
      if (!ctx.policy.pty || this.child || hasNul(info.term)) return reject?.();
      this.ptyReq = { term: info.term, cols: info.cols, rows: info.rows };
      accept?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      this.ptyReq = this.ptyReq && { ...this.ptyReq, cols: info.cols, rows: info.rows };
      this.child?.resize?.(info.cols, info.rows);
      accept?.();
    });
    session.on('env', (accept, reject, info) => {
      if (this.child || hasNul(info.key) || hasNul(info.val)) return reject?.();
      // Only what AcceptEnv lets through is kept, and only so much of it, as
      // sshd (128 variables): a client must not grow its worker at will.
      if (!acceptsEnv(ctx.policy.acceptEnv, info.key)) return reject?.();
      const bytes = info.key.length + info.val.length;
      if (this.clientEnv.length >= MAX_CLIENT_ENV || this.clientEnvBytes + bytes > MAX_CLIENT_ENV_BYTES) return reject?.();
      this.clientEnvBytes += bytes;
      this.clientEnv.push({ name: info.key, value: info.val });
      accept?.();
    });
    session.on('auth-agent', (accept, reject) => {
      if (!ctx.policy.agentForwarding || !hooks.agentForwarding || this.agentSock) return reject?.();
      this.agentSock = hooks.agentForwarding();
      accept?.();
    });
    session.on('signal', (accept, reject, info) => {
      const sig = signalFromSsh(info.name);
      if (!this.child || !sig || this.restricted) return reject?.();
      // Answered at once, in order with the channel's other requests; the helper signals the group.
      accept?.();
      this.ctx.user.signal(this.child.pid, sig.slice(3)).catch((err: Error) => log.debug({ err: err.message, signal: sig }, 'signal not delivered'));
    });
    session.on('shell', (accept, reject) => void this.start({ kind: 'shell' }, accept, reject));
    // sshd reads these as C strings and drops a connection that puts a NUL
    // in one; refusing the request is enough to keep it out of argv and env.
    session.on('exec', (accept, reject, info) => (hasNul(info.command) ? reject?.() : void this.start({ kind: 'exec', command: info.command }, accept, reject)));
    session.on('subsystem', (accept, reject, info) => (hasNul(info.name) ? reject?.() : void this.start({ kind: 'subsystem', name: info.name }, accept, reject)));
    session.on('eow', () => {
      this.outputRefused = true;
      this.child?.endOfWrite?.();
    });
    session.on('close', () => void this.end());
    session.on('error', (err: Error) => log.debug({ err: err.message }, 'session channel error'));
  }

  private async start(req: SessionRequest, accept: () => ServerChannel | undefined, reject?: () => void): Promise<void> {
    if (this.child || this.channel || this.ended) return reject?.();
    const program = sessionProgram(this.ctx.account, this.ctx.policy, req);
    if ('refused' in program) {
      this.ctx.log.info(program.refused);
      return reject?.();
    }
    // Accept at once: ssh2 refuses a late accept once the client has sent
    // EOF, and the OpenSSH client sends it without waiting for our reply.
    // Input waits in the paused channel until the program is there.
    const channel = accept();
    if (!channel) return;
    this.channel = channel;
    this.restricted = program.restricted;
    channel.on('error', () => {});
    channel.on('close', () => void this.end());
    const agent = this.agentSock ? await this.agentSock.catch(() => undefined) : undefined;
    if (this.ended) return;
    const env = sessionEnvironment(this.ctx, {
      clientEnv: this.clientEnv,
      ...(this.ptyReq ? { term: this.ptyReq.term } : {}),
      ...(program.originalCommand !== undefined ? { originalCommand: program.originalCommand } : {}),
      ...(agent ? { extra: { SSH_AUTH_SOCK: agent } } : {}),
    });
    let child: Child;
    try {
      // As sshd: ~/.ssh/rc unless PermitUserRC, the key's no-user-rc or a subsystem says no; else /etc/ssh/sshrc.
      const rc = this.ctx.policy.userRc && req.kind !== 'subsystem' ? 'user' : 'system';
      child = await startChild(this.ctx.user, { program, env, cwd: this.ctx.account.home, rc, ...(this.ptyReq ? { pty: this.ptyReq } : {}) });
    } catch (err) {
      if (this.ended) return;
      // As a shell that cannot be executed: a message and status 127.
      this.ctx.log.warn({ err: (err as Error).message }, `cannot start ${req.kind} for ${this.ctx.account.name}`);
      channel.stderr.write(`${program.file}: cannot be started\r\n`);
      channel.exit(127);
      channel.end();
      this.finish();
      return;
    }
    this.child = child;
    if (this.ended) {
      // The channel went while the program was starting: it goes too.
      void this.hangUp(child);
      return;
    }
    this.ctx.log.debug({ pid: child.pid, kind: req.kind, tty: child.tty }, 'session program started');
    this.plumb(channel, child);
  }

  private plumb(channel: ServerChannel, child: Child): void {
    const outputs: Promise<void>[] = [];
    const pressure = this.ctx.pressure ?? NO_BACKPRESSURE;
    if ('pipe' in child.stdout) {
      outputs.push(pipeInto(child.stdout, channel, pressure));
      if (child.stderr) outputs.push(pipeInto(child.stderr, channel.stderr, pressure));
    } else {
      outputs.push(pumpPty(child.stdout, channel, pressure));
    }
    // Client input; EOF from the client closes the program's stdin (pty: sshd leaves the tty open).
    const stdin = child.stdin;
    if ('end' in stdin) channel.pipe(stdin);
    else channel.on('data', (d: Buffer) => stdin.write(d));

    void child.exited.then(async ({ code, signal }) => {
      this.programEnded = true;
      await Promise.all(outputs);
      if (this.ended) return;
      const report = exitReport(code, signal);
      try {
        if ('signal' in report) channel.exit(report.signal, false, '');
        else channel.exit(report.status);
      } catch {
        // Channel already closing: nothing to report to.
      }
      // What the program left running in the background stays, as with sshd:
      // its output has ended, so nothing of it is tied to this channel.
      if (this.outputRefused) {
        // Queued output would wait for window the client no longer opens: close past it.
        channel.eof();
        channel.close();
      } else channel.end();
      this.finish();
    });
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.onClosed();
  }

  /** SIGHUP and SIGCONT to the group, SIGKILL to the program after 2 s (the helper's timer); resolves when it has gone. */
  private hangUp(child: Child): Promise<void> {
    return this.ctx.user.hangup(child.pid).catch((err: Error) => this.ctx.log.debug({ err: err.message, pid: child.pid }, 'hangup failed'));
  }

  /** The channel or the connection is gone: hang up the program's group. Resolves when it has ended. */
  end(): Promise<void> {
    if (this.ending) return this.ending;
    // Only a program still running is hung up: once it has ended, what it
    // left in the background is no longer this channel's.
    const child = this.programEnded ? undefined : this.child;
    this.finish();
    this.ending = child ? this.hangUp(child) : Promise.resolve();
    try {
      this.channel?.destroy();
    } catch {
      // already closed
    }
    return this.ending;
  }
}

function hasNul(s: string | undefined): boolean {
  return typeof s === 'string' && s.includes('\0');
}

/** Copies a program's stream into the channel with backpressure; resolves when the stream has ended and its data has left. */
function pipeInto(src: NodeJS.ReadableStream, dst: Writable, pressure: Backpressure): Promise<void> {
  return new Promise((resolve) => {
    src.on('data', (d: Buffer) => writeOrPause(src, dst, d, pressure));
    src.on('end', () => resolve());
    src.on('error', () => resolve());
    src.on('close', () => resolve());
    dst.on('close', () => resolve());
  });
}

function pumpPty(src: PtyOutput, dst: Writable, pressure: Backpressure): Promise<void> {
  src.onData((d) => writeOrPause(src, dst, d, pressure));
  // child.exited resolves only after the pty has been read to the end.
  return Promise.resolve();
}
