/**
 * StrictModes for authorized_keys (sshd_config(5); OpenSSH misc.c
 * safe_path()): the file, and every directory from it up to the user's home
 * (or up to / when the file lies elsewhere), must be owned by root or the
 * user and not writable by group or others. The file is checked on the open
 * descriptor and read from it, so the text returned is the text checked.
 */
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { strerror } from '../../util/errno.js';

/** The owner of the keys file as the check needs them. */
export interface KeyFileOwner {
  /** Login name, for messages. */
  name: string;
  uid: number;
  home: string;
}

/** Ownership and mode of a path. */
export interface PathStat {
  uid: number;
  mode: number;
}

/** The two lookups the walk makes; node:fs by default, replaceable in tests. */
export interface PathProbe {
  realpath(path: string): string;
  stat(path: string): PathStat;
}

export const nodeProbe: PathProbe = {
  realpath: (p) => realpathSync(p),
  stat: (p) => statSync(p),
};

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

/**
 * safe_path(): null when `file` (whose own stat the caller took from the
 * open descriptor) and its directories pass, else the reason sshd logs
 * after "Authentication refused: ".
 */
export function checkSecurePath(file: string, fileStat: PathStat, owner: KeyFileOwner, probe: PathProbe = nodeProbe): string | null {
  let real: string;
  try {
    real = probe.realpath(file);
  } catch (e) {
    return `realpath ${file} failed: ${errText(e)}`;
  }
  let home: string | null = null;
  try {
    home = probe.realpath(owner.home);
  } catch {
    home = null; // sshd then walks all the way to /
  }
  if ((fileStat.mode & S_IFMT) !== S_IFREG) return `${real} is not a regular file`;
  if (!ownedOk(fileStat, owner.uid)) return `bad ownership or modes for file ${real}`;
  let dir = real;
  for (;;) {
    dir = dirname(dir);
    let st: PathStat;
    try {
      st = probe.stat(dir);
    } catch {
      return `bad ownership or modes for directory ${dir}`;
    }
    if (!ownedOk(st, owner.uid)) return `bad ownership or modes for directory ${dir}`;
    if (home !== null && dir === home) break;
    if (dir === '/' || dir === '.') break;
  }
  return null;
}

function ownedOk(st: PathStat, uid: number): boolean {
  return (st.uid === 0 || st.uid === uid) && (st.mode & 0o022) === 0;
}

/** Outcome of reading an authorized_keys file. */
export type KeyFileRead =
  | { status: 'ok'; text: string }
  /** No such file: normal, logged at debug level by sshd. */
  | { status: 'missing'; reason: string }
  /** Not a regular file, or StrictModes refused it (reason names path and problem). */
  | { status: 'refused'; reason: string }
  | { status: 'error'; reason: string; code?: string };

/**
 * Largest file read; sshd has no limit. 16 MiB holds over 150 000 keys.
 * The daemon reads and searches the file for every key a client offers, on
 * the event loop every connection shares (sshd does it in the connection's
 * own process): a user must not be able to make that arbitrarily slow.
 */
export const MAX_KEY_FILE_BYTES = 16 * 1024 * 1024;

/**
 * auth_openfile(): opens `path` without following it into a FIFO's wait,
 * checks it is a regular file and, with `strictModes`, that it and its
 * directories are safe, then reads it from the same descriptor.
 */
export function readAuthorizedKeysFile(path: string, owner: KeyFileOwner, strictModes: boolean, probe: PathProbe = nodeProbe): KeyFileRead {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const msg = `Could not open user '${owner.name}' authorized keys '${path}': ${errText(e)}`;
    return code === 'ENOENT' ? { status: 'missing', reason: msg } : { status: 'error', reason: msg, ...(code ? { code } : {}) };
  }
  try {
    const st = fstatSync(fd);
    const refused = judgeOpenedKeyFile(path, st, owner, strictModes, probe);
    if (refused !== null) return { status: 'refused', reason: refused };
    return { status: 'ok', text: readAll(fd) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { status: 'error', reason: `reading '${path}': ${errText(e)}`, ...(code ? { code } : {}) };
  } finally {
    closeSync(fd);
  }
}

/**
 * What auth_openfile() refuses once the file is open, from the descriptor's
 * stat: not a regular file, an unsafe path under StrictModes, too large.
 * The refusal text, or null.
 */
export function judgeOpenedKeyFile(path: string, st: PathStat & { size: number }, owner: KeyFileOwner, strictModes: boolean, probe: PathProbe = nodeProbe): string | null {
  if ((st.mode & S_IFMT) !== S_IFREG) return `User '${owner.name}' authorized keys '${path}' is not a regular file`;
  if (strictModes) {
    const bad = checkSecurePath(path, st, owner, probe);
    if (bad !== null) return bad;
  }
  if (st.size > MAX_KEY_FILE_BYTES) return `authorized keys '${path}' is larger than ${MAX_KEY_FILE_BYTES} bytes`;
  return null;
}

/** strerror()-style text of a system error, for messages that name a path. */
export function systemErrorText(e: unknown): string {
  return errText(e);
}

function readAll(fd: number): string {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buf = Buffer.alloc(64 * 1024);
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    total += n;
    if (total > MAX_KEY_FILE_BYTES) throw Object.assign(new Error('file grew past the size limit while reading'), { code: 'EFBIG' });
    chunks.push(buf.subarray(0, n));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** strerror()-style text, as sshd prints after a path. */
function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const known = typeof err.errno === 'number' ? strerror(err.errno) : undefined;
  return known ?? (err instanceof Error ? err.message : String(e));
}
