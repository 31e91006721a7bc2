/**
 * The daemon's side of host-key signing: one signer per handed-off
 * connection, on that worker's signing socket. What a worker may have signed
 * is checked first (`signPermit`), so that even a worker taken over by its
 * user gets no general-purpose signing oracle: only a hash of an exchange
 * hash's length, with the key's own algorithm (no SHA-1), at key-exchange
 * pace.
 */
import type net from 'node:net';
import { sendFdPatiently } from '../../mptcp/fdpass.js';
import { native } from '../../mptcp/native.js';
import type { Logger } from '../../util/logger.js';
import { encodeFrame, monitorRequestSchema, splitFrames, type SignRequest, type UserauthAnswer, type UserauthAnswersMessage, type UserauthRequestMessage } from './sign-protocol.js';
import { HOSTKEYS_PROVE, sshString } from '../wire.js';

export { HOSTKEYS_PROVE, sshString };

/** The monitor's answer to a userauth request, and the descriptors that follow it (the daemon's copies, closed once sent). */
export interface UserauthReply {
  answer: UserauthAnswer;
  fds?: number[];
}

/** Authentication on the same channel; absent, userauth requests are refused. */
export interface MonitorAuth {
  /** Decides one request; `sessionId` is the first exchange hash this channel signed. */
  userauth(req: UserauthRequestMessage, sessionId: Buffer | undefined): Promise<UserauthReply>;
  /** keyboard-interactive: the client's answers to the prompt last sent. */
  answers(req: UserauthAnswersMessage): Promise<UserauthReply>;
  /** The channel closed: whatever the login had started ends. */
  close?(): void;
}

/** What the daemon signs with (ssh2's parsed private key has this shape). */
export interface SigningKey {
  type: string;
  sign(data: Buffer, hash?: string): Buffer | Error;
  /** The public key blob (what the worker was given, base64-decoded). */
  getPublicSSH(): Buffer;
}

/** Proofs one connection may ask for: one per host key and a few clients' worth of retries. */
export const PROVE_MAX_PER_CONNECTION = 32;


/**
 * Whether `data` is exactly the statement a proof signs for this
 * connection: string(HOSTKEYS_PROVE) || string(session id) || string(that
 * key's blob). Pure.
 */
export function isHostKeyProof(data: Buffer, sessionId: Buffer | undefined, blob: Buffer): boolean {
  if (sessionId === undefined) return false;
  return data.equals(Buffer.concat([sshString(HOSTKEYS_PROVE), sshString(sessionId), sshString(blob)]));
}

/** Exchange-hash lengths of the offered key exchanges: SHA-256, SHA-384, SHA-512. */
export const EXCHANGE_HASH_LENGTHS: readonly number[] = [32, 48, 64];
/**
 * Pace of signatures: a few at once (the first key exchange, and a client
 * such as paramiko may rekey right after), then one every two seconds; a
 * client's rekeys come minutes or gigabytes apart.
 */
export const SIGN_BURST = 4;
export const SIGN_MIN_INTERVAL_MS = 2000;
/** Signatures one connection may ever get (its first key exchange plus rekeys). */
export const SIGN_MAX_PER_CONNECTION = 10_000;
/** Refused requests after which the signing channel is closed. */
export const SIGN_MAX_REFUSALS = 3;

export interface SignerState {
  signed: number;
  /** The first exchange hash signed: the connection's session id, which proofs must name. */
  sessionId?: Buffer;
  proofs?: number;
  /** Signatures that may be made now (a token bucket), as of `at`. */
  tokens: number;
  at: number;
}

/** A connection's signer before its first request. */
export function freshSigner(now: number): SignerState {
  return { signed: 0, tokens: SIGN_BURST, at: now };
}

export type SignVerdict = { ok: true; state: SignerState } | { ok: false; reason: string; state: SignerState };

