/**
 * Pre-authentication limits with sshd's arithmetic: MaxAuthTries (auth2.c
 * userauth_finish()), LoginGraceTime, and MaxStartups random early drop
 * (sshd.c should_drop_connection()). Pure: state in, state out; the clock
 * and the random number come from the caller.
 */
import type { Decision } from './access.js';

// ---------------------------------------------------------------- MaxAuthTries

/** sshd_config(5) default MaxAuthTries. */
export const DEFAULT_MAX_AUTH_TRIES = 6;
/** auth2.c: hard cap on userauth requests per connection, whatever the outcome. */
export const MAX_AUTH_REQUESTS = 1024;

/** Per-connection authentication bookkeeping. */
export interface AuthTries {
  /** userauth requests seen. */
  attempts: number;
  /** Failures counted against MaxAuthTries. */
  failures: number;
  /** User and service of the first request; sshd refuses to change them. */
  user?: string;
  service?: string;
}

/** State of a connection that has not sent a userauth request yet. */
export function newAuthTries(): AuthTries {
  return { attempts: 0, failures: 0 };
}

/** What to do with an incoming userauth request. */
export type RequestVerdict =
  | { action: 'try'; state: AuthTries }
  /** Count it as failed without running the method: MaxAuthTries already reached. */
  | { action: 'fail'; state: AuthTries }
  | { action: 'disconnect'; state: AuthTries; reason: string };

/** Called when a userauth request arrives, before the method runs. */
export function beginAuthRequest(s: AuthTries, user: string, service: string, maxAuthTries = DEFAULT_MAX_AUTH_TRIES): RequestVerdict {
  if (s.attempts >= MAX_AUTH_REQUESTS) return { action: 'disconnect', state: s, reason: 'Too many authentication failures' };
  if (s.attempts === 0) {
    const state = { ...s, attempts: 1, user, service };
    return { action: s.failures < maxAuthTries ? 'try' : 'fail', state };
  }
  if (user !== s.user || service !== s.service) {
    return {
      action: 'disconnect',
      state: s,
      reason: `Change of username or service not allowed: (${s.user},${s.service}) -> (${user},${service})`,
    };
  }
  const state = { ...s, attempts: s.attempts + 1 };
  return { action: s.failures < maxAuthTries ? 'try' : 'fail', state };
}

/** How a userauth request ended. */
export interface AuthOutcome {
  method: string;
  authenticated: boolean;
  /** Success of one method of several AuthenticationMethods require. */
  partial?: boolean;
  /** publickey query answered with PK_OK (key acceptable, no signature yet). */
  postponed?: boolean;
  /** The server, not the client, made the method fail (e.g. GSSAPI unavailable). */
  serverCausedFailure?: boolean;
  /** The user exists and may log in (sshd's authctxt->valid). */
  validUser: boolean;
}

export interface OutcomeVerdict {
  state: AuthTries;
  /** Disconnect with "Too many authentication failures". */
  disconnect: boolean;
  /** Level sshd logs the Accepted/Failed line at: failures stay at VERBOSE until half of MaxAuthTries. */
  logLevel: 'info' | 'verbose';
}

/**
 * Called when a request has been decided. The first "none" request is free;
 * an accepted-key query (postponed) costs nothing; every other failure
 * counts, and reaching MaxAuthTries disconnects.
 */
export function finishAuthRequest(s: AuthTries, o: AuthOutcome, maxAuthTries = DEFAULT_MAX_AUTH_TRIES): OutcomeVerdict {
  const loud = o.authenticated || !o.validUser || s.failures >= Math.trunc(maxAuthTries / 2) || o.method === 'password';
  const logLevel = loud ? 'info' : 'verbose';
  if (o.authenticated || o.postponed) return { state: s, disconnect: false, logLevel };
  let failures = s.failures;
  if (!o.partial && !o.serverCausedFailure && (s.attempts > 1 || o.method !== 'none')) failures++;
  return { state: { ...s, failures }, disconnect: failures >= maxAuthTries, logLevel };
}

// ---------------------------------------------------------------- LoginGraceTime

/** sshd_config(5) default LoginGraceTime, seconds. */
export const DEFAULT_LOGIN_GRACE_TIME = 120;

/**
 * Parses an sshd time value (sshd_config(5) TIME FORMATS): `120`, `90s`,
 * `2m`, `1h30m`, `1w`, with units s m h d w in either case and fractions
 * for seconds only. Returns seconds, or null when malformed.
 */
