/**
 * The daemon's side of a connection's root process (`mpsshd-user-helper
 * --login`, native/src/helper_login.c): started on the first request that
 * needs PAM, or at the login when PAM is off, it runs the PAM stacks in its
 * own process (they may block: pam_faildelay, network directories; never on
 * the daemon's event loop nor in libuv's thread pool) and, once the login is
 * accepted, opens the session and becomes the root parent of the user's
 * side, whose two sockets it was started with. Frames as for the user-side
 * helper: a 4-byte big-endian length, NUL-terminated fields.
 */
import net from 'node:net';
import { native } from '../../mptcp/native.js';
import { launchHelper } from './spawn.js';
import type { Logger } from '../../util/logger.js';

/** What a PAM stack said: `denied` is the account stack's refusal, `failed` the authentication's. */
export interface PamOutcome {
  result: 'ok' | 'new-authtok' | 'denied' | 'failed';
  /** pam_strerror() of the result, for the log. */
  why: string;
  /** Messages the modules had for the user (pam_nologin's text), not yet shown. */
  text: string;
}

/** One step of a PAM authentication: a prompt for the client, or the end. */
export type PamStep = { kind: 'prompt'; echo: boolean; text: string } | ({ kind: 'result' } & PamOutcome);

/** Settings of the session the root process opens. */
export interface SessionSettings {
  uid: number;
  gid: number;
  printLastLog: boolean;
  printMotd: boolean;
}

/** The pre-login conversation with a connection's root process. */
export interface LoginProcess {
  /** Whether PAM runs there (a service was given and libpam is in the helper). */
  readonly pam: Promise<boolean>;
  account(): Promise<PamOutcome>;
  /**
   * keyboard-interactive (prompts relayed) or password (the client's
   * password answers). `permitEmpty`: PermitEmptyPasswords; without it PAM
   * is asked to refuse an empty password (PAM_DISALLOW_NULL_AUTHTOK).
   * `standIn`: the answers are stand-ins for an attempt that cannot log in
   * (pam-attempt.ts): empty passwords are refused whatever `permitEmpty`
   * says, and an expired password is never changed.
   */
  authenticate(kind: 'kbdint' | 'password', opts: { permitEmpty: boolean; standIn?: boolean; password?: string }): Promise<PamStep>;
  /** The client's answer to the last prompt; null gives up (PAM sees a conversation error). */
  answer(text: string | null): Promise<PamStep>;
  /** Opens the session; resolves with the worker's ends of the user side, which the caller then owns. */
  openSession(s: SessionSettings): Promise<{ controlFd: number; fdChannelFd: number }>;
  /** Ends a login that did not happen: PAM's handle is dropped and the process exits. */
  close(): void;
}

const MAX_FRAME = 64 * 1024;

/** Starts the root process for `user` from `rhost`; `service` null: no PAM. Throws when it cannot start. */
export function startLoginProcess(opts: { service: string | null; user: string; rhost: string; log: Logger }): LoginProcess {
  // Descriptors 3 and 4 become the user side's; 5 is this daemon's channel to the root process.
  const { ours } = launchHelper(['--login', opts.service ?? '-', opts.user, opts.rhost], 3, opts.log.child({ mod: 'login', user: opts.user }), 'login process');
  const [controlFd, fdChannelFd, daemonFd] = ours as [number, number, number];
  return new LoginClient(new net.Socket({ fd: daemonFd, readable: true, writable: true }), controlFd, fdChannelFd);
}

class LoginClient implements LoginProcess {
  private buf: Buffer = Buffer.alloc(0);
  private readonly frames: string[][] = [];
  private readonly waiters: { resolve(f: string[]): void; reject(e: Error): void }[] = [];
  private gone: Error | undefined;
  /** The worker's ends, until handed over or closed. */
  private userSide: { controlFd: number; fdChannelFd: number } | undefined;
  readonly pam: Promise<boolean>;

