/**
 * Whether an account may log in at all, from its shadow entry, as sshd
 * decides it without PAM (auth.c allowed_user(), auth-shadow.c): an expired
 * account, a locked password ("!" prefix: usermod -L, passwd -l) and a
 * password that must be changed first (chage -d 0, or past its maximum age)
 * all refuse the login, whatever key the client holds. mpsshd applies these
 * whether or not PAM is in use: they are the administrator's word.
 */
import type { Decision } from './access.js';

/** A shadow entry, dates in days since the epoch, -1 for an empty field. */
export interface ShadowState {
  lastChange: number;
  max: number;
  inactive: number;
  expire: number;
  locked: boolean;
}

/** Days since the epoch, as the shadow file counts them. */
export function shadowDay(nowMs: number): number {
  return Math.floor(nowMs / 86_400_000);
}

/**
 * The verdict for `user` on day `today`; no shadow entry (NSS without
 * shadow data) allows. `reason` is sshd's log line without "User x ".
 */
export function checkAccountState(user: string, shadow: ShadowState | null, today: number): Decision {
  if (shadow === null) return { allowed: true, reason: 'no shadow entry', code: 'ok' };
  if (shadow.expire >= 0 && today > shadow.expire) return { allowed: false, code: 'account-expired', reason: `Account ${user} has expired` };
  if (shadow.locked) return { allowed: false, code: 'account-locked', reason: `User ${user} not allowed because account is locked` };
  if (shadow.lastChange === 0) return { allowed: false, code: 'password-change-required', reason: `User ${user} password has expired (root forced)` };
  if (shadow.lastChange > 0 && shadow.max >= 0 && today > shadow.lastChange + shadow.max) {
    if (shadow.inactive >= 0 && today > shadow.lastChange + shadow.max + shadow.inactive) {
      return { allowed: false, code: 'account-inactive', reason: `User ${user} account has expired (password inactive)` };
    }
    return { allowed: false, code: 'password-change-required', reason: `User ${user} password has expired (password aged)` };
  }
  return { allowed: true, reason: 'account usable', code: 'ok' };
}
