/**
 * AuthenticationMethods as sshd reads it (sshd_config(5)): `any`, or lists
 * of comma-separated methods separated by spaces, each list a sequence the
 * client must complete in order (`publickey,keyboard-interactive`). After a
 * method succeeds, every list that starts with it loses it; an emptied list
 * means the login is complete, otherwise the success is partial and only the
 * first methods of the remaining lists may be tried next. Pure.
 */

/** Methods mpsshd can serve. `keyboard-interactive:pam` names the PAM device, as sshd allows. */
export const KNOWN_METHODS: readonly string[] = ['publickey', 'keyboard-interactive', 'password'];

/** Parses the option; `any` (or empty) is null; a string is the error. */
export function parseAuthMethods(text: string): string[][] | null | string {
  const t = text.trim();
  if (t === '' || t === 'any') return null;
  const lists = t.split(/\s+/).map((l) => l.split(',').map((m) => (m === 'keyboard-interactive:pam' ? 'keyboard-interactive' : m)));
  for (const l of lists) {
    for (const m of l) {
      if (!KNOWN_METHODS.includes(m)) return `unknown authentication method "${m}" (known: ${KNOWN_METHODS.join(', ')})`;
    }
  }
  return lists;
}

/** Methods the client may try now: the enabled ones, and with lists only those next in one. */
export function methodsAllowed(enabled: readonly string[], lists: readonly (readonly string[])[] | null): string[] {
  if (lists === null) return [...enabled];
  const next = new Set(lists.map((l) => l[0]).filter((m): m is string => m !== undefined));
  return enabled.filter((m) => next.has(m));
}

/** After `method` succeeded: the remaining lists, and whether the login is complete. */
export function completeMethod(lists: readonly (readonly string[])[] | null, method: string): { lists: string[][] | null; done: boolean } {
  if (lists === null) return { lists: null, done: true };
  const rest = lists.map((l) => (l[0] === method ? l.slice(1) : [...l]));
  return { lists: rest, done: rest.some((l) => l.length === 0) };
}
