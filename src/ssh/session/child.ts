/**
 * A user program behind a session channel, with or without a terminal,
 * behind one small interface. The user-side helper starts it (as the user,
 * leader of its own session and process group) and hands over its terminal
 * master or its three pipes; signals and the hangup also go through the
 * helper, since the worker is not the user.
 */
import type { Readable, Writable } from 'node:stream';
import { setWindowSize } from '../../native/terminal.js';
import { clampSize, type ProgramExit, type PtyProgram, type UserSide } from '../user-side/client.js';
import type { Program } from './command.js';

export interface Child {
  pid: number;
  /** Terminal path for a pty child. */
  tty?: string;
  /** Program output: for a pty, both streams in one. */
  stdout: Readable | PtyOutput;
  stderr?: Readable;
  stdin: Writable | PtyInput;
  resize?(cols: number, rows: number): void;
  /** The client can no longer take output: close the program's output pipes (it gets SIGPIPE). */
  endOfWrite?(): void;
  /** Resolves once the program has exited and its output has been read to the end. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | number | null }>;
}

/** The pty's output side: data events with flow control. */
export interface PtyOutput {
  onData(cb: (data: Buffer) => void): void;
  pause(): void;
  resume(): void;
}

export interface PtyInput {
  write(data: Buffer): void;
}

export interface SpawnSpec {
  program: Program;
  env: Record<string, string>;
  cwd: string;
  pty?: { term: string; cols: number; rows: number };
  /** sshd's start-up files (see ProgramSpec.rc). */
  rc?: 'none' | 'system' | 'user';
}

/** Starts the program; rejects (ENOENT and the like, with errno and syscall) when it cannot start. */
export async function startChild(user: UserSide, spec: SpawnSpec): Promise<Child> {
  const { program, pty } = spec;
  // A terminal needs a type; sshd's clients always send one, ssh2 clients may not.
  const env = pty ? { ...spec.env, TERM: spec.env.TERM || pty.term || 'dumb' } : spec.env;
  const started = await user.spawn({
    file: program.file,
    argv0: program.argv0,
    args: program.args,
    env,
    cwd: spec.cwd,
    ...(spec.rc ? { rc: spec.rc } : {}),
    ...(pty ? { pty: { cols: pty.cols, rows: pty.rows } } : {}),
  });
  if (started.kind === 'pty') return ptyChild(started);
  const { stdin, stdout, stderr } = started;
  stdin.on('error', () => {
    // The program closed its stdin while the client was still sending: what a pipe does.
  });
  const ended = (s: Readable): Promise<void> =>
    new Promise((resolve) => {
      if (s.destroyed) return resolve();
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
  // As child_process's 'close': the exit, and both outputs read to the end (or closed by eow).
  const exited = Promise.all([started.exit, ended(stdout), ended(stderr)]).then(([e]) => exitOf(e));
  // The stdin pipe closes with the program's end, whoever still writes to it.
  void started.exit.then(() => stdin.destroy());
  return {
    pid: started.pid,
    stdout,
    stderr,
    stdin,
    endOfWrite() {
      stdout.destroy();
      stderr.destroy();
    },
    exited,
  };
}

/** After the exit, how long the master may stay silent before it is closed: a background job may hold the terminal open. */
const PTY_DRAIN_IDLE_MS = 200;

function ptyChild(p: PtyProgram): Child {
  const master = p.master;
  let exitedAt: ProgramExit | undefined;
  let paused = false;
  let idle: NodeJS.Timeout | undefined;
  let lastLook: NodeJS.Immediate | undefined;
  let onEnd!: () => void;
  const outputEnded = new Promise<void>((resolve) => (onEnd = resolve));
  const end = (): void => {
    clearTimeout(idle);
    clearImmediate(lastLook);
    if (!master.destroyed) master.destroy();
    onEnd();
  };
  // Output left in the terminal after the exit is still delivered; what keeps it open past that is cut off.
  // When the silence is up, the loop looks for input once more before closing: a loop held up past
  // the deadline (a busy machine) runs due timers before it reads, and output already waiting in the
  // terminal would be lost. Output that comes in that look re-arms the wait.
  const armIdle = (): void => {
    clearTimeout(idle);
    clearImmediate(lastLook);
    if (exitedAt && !paused) idle = setTimeout(() => (lastLook = setImmediate(end)), PTY_DRAIN_IDLE_MS);
  };
  // The end of a terminal's output is EIO once every slave descriptor has closed.
  master.on('error', end);
  master.on('end', end);
  master.on('close', end);
  void p.exit.then((e) => {
    exitedAt = e;
    armIdle();
  });
  const alive = (): boolean => !master.destroyed;
  return {
    pid: p.pid,
    tty: p.tty,
    stdout: {
      onData: (cb) =>
        master.on('data', (d: Buffer) => {
          armIdle();
          cb(d);
        }),
      pause: () => {
        paused = true;
        clearTimeout(idle);
        clearImmediate(lastLook);
        if (alive()) master.pause();
      },
      resume: () => {
        paused = false;
        armIdle();
        if (alive()) master.resume();
      },
    },
    // Input or a window-change that races the program's exit must not reach a closed descriptor.
    stdin: { write: (d: Buffer) => void (alive() && master.write(d)) },
    resize: (cols, rows) => {
      if (!alive()) return;
      try {
        setWindowSize(p.masterFd, clampSize(cols, 80), clampSize(rows, 24));
      } catch {
        // the terminal closed under us; the exit report follows
      }
    },
    exited: Promise.all([p.exit, outputEnded]).then(([e]) => exitOf(e)),
  };
}

function exitOf(e: ProgramExit): { code: number | null; signal: number | null } {
  return { code: e.signal !== null ? null : e.code, signal: e.signal };
}
