/**
 * The monitor channel between an SSH worker and the root daemon, as between
 * sshd's unprivileged child and its monitor. The worker runs as an
 * unprivileged user and holds no secret: the daemon signs the key-exchange
 * hash for it, and decides every authentication request itself, verifying
 * the client's signature against the session id it signed. After a login,
 * the daemon passes the descriptors of the user's side (see user-side/) on
 * this channel.
 *
 * Frames on a dedicated socket pair: a 4-byte big-endian length, then UTF-8
 * JSON. One request, one answer, in order; descriptors follow the answer
 * that announces them, one NUL byte each (SCM_RIGHTS).
 */
import { z } from 'zod';
import { MAX_AUTH_ANSWER, MAX_SIGN_FRAME, SIGNER_FD, encodeFrame, splitFrames } from './monitor-frames.js';

export { MAX_AUTH_ANSWER, MAX_SIGN_FRAME, SIGNER_FD, encodeFrame, splitFrames };



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

/** An SSH_MSG_USERAUTH_REQUEST as the worker's ssh2 parsed it; only the fields the monitor rebuilds the signed data from. */
export const userauthRequestSchema = z.object({
  op: z.literal('userauth'),
  user: z.string().max(1024),
  service: z.string().max(256),
  method: z.string().max(64),
  /** publickey: the algorithm name as the client sent it (rsa-sha2-256, not ssh-rsa) and the key blob, base64. */
  key: z.object({ algo: z.string().max(128), blob: z.string().max(16384) }).optional(),
  /** The signature in the form ssh2 verifies (ASN.1 for ECDSA), base64; absent for a query. */
  sig: z.string().max(16384).optional(),
  /** password: what the client typed (never logged). */
  password: z.string().max(1024).optional(),
});
export type UserauthRequestMessage = z.infer<typeof userauthRequestSchema>;

/** keyboard-interactive: the client's answers to the last prompt (SSH_MSG_USERAUTH_INFO_RESPONSE; never logged). */
export const userauthAnswersSchema = z.object({
  op: z.literal('userauth-answers'),
  answers: z.array(z.string().max(1024)).max(16),
});
export type UserauthAnswersMessage = z.infer<typeof userauthAnswersSchema>;

export const monitorRequestSchema = z.discriminatedUnion('op', [
  signRequestSchema.extend({ op: z.literal('sign') }),
  signRequestSchema.extend({ op: z.literal('prove') }),
  userauthRequestSchema,
  userauthAnswersSchema,
]);


/*
 * Answers go from the root daemon to its worker, which takes them as they
 * are: they are described by types, not checked against a schema.
 */

/** The account a login was accepted for, as the worker needs it for the environment and logs. */
export interface AuthAccount {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export type UserauthAnswer =
  /** `methods`: what the client may try next (SSH_MSG_USERAUTH_FAILURE's list). */
  | { auth: 'failure'; methods?: string[] }
  /** One method of several AuthenticationMethods asks for succeeded: partial success, these next. */
  | { auth: 'partial'; methods: string[] }
  /** keyboard-interactive: SSH_MSG_USERAUTH_INFO_REQUEST with these prompts; the answers come as userauth-answers. */
  | { auth: 'prompt'; name: string; instructions: string; prompts: { prompt: string; echo: boolean }[] }
  /** SSH_MSG_USERAUTH_PK_OK: the key would do, the client may sign. */
  | { auth: 'pk-ok' }
  /** MaxAuthTries reached: disconnect with this text. `fatal`: the request gets no answer first (sshd's fatal(), e.g. the PAM account stack refused). */
  | { auth: 'disconnect'; reason: string; fatal?: boolean }
  /** Logged in; `fds` descriptors (the user's side, at most 2) follow. Key options are the monitor's, trusted as they are. */
  | { auth: 'success'; account: AuthAccount; options: Record<string, unknown>; fds: number };

export type SignAnswer = { sig: string } | { error: string };

