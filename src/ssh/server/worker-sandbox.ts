/**
 * A waiting worker gives up root before it reads a single byte from the
 * network, as sshd's [net] child does: every module it will need is loaded
 * first, then it becomes the unprivileged privilege-separation user (no
 * supplementary groups, no capabilities: a uid change from root clears
 * them), sets no_new_privs, stops being dumpable, and enters a Landlock
 * domain in which it can open no file, make no TCP connection and signal no
 * process outside itself. What it does for the logged-in user later is done
 * by the user's side (see user-side/), never by the worker.
 */
import { lockDown, type LockDownResult } from '../../native/sandbox.js';
import { mlKem768 } from '../kex-mlkem.js';

/** ssh2 modules it loads on first use, which a confined process could no longer read. */
const LAZY_MODULES = ['ssh2/lib/protocol/handlers.js', 'ssh2/lib/protocol/utils.js', 'ssh2/lib/protocol/constants.js', 'ssh2/lib/protocol/Protocol.js'];

export class SandboxError extends Error {
  readonly code = 'ERR_WORKER_SANDBOX';
}

/**
 * Loads what would load later, drops to `uid`/`gid` for good (when `drop`:
 * a daemon that is not root starts workers as itself) and locks the process
 * down. Throws SandboxError.
 */
export function enterSandbox(uid: number, gid: number, drop: boolean): LockDownResult {
  for (const m of LAZY_MODULES) require(m);
  mlKem768();
  if (!drop) {
    if (process.getuid?.() === 0) throw new SandboxError('a worker started by root needs the privilege separation user');
    return lockDownOrThrow();
  }
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid <= 0 || gid <= 0) throw new SandboxError('the privilege separation user must not be root');
  try {
    process.setgroups?.([]);
    process.setgid?.(gid);
    process.setuid?.(uid);
  } catch (err) {
    throw new SandboxError(`cannot become uid ${uid} gid ${gid}: ${(err as Error).message}`);
  }
  if (process.getuid?.() !== uid || process.geteuid?.() !== uid || process.getgid?.() !== gid || process.getegid?.() !== gid || (process.getgroups?.() ?? []).some((g) => g !== gid)) {
    throw new SandboxError('the drop to the privilege separation user did not take effect');
  }
  let regained = false;
  try {
    process.setuid?.(0);
    regained = true;
  } catch {
    // expected: root is gone for good
  }
  if (regained) throw new SandboxError('root could be regained after the drop');
  return lockDownOrThrow();
}

function lockDownOrThrow(): LockDownResult {
  try {
    return lockDown();
  } catch (err) {
    throw new SandboxError(`cannot lock the worker down: ${(err as Error).message}`);
  }
}
