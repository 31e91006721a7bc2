/**
 * Who may log in, decided as sshd decides it (auth.c allowed_user(),
 * auth_root_allowed(); auth2-pubkeyfile.c auth_authorise_keyopts()). Every
 * function is pure: the caller supplies the account, the client and the
 * clock, and gets `{ allowed, reason }` back, the reason worded like the
 * line sshd would log.
 */
import type { AuthorizedKeyEntry } from './authorized-keys.js';
import { KeyBlobError, parseKeyBlob, type PublicKey } from './key-blob.js';
import type { KeyOptions } from './key-options.js';
import { addrMatchList, matchHostAndIp, matchPattern, matchPatternList, matchUser, type ClientHost } from './match.js';

/** The answer of every access decision. `code` is stable; `reason` is for logs. */
export interface Decision {
  allowed: boolean;
  reason: string;
  code?: string;
}

const allow = (reason: string, code = 'ok'): Decision => ({ allowed: true, reason, code });
const deny = (code: string, reason: string): Decision => ({ allowed: false, reason, code });

// ---------------------------------------------------------------- root

export type PermitRootLogin = 'yes' | 'prohibit-password' | 'forced-commands-only' | 'no';

/** Parses a PermitRootLogin value (case-insensitive; `without-password` is the old name of prohibit-password). */
export function parsePermitRootLogin(value: string): PermitRootLogin | null {
  const v = value.toLowerCase();
  if (v === 'without-password') return 'prohibit-password';
  return v === 'yes' || v === 'prohibit-password' || v === 'forced-commands-only' || v === 'no' ? v : null;
}

/**
 * PermitRootLogin for a user who has just authenticated with `method`.
 * Only uid 0 is restricted. forced-commands-only needs a `command=` on the
 * key that was used (ForceCommand in sshd_config does not count).
 */
export function checkRootLogin(
  setting: PermitRootLogin,
  login: { uid: number; method: string; forcedCommand?: string | undefined },
): Decision {
  if (login.uid !== 0) return allow('not root');
  switch (setting) {
    case 'yes':
      return allow('PermitRootLogin yes');
    case 'prohibit-password':
      if (['publickey', 'hostbased', 'gssapi-with-mic'].includes(login.method)) return allow(`PermitRootLogin prohibit-password allows ${login.method}`);
      break;
    case 'forced-commands-only':
      if (login.forcedCommand !== undefined) return allow('Root login accepted for forced command.', 'forced-command');
      break;
    case 'no':
      break;
  }
  return deny('root-refused', `ROOT LOGIN REFUSED (PermitRootLogin ${setting}, method ${login.method})`);
}

// ---------------------------------------------------------------- users and groups

/** AllowUsers/DenyUsers/AllowGroups/DenyGroups, one pattern per array element. */
export interface UserAccessConfig {
  denyUsers?: readonly string[];
  allowUsers?: readonly string[];
  denyGroups?: readonly string[];
  allowGroups?: readonly string[];
}

/** The account being logged into, as looked up by the caller. */
export interface Account {
  name: string;
  /** Names of the primary and supplementary groups. */
  groups: readonly string[];
  /** Password entry locked (only consulted when the caller does not use PAM). */
  locked?: boolean;
  /** Login shell and what stat() said of it; absent skips the check (ChrootDirectory set). */
  shell?: { path: string; status: 'ok' | 'missing' | 'not-executable' };
}

/** Problems sshd would refuse to start with: malformed user@host lists, empty entries. */
export function validateUserAccessConfig(cfg: UserAccessConfig): string[] {
  const errs: string[] = [];
  const check = (key: string, list: readonly string[] | undefined, hostPart: boolean) => {
    for (const p of list ?? []) {
      const at = p.lastIndexOf('@');
      if (p === '' || (hostPart && at !== -1 && addrMatchList(null, p.slice(at + 1)) === 'invalid')) errs.push(`invalid ${key} pattern: "${p}"`);
    }
  };
  check('DenyUsers', cfg.denyUsers, true);
  check('AllowUsers', cfg.allowUsers, true);
  check('DenyGroups', cfg.denyGroups, false);
  check('AllowGroups', cfg.allowGroups, false);
  return errs;
}

/**
 * allowed_user(): account locked, then shell, then DenyUsers, AllowUsers,
 * DenyGroups, AllowGroups, in that order; the first that refuses decides.
 * Reasons complete sshd's "User alice from <host> not allowed because ...".
 */
export function checkUserAccess(cfg: UserAccessConfig, account: Account, client: ClientHost): Decision {
  const user = account.name;
  if (account.locked) return deny('account-locked', 'not allowed because account is locked');
  if (account.shell && account.shell.status !== 'ok') {
    const what = account.shell.status === 'missing' ? 'does not exist' : 'is not executable';
    return deny(`shell-${account.shell.status}`, `not allowed because shell ${account.shell.path} ${what}`);
  }
  for (const p of cfg.denyUsers ?? []) {
    const r = matchUser(user, client, p);
    if (r === 'invalid') return deny('invalid-pattern', `invalid DenyUsers pattern "${p}"`);
    if (r === 'match') return deny('deny-users', 'not allowed because listed in DenyUsers');
  }
  if (cfg.allowUsers && cfg.allowUsers.length > 0) {
    let listed = false;
    for (const p of cfg.allowUsers) {
      const r = matchUser(user, client, p);
      if (r === 'invalid') return deny('invalid-pattern', `invalid AllowUsers pattern "${p}"`);
      if (r === 'match') {
        listed = true;
        break;
      }
    }
    if (!listed) return deny('not-in-allow-users', 'not allowed because not listed in AllowUsers');
  }
  const denyGroups = cfg.denyGroups ?? [];
  const allowGroups = cfg.allowGroups ?? [];
  if (denyGroups.length > 0 || allowGroups.length > 0) {
    if (account.groups.length === 0) return deny('no-groups', 'not allowed because not in any group');
    const anyIn = (pats: readonly string[]) => account.groups.some((g) => pats.some((p) => matchPattern(g, p)));
    if (denyGroups.length > 0 && anyIn(denyGroups)) return deny('deny-groups', 'not allowed because a group is listed in DenyGroups');
    if (allowGroups.length > 0 && !anyIn(allowGroups)) return deny('not-in-allow-groups', "not allowed because none of user's groups are listed in AllowGroups");
  }
  return allow('allowed');
}

