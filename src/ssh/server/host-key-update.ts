/**
 * OpenSSH's host-key rotation (PROTOCOL: hostkeys-00@openssh.com,
 * hostkeys-prove-00@openssh.com): after login the server lists all its host
 * keys; a client with UpdateHostKeys asks it to prove the ones it does not
 * know yet, and adds them to known_hosts. The proofs are signed by the
 * daemon like the key exchange, which checks that each is exactly the
 * statement for this session and that key.
 */
import type { Connection } from 'ssh2';
import { HOSTKEYS_PROVE, sshString } from '../wire.js';
import { requestSignature } from './remote-host-key.js';
import { sendGlobalRequest, sessionIdOf, toSshSignature } from '../ssh2-internals.js';

/** A served host key: its index at the daemon, its type and public blob. */
export interface ServedKey {
  index: number;
  type: string;
  blob: Buffer;
}

/** The strings of an SSH payload; undefined when it does not parse as strings only. */
export function readStrings(buf: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < 4) return undefined;
    const len = buf.readUInt32BE(off);
    if (len > buf.length - off - 4) return undefined;
    out.push(buf.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}

/** Lists the host keys to the client and answers its requests for proof. */
export function serveHostKeyUpdates(client: Connection, keys: readonly ServedKey[], signerFd: number, log: { debug(o: object, m: string): void }): void {
  client.on('request', (accept, reject, name, info) => {
    if ((name as string) !== HOSTKEYS_PROVE) return;
    const blobs = Buffer.isBuffer(info) ? readStrings(info) : undefined;
    const sid = sessionIdOf(client);
    const proofs: Buffer[] = [];
    for (const blob of blobs ?? []) {
      const key = keys.find((k) => k.blob.equals(blob));
      if (key === undefined || sid === undefined) break;
      const algorithm = key.type === 'ssh-rsa' ? 'rsa-sha2-512' : key.type;
      const statement = Buffer.concat([sshString(HOSTKEYS_PROVE), sshString(sid), sshString(blob)]);
      const sig = requestSignature(signerFd, key.index, statement, key.type === 'ssh-rsa' ? 'sha512' : undefined, 'prove');
      const wire = sig instanceof Error ? undefined : toSshSignature(sig, key.type);
      if (wire === undefined) break;
      proofs.push(sshString(Buffer.concat([sshString(algorithm), sshString(wire)])));
    }
    if (blobs === undefined || blobs.length === 0 || proofs.length !== blobs.length) {
      log.debug({ asked: blobs?.length ?? 0 }, 'host-key proof refused');
      reject?.();
      return;
    }
    (accept as unknown as (data: Buffer) => void)(Buffer.concat(proofs));
  });
  sendGlobalRequest(client, 'hostkeys-00@openssh.com', Buffer.concat(keys.map((k) => sshString(k.blob))));
}
