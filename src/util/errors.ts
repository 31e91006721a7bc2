/**
 * mpssh's own errors: one class and one closed list of stable codes, so that
 * callers branch on `code`, never on message text. The status API answers with
 * these codes (src/api/errors.ts maps each to its HTTP status); the command
 * lines map `usage` to exit status 2.
 *
 * Failures of system calls and refusals of the kernel are not MpsshError: they
 * keep the shape of Node's system errors (errno, code "EEXIST", syscall), as
 * NetlinkError and the addon's errors do; util/errno.ts names the errnos.
 */

/** Every code, with what it means. */
export const ERROR_CODES = {
  usage: 'a command-line mistake; the command prints its usage and exits with status 2',
  'config-invalid': 'a configuration that cannot be used: at start, with -t, or refused on reload',
  'host-key': 'a host key file that cannot be read or is not a usable private key',
  'bad-request': 'a request that is invalid before it reaches the daemon or the kernel',
  forbidden: 'a change asked for where changes are not accepted (the API off its control socket)',
  'not-found': 'no such endpoint, session, connection or route',
  conflict: 'the object belongs to another path manager; mpsshd does not change it',
  'in-use': 'a socket path taken by a running program or by a file that is not a socket; left alone',
  'payload-too-large': 'an API request body over the size limit',
  'unsupported-media-type': 'an API request body that is not JSON',
  kernel: 'the kernel refused a change or did not do what it acknowledged',
  unavailable: 'cannot be answered now: the path manager is stopped, the mptcp_pm family is absent, files are missing',
  closed: 'the object was closed before or while it was asked',
  internal: 'a bug; the details go to the log, not to clients',
} as const;

/** A stable error code; see ERROR_CODES. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** An expected failure with its stable code and, optionally, details for the log. */
export class MpsshError extends Error {
  override readonly name = 'MpsshError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Readonly<Record<string, unknown>>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True when `err` is an MpsshError, with one of `codes` when any are given. */
export function isMpsshError(err: unknown, ...codes: ErrorCode[]): err is MpsshError {
  return err instanceof MpsshError && (codes.length === 0 || codes.includes(err.code));
}
