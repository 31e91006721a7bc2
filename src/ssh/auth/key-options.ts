/**
 * The options field of an authorized_keys line (sshd(8), AUTHORIZED_KEYS FILE
 * FORMAT), read with the rules of OpenSSH's sshauthopt_parse(): option names
 * are case-insensitive, flags may be negated with "no-", values are quoted
 * with `\"` as the only escape, and any unknown option refuses the whole line.
 */

/** A permitopen/permitlisten destination, validated as sshd validates it. */
export interface PermitSpec {
  /** As written (permitlisten: a bare port becomes `*:port`, as in sshd). */
  raw: string;
  /** Host part with IPv6 brackets removed; may be `*` or empty. */
  host: string;
  port: number | '*';
}

/** The restrictions and settings one authorized_keys line carries. */
export interface KeyOptions {
  /** `restrict` was given (all current and future restrictions). */
  restrict: boolean;
  certAuthority: boolean;
  permitPty: boolean;
  permitPortForwarding: boolean;
  permitAgentForwarding: boolean;
  permitX11Forwarding: boolean;
  permitUserRc: boolean;
  /** `no-touch-required`: FIDO keys may sign without user presence. */
  noTouchRequired: boolean;
  /** `verify-required`: FIDO keys must prove user verification (PIN). */
  verifyRequired: boolean;
  /** `command="..."`: forced command. */
  command?: string;
  /** `principals="..."`: only meaningful with cert-authority. */
  principals?: string;
  /** `from="..."`: pattern list the client address or name must match. */
  from?: string;
  /** `expiry-time`: seconds since the epoch after which the key is refused (earliest wins). */
  expiresAt?: number;
  /**
   * `environment="NAME=value"` in file order, first of each name kept. Apply
   * only as PermitUserEnvironment allows (see `filterUserEnvironment`).
   */
  environment: { name: string; value: string }[];
  permitOpen: PermitSpec[];
  permitListen: PermitSpec[];
  /** `tunnel="n"`: forced tun device, or 'any'. */
  tunnel?: number | 'any';
}

export type KeyOptionsResult = { ok: true; options: KeyOptions } | { ok: false; reason: string };

/** auth-options.h SSH_AUTHOPT_PERMIT_MAX / SSH_AUTHOPT_ENV_MAX. */
const PERMIT_MAX = 4096;
const ENV_MAX = 1024;
/** netdb.h NI_MAXHOST. */
const NI_MAXHOST = 1025;
/** misc.h SSH_TUNID_MAX. */
const TUNID_MAX = 0x7fffffff - 2;

/** Options of a line with no options field. */
export function defaultKeyOptions(): KeyOptions {
  return {
    restrict: false,
    certAuthority: false,
    permitPty: true,
    permitPortForwarding: true,
    permitAgentForwarding: true,
    permitX11Forwarding: true,
    permitUserRc: true,
    noTouchRequired: false,
    verifyRequired: false,
    environment: [],
    permitOpen: [],
    permitListen: [],
  };
}

type Flag = (o: KeyOptions, on: boolean) => void;

// Tried in this order, each as a case-insensitive prefix, as OpenSSH does.
const FLAGS: [name: string, negatable: boolean, set: Flag][] = [
  ['restrict', false, (o) => {
    o.restrict = true;
    o.permitPortForwarding = o.permitAgentForwarding = o.permitX11Forwarding = o.permitPty = o.permitUserRc = false;
  }],
  ['cert-authority', false, (o) => (o.certAuthority = true)],
  ['port-forwarding', true, (o, on) => (o.permitPortForwarding = on)],
  ['agent-forwarding', true, (o, on) => (o.permitAgentForwarding = on)],
  ['x11-forwarding', true, (o, on) => (o.permitX11Forwarding = on)],
  ['touch-required', true, (o, on) => (o.noTouchRequired = !on)],
  ['verify-required', true, (o, on) => (o.verifyRequired = on)],
  ['pty', true, (o, on) => (o.permitPty = on)],
  ['user-rc', true, (o, on) => (o.permitUserRc = on)],
];

type Valued = (o: KeyOptions, value: string) => string | null;

