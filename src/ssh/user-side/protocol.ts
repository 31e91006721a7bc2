/**
 * The wire format between a worker and its user-side helper
 * (native/src/user_helper.h): frames of a 4-byte big-endian length and
 * NUL-terminated fields. Requests are `<id> <op> <fields...>`; the helper
 * answers `<id> ok <n descriptors> <values...>` or `<id> error <code>
 * <errno> <syscall> <message>`, and reports `0 exit <pid> code|signal <n>`.
 * Pure.
 */

/** The helper's limit for a request frame. */
export const MAX_REQUEST_FRAME = 1024 * 1024;
/** Replies are short; anything longer means the helper is not one. */
export const MAX_REPLY_FRAME = 64 * 1024;

export class UserSideError extends Error {
  override readonly name = 'UserSideError';
  constructor(
    readonly code: string,
    message: string,
    readonly errno?: number,
    readonly syscall?: string,
  ) {
    super(message);
  }
}

/** Encodes one request; throws UserSideError for a field with a NUL or a frame that is too long. */
export function encodeRequest(id: number, op: string, fields: readonly string[]): Buffer {
  const parts = [String(id), op, ...fields];
  for (const p of parts) {
    if (p.includes('\0')) throw new UserSideError('EINVAL', `${op}: a field contains a NUL byte`);
  }
  const body = Buffer.from(parts.map((p) => `${p}\0`).join(''), 'utf8');
  if (body.length > MAX_REQUEST_FRAME) throw new UserSideError('E2BIG', `${op}: request of ${body.length} bytes is too long`);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

export type HelperMessage =
  | { kind: 'ok'; id: number; fds: number; values: string[] }
  | { kind: 'error'; id: number; error: UserSideError }
  | { kind: 'exit'; pid: number; code: number | null; signal: number | null };

/**
 * Splits a byte stream into messages. Throws UserSideError on anything a
 * helper never sends; the caller then stops talking to it.
 */
export class MessageReader {
  private buf: Buffer = Buffer.alloc(0);

  /** Adds bytes; returns the messages now complete, in order. */
  push(chunk: Buffer): HelperMessage[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: HelperMessage[] = [];
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len === 0 || len > MAX_REPLY_FRAME) throw new UserSideError('EPROTO', `bad frame length ${len} from the user-side helper`);
      if (this.buf.length < 4 + len) break;
      out.push(decodeMessage(this.buf.subarray(4, 4 + len)));
      this.buf = this.buf.subarray(4 + len);
    }
    return out;
  }
}

function decodeMessage(body: Buffer): HelperMessage {
  if (body[body.length - 1] !== 0) throw new UserSideError('EPROTO', 'unterminated field from the user-side helper');
  const f = body.subarray(0, body.length - 1).toString('utf8').split('\0');
  const id = decimal(f[0], 0, 0x7fffffff);
  if (f[1] === 'ok' && f.length >= 3) return { kind: 'ok', id, fds: decimal(f[2], 0, 3), values: f.slice(3) };
  if (f[1] === 'error' && f.length === 6) {
    const errno = decimal(f[3], 0, 4095);
    return { kind: 'error', id, error: new UserSideError(f[2] as string, f[5] as string, errno === 0 ? undefined : errno, f[4]) };
  }
  if (f[1] === 'exit' && id === 0 && f.length === 5) {
    const pid = decimal(f[2], 1, 0x7fffffff);
    const value = decimal(f[4], 0, 255);
    if (f[3] === 'code') return { kind: 'exit', pid, code: value, signal: null };
    if (f[3] === 'signal') return { kind: 'exit', pid, code: null, signal: value };
  }
  throw new UserSideError('EPROTO', `unexpected message from the user-side helper: ${JSON.stringify(f.slice(0, 2))}`);
}

function decimal(s: string | undefined, min: number, max: number): number {
  const n = s !== undefined && /^(0|[1-9][0-9]{0,9})$/.test(s) ? Number(s) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new UserSideError('EPROTO', `bad number ${JSON.stringify(s)} from the user-side helper`);
  return n;
}
