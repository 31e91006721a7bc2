/**
 * The client's identification string (RFC 4253 §4.2), read by the daemon
 * before a worker is spent on the connection: a port scanner, an HTTP probe
 * or random bytes are turned away here, for the cost of a few bytes, and only
 * SSH clients get a process. The bytes read are handed to the worker with the
 * connection, so the SSH protocol sees them as if never read. Pure.
 */

import { VERSION } from '../../util/version.js';

/**
 * Our identification after `SSH-2.0-`: a software version and, after a
 * space, a comment naming us. The OpenSSH client enables its extensions by
 * matching the peer's string against `OpenSSH*` (compat.c): without that it
 * never sends eow@openssh.com, and `ssh host 'cat /dev/zero' | head -c 1M`
 * would stream for ever into a client that discards it. So the version word
 * says what we speak without claiming an OpenSSH release (the numbered
 * patterns that flag old OpenSSH bugs do not match it).
 */
export const SERVER_SOFTWARE = `OpenSSH_compatible mpsshd_${VERSION}`;

/** The server's identification line, sent by the daemon on accept, as sshd does, before any worker exists. */
export function serverIdentLine(): Buffer {
  return Buffer.from(`SSH-2.0-${SERVER_SOFTWARE}\r\n`, 'latin1');
}

/** RFC 4253: the line is at most 255 characters including CR LF. */
export const MAX_IDENT = 255;

export type IdentVerdict = { state: 'need-more' } | { state: 'ok'; version: string } | { state: 'bad'; reason: string };

/** Judges the first bytes a client sent. */
export function checkClientIdent(buf: Buffer): IdentVerdict {
  const prefix = 'SSH-';
  const head = buf.subarray(0, Math.min(buf.length, prefix.length)).toString('latin1');
  if (!prefix.startsWith(head)) return { state: 'bad', reason: 'not an SSH client (no "SSH-" identification)' };
  const nl = buf.indexOf(0x0a);
  if (nl < 0) return buf.length >= MAX_IDENT ? { state: 'bad', reason: 'identification line too long' } : { state: 'need-more' };
  const line = buf.subarray(0, nl).toString('latin1').replace(/\r$/, '');
  if (nl + 1 > MAX_IDENT) return { state: 'bad', reason: 'identification line too long' };
  const m = /^SSH-(2\.0|1\.99)-(\S+)/.exec(line);
  if (!m) return { state: 'bad', reason: `protocol major versions differ or bad identification "${line.slice(0, 64).replace(/[^\x20-\x7e]/g, '?')}"` };
  return { state: 'ok', version: line };
}
