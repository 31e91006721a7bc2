/**
 * Authentication log lines worded as sshd words them, so fail2ban's sshd
 * filter, logwatch and people's own grep patterns keep working, plus the
 * same facts as structured fields for pino.
 *
 * Client-supplied text (user names) is escaped as sshd's log() escapes it
 * (strnvis VIS_CSTYLE|VIS_NL|VIS_TAB|VIS_OCTAL: control and non-ASCII bytes
 * become `\n`, `\t`, `\ooo`, a backslash becomes `\\`) and cut to 100 bytes
 * as sshd's "%.100s" does, so one line can never turn into two.
 */
import type { Logger } from '../../util/logger.js';
import type { PublicKey } from './key-blob.js';

/** sshd's log levels for these lines; VERBOSE sits between INFO and DEBUG. */
export type AuthLogLevel = 'error' | 'info' | 'verbose';

/** Structured fields; raw (unescaped) values, pino escapes them in JSON. */
export interface AuthLogFields {
  event: AuthEvent;
  user?: string;
  /** False when the user does not exist or may not log in (sshd's "invalid user"). */
  validUser?: boolean;
  remoteAddress?: string;
  remotePort?: number;
  method?: string;
  keyType?: string;
  fingerprint?: string;
  reason?: string;
}

export type AuthEvent =
  | 'auth-accepted'
  | 'auth-failed'
  | 'auth-postponed'
  | 'invalid-user'
  | 'user-not-allowed'
  | 'root-refused'
  | 'key-file-refused'
  | 'key-options-refused'
  | 'max-auth-tries'
  | 'disconnect'
  | 'grace-timeout'
  | 'startup-dropped';

export interface AuthLogLine {
  level: AuthLogLevel;
  message: string;
  fields: AuthLogFields;
}

/** The connection a line is about. */
export interface Peer {
  /** Address as sshd prints it (see normaliseClientAddress). */
  ip: string;
  port: number;
}

/** A user as the authentication saw it. */
export interface AuthUser {
  name: string;
  /** False for a non-existent or disallowed user: lines then say "invalid user". */
  valid: boolean;
}

/** The key used, for the ": ED25519 SHA256:..." tail. */
export type KeyInfo = Pick<PublicKey, 'shortType' | 'fingerprint'> & {
  /** A certificate's "ID key-id (serial n) CA TYPE SHA256:...", written after the fingerprint as sshd writes it. */
  certificate?: string;
};

/** strnvis() with sshd's syslog flags, on UTF-8 bytes, then cut to `max` bytes of input. */
export function visEncode(s: string, max = Infinity): string {
  const b = Buffer.from(s, 'utf8');
  const n = Math.min(b.length, max);
  let out = '';
  for (let i = 0; i < n; i++) {
    const c = b[i] as number;
    if (c === 0x5c) out += '\\\\';
    else if (c >= 0x20 && c <= 0x7e) out += String.fromCharCode(c);
    else if (c === 0) out += isOctalDigit(b[i + 1]) ? '\\000' : '\\0';
    else out += CSTYLE[c] ?? '\\' + c.toString(8).padStart(3, '0');
  }
  return out;
}

const CSTYLE: Record<number, string> = { 0x0a: '\\n', 0x0d: '\\r', 0x08: '\\b', 0x07: '\\a', 0x0b: '\\v', 0x09: '\\t', 0x0c: '\\f' };

function isOctalDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x37;
}

const u = (name: string) => visEncode(name, 100);
const h = (s: string) => visEncode(s, 200);

function keyTail(key: KeyInfo | undefined, info: string | undefined): string {
  const parts = [key ? `${key.shortType} ${key.fingerprint}${key.certificate ? ` ${key.certificate}` : ''}` : '', info ?? ''].filter((p) => p !== '');
  return parts.length > 0 ? `: ${parts.join(', ')}` : '';
}

function keyFields(key: KeyInfo | undefined): Partial<AuthLogFields> {
  return key ? { keyType: key.shortType, fingerprint: key.fingerprint } : {};
}

/** auth_log(): "Accepted publickey for alice from 10.0.0.5 port 51234 ssh2: ED25519 SHA256:...". */
export function acceptedLine(method: string, user: AuthUser, peer: Peer, key?: KeyInfo, info?: string): AuthLogLine {
  return {
    level: 'info',
    message: `Accepted ${method} for ${u(user.name)} from ${h(peer.ip)} port ${peer.port} ssh2${keyTail(key, info)}`,
    fields: { event: 'auth-accepted', user: user.name, validUser: true, remoteAddress: peer.ip, remotePort: peer.port, method, ...keyFields(key) },
  };
}

/**
 * auth_log() for a failure: "Failed publickey for [invalid user ]alice from
 * ... port ... ssh2[: KEY]". `level` comes from finishAuthRequest(): sshd
 * logs early failures at VERBOSE.
 */
export function failedLine(method: string, user: AuthUser, peer: Peer, level: AuthLogLevel = 'info', key?: KeyInfo): AuthLogLine {
  const inv = user.valid ? '' : 'invalid user ';
  return {
    level,
    message: `Failed ${method} for ${inv}${u(user.name)} from ${h(peer.ip)} port ${peer.port} ssh2${keyTail(key, undefined)}`,
    fields: { event: 'auth-failed', user: user.name, validUser: user.valid, remoteAddress: peer.ip, remotePort: peer.port, method, ...keyFields(key) },
  };
}

