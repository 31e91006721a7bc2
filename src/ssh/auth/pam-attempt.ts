/**
 * What the PAM stack is given for a password or keyboard-interactive
 * attempt. An attempt that cannot log in whatever the stack answers (an
 * unknown or refused user, root where PermitRootLogin does not allow the
 * method, an empty password under PermitEmptyPasswords no) still runs the
 * stack, so that it takes as long and asks the same as any other; but the
 * stack is handed a password that cannot be right, as sshd does
 * (auth-pam.c). Otherwise:
 *  - a right password skips pam_unix's failure delay, and the answer's
 *    timing tells a right guess for root from a wrong one even though both
 *    are refused;
 *  - a right but expired password reaches pam_chauthtok over
 *    keyboard-interactive, and the password of an account that may not log
 *    in this way could be changed.
 */
import type { PermitRootLogin } from './access.js';
import { checkRootLogin } from './access.js';

export interface PamAttemptInput {
  method: 'password' | 'keyboard-interactive';
  /** The account exists and AllowUsers/DenyUsers/AllowGroups/DenyGroups let it in. */
  allowedUser: boolean;
  /** Its uid, when it exists. */
  uid: number | undefined;
  permitRootLogin: PermitRootLogin;
  permitEmptyPasswords: boolean;
  /** The password of a password request. */
  password?: string | undefined;
}

/** `genuine`: the client's words reach PAM; otherwise `why` the attempt fails whatever PAM says. */
export type PamAttempt = { genuine: true } | { genuine: false; why: 'user' | 'root' | 'empty-password' };

export function pamAttempt(a: PamAttemptInput): PamAttempt {
  if (!a.allowedUser || a.uid === undefined) return { genuine: false, why: 'user' };
  if (!checkRootLogin(a.permitRootLogin, { uid: a.uid, method: a.method }).allowed) return { genuine: false, why: 'root' };
  if (a.method === 'password' && a.password === '' && !a.permitEmptyPasswords) return { genuine: false, why: 'empty-password' };
  return { genuine: true };
}

/** Characters no one types into a password prompt: a line break and DEL among them. */
const JUNK = '\x7f\n\r\bnot a password';

/**
 * A stand-in for `real`, of the same length in bytes, that no account's
 * password can equal: the stack's hashing costs the same, and its answer
 * says nothing about `real`.
 */
export function fakePassword(real: string): string {
  const n = Buffer.byteLength(real, 'utf8');
  const junk = (from: number) => Array.from({ length: n }, (_, i) => JUNK[(from + i) % JUNK.length]).join('');
  const out = junk(0);
  // Only a password that is itself this junk could equal it.
  return out === real ? junk(1) : out;
}
