/**
 * The host-key signing channel between an SSH worker and the root daemon.
 * Workers never hold a host private key (a worker runs as the user after the
 * privilege drop, and parses network input before it); the daemon signs the
 * key-exchange hash for them, as sshd's monitor does for its children.
 *
 * Frames on a dedicated socket pair: a 4-byte big-endian length, then UTF-8
 * JSON. One request, one answer, in order.
 */
import { z } from 'zod';

/** Longest frame either side accepts (an RSA-16384 signature in base64 stays far below). */
export const MAX_SIGN_FRAME = 16 * 1024;

/** The worker's end of the signing socket pair. */
export const SIGNER_FD = 4;

export const signRequestSchema = z.object({
  /** sign: an exchange hash; prove: a hostkeys-prove-00@openssh.com statement. */
  op: z.enum(['sign', 'prove']),
  /** Index into the public keys the worker was handed. */
  key: z.number().int().min(0).max(15),
  /** ssh2's hash override: sha256/sha512 for rsa-sha2-*, null for the key's own. */
  hash: z.enum(['sha256', 'sha512']).nullable(),
  /** The exchange hash H, base64. */
  data: z.string().max(8192),
});
export type SignRequest = z.infer<typeof signRequestSchema>;

export const signAnswerSchema = z.union([z.object({ sig: z.string().max(MAX_SIGN_FRAME) }), z.object({ error: z.string().max(200) })]);
export type SignAnswer = z.infer<typeof signAnswerSchema>;

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