const VALUED: [name: string, apply: Valued][] = [
  ['command', (o, v) => (o.command !== undefined ? 'multiple "command" clauses' : ((o.command = v), null))],
  ['principals', (o, v) => (o.principals !== undefined ? 'multiple "principals" clauses' : ((o.principals = v), null))],
  ['from', (o, v) => (o.from !== undefined ? 'multiple "from" clauses' : ((o.from = v), null))],
  ['expiry-time', applyExpiry],
  ['environment', applyEnvironment],
  ['permitopen', (o, v) => applyPermit(o.permitOpen, v, false)],
  ['permitlisten', (o, v) => applyPermit(o.permitListen, v, true)],
  ['tunnel', applyTunnel],
];

/** Parses an options field (the text before the key type). */
export function parseKeyOptions(text: string): KeyOptionsResult {
  const o = defaultKeyOptions();
  let i = 0;
  while (i < text.length && text[i] !== ' ' && text[i] !== '\t') {
    const start = i;
    let valuedName: string | null = null;
    const flagEnd = matchFlag(text, i, o);
    if (flagEnd !== -1) {
      i = flagEnd;
    } else {
      const valued = VALUED.find(([name]) => startsWithCi(text, i, name + '='));
      if (!valued) return { ok: false, reason: `unknown key option "${optionName(text, start)}"` };
      const [name, apply] = valued;
      valuedName = name;
      const dq = dequote(text, i + name.length + 1);
      if ('error' in dq) return { ok: false, reason: `${name}: ${dq.error}` };
      const err = apply(o, dq.value);
      if (err !== null) return { ok: false, reason: err };
      i = dq.end;
    }
    if (i >= text.length || text[i] === ' ' || text[i] === '\t') break;
    if (text[i] !== ',') {
      const why = valuedName === null ? `unknown key option "${optionName(text, start)}"` : `unexpected text after ${valuedName}="..."`;
      return { ok: false, reason: why };
    }
    i++;
    if (i >= text.length) return { ok: false, reason: 'unexpected end-of-options' };
  }
  return { ok: true, options: o };
}

function matchFlag(text: string, at: number, o: KeyOptions): number {
  for (const [name, negatable, set] of FLAGS) {
    let p = at;
    let on = true;
    if (negatable && startsWithCi(text, p, 'no-')) {
      p += 3;
      on = false;
    }
    if (startsWithCi(text, p, name)) {
      set(o, on);
      return p + name.length;
    }
  }
  return -1;
}

// strncasecmp() in the C locale: only A-Z fold.
function startsWithCi(text: string, at: number, word: string): boolean {
  return text.slice(at, at + word.length).replace(/[A-Z]/g, (c) => c.toLowerCase()) === word;
}