/** Decides whether one signing request is allowed; pure. */
export function signPermit(state: SignerState, req: { keyType: string | undefined; hash: SignRequest['hash']; dataLength: number }, now: number): SignVerdict {
  const no = (reason: string): SignVerdict => ({ ok: false, reason, state });
  if (req.keyType === undefined) return no('no such host key');
  if (!EXCHANGE_HASH_LENGTHS.includes(req.dataLength)) return no(`${req.dataLength} bytes is not the length of an exchange hash`);
  if (req.keyType === 'ssh-rsa' ? req.hash === null : req.hash !== null) {
    return no(req.keyType === 'ssh-rsa' ? 'RSA signatures with SHA-1 are not made' : `${req.keyType} keys sign with their own hash`);
  }
  if (state.signed >= SIGN_MAX_PER_CONNECTION) return no('signature limit of the connection reached');
  const tokens = Math.min(SIGN_BURST, state.tokens + Math.max(0, now - state.at) / SIGN_MIN_INTERVAL_MS);
  if (tokens < 1) return no('signing requests faster than key exchanges');
  return { ok: true, state: { signed: state.signed + 1, tokens: tokens - 1, at: now } };
}

/**
 * Answers the worker's requests on `sock` until the socket closes: host-key
 * signatures with `keys` (in the order the worker was handed their public
 * halves), and authentication through `auth`. One request at a time, in order.
 */
export function serveSigner(sock: net.Socket, keys: readonly SigningKey[], log: Logger, now: () => number = Date.now, auth?: MonitorAuth): { close(): void } {
  let state: SignerState = freshSigner(now());
  let refusals = 0;
  let buf: Buffer = Buffer.alloc(0);
  let queue: Promise<void> = Promise.resolve();
  /** The last answer told the worker to end its connection. */
  let ended = false;
  const refuse = (reason: string): void => {
    refusals++;
    log.warn({ event: 'sign-refused', reason }, `request of the SSH worker refused: ${reason}`);
    sock.write(encodeFrame({ error: reason }));
    if (refusals >= SIGN_MAX_REFUSALS) {
      log.warn('SSH worker keeps asking for what it may not have, closing its monitor channel');
      sock.destroy();
    }
  };
  const answer = async (body: Buffer): Promise<void> => {
    let raw: unknown;
    try {
      raw = JSON.parse(body.toString('utf8'));
    } catch {
      refuse('request is not JSON');
      return;
    }
    const parsed = monitorRequestSchema.safeParse(raw);
    if (!parsed.success) {
      refuse('malformed request');
      return;
    }
    const req = parsed.data;
    if (req.op === 'userauth' || req.op === 'userauth-answers') {
      if (auth === undefined) return refuse('authentication is not served here');
      if (ended) {
        log.warn('SSH worker asked again after its connection was told to end, closing its monitor channel');
        sock.destroy();
        return;
      }
      const reply = req.op === 'userauth' ? await auth.userauth(req, state.sessionId) : await auth.answers(req);
      // The connection ends here (MaxAuthTries, an account refused): nothing more is answered.
      if (reply.answer.auth === 'disconnect') ended = true;
      await sendReply(sock, reply, log);
      return;
    }
    const data = Buffer.from(req.data, 'base64');
    const key = keys[req.key];
    if (req.op === 'prove') {
      prove(req, data, key);
      return;
    }
    const verdict = signPermit(state, { keyType: key?.type, hash: req.hash, dataLength: data.length }, now());
    if (!verdict.ok || key === undefined) {
      refuse(verdict.ok ? 'no such host key' : verdict.reason);
      return;
    }
    state = { ...verdict.state, sessionId: state.sessionId ?? data };
    const sig = key.sign(data, req.hash ?? undefined);
    if (sig instanceof Error) {
      log.error({ err: sig.message, type: key.type }, 'signing with the host key failed');
      sock.write(encodeFrame({ error: 'signing failed' }));
      return;
    }
    sock.write(encodeFrame({ sig: Buffer.from(sig).toString('base64') }));
  };
  // A host-key proof (OpenSSH's UpdateHostKeys): only the exact statement for this session and that key.
  const prove = (req: SignRequest, data: Buffer, key: SigningKey | undefined): void => {
    if (key === undefined) return refuse('no such host key');
    if ((state.proofs ?? 0) >= PROVE_MAX_PER_CONNECTION) return refuse('host-key proof limit of the connection reached');
    if (!isHostKeyProof(data, state.sessionId, key.getPublicSSH())) return refuse('not a host-key proof for this session');
    if (key.type === 'ssh-rsa' ? req.hash === null : req.hash !== null) return refuse('wrong hash for the key');
    state = { ...state, proofs: (state.proofs ?? 0) + 1 };
    const sig = key.sign(data, req.hash ?? undefined);
    sock.write(encodeFrame(sig instanceof Error ? { error: 'signing failed' } : { sig: Buffer.from(sig).toString('base64') }));
  };
  // A worker asks, then blocks until the answer (worker-auth.ts,
  // remote-host-key.ts): a second request before the answer is not a worker
  // following the protocol. Reading stops from a request until its answer
  // has left this process, so that a worker that writes and never reads
  // fills its own socket, not the daemon's memory.
  let busy = false;
  sock.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    const split = splitFrames(buf);
    if ('error' in split) {
      log.warn({ why: split.error }, 'SSH worker sent an oversized request, closing its monitor channel');
      sock.destroy();
      return;
    }
    buf = split.rest;
    if (split.frames.length === 0) return;
    if (busy || split.frames.length > 1) {
      log.warn('SSH worker sent a request before the answer to its last, closing its monitor channel');
      sock.destroy();
      return;
    }
    busy = true;
    sock.pause();
    const f = split.frames[0] as Buffer;
    queue = queue
      .then(async () => {
        if (sock.destroyed) return;
        await answer(f);
        await drained(sock, ANSWER_PATIENCE_MS);
        busy = false;
        if (!sock.destroyed) sock.resume();
      })
      .catch((err: unknown) => {
        log.warn({ err }, 'monitor request failed, closing the channel');
        sock.destroy();
      });
  });
  sock.on('error', () => {});
  sock.on('close', () => auth?.close?.());
  return {
    close() {
      sock.destroy();
    },
  };
}

