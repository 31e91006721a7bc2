/**
 * The worker's side of the user-side helper: each request a promise, the
 * descriptors of a reply received (SCM_RIGHTS, fd channel) as soon as the
 * reply is read — the helper sends them first, so that never waits — and
 * wrapped: net.Socket for sockets and pipes, tty.ReadStream for a terminal
 * master. Programs' exits arrive as events and settle each program's `exit`.
 *
 * Whatever the helper says is the user's word (it runs as the user): frames
 * are bounded and checked, and a helper that breaks the format is dropped.
 */
import net from 'node:net';
import tty from 'node:tty';
import { receiveFd } from '../../mptcp/fdpass.js';
import { native } from '../../mptcp/native.js';
import type { Logger } from '../../util/logger.js';
import { encodeRequest, MessageReader, UserSideError, type HelperMessage } from './protocol.js';

/** A program to start; argv[0] apart from the file, so a login shell gets `-bash`. */
export interface ProgramSpec {
  file: string;
  argv0: string;
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  /** Falls back to / when it cannot be entered. */
  cwd: string;
  /** A new terminal of this size instead of three pipes. */
  pty?: { cols: number; rows: number };
  /** sshd's start-up files to run first: none, /etc/ssh/sshrc, or ~/.ssh/rc (else /etc/ssh/sshrc). Default none. */
  rc?: 'none' | 'system' | 'user';
}

/** How a program ended: an exit status, or the signal (number) that killed it. */
export interface ProgramExit {
  code: number | null;
  signal: number | null;
}

interface Started {
  pid: number;
  /** Settles when the helper reports the exit (or goes away: both null). */
  exit: Promise<ProgramExit>;
}

/** A program on a terminal: the master both ways; reads end with EIO once every slave is closed. */
export interface PtyProgram extends Started {
  kind: 'pty';
  tty: string;
  master: tty.ReadStream;
  masterFd: number;
}

export interface PipedProgram extends Started {
  kind: 'pipes';
  stdin: net.Socket;
  stdout: net.Socket;
  stderr: net.Socket;
}

export type StartedProgram = PtyProgram | PipedProgram;

/** Everything done on the user's behalf, by the helper running as the user. */
export interface UserSide {
  /** Starts a program as leader of its own session; rejects with the errno of a failed exec. */
  spawn(spec: ProgramSpec): Promise<StartedProgram>;
  /** Sends an RFC 4254 signal (`INT`, `TERM`, ...) to a program's process group. */
  signal(pid: number, name: string): Promise<void>;
  /** Hangs up a program's group (SIGHUP, SIGCONT; SIGKILL to the leader after 2 s); resolves when the leader has gone. */
  hangup(pid: number): Promise<void>;
  /** Connects to host:port (resolved by the helper); rejects with the C library's words as message. */
  connectTcp(host: string, port: number): Promise<net.Socket>;
  /** A listening TCP socket's descriptor and its port (0 asks the kernel for one). */
  listenTcp(address: string, port: number, opts?: { ipv6Only?: boolean }): Promise<{ fd: number; port: number }>;
  /** A listening Unix socket's descriptor; `mode` is the socket file's mode. */
  listenUnix(path: string, opts: { mode: number; unlinkFirst: boolean }): Promise<number>;
  connectUnix(path: string): Promise<net.Socket>;
  /** A listening agent socket in a new private directory under /tmp, removed when the helper exits. */
  listenAgent(): Promise<{ fd: number; path: string }>;
  /** True once the helper is gone or close() was called. */
  readonly closed: boolean;
  /** Called once when the helper goes away. */
  onClose(cb: () => void): void;
  /** Closes the sockets to the helper: it hangs up what still runs, cleans up and exits. */
  close(): void;
}

/** A reply's descriptors and values; for a spawn, the program's exit (registered as the reply was read). */
interface Reply {
  fds: number[];
  values: string[];
  exit?: Promise<ProgramExit>;
}

interface Waiter {
  op: string;
  resolve(r: Reply): void;
  reject(err: Error): void;
}

interface ExitWaiter {
  promise: Promise<ProgramExit>;
  resolve(e: ProgramExit): void;
}

/** How long a descriptor the helper announced may take to be readable; it was sent before the reply. */
const FD_RECEIVE_TIMEOUT_MS = 1000;

/** Talks to a helper over `controlFd` (requests, replies) and `fdChannelFd` (descriptors); owns both. */
export function connectUserSide(controlFd: number, fdChannelFd: number, log: Logger): UserSide {
  return new UserSideClient(controlFd, fdChannelFd, log.child({ mod: 'user-side' }));
}

