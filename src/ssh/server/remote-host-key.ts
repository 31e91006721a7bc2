/**
 * Host keys as an SSH worker holds them: the public half only, with a
 * `sign()` that asks the root daemon over the signing socket. ssh2 takes
 * them as if they were parsed private keys; its key exchange signs the
 * exchange hash synchronously, so the request blocks this process (one
 * connection per worker) for the daemon's answer, well under a millisecond.
 */
import ssh2 from 'ssh2';
import { readExactly, writeAll } from '../../util/blocking-io.js';
import { encodeFrame, MAX_SIGN_FRAME } from './monitor-frames.js';
import type { SignAnswer } from './sign-protocol.js';

/** Asks the daemon on `fd` to sign `data` with key number `index`; an Error (never thrown) on refusal. */
export function requestSignature(fd: number, index: number, data: Buffer, hash: string | undefined, op: 'sign' | 'prove' = 'sign'): Buffer | Error {
  try {
    writeAll(fd, encodeFrame({ op, key: index, hash: hash ?? null, data: data.toString('base64') }));
    const len = readExactly(fd, 4, 'the daemon').readUInt32BE(0);
    if (len > MAX_SIGN_FRAME) return new Error(`signing answer of ${len} bytes`);
    const answer = JSON.parse(readExactly(fd, len, 'the daemon').toString('utf8')) as SignAnswer;
    if ('error' in answer) return new Error(`the daemon refused to sign: ${String(answer.error)}`);
    return typeof answer.sig === 'string' ? Buffer.from(answer.sig, 'base64') : new Error('malformed signing answer');
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * ssh2-compatible host keys from OpenSSH public key lines (`type base64`),
 * signing through the daemon on `fd`. ssh2 accepts an already parsed key;
 * these inherit everything from the parsed public key but claim to be
 * private and sign remotely.
 */
export function remoteHostKeys(publicLines: readonly string[], fd: number): object[] {
  return publicLines.map((line, index) => {
    const parsed = ssh2.utils.parseKey(line);
    const pub = Array.isArray(parsed) ? parsed[0] : parsed;
    if (pub === undefined || pub instanceof Error) throw new Error(`host key ${index}: cannot parse its public half`);
    return Object.create(pub, {
      isPrivateKey: { value: () => true },
      // ssh2 only checks that this is not null; the key itself stays with the daemon.
      getPrivatePEM: { value: () => '(held by mpsshd)' },
      sign: { value: (data: Buffer, hash?: string) => requestSignature(fd, index, data, hash) },
    }) as object;
  });
}
