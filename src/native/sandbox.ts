/**
 * Confinement of a network-facing worker, and root's help for it: see
 * native/src/sandbox.cc for what each call does in the kernel.
 */
import { addon } from './load.js';

interface SandboxAddon {
  lockDown(): LockDownResult;
  unixListen(path: string, mode: number): number;
  readFileAs(uid: number, gids: number[], path: string, maxBytes: number): Promise<{ data: Buffer; uid: number; mode: number; size: number }>;
}

/**
 * What lockDown() achieved: the seccomp filter (always, or it throws), the
 * Landlock ABI in force (0: none), whether TCP and scopes are covered, and
 * whether the domain binds every thread (ABI 8) or only the caller and the
 * threads it starts.
 */
export interface LockDownResult {
  seccomp: boolean;
  landlock: number;
  landlockError?: string;
  net?: boolean;
  scoped?: boolean;
  allThreads?: boolean;
}

/**
 * no_new_privs, not dumpable, a seccomp filter on every thread (no new
 * socket but sock_diag, no io_uring, nothing done to other processes of the
 * same uid), and a Landlock domain with no filesystem or TCP access.
 * Irreversible.
 */
export function lockDown(): LockDownResult {
  return addon<SandboxAddon>().lockDown();
}

/** A listening Unix socket at `path` (replacing what was there) with `mode`; returns its descriptor (close-on-exec). */
export function unixListen(path: string, mode: number): number {
  return addon<SandboxAddon>().unixListen(path, mode);
}

/**
 * Reads `path` with the user's uid and groups on one pool thread; the stat
 * comes from the opened descriptor. A file that is not regular or is over
 * `maxBytes` is not read (`data` empty): the caller judges from the stat.
 */
export function readFileAs(uid: number, gids: readonly number[], path: string, maxBytes: number): Promise<{ data: Buffer; uid: number; mode: number; size: number }> {
  return addon<SandboxAddon>().readFileAs(uid, [...gids], path, maxBytes);
}
