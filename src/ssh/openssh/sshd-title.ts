/**
 * Who logged in on a connection served by sshd, from facts only root and the
 * kernel control. In inetd mode the process mpsshd starts becomes the
 * connection's privileged monitor; OpenSSH titles it
 * - `sshd: [accepted]` until the client names a user,
 * - `sshd: alice [priv]` from the moment the client names a user — before
 *   authentication, so the title alone proves nothing;
 * after a login, a non-root user's session runs in a child of the monitor
 * with the user's uid (the pre-authentication child runs as sshd's own
 * unprivileged user), while a root login goes on in the monitor itself,
 * titled `sshd: root` or `sshd: root@pts/0`. (From OpenSSH 9.8 the program
 * is `sshd-session`.) Titles of the user's own processes are never read:
 * the user could write them.
 */

/** What a monitor's title says. */
export type SshdTitle = { kind: 'accepted' } | { kind: 'priv'; user: string } | { kind: 'session'; user: string } | { kind: 'other' };

const PREFIX = String.raw`^sshd(?:-session)?: `;
const ACCEPTED = new RegExp(`${PREFIX}\\[accepted\\]$`);
const PRIV = new RegExp(`${PREFIX}(\\S+) \\[priv\\]$`);
const SESSION = new RegExp(`${PREFIX}([^\\s@\\[\\]]+)(?:@\\S+)?$`);

/** Reads a monitor's title (its /proc cmdline; NUL padding ignored). */
export function parseSshdTitle(cmdline: string): SshdTitle {
  const title = cmdline.replace(/\0+/g, ' ').trim();
  if (ACCEPTED.test(title)) return { kind: 'accepted' };
  const priv = PRIV.exec(title);
  if (priv !== null) return priv[1] === 'unknown' ? { kind: 'accepted' } : { kind: 'priv', user: priv[1] as string };
  const session = SESSION.exec(title);
  if (session !== null) return { kind: 'session', user: session[1] as string };
  return { kind: 'other' };
}

/** sshd's unprivileged user, whose uid the pre-authentication child runs as (Debian's openssh-server). */
export const PRIVSEP_USER = 'sshd';

/**
 * The user a connection is logged in as, or undefined while it is not:
 * a root session in the monitor itself, or a child of the monitor running
 * with the named user's (non-zero) uid. `uidOf` looks a user up (NSS). The
 * name in the title is the client's choice: it is looked up only once a
 * child runs as someone other than root or sshd's own user, so a client
 * that merely names users costs no lookup.
 */
export function loggedInUser(title: SshdTitle, childUids: readonly number[], uidOf: (user: string) => number | undefined): string | undefined {
  if (title.kind === 'session') return title.user;
  if (title.kind !== 'priv') return undefined;
  const privsep = uidOf(PRIVSEP_USER);
  const candidates = childUids.filter((u) => u !== 0 && u !== privsep);
  if (candidates.length === 0) return undefined;
  const uid = uidOf(title.user);
  return uid !== undefined && uid !== 0 && candidates.includes(uid) ? title.user : undefined;
}
