/**
 * The one place errno values get their names and their words. Kernel and
 * system-call failures keep their errno; messages show its name ("EEXIST") and
 * the C library's text ("File exists"), as ip(8) and sshd print them.
 */
import os from 'node:os';

const names = new Map<number, string>();
for (const [name, value] of Object.entries(os.constants.errno)) {
  // EWOULDBLOCK and EDEADLOCK alias other values; keep the first (canonical) name.
  if (!names.has(value)) names.set(value, name);
}

/** Name of an errno value ("EEXIST"), or "E<number>" when Node does not know it; the sign is ignored (Node's own errors carry it negative). */
export function errnoName(errno: number): string {
  return names.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

/** strerror(3)'s text for an errno, or undefined for one outside the common set. */
export function strerror(errno: number): string | undefined {
  return STRERROR[errnoName(errno)];
}

/** strerror(3)'s text for an errno, "system error" for an uncommon one. */
export function errnoText(errno: number): string {
  return strerror(errno) ?? 'system error';
}

// glibc's wording of the errors netlink requests and file checks commonly end with (libuv's differs for some).
const STRERROR: Record<string, string> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  ESRCH: 'No such process',
  EINTR: 'Interrupted system call',
  EIO: 'Input/output error',
  EBADF: 'Bad file descriptor',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  ENODEV: 'No such device',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EINVAL: 'Invalid argument',
  EMFILE: 'Too many open files',
  EFBIG: 'File too large',
  ENOSPC: 'No space left on device',
  ERANGE: 'Numerical result out of range',
  ENAMETOOLONG: 'File name too long',
  ELOOP: 'Too many levels of symbolic links',
  EMSGSIZE: 'Message too long',
  EPROTO: 'Protocol error',
  EOPNOTSUPP: 'Operation not supported',
  EAFNOSUPPORT: 'Address family not supported by protocol',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENETDOWN: 'Network is down',
  ENETUNREACH: 'Network is unreachable',
  ENOBUFS: 'No buffer space available',
  ETIMEDOUT: 'Connection timed out',
  ECONNREFUSED: 'Connection refused',
  EHOSTUNREACH: 'No route to host',
  ECANCELED: 'Operation canceled',
  ENOTSUP: 'Operation not supported',
  EPROTONOSUPPORT: 'Protocol not supported',
  ENOTCONN: 'Transport endpoint is not connected',
};
