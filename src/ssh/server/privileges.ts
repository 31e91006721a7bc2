/**
 * Running as the user: briefly (effective ids only, to read the user's key
 * files as sshd's temporarily_use_uid() does) and for good (initgroups,
 * setgid, setuid) once authenticated, before any user program runs.
 */

/** Runs `fn` with the effective uid/gids of the user, then restores root. A no-op when not root. */
export function asUser<T>(uid: number, gids: readonly number[], fn: () => T): T {
  if (process.geteuid?.() !== 0 || uid === 0) return fn();
  const savedGroups = process.getgroups?.() ?? [];
  process.setgroups?.(gids as number[]);
  process.setegid?.(gids[0] ?? uid);
  process.seteuid?.(uid);
  try {
    return fn();
  } finally {
    process.seteuid?.(0);
    process.setegid?.(0);
    process.setgroups?.(savedGroups);
  }
}

export class PrivilegeDropError extends Error {
  readonly code = 'ERR_PRIVILEGE_DROP';
}

/**
 * Drops to the user for good: supplementary groups from the group database,
 * then gid, then uid, and checks that root cannot be regained. Throws
 * PrivilegeDropError; the caller must then end the connection.
 */
export function dropPrivileges(user: { name: string; uid: number; gid: number }): void {
  if (process.getuid?.() !== 0) {
    if (process.getuid?.() === user.uid) return;
    throw new PrivilegeDropError(`cannot become ${user.name}: not running as root`);
  }
  if (user.uid === 0) return;
  try {
    // Present on POSIX Node builds; absent from the type definitions.
    (process as unknown as { initgroups(user: string, extraGroup: number): void }).initgroups(user.name, user.gid);
    process.setgid?.(user.gid);
    process.setuid?.(user.uid);
  } catch (err) {
    throw new PrivilegeDropError(`cannot become ${user.name} (uid ${user.uid}, gid ${user.gid}): ${(err as Error).message}`);
  }
  if (process.getuid?.() !== user.uid || process.geteuid?.() !== user.uid || process.getgid?.() !== user.gid || process.getegid?.() !== user.gid) {
    throw new PrivilegeDropError(`privilege drop to ${user.name} did not take effect`);
  }
  let regained = false;
  try {
    process.setuid?.(0);
    regained = true;
  } catch {
    // expected: root is gone for good
  }
  if (regained) throw new PrivilegeDropError('root could be regained after the privilege drop');
}