/** How long a worker may leave its monitor channel full before it is given up on. */
const FD_PASS_PATIENCE_MS = 2000;
/** How long an answer may wait for the worker to read it; a worker reads it at once. */
const ANSWER_PATIENCE_MS = 10_000;

/**
 * Resolves once everything written to `sock` has left this process; rejects
 * when the socket closes first or `patienceMs` runs out, so that no caller
 * waits for ever on a worker that went away or stopped reading.
 */
export function drained(sock: net.Socket, patienceMs: number): Promise<void> {
  if (sock.destroyed) return Promise.reject(new Error('monitor channel closed'));
  if (sock.writableLength === 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      sock.off('drain', onDrain);
      sock.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('monitor channel closed'));
    const timer = setTimeout(() => done(new Error('the SSH worker does not read its monitor channel')), patienceMs);
    sock.once('drain', onDrain);
    sock.once('close', onClose);
  });
}

/** Writes the answer, then (once it has left this process) the descriptors it announces; closes our copies either way. */
async function sendReply(sock: net.Socket, reply: UserauthReply, log: Logger): Promise<void> {
  const fds = reply.fds ?? [];
  try {
    if (sock.destroyed) return;
    sock.write(encodeFrame(reply.answer));
    if (fds.length === 0) return;
    await drained(sock, FD_PASS_PATIENCE_MS);
    const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (fd === undefined || fd < 0) throw new Error('monitor channel has no descriptor');
    // The worker reads them right after the answer, so the socket pair is
    // rarely full; when it is, wait without blocking the daemon's loop: a
    // worker that stops reading must not stall everyone else's sessions.
    for (const f of fds) await sendFdPatiently(fd, f, FD_PASS_PATIENCE_MS);
  } catch (err) {
    log.warn({ err }, 'could not pass the user side to the SSH worker, closing its monitor channel');
    sock.destroy();
  } finally {
    for (const f of fds) native().closeFd(f);
  }
}
