/** Pieces of the SSH wire format (RFC 4251) that both the daemon and a worker build. */

/** The request name of OpenSSH's host-key proof (PROTOCOL, "hostkeys-prove-00@openssh.com"). */
export const HOSTKEYS_PROVE = 'hostkeys-prove-00@openssh.com';

/** SSH string encoding: a 4-byte big-endian length, then the bytes. */
export function sshString(b: Buffer | string): Buffer {
  const body = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}
