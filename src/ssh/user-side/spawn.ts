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
  const helperPath = USER_HELPER_PATH;
  const opened: number[] = [];
  const close = (fds: number[]): void => {
    for (const fd of fds) native().closeFd(fd);
  };
  try {
    const [controlFd, helperControl] = socketPair();
    opened.push(controlFd, helperControl);
    const [fdChannelFd, helperFds] = socketPair();
    opened.push(fdChannelFd, helperFds);
    // No environment at all: the helper passes each program the one the
    // worker built, and nothing of the daemon's (NODE_*, RES_OPTIONS,
    // LOCALDOMAIN) should steer it. Its stderr is the caller's, for the one
    // line it writes when it cannot start.
    const proc = spawn(helperPath, [account.name, String(account.uid), String(account.gid)], {
      detached: true,
      stdio: ['ignore', 'ignore', 'inherit', helperControl, helperFds],
      env: {},
    });
    if (proc.pid === undefined) {
      // spawn reports ENOENT and the like asynchronously; say it here.
      proc.on('error', () => {});
      throw Object.assign(new Error(`cannot start ${helperPath}`), { code: 'ENOENT' });
    }
    const child = log.child({ mod: 'user-side', helperPid: proc.pid, user: account.name });
    proc.on('error', (err) => child.warn({ err: err.message }, 'user-side helper failed'));
    proc.on('exit', (code, signal) => child.debug({ code, signal }, 'user-side helper exited'));
    proc.unref();
    close([helperControl, helperFds]);
    opened.length = 0;
    return { pid: proc.pid, controlFd, fdChannelFd };
  } catch (err) {
    close(opened);
    throw err;
  }
}