export function parseSshdTime(text: string): number | null {
  if (text === '') return null;
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  let seenSeconds = false;
  const re = /([0-9.]+)([smhdwSMHDW]?)/y;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) return null;
    const [, num, unitRaw] = m as unknown as [string, string, string];
    const unit = (unitRaw || 's').toLowerCase();
    if (!/^[0-9]*\.?[0-9]*$/.test(num) || num === '.') return null;
    const value = Number(num);
    if (!Number.isFinite(value)) return null;
    if (num.includes('.') && (unit !== 's' || num.endsWith('.'))) return null;
    if (unit === 's') {
      if (seenSeconds) return null;
      seenSeconds = true;
    }
    total += value * (units[unit] as number);
    at = re.lastIndex;
  }
  return total > 0x7fffffff ? null : Math.trunc(total);
}

/** LoginGraceTime: true once `graceSeconds` have passed since the connection was accepted; 0 means never. */
export function loginGraceExpired(graceSeconds: number, acceptedAtMs: number, nowMs: number): boolean {
  return graceSeconds > 0 && nowMs - acceptedAtMs >= graceSeconds * 1000;
}

// ---------------------------------------------------------------- MaxStartups

/** MaxStartups start:rate:full. */
export interface MaxStartups {
  begin: number;
  /** Percent dropped at `begin`, rising linearly to 100 at `full`. */
  rate: number;
  full: number;
}

export const DEFAULT_MAX_STARTUPS: MaxStartups = { begin: 10, rate: 30, full: 100 };

/** Parses `start:rate:full`, or a single number N (meaning N:30:N, as sshd fills it in). */
export function parseMaxStartups(text: string): MaxStartups | null {
  const three = /^(\d+):(\d+):(\d+)$/.exec(text);
  if (three) {
    const [begin, rate, full] = three.slice(1).map(Number) as [number, number, number];
    if (begin > full || rate > 100 || rate < 1 || begin <= 0 || full <= 0) return null;
    return { begin, rate, full };
  }
  if (/^\d+$/.test(text) && Number(text) > 0 && Number(text) <= 0x7fffffff) {
    return { begin: Number(text), rate: DEFAULT_MAX_STARTUPS.rate, full: Number(text) };
  }
  return null;
}

/** What one unauthenticated connection holds here: a worker process (Node.js), about 13 MiB private, with margin. */
export const PREAUTH_WORKER_BYTES = 16 * 1024 * 1024;

/**
 * MaxStartups as it applies on a host with `memTotalBytes` of memory. Each
 * unauthenticated connection holds a worker (sshd's holds a process of
 * under 1 MiB), so sshd's default `full` of 100 would let anyone who can
 * connect take 1.6 GiB: `full` is lowered so that those workers fit in a
 * quarter of the memory, and `begin` with it. Unchanged where they fit
 * (hosts of 6.4 GiB and more keep 10:30:100). Pure.
 */
export function startupsForMemory(ms: MaxStartups, memTotalBytes: number): MaxStartups {
  const fits = Math.max(1, Math.floor(memTotalBytes / 4 / PREAUTH_WORKER_BYTES));
  if (ms.full <= fits) return ms;
  return { begin: Math.min(ms.begin, fits), rate: ms.rate, full: fits };
}

/**
 * Random early drop of a new connection while `unauthenticated` connections
 * are already pending: none below `begin`, all from `full`, in between with
 * probability rising from `rate`% to 100%. `random` is uniform in [0, 1).
 */
export function shouldDropConnection(ms: MaxStartups, unauthenticated: number, random: number): Decision {
  const spec = `${ms.begin}:${ms.rate}:${ms.full}`;
  if (unauthenticated < ms.begin) return { allowed: true, reason: `${unauthenticated} unauthenticated connections, below MaxStartups ${spec}`, code: 'below-start' };
  if (unauthenticated >= ms.full) return { allowed: false, reason: `${unauthenticated} unauthenticated connections, MaxStartups ${spec} is full`, code: 'full' };
  if (ms.rate === 100) return { allowed: false, reason: `MaxStartups ${spec} drops every connection past ${ms.begin}`, code: 'rate-100' };
  // Integer arithmetic exactly as sshd does it, so the odds match.
  const p = Math.trunc(((100 - ms.rate) * (unauthenticated - ms.begin)) / (ms.full - ms.begin)) + ms.rate;
  const r = Math.min(99, Math.max(0, Math.floor(random * 100)));
  const why = `${unauthenticated} unauthenticated connections, MaxStartups ${spec}: drop probability ${p}%`;
  return r < p ? { allowed: false, reason: why, code: 'random-drop' } : { allowed: true, reason: why, code: 'random-keep' };
}
