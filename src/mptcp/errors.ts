/**
 * Errors of the MPTCP socket layer. System-call failures keep the shape of
 * Node's own system errors (errno, code, syscall) so that callers branch on
 * `err.code` whether the failure came from the addon or from libuv.
 */

/** An error carrying a stable `code` and, for system calls, errno and syscall. */
export class MptcpSocketError extends Error {
  override readonly name = 'MptcpSocketError';
  readonly code: string;
  readonly errno?: number;
  readonly syscall?: string;
  readonly address?: string;
  readonly port?: number;

  constructor(code: string, message: string, extra: { errno?: number; syscall?: string; address?: string; port?: number; cause?: unknown } = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.code = code;
    if (extra.errno !== undefined) this.errno = extra.errno;
    if (extra.syscall !== undefined) this.syscall = extra.syscall;
    if (extra.address !== undefined) this.address = extra.address;
    if (extra.port !== undefined) this.port = extra.port;
  }
}

/** The fields a system error has, whether Node's or the addon's. */
export interface SystemErrorLike extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
}

/** True when `err` is an Error whose `code` is one of `codes`. */
export function hasCode(err: unknown, ...codes: string[]): err is SystemErrorLike {
  return err instanceof Error && typeof (err as SystemErrorLike).code === 'string' && codes.includes((err as SystemErrorLike).code as string);
}
