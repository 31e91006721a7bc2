/**
 * Starting a connection's user-side helper (root only, once the login is
 * verified): two socket pairs, the helper's ends as its descriptors 3
 * (requests) and 4 (descriptors), the other ends for the worker. The helper
 * runs detached, in its own session, so stopping or restarting the daemon
 * does not end the user's programs; it leaves when the worker's ends close.
 */
import { spawn } from 'node:child_process';
import { socketPair } from '../../mptcp/fdpass.js';
import { native } from '../../mptcp/native.js';
import { USER_HELPER_PATH } from '../../native/user-helper.js';
import type { Logger } from '../../util/logger.js';

/** The account the helper becomes (from the passwd database). */
export interface HelperAccount {
  name: string;
  uid: number;
  gid: number;
}

export interface SpawnedHelper {
  pid: number;
  /** The worker's end of the request socket; the caller owns it. */
  controlFd: number;
  /** The worker's end of the descriptor socket; the caller owns it. */
  fdChannelFd: number;
}

/** Starts mpsshd-user-helper for `account`; throws when it cannot be started. */
export function spawnUserHelper(account: HelperAccount, log: Logger): SpawnedHelper {
  const { pid, ours } = launchHelper([account.name, String(account.uid), String(account.gid)], 2, log.child({ mod: 'user-side', user: account.name }), 'user-side helper');
  return { pid, controlFd: ours[0] as number, fdChannelFd: ours[1] as number };
}

/**
 * Starts the helper binary with `args` and `pairs` socket pairs, its ends as
 * descriptors 3, 4, ...; returns its pid and our ends, in the same order
 * (the caller owns them). Shared by the helper for a user and the
 * connection's root process (`--login`). Throws when it cannot start.
 */
export function launchHelper(args: string[], pairs: number, log: Logger, what: string): { pid: number; ours: number[] } {
  const ours: number[] = [];
  const theirs: number[] = [];
  try {
    for (let i = 0; i < pairs; i++) {
      const [mine, its] = socketPair();
      ours.push(mine);
      theirs.push(its);
    }
    // No environment at all: the helper passes each program the one the
    // worker built, and nothing of the daemon's (NODE_*, RES_OPTIONS,
    // LOCALDOMAIN) should steer it or a PAM module. Its stderr is the
    // caller's, for the one line it writes when it cannot start.
    const proc = spawn(USER_HELPER_PATH, args, { detached: true, stdio: ['ignore', 'ignore', 'inherit', ...theirs], env: {} });
    if (proc.pid === undefined) {
      // spawn reports ENOENT and the like asynchronously; say it here.
      proc.on('error', () => {});
      throw Object.assign(new Error(`cannot start ${USER_HELPER_PATH}`), { code: 'ENOENT' });
    }
    const logger = log.child({ helperPid: proc.pid });
    proc.on('error', (err) => logger.warn({ err: err.message }, `${what} failed`));
    proc.on('exit', (code, signal) => logger.debug({ code, signal }, `${what} exited`));
    proc.unref();
    return { pid: proc.pid, ours };
  } catch (err) {
    for (const fd of ours) native().closeFd(fd);
    throw err;
  } finally {
    for (const fd of theirs) native().closeFd(fd);
  }
}
