/**
 * A user program behind a session channel, with or without a terminal,
 * behind one small interface. Either way it leads its own session and
 * process group (setsid), so that a hangup or kill reaches everything it
 * started, not just the first process.
 */
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import * as pty from 'node-pty';
import { cloexecAll } from '../../native/fds.js';
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
}

/** Starts the program; throws (ENOENT and the like) when it cannot start. */
export function startChild(spec: SpawnSpec): Child {
  // Only 0-2 may reach the program: node-pty opens terminal masters without
  // close-on-exec, and another session's master would let this program type
  // into that session's shell.
  cloexecAll();
  return spec.pty ? startPty(spec, spec.pty) : startPiped(spec);
}

function startPiped(spec: SpawnSpec): Child {
  const p = spawn(spec.program.file, spec.program.args, {
    argv0: spec.program.argv0,
    cwd: spec.cwd,
    env: spec.env,
    // setsid(): its own session and process group.
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (p.pid === undefined) {
    // spawn reports failures asynchronously; surface them here like a throw.
    return failedChild(p);
  }
  p.stdin.on('error', () => {
    // The program closed its stdin while the client was still sending: what a pipe does.
  });
  return {
    pid: p.pid,
    stdout: p.stdout,
    stderr: p.stderr,
    stdin: p.stdin,
    endOfWrite() {
      p.stdout.destroy();
      p.stderr.destroy();
    },
    exited: new Promise((resolve) => p.on('close', (code, signal) => resolve({ code, signal }))),
  };
}

function failedChild(p: ReturnType<typeof spawn>): never {
  p.on('error', () => {});
  throw Object.assign(new Error(`cannot run ${p.spawnfile}`), { code: 'ENOENT' });
}

// node-pty learns the terminal's name only while spawning, but SSH_TTY must
// be in the environment the program starts with: a one-line sh asks tty(1)
// and execs the program in its place (same pid, same session).
const WITH_SSH_TTY = 'SSH_TTY=$(tty 2>/dev/null) && export SSH_TTY; exec "$@"';

function startPty(spec: SpawnSpec, term: { term: string; cols: number; rows: number }): Child {
  // node-pty cannot set argv[0]; `-l` asks the shell for a login shell instead.
  const login = spec.program.argv0.startsWith('-') ? ['-l'] : [];
  const t = pty.spawn('/bin/sh', ['-c', WITH_SSH_TTY, 'sh', spec.program.file, ...login, ...spec.program.args], {
    name: term.term || 'dumb',
    cols: clampSize(term.cols, 80),
    rows: clampSize(term.rows, 24),
    cwd: spec.cwd,
    env: spec.env,
    // Bytes, not strings: program output is passed on unchanged.
    encoding: null,
  });
  // Input or a window-change that races the program's exit must not reach
  // the closed terminal: node-pty throws from there, which would end the
  // whole connection's worker.
  let gone = false;
  const whileRunning = (f: () => void): void => {
    if (gone) return;
    try {
      f();
    } catch {
      // the terminal closed under us; the exit report follows
    }
  };
  return {
    pid: t.pid,
    tty: (t as unknown as { ptsName?: string }).ptsName,
    stdout: {
      onData: (cb) => t.onData((d: string | Buffer) => cb(typeof d === 'string' ? Buffer.from(d) : d)),
      pause: () => whileRunning(() => t.pause()),
      resume: () => whileRunning(() => t.resume()),
    },
    stdin: { write: (d: Buffer) => whileRunning(() => t.write(d as unknown as string)) },
    resize: (cols, rows) => whileRunning(() => t.resize(clampSize(cols, 80), clampSize(rows, 24))),
    exited: new Promise((resolve) =>
      t.onExit(({ exitCode, signal }) => {
        gone = true;
        resolve({ code: signal ? null : exitCode, signal: signal ? signal : null });
      }),
    ),
  };
}

/** A client may send 0 (unknown) or absurd sizes; the kernel takes 16 bits. */
function clampSize(n: number, fallback: number): number {
  if (!Number.isInteger(n) || n <= 0) return fallback;
  return Math.min(n, 0xffff);
}

/**
 * Hangs up the program's whole process group, as closing a terminal does:
 * SIGHUP (and SIGCONT, for stopped jobs) to every process in it. The
 * program itself is killed if it is still there after `graceMs`; what it
 * started with nohup, which chose to outlive a hangup, is left alone.
 * Resolves when the program has gone.
 */
export function endProcessGroup(pid: number, graceMs: number): Promise<void> {
  const signal = (target: number, sig: NodeJS.Signals | 0): boolean => {
    try {
      process.kill(target, sig);
      return true;
    } catch {
      return false; // ESRCH: gone
    }
  };
  if (!signal(-pid, 'SIGHUP')) return Promise.resolve();
  signal(-pid, 'SIGCONT');
  return new Promise((resolve) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (!signal(pid, 0)) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - started >= graceMs) {
        signal(pid, 'SIGKILL');
        clearInterval(poll);
        resolve();
      }
    }, 20);
  });
}