/** auth_log() for a publickey query answered with PK_OK. */
export function postponedLine(method: string, user: AuthUser, peer: Peer, key?: KeyInfo): AuthLogLine {
  const inv = user.valid ? '' : 'invalid user ';
  return {
    level: 'verbose',
    message: `Postponed ${method} for ${inv}${u(user.name)} from ${h(peer.ip)} port ${peer.port} ssh2${keyTail(key, undefined)}`,
    fields: { event: 'auth-postponed', user: user.name, validUser: user.valid, remoteAddress: peer.ip, remotePort: peer.port, method, ...keyFields(key) },
  };
}

/** getpwnamallow(): "Invalid user bob from 10.0.0.5 port 51234". */
export function invalidUserLine(user: string, peer: Peer): AuthLogLine {
  return {
    level: 'info',
    message: `Invalid user ${u(user)} from ${h(peer.ip)} port ${peer.port}`,
    fields: { event: 'invalid-user', user, validUser: false, remoteAddress: peer.ip, remotePort: peer.port },
  };
}

/**
 * allowed_user(): "User root from 10.0.0.5 not allowed because listed in
 * DenyUsers". `host` is the verified name or, without UseDNS, the address;
 * `reason` is the Decision reason from checkUserAccess().
 */
export function notAllowedLine(user: string, host: string, reason: string): AuthLogLine {
  const text = reason.startsWith('not allowed because') ? reason : `not allowed because ${reason}`;
  // "account is locked" is the one line sshd writes without the host.
  const from = text.endsWith('account is locked') ? '' : ` from ${h(host)}`;
  return {
    level: 'info',
    message: `User ${u(user)}${from} ${text}`,
    fields: { event: 'user-not-allowed', user, validUser: false, remoteAddress: host, reason: text },
  };
}

/** auth_root_allowed(): "ROOT LOGIN REFUSED FROM 10.0.0.5 port 51234". */
export function rootRefusedLine(peer: Peer): AuthLogLine {
  return {
    level: 'info',
    message: `ROOT LOGIN REFUSED FROM ${h(peer.ip)} port ${peer.port}`,
    fields: { event: 'root-refused', user: 'root', remoteAddress: peer.ip, remotePort: peer.port },
  };
}

/** auth_openfile(): "Authentication refused: bad ownership or modes for file /home/x/.ssh/authorized_keys". */
export function keyFileRefusedLine(reason: string, user?: string): AuthLogLine {
  return {
    level: 'info',
    message: `Authentication refused: ${h(reason)}`,
    fields: { event: 'key-file-refused', reason, ...(user !== undefined ? { user } : {}) },
  };
}

/** A key that was found but refused by its options (from=, expiry-time, ...): the Decision reason as sshd logs it. */
export function keyOptionsRefusedLine(reason: string, user: AuthUser, peer: Peer, key?: KeyInfo): AuthLogLine {
  return {
    level: 'info',
    message: visEncode(reason, 1000),
    fields: { event: 'key-options-refused', user: user.name, validUser: user.valid, remoteAddress: peer.ip, remotePort: peer.port, reason, ...keyFields(key) },
  };
}

/** auth_maxtries_exceeded(): "maximum authentication attempts exceeded for alice from ... port ... ssh2 [preauth]" (an error). */
export function maxTriesLine(user: AuthUser, peer: Peer): AuthLogLine {
  const inv = user.valid ? '' : 'invalid user ';
  return {
    level: 'error',
    message: `maximum authentication attempts exceeded for ${inv}${u(user.name)} from ${h(peer.ip)} port ${peer.port} ssh2 [preauth]`,
    fields: { event: 'max-auth-tries', user: user.name, validUser: user.valid, remoteAddress: peer.ip, remotePort: peer.port },
  };
}

/**
 * ssh_packet_disconnect() during authentication: "Disconnecting
 * authenticating user alice 10.0.0.5 port 51234: Too many authentication
 * failures [preauth]" ("invalid user bob" for unknown users; no user part
 * before the first userauth request).
 */
export function disconnectLine(reason: string, peer: Peer, user?: AuthUser): AuthLogLine {
  const who = user ? `${user.valid ? 'authenticating' : 'invalid'} user ${u(user.name)} ` : '';
  return {
    level: 'info',
    message: `Disconnecting ${who}${h(peer.ip)} port ${peer.port}: ${visEncode(reason, 100)} [preauth]`,
    fields: { event: 'disconnect', ...(user ? { user: user.name, validUser: user.valid } : {}), remoteAddress: peer.ip, remotePort: peer.port, reason },
  };
}

/** LoginGraceTime expired: "Timeout before authentication for 10.0.0.5 port 51234". */
export function graceTimeoutLine(peer: Peer): AuthLogLine {
  return {
    level: 'info',
    message: `Timeout before authentication for ${h(peer.ip)} port ${peer.port}`,
    fields: { event: 'grace-timeout', remoteAddress: peer.ip, remotePort: peer.port },
  };
}

/** MaxStartups drop, as OpenSSH 9.8+ words it: "drop connection #12 from [10.0.0.5]:51234 on [10.0.0.1]:22 Maxstartups". */
export function startupDroppedLine(startups: number, peer: Peer, local: Peer): AuthLogLine {
  return {
    level: 'info',
    message: `drop connection #${startups} from [${h(peer.ip)}]:${peer.port} on [${h(local.ip)}]:${local.port} Maxstartups`,
    fields: { event: 'startup-dropped', remoteAddress: peer.ip, remotePort: peer.port, reason: 'MaxStartups' },
  };
}

/** Writes a line to pino: fields as bindings, the sshd-style text as the message; VERBOSE goes to debug. */
export function logAuthLine(log: Logger, line: AuthLogLine): void {
  const fields = { ...line.fields, sshdLevel: line.level };
  if (line.level === 'error') log.error(fields, line.message);
  else if (line.level === 'info') log.info(fields, line.message);
  else log.debug(fields, line.message);
}