class UserSideClient implements UserSide {
  private nextId = 1;
  private readonly waiters = new Map<number, Waiter>();
  /** Programs whose exit has not been reported yet. */
  private readonly exits = new Map<number, ExitWaiter>();
  private readonly reader = new MessageReader();
  private readonly control: net.Socket;
  private readonly closeCallbacks: (() => void)[] = [];
  closed = false;

  constructor(
    controlFd: number,
    private readonly fdChannelFd: number,
    private readonly log: Logger,
  ) {
    this.control = new net.Socket({ fd: controlFd, readable: true, writable: true });
    this.control.on('data', (d: Buffer) => this.onData(d));
    this.control.on('error', (err) => log.debug({ err: err.message }, 'user-side helper socket error'));
    this.control.on('close', () => this.shutdown('the user-side helper went away'));
  }

  async spawn(spec: ProgramSpec): Promise<StartedProgram> {
    const env = Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
    const stdio = spec.pty ? ['pty', String(clampSize(spec.pty.cols, 80)), String(clampSize(spec.pty.rows, 24))] : ['pipes'];
    const r = await this.request('spawn', [spec.file, spec.argv0, String(spec.args.length), ...spec.args, String(env.length), ...env, spec.cwd, String(spec.rc === 'user' ? 2 : spec.rc === 'system' ? 1 : 0), ...stdio]);
    const pid = Number(r.values[0]);
    const exit = r.exit ?? Promise.resolve({ code: null, signal: null });
    if (spec.pty) {
      const [fd] = expectFds(r.fds, 1);
      return { kind: 'pty', pid, exit, tty: r.values[1] ?? '', master: adopt(fd, () => new tty.ReadStream(fd), r.fds), masterFd: fd };
    }
    const [i, o, e] = expectFds(r.fds, 3);
    const stdin = adopt(i, () => new net.Socket({ fd: i, readable: false, writable: true }), r.fds);
    const stdout = adopt(o, () => new net.Socket({ fd: o, readable: true, writable: false }), [o, e]);
    const stderr = adopt(e, () => new net.Socket({ fd: e, readable: true, writable: false }), [e]);
    return { kind: 'pipes', pid, exit, stdin, stdout, stderr };
  }

  async signal(pid: number, name: string): Promise<void> {
    await this.request('signal', [String(pid), name]);
  }

  async hangup(pid: number): Promise<void> {
    // Taken now: the exit event, when it comes, follows a "running" reply.
    const exit = this.exits.get(pid)?.promise;
    let r: { values: string[] };
    try {
      r = await this.request('hangup', [String(pid)]);
    } catch (err) {
      if (err instanceof UserSideError && (err.code === 'ESRCH' || err.code === 'ERR_USER_SIDE_CLOSED')) return;
      throw err;
    }
    if (r.values[0] === 'running' && exit) await exit;
  }

  async connectTcp(host: string, port: number): Promise<net.Socket> {
    const r = await this.request('tcp-connect', [host, String(port)]);
    const [fd] = expectFds(r.fds, 1);
    return adopt(fd, () => new net.Socket({ fd, readable: true, writable: true }), r.fds);
  }

  async listenTcp(address: string, port: number, opts: { ipv6Only?: boolean } = {}): Promise<{ fd: number; port: number }> {
    const r = await this.request('tcp-listen', [address, String(port), opts.ipv6Only ? '1' : '0']);
    const [fd] = expectFds(r.fds, 1);
    return { fd, port: Number(r.values[0]) };
  }

  async listenUnix(path: string, opts: { mode: number; unlinkFirst: boolean }): Promise<number> {
    const r = await this.request('unix-listen', [path, (opts.mode & 0o777).toString(8), opts.unlinkFirst ? '1' : '0']);
    return expectFds(r.fds, 1)[0];
  }

  async connectUnix(path: string): Promise<net.Socket> {
    const r = await this.request('unix-connect', [path]);
    const [fd] = expectFds(r.fds, 1);
    return adopt(fd, () => new net.Socket({ fd, readable: true, writable: true }), r.fds);
  }

  async listenAgent(): Promise<{ fd: number; path: string }> {
    const r = await this.request('agent-listen', []);
    return { fd: expectFds(r.fds, 1)[0], path: r.values[0] ?? '' };
  }

  onClose(cb: () => void): void {
    if (this.closed) queueMicrotask(cb);
    else this.closeCallbacks.push(cb);
  }