  constructor(
    private readonly sock: net.Socket,
    controlFd: number,
    fdChannelFd: number,
  ) {
    this.userSide = { controlFd, fdChannelFd };
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('error', () => {});
    sock.on('close', () => this.fail(new Error('the login process went away')));
    this.pam = this.next().then((f) => {
      if (f[0] !== 'hello' || f.length !== 2) throw new Error('the login process did not say hello');
      return f[1] === '1';
    });
    this.pam.catch(() => {});
  }

  async account(): Promise<PamOutcome> {
    this.send(['acct']);
    return outcome(await this.next(), 'acct');
  }

  async authenticate(kind: 'kbdint' | 'password', opts: { permitEmpty: boolean; standIn?: boolean; password?: string }): Promise<PamStep> {
    const mode = opts.standIn === true ? 'x' : opts.permitEmpty ? '1' : '0';
    this.send(kind === 'password' ? ['auth', 'password', mode, opts.password ?? ''] : ['auth', 'kbdint', mode]);
    return this.step();
  }

  async answer(text: string | null): Promise<PamStep> {
    this.send(text === null ? ['abort'] : ['answer', text]);
    return this.step();
  }

  async openSession(s: SessionSettings): Promise<{ controlFd: number; fdChannelFd: number }> {
    this.send(['session', String(s.uid), String(s.gid), s.printLastLog ? '1' : '0', s.printMotd ? '1' : '0']);
    const f = await this.next();
    if (f[0] !== 'session') throw new Error('unexpected answer from the login process');
    if (f[1] !== 'ok') throw new Error(f[2] ?? 'session refused');
    const fds = this.userSide;
    this.userSide = undefined;
    this.sock.destroy();
    if (fds === undefined) throw new Error('user side already handed over');
    return fds;
  }

  close(): void {
    this.sock.destroy();
    this.fail(new Error('closed'));
  }

  private async step(): Promise<PamStep> {
    const f = await this.next();
    if (f[0] === 'prompt' && f.length === 3) return { kind: 'prompt', echo: f[1] === '1', text: f[2] ?? '' };
    return { kind: 'result', ...outcome(f, 'auth') };
  }

  private send(fields: string[]): void {
    if (this.gone) throw this.gone;
    if (fields.some((f) => f.includes('\0'))) throw new Error('a field contains a NUL byte');
    const body = Buffer.from(fields.map((f) => `${f}\0`).join(''), 'utf8');
    if (body.length > MAX_FRAME) throw new Error('request too long for the login process');
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    this.sock.write(Buffer.concat([head, body]));
  }

  private next(): Promise<string[]> {
    const f = this.frames.shift();
    if (f) return Promise.resolve(f);
    if (this.gone) return Promise.reject(this.gone);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len === 0 || len > MAX_FRAME) {
        this.sock.destroy();
        this.fail(new Error(`bad frame length ${len} from the login process`));
        return;
      }
      if (this.buf.length < 4 + len) break;
      const body = this.buf.subarray(4, 4 + len);
      this.buf = this.buf.subarray(4 + len);
      const fields = body.subarray(0, body.length - 1).toString('utf8').split('\0');
      const w = this.waiters.shift();
      if (w) w.resolve(fields);
      else this.frames.push(fields);
    }
  }

  private fail(err: Error): void {
    if (!this.gone) this.gone = err;
    for (const w of this.waiters.splice(0)) w.reject(this.gone);
    if (this.userSide) {
      native().closeFd(this.userSide.controlFd);
      native().closeFd(this.userSide.fdChannelFd);
      this.userSide = undefined;
    }
  }
}

function outcome(f: string[], kind: string): PamOutcome {
  const result = f[1];
  if (f[0] !== kind || f.length !== 4 || (result !== 'ok' && result !== 'new-authtok' && result !== 'denied' && result !== 'failed')) {
    throw new Error('unexpected answer from the login process');
  }
  return { result, why: f[2] ?? '', text: f[3] ?? '' };
}