function optionName(text: string, at: number): string {
  const m = /^[^,= \t"]*/.exec(text.slice(at)) as RegExpExecArray;
  const name = m[0].length > 40 ? m[0].slice(0, 40) + '...' : m[0];
  return name.replace(/[^\x20-\x7e]/g, '?');
}

/** opt_dequote(): `"..."` with `\"` standing for a quote; other backslashes kept. */
function dequote(text: string, at: number): { value: string; end: number } | { error: string } {
  if (text[at] !== '"') return { error: 'missing start quote' };
  let out = '';
  let i = at + 1;
  while (i < text.length && text[i] !== '"') {
    if (text[i] === '\\' && text[i + 1] === '"') i++;
    out += text[i];
    i++;
  }
  if (i >= text.length) return { error: 'missing end quote' };
  return { value: out, end: i + 1 };
}

function applyExpiry(o: KeyOptions, v: string): string | null {
  const t = parseExpiryTime(v);
  if (t === null) return 'invalid expires time';
  if (o.expiresAt === undefined || t < o.expiresAt) o.expiresAt = t;
  return null;
}

function applyEnvironment(o: KeyOptions, v: string): string | null {
  if (o.environment.length > ENV_MAX) return 'too many environment strings';
  const eq = v.indexOf('=');
  if (eq <= 0 || !/^[A-Za-z0-9_]+$/.test(v.slice(0, eq))) return 'invalid environment string';
  const name = v.slice(0, eq);
  if (!o.environment.some((e) => e.name === name)) o.environment.push({ name, value: v.slice(eq + 1) });
  return null;
}

function applyTunnel(o: KeyOptions, v: string): string | null {
  if (v.toLowerCase() === 'any') {
    o.tunnel = 'any';
    return null;
  }
  if (!/^[0-9]{1,10}$/.test(v) || Number(v) > TUNID_MAX) return 'invalid tun device';
  o.tunnel = Number(v);
  return null;
}

/**
 * permitopen/permitlisten: host and port split as hpdelim2() does (`[v6]`,
 * or up to the first ':' or '/'); port is `*` or 1-65535. Service names,
 * which sshd would look up in /etc/services, are refused.
 */
function applyPermit(list: PermitSpec[], v: string, bareListen: boolean): string | null {
  if (list.length > PERMIT_MAX) return 'too many permission directives';
  const raw = bareListen && !v.includes(':') ? `*:${v}` : v;
  let host: string;
  let rest: string | null;
  if (raw.startsWith('[')) {
    const close = raw.indexOf(']');
    if (close === -1) return 'invalid permission hostname';
    const after = raw[close + 1];
    if (after !== undefined && after !== ':' && after !== '/') return 'invalid permission hostname';
    host = raw.slice(1, close);
    rest = after === undefined ? null : raw.slice(close + 2);
    if (close + 1 >= NI_MAXHOST) return 'invalid permission hostname';
  } else {
    const d = raw.search(/[:/]/);
    host = d === -1 ? raw : raw.slice(0, d);
    rest = d === -1 ? null : raw.slice(d + 1);
    if (host.length >= NI_MAXHOST) return 'invalid permission hostname';
  }
  let port: number | '*';
  if (rest === '*') port = '*';
  else if (rest !== null && /^[0-9]{1,5}$/.test(rest) && Number(rest) >= 1 && Number(rest) <= 65535) port = Number(rest);
  else return 'invalid permission port';
  list.push({ raw, host, port });
  return null;
}

/**
 * Parses an expiry-time value, YYYYMMDD[HHMM[SS]] with an optional `Z` or
 * `UTC` suffix, to seconds since the epoch; null when invalid.
 *
 * Like OpenSSH (strptime, then mktime with tm_isdst = 0), a time without a
 * suffix is local *standard* time, so in summer it lands an hour later than
 * the wall clock reads; out-of-range days roll over (20250230 is March 2).
 * Times before 1970 are refused rather than wrapping to "never".
 */
export function parseExpiryTime(s: string): number | null {
  let body = s;
  let utc = false;
  if (body.length > 1 && body.slice(-1).toLowerCase() === 'z') {
    utc = true;
    body = body.slice(0, -1);
  } else if (body.length > 3 && body.slice(-3).toLowerCase() === 'utc') {
    utc = true;
    body = body.slice(0, -3);
  }
  if (!/^(?:[0-9]{8}|[0-9]{12}|[0-9]{14})$/.test(body)) return null;
  const f = (a: number, n: number) => Number(body.slice(a, a + n) || '0');
  const [y, mo, d, h, mi, sec] = [f(0, 4), f(4, 2), f(6, 2), f(8, 2), f(10, 2), f(12, 2)];
  // strptime field ranges (glibc): %m 1-12, %d 1-31, %H 0-23, %M 0-59, %S 0-61.
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 61) return null;
  const asUtc = Date.UTC(y, mo - 1, d, h, mi, sec);
  const ms = utc ? asUtc : asUtc + standardOffsetMinutes(y) * 60_000;
  const t = Math.floor(ms / 1000);
  return t > 0 ? t : null;
}

// Minutes west of UTC of local standard time in `year`: the larger of the
// January and July offsets (the other one, if different, includes DST).
function standardOffsetMinutes(year: number): number {
  return Math.max(new Date(year, 0, 1).getTimezoneOffset(), new Date(year, 6, 1).getTimezoneOffset());
}

/**
 * One permitopen/permitlisten value (or one word of sshd_config's PermitOpen
 * or PermitListen): the spec, or the reason it is invalid.
 */
export function parsePermitSpec(value: string, listen: boolean): PermitSpec | string {
  const list: PermitSpec[] = [];
  const err = applyPermit(list, value, listen);
  return err ?? (list[0] as PermitSpec);
}