  close(): void {
    this.shutdown('closed');
  }

  private request(op: string, fields: string[]): Promise<Reply> {
    if (this.closed) return Promise.reject(new UserSideError('ERR_USER_SIDE_CLOSED', `${op}: the user-side helper is gone`));
    const id = this.nextId;
    this.nextId = id >= 0x7fffffff ? 1 : id + 1;
    let frame: Buffer;
    try {
      frame = encodeRequest(id, op, fields);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise((resolve, reject) => {
      this.waiters.set(id, { op, resolve, reject });
      this.control.write(frame);
    });
  }

  private onData(chunk: Buffer): void {
    let messages: HelperMessage[];
    try {
      messages = this.reader.push(chunk);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'user-side helper broke the protocol, dropping it');
      this.shutdown('protocol error');
      return;
    }
    for (const m of messages) {
      if (this.closed) return;
      if (m.kind === 'exit') {
        const w = this.exits.get(m.pid);
        this.exits.delete(m.pid);
        w?.resolve({ code: m.code, signal: m.signal });
        continue;
      }
      const fds: number[] = [];
      if (m.kind === 'ok') {
        // Received before anything else is read, whoever asked: the fd channel stays in step with the replies.
        try {
          for (let i = 0; i < m.fds; i++) fds.push(receiveFd(this.fdChannelFd, { timeoutMs: FD_RECEIVE_TIMEOUT_MS }));
        } catch (err) {
          closeAll(fds);
          this.log.warn({ err: (err as Error).message }, 'descriptor from the user-side helper missing, dropping it');
          this.shutdown('descriptor missing');
          return;
        }
      }
      const w = this.waiters.get(m.id);
      this.waiters.delete(m.id);
      if (!w) {
        closeAll(fds);
        if (m.kind === 'error') this.log.warn({ code: m.error.code }, `user-side helper: ${m.error.message}`);
        continue;
      }
      if (m.kind === 'error') {
        w.reject(m.error);
        continue;
      }
      const exit = w.op === 'spawn' ? this.expectExit(m.values[0]) : undefined;
      w.resolve({ fds, values: m.values, ...(exit ? { exit } : {}) });
    }
  }

  /** Registered as the reply is read, before any exit event that follows it (possibly in the same read). */
  private expectExit(pidText: string | undefined): Promise<ProgramExit> | undefined {
    const pid = Number(pidText);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    const known = this.exits.get(pid);
    if (known) return known.promise;
    let resolve!: (e: ProgramExit) => void;
    const promise = new Promise<ProgramExit>((r) => (resolve = r));
    this.exits.set(pid, { promise, resolve });
    return promise;
  }

  private shutdown(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.log.debug({ reason }, 'user-side helper connection closed');
    this.control.destroy();
    try {
      native().closeFd(this.fdChannelFd);
    } catch {
      // already closed
    }
    for (const w of this.waiters.values()) w.reject(new UserSideError('ERR_USER_SIDE_CLOSED', `${w.op}: the user-side helper is gone`));
    this.waiters.clear();
    // The helper hangs up its programs when it goes; nothing more will be reported.
    for (const w of this.exits.values()) w.resolve({ code: null, signal: null });
    this.exits.clear();
    for (const cb of this.closeCallbacks.splice(0)) cb();
  }
}

function expectFds(fds: number[], n: 1): [number];
function expectFds(fds: number[], n: 3): [number, number, number];
function expectFds(fds: number[], n: number): number[] {
  if (fds.length !== n) {
    closeAll(fds);
    throw new UserSideError('EPROTO', `expected ${n} descriptors from the user-side helper, got ${fds.length}`);
  }
  return fds;
}

/** Wraps a descriptor; on failure closes it and the others of the same reply still unwrapped. */
function adopt<T>(fd: number, wrap: () => T, unwrapped: number[]): T {
  try {
    return wrap();
  } catch (err) {
    closeAll(unwrapped.includes(fd) ? unwrapped : [fd, ...unwrapped]);
    throw err;
  }
}

function closeAll(fds: number[]): void {
  for (const fd of fds) {
    try {
      native().closeFd(fd);
    } catch {
      // already closed
    }
  }
}

/** A client may send 0 (unknown) or absurd sizes; the kernel takes 16 bits. */
export function clampSize(n: number, fallback: number): number {
  if (!Number.isInteger(n) || n <= 0) return fallback;
  return Math.min(n, 0xffff);
}
