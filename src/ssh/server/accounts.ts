/**
 * Account lookup through the C library (NSS), as sshd does it: the passwd
 * entry, the names of every group the user is in, and whether the login
 * shell can run (sshd refuses users whose shell is missing or not executable).
 */
import fs from 'node:fs';
import { addon } from '../../native/load.js';
import type { Account } from '../auth/access.js';
import type { ShadowState } from '../auth/account-state.js';
import type { UserAccount } from '../context.js';

interface PasswdAddon {
  getpwnam(name: string): UserAccount | null;
  getgrouplist(name: string, gid: number): number[];
  getgrgid(gid: number): string | null;
  getspnam(name: string): ShadowState | null;
}

/** A user as the authenticator needs it. */
export interface LookedUpUser {
  account: UserAccount;
  /** Numeric gids (primary first), for initgroups checks and logs. */
  gids: number[];
  /** For the access checks of src/ssh/auth (AllowGroups, shell). */
  access: Account;
  /** Expiry and lock state; null where NSS has no shadow data for the user. */
  shadow: ShadowState | null;
}

/** Looks a user up; null when there is no such user. Throws on NSS errors. */
export function lookupUser(name: string): LookedUpUser | null {
  const a = addon<PasswdAddon>();
  const pw = a.getpwnam(name);
  if (pw === null) return null;
  const shell = pw.shell === '' ? '/bin/sh' : pw.shell;
  const gids = [pw.gid, ...a.getgrouplist(pw.name, pw.gid).filter((g) => g !== pw.gid)];
  const groups = gids.map((g) => a.getgrgid(g)).filter((g): g is string => g !== null);
  return {
    account: { ...pw, shell },
    gids,
    access: { name: pw.name, groups, shell: { path: shell, status: shellStatus(shell) } },
    shadow: readShadow(a, pw.name),
  };
}

/** The shadow entry; unreadable (not root) counts as none, as for sshd. */
function readShadow(a: PasswdAddon, name: string): ShadowState | null {
  try {
    return a.getspnam(name);
  } catch {
    return null;
  }
}

function shellStatus(shell: string): 'ok' | 'missing' | 'not-executable' {
  try {
    const st = fs.statSync(shell);
    return st.isFile() && (st.mode & 0o111) !== 0 ? 'ok' : 'not-executable';
  } catch {
    return 'missing';
  }
}
