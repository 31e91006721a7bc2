/**
 * Worker processes started ahead of time, so that a login does not wait for
 * Node.js to start (tens of milliseconds). Each waits, blocked, for one
 * connection on its own socket pair. Workers run detached, in their own
 * session, so that stopping or restarting mpsshd does not end the SSH
 * sessions they serve; an idle worker exits when the daemon goes away.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { sendFd, socketPair } from '../../mptcp/fdpass.js';
import { native } from '../../mptcp/native.js';
import type { Logger } from '../../util/logger.js';
import type { HandoffMessage } from './control-protocol.js';
import { SIGNER_FD } from './monitor-frames.js';

/** The worker's entry point, next to this file once compiled. */
export const WORKER_SCRIPT = path.join(__dirname, 'worker-main.js');
/** The handoff socket's descriptor number in the worker. */
export const HANDOFF_FD = 3;

interface Idle {
  proc: ChildProcess;
  fd: number;
  /** The daemon's end of the worker's host-key signing channel. */
  signerFd: number;
}

/** A worker that now owns a connection; `control` is its JSON-lines channel, `signer` its signing channel. */
export interface HandedOff {
  pid: number;
  control: net.Socket;
  signer: net.Socket;
}

/**
 * The environment a worker starts with: the daemon's, without anything that
 * changes how Node.js or libuv runs (NODE_OPTIONS could open an inspector;
 * UV_USE_IO_URING=1 would set up io_uring rings while the worker is still
 * root, whose kernel threads keep root's credentials, and which its seccomp
 * filter then refuses to use).
 */
export function workerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('NODE_') && !k.startsWith('UV_'))), UV_USE_IO_URING: '0' };
}

/**
 * Node.js flags of a worker. A small young generation: a connection
 * allocates little that lives. --single-threaded: no background GC and
 * compiler threads, whose stacks and buffers cost each worker, waiting or
 * logged in, about 0.9 MiB once idle; one connection keeps one core busy
 * at most, and bulk throughput does not change (`npm run bench -- ssh`).
 */
export const WORKER_NODE_ARGS: readonly string[] = ['--max-semi-space-size=1', '--single-threaded'];

export class WorkerPool {
  private readonly idle: Idle[] = [];
  private closed = false;
  private refill: NodeJS.Timeout | undefined;
  private recentFailures = 0;

  constructor(
    private readonly log: Logger,
    private size: number,
    /** The user workers drop to before reading from the network; undefined when the daemon is not root. */
    private readonly privsep: () => { uid: number; gid: number } | undefined,
    private readonly nodeArgs: readonly string[] = WORKER_NODE_ARGS,
  ) {}

  start(): void {
    this.fill();
  }

  /** Changes the number of waiting workers (on reload). */
  resize(size: number): void {
    this.size = size;
    while (this.idle.length > size) this.retire(this.idle.pop() as Idle);
    this.fill();
  }

  /**
   * Gives `socket` (accepted with pauseOnConnect, so no byte was read here)
   * and its handoff message to a waiting worker, starting one if none waits.
   * The daemon's copy of the connection is closed; the worker owns it, and
   * the session socket `sessionFd` (the caller's copy stays the caller's).
   */
  handOff(socket: net.Socket, msg: HandoffMessage, sessionFd: number): HandedOff {
    const w = this.idle.shift() ?? this.spawnWorker();
    this.scheduleFill();
    const connFd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
    try {
      // One byte with the descriptor into an empty socket pair: it never waits. A worker that died gives EPIPE.
      sendFd(w.fd, connFd, { timeoutMs: 0 });
      sendFd(w.fd, sessionFd, { timeoutMs: 0 });
    } catch (err) {
      this.retire(w);
      throw err;
    }
    socket.destroy();
    const control = new net.Socket({ fd: w.fd, readable: true, writable: true });
    // The message (up to 256 KiB of early bytes) goes through the event loop, never blocking it:
    // a worker still starting reads it when it is ready.
    const body = Buffer.from(JSON.stringify(msg));
    control.write(Buffer.concat([Buffer.from(`${body.length.toString(16).padStart(8, '0')}\n`), body]));
    const signer = new net.Socket({ fd: w.signerFd, readable: true, writable: true });
    return { pid: w.proc.pid ?? 0, control, signer };
  }

  /** Stops the waiting workers; workers serving connections are not touched. */
  close(): void {
    this.closed = true;
    clearTimeout(this.refill);
    for (const w of this.idle.splice(0)) this.retire(w);
  }

  private scheduleFill(): void {
    if (this.refill !== undefined || this.closed) return;
    // Outside the accept path: the connection being handed over comes first.
    this.refill = setTimeout(() => {
      this.refill = undefined;
      this.fill();
    }, this.recentFailures > 3 ? 5000 : 0);
    this.refill.unref();
  }

  private fill(): void {
    while (!this.closed && this.idle.length < this.size) {
      try {
        this.idle.push(this.spawnWorker());
      } catch (err) {
        this.log.error({ err }, 'cannot start an SSH worker process');
        return;
      }
    }
  }

  private spawnWorker(): Idle {
    const [mine, theirs] = socketPair();
    let signer: [number, number];
    try {
      signer = socketPair();
    } catch (err) {
      native().closeFd(mine);
      native().closeFd(theirs);
      throw err;
    }
    let proc: ChildProcess;
    try {
      const stdio: ('ignore' | 'inherit' | number)[] = ['ignore', 'inherit', 'inherit', theirs, signer[1]];
      if (stdio.length !== SIGNER_FD + 1) throw new Error('signer descriptor number mismatch');
      const user = this.privsep();
      const privsep = user ? [String(user.uid), String(user.gid)] : [];
      proc = spawn(process.execPath, [...this.nodeArgs, WORKER_SCRIPT, ...privsep], { detached: true, stdio, env: workerEnv(process.env) });
    } catch (err) {
      native().closeFd(mine);
      native().closeFd(signer[0]);
      throw err;
    } finally {
      native().closeFd(theirs);
      native().closeFd(signer[1]);
    }
    proc.unref();
    const started = Date.now();
    const entry: Idle = { proc, fd: mine, signerFd: signer[0] };
    proc.on('error', (err) => this.log.error({ err }, 'SSH worker process failed to start'));
    proc.on('exit', (code, signal) => {
      const i = this.idle.indexOf(entry);
      if (i < 0) return;
      // Died while waiting: not expected. Replace it, slowly if this repeats.
      this.idle.splice(i, 1);
      native().closeFd(entry.fd);
      native().closeFd(entry.signerFd);
      this.recentFailures = Date.now() - started < 2000 ? this.recentFailures + 1 : 0;
      this.log.warn({ pid: proc.pid, code, signal }, 'idle SSH worker exited, starting another');
      this.scheduleFill();
    });
    return entry;
  }

  private retire(w: Idle): void {
    // Closing our end makes the worker's blocking receive fail with EPIPE; it then exits.
    native().closeFd(w.fd);
    native().closeFd(w.signerFd);
  }
}
