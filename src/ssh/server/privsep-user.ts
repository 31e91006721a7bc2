/**
 * The unprivileged system user that SSH workers run as before and after
 * login (OpenSSH's `sshd` user). The Debian package creates it; a daemon
 * started from a source tree creates it the same way on first start, so the
 * SSH server never has to fall back to running workers as root.
 */
import { execFileSync } from 'node:child_process';
import { addon } from '../../native/load.js';
import type { Logger } from '../../util/logger.js';

export const PRIVSEP_USER = 'mpsshd';

export interface PrivsepUser {
  name: string;
  uid: number;
  gid: number;
}

interface PasswdAddon {
  getpwnam(name: string): { name: string; uid: number; gid: number } | null;
}

/** Why an account cannot serve as the privilege separation user, or undefined. Pure. */
export function unsuitablePrivsepUser(pw: { uid: number; gid: number } | null): string | undefined {
  if (pw === null) return 'no such user';
  if (pw.uid === 0 || pw.gid === 0) return 'it is root or in the root group';
  return undefined;
}

/** Finds (or, as root, creates) the user. Throws with the reason. */
export function preparePrivsep(log: Logger): PrivsepUser {
  const lookup = (): { name: string; uid: number; gid: number } | null => addon<PasswdAddon>().getpwnam(PRIVSEP_USER);
  let pw = lookup();
  if (pw === null && process.getuid?.() === 0) {
    try {
      execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--comment', 'mpsshd privilege separation', PRIVSEP_USER], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      });
      log.info(`created the system user ${PRIVSEP_USER} for privilege separation (no home, no shell)`);
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
      throw new Error(`cannot create the privilege separation user ${PRIVSEP_USER}: ${stderr || (err as Error).message}`);
    }
    pw = lookup();
  }
  const bad = unsuitablePrivsepUser(pw);
  if (bad !== undefined || pw === null) throw new Error(`privilege separation user ${PRIVSEP_USER}: ${bad ?? 'no such user'}`);
  return { name: pw.name, uid: pw.uid, gid: pw.gid };
}
