/**
 * The framing of the monitor channel (see sign-protocol.ts for its
 * messages): a 4-byte big-endian length, then UTF-8 JSON. Kept apart from
 * the message schemas, which only the daemon uses (it checks what a worker
 * sends; a worker takes the root daemon's answers as they are): a worker
 * never loads the schema library.
 */

/** Longest frame either side accepts (an RSA-16384 signature in base64 stays far below). */
export const MAX_SIGN_FRAME = 16 * 1024;

/** The worker's end of the signing socket pair. */
export const SIGNER_FD = 4;

/** Longest answer to a userauth request (key options can be long). */
export const MAX_AUTH_ANSWER = 1024 * 1024;

/** One length-prefixed frame. */
export function encodeFrame(msg: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(msg), 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

/**
 * Splits complete frames off the front of `buf`. Returns the bodies and what
 * remains, or an error for a frame longer than MAX_SIGN_FRAME.
 */
export function splitFrames(buf: Buffer): { frames: Buffer[]; rest: Buffer } | { error: string } {
  const frames: Buffer[] = [];
  let off = 0;
  while (buf.length - off >= 4) {
    const len = buf.readUInt32BE(off);
    if (len > MAX_SIGN_FRAME) return { error: `frame of ${len} bytes exceeds ${MAX_SIGN_FRAME}` };
    if (buf.length - off - 4 < len) break;
    frames.push(buf.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return { frames, rest: buf.subarray(off) };
}