/**
 * sshd takes `user:style` apart (BSD auth styles) and uses only the part
 * before ':' as the user name, in logs and lookups alike.
 */
export function splitAuthUser(raw: string): { user: string; style?: string } {
  const i = raw.indexOf(':');
  return i === -1 ? { user: raw } : { user: raw.slice(0, i), style: raw.slice(i + 1) };
}

// ---------------------------------------------------------------- keys

/** Where and when a key is being used. */
export interface KeyUseContext {
  user: string;
  client: ClientHost;
  /** Seconds since the epoch. */
  now: number;
  /** "file:line" prefix for reasons, as sshd writes it. */
  location?: string;
}

/**
 * auth_authorise_keyopts() for a plain key: the entry must not have expired,
 * `principals=` needs `cert-authority`, and `from=` must admit the client.
 */
export function authoriseKeyOptions(opts: KeyOptions, ctx: KeyUseContext): Decision {
  const loc = ctx.location ? `${ctx.location}: ` : '';
  if (opts.expiresAt !== undefined && ctx.now > 0 && opts.expiresAt < ctx.now) {
    return deny('expired', `${loc}entry expired at ${formatLocalTime(opts.expiresAt)}`);
  }
  if (opts.principals !== undefined && !opts.certAuthority) return deny('principals-without-ca', `${loc}principals on non-CA key`);
  if (opts.from !== undefined) {
    const r = matchHostAndIp(ctx.client, opts.from);
    if (r !== 'match') {
      const host = ctx.client.name ?? ctx.client.ip;
      const invalid = r === 'invalid' ? `${loc}invalid from criteria; ` : '';
      return deny(
        r === 'invalid' ? 'from-invalid' : 'from-mismatch',
        `${invalid}${loc}Authentication tried for ${ctx.user} with correct key but not from a permitted host (host=${host}, ip=${ctx.client.ip}, required=${opts.from}).`,
      );
    }
  }
  return allow('key options permit this use');
}

/** Result of looking a presented key up in parsed authorized_keys entries. */
export interface KeyLookup extends Decision {
  /** The entry that authorised the key; its options apply to the session. */
  entry?: AuthorizedKeyEntry;
  /** The presented key, parsed (absent when it could not be). */
  key?: PublicKey;
  /** Entries holding this key that refused it, with why. */
  refused: KeyRefusal[];
}

/** An authorized_keys line that holds the presented key but refused this use of it. */
export interface KeyRefusal {
  entry: AuthorizedKeyEntry;
  code: string;
  reason: string;
}

/**
 * auth_check_authkeys_file(): finds `presented` (a public key blob from the
 * client) among `entries`. Lines marked cert-authority are for certificates
 * and never match a plain key. A line whose options refuse the key does not
 * end the search; a later line with the same key may still admit it.
 * A certificate is never found here: it is trusted through its CA (cert-authority.ts).
 */
export function findAuthorizedKey(entries: readonly AuthorizedKeyEntry[], presented: Buffer, ctx: KeyUseContext, file = 'authorized_keys'): KeyLookup {
  let key: PublicKey;
  try {
    key = parseKeyBlob(presented);
  } catch (e) {
    if (!(e instanceof KeyBlobError)) throw e;
    const code = e.code === 'certificate-unsupported' ? 'certificate-unsupported' : 'bad-key';
    return { ...deny(code, e.code === 'certificate-unsupported' ? `${e.message}; a certificate is trusted through its CA, not as a key` : `presented key refused: ${e.message}`), refused: [] };
  }
  const refused: KeyRefusal[] = [];
  for (const entry of entries) {
    if (entry.options.certAuthority || !entry.key.blob.equals(key.blob)) continue;
    const d = authoriseKeyOptions(entry.options, { ...ctx, location: `${file}:${entry.line}` });
    if (d.allowed) return { ...allow(`Accepted key ${key.shortType} ${key.fingerprint} found at ${file}:${entry.line}`, 'key-found'), entry, key, refused };
    refused.push({ entry, reason: d.reason, code: d.code ?? 'refused' });
  }
  const first = refused[0];
  if (first) return { ...deny(first.code, first.reason), key, refused };
  return { ...deny('key-not-found', `key ${key.shortType} ${key.fingerprint} not found in ${file}`), key, refused };
}

/**
 * PermitUserEnvironment applied to `environment=` values: 'no' keeps none,
 * 'yes' all, anything else is a pattern list of names to keep.
 */
export function filterUserEnvironment(env: readonly { name: string; value: string }[], permit: string | boolean): { name: string; value: string }[] {
  if (permit === false || permit === 'no') return [];
  if (permit === true || permit === 'yes') return env.slice();
  return env.filter((e) => matchPatternList(e.name, permit) === 'match');
}

/** format_absolute_time(): local time as YYYY-MM-DDTHH:MM:SS. */
export function formatLocalTime(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
