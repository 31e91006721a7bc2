/**
 * The worker's side of authentication: every userauth request goes to the
 * root daemon on the monitor channel, which decides it (authenticator.ts).
 * The worker blocks for the answer, as it does for a host-key signature: it
 * serves one connection, which has nothing else to do before it is logged
 * in. After a login the daemon passes the user's side on the same channel.
 * keyboard-interactive is a sequence on it: the answer to a request may be
 * a prompt, whose answers the worker sends as the next request.
 */
import type { AuthContext } from 'ssh2';
import { receiveFd, waitReadable } from '../../mptcp/fdpass.js';
import { readExactly, writeAll } from '../../util/blocking-io.js';
import { encodeFrame, MAX_AUTH_ANSWER } from './monitor-frames.js';
import type { UserauthAnswer, UserauthAnswersMessage, UserauthRequestMessage } from './sign-protocol.js';

/** The algorithm the client names (ssh2 reports rsa-sha2-* as ssh-rsa plus a hash). */
export function signatureAlgorithm(ctx: { key: { algo: string }; hashAlgo?: string | undefined }): string {
  if (ctx.key.algo !== 'ssh-rsa') return ctx.key.algo;
  return ctx.hashAlgo === 'sha256' ? 'rsa-sha2-256' : ctx.hashAlgo === 'sha512' ? 'rsa-sha2-512' : 'ssh-rsa';
}

/** The relayed request: only what the client sent. */
export function userauthMessage(ctx: AuthContext): UserauthRequestMessage {
  const msg: UserauthRequestMessage = { op: 'userauth', user: ctx.username, service: ctx.service, method: ctx.method };
  if (ctx.method === 'publickey') {
    msg.key = { algo: signatureAlgorithm(ctx), blob: ctx.key.data.toString('base64') };
    if (ctx.signature !== undefined) msg.sig = ctx.signature.toString('base64');
  } else if (ctx.method === 'password') {
    // Bounded as the monitor channel bounds it; longer is not a password anyone types.
    msg.password = ctx.password.slice(0, 1024);
  }
  return msg;
}

/**
 * Asks the daemon on `fd`; a success carries the descriptors that followed
 * it. Throws when the channel fails, or when no answer came before
 * `deadline` (LoginGraceTime: a PAM module that hangs must not hold the
 * connection past it).
 */
export function requestUserauth(fd: number, msg: UserauthRequestMessage | UserauthAnswersMessage, deadline?: number): { answer: UserauthAnswer; fds: number[] } {
  writeAll(fd, encodeFrame(msg));
  if (deadline !== undefined && !waitReadable(fd, Math.max(0, Math.ceil(deadline - Date.now())))) throw new Error('no answer within LoginGraceTime');
  const len = readExactly(fd, 4, 'the daemon').readUInt32BE(0);
  if (len > MAX_AUTH_ANSWER) throw new Error(`authentication answer of ${len} bytes`);
  // The daemon (root) is trusted: its answer is taken as it is. A refusal of
  // the request itself ({error}) counts as a failed attempt.
  const answer = JSON.parse(readExactly(fd, len, 'the daemon').toString('utf8')) as UserauthAnswer | { error: string };
  if (!('auth' in answer) || typeof answer.auth !== 'string') return { answer: { auth: 'failure' }, fds: [] };
  const fds: number[] = [];
  if (answer.auth === 'success') for (let i = 0; i < Math.min(2, answer.fds); i++) fds.push(receiveFd(fd, { timeoutMs: 5000 }));
  return { answer, fds };
}
