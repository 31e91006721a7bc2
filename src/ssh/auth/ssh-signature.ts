/**
 * SSH signatures (RFC 4253 §6.6, RFC 5656 §3.1.2, RFC 8332, RFC 8709)
 * checked with node's crypto against a plain public key blob: the CA's
 * signature over a certificate and a user's signature made with a
 * certificate's key. The signature is in its wire form (string algorithm,
 * string blob); nothing here throws on the bytes it is given.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/** Verdict of one signature check; `algorithm` is the name inside the signature. */
export type SignatureCheck = { ok: true; algorithm: string } | { ok: false; reason: string; algorithm?: string };

/** Field size in bytes of each ECDSA curve (r and s are padded to it for node's P1363 form). */
const EC_CURVES: Record<string, { jwk: string; size: number; hash: string }> = {
  nistp256: { jwk: 'P-256', size: 32, hash: 'sha256' },
  nistp384: { jwk: 'P-384', size: 48, hash: 'sha384' },
  nistp521: { jwk: 'P-521', size: 66, hash: 'sha512' },
};

/** RSA signature names and their hashes; ssh-rsa (SHA-1) is told apart so callers can refuse it. */
const RSA_HASHES: Record<string, string> = { 'rsa-sha2-256': 'sha256', 'rsa-sha2-512': 'sha512', 'ssh-rsa': 'sha1' };

/** Splits wire data into its length-prefixed strings; null when a length runs past the end. */
export function wireStrings(buf: Buffer, count: number): { parts: Buffer[]; rest: Buffer } | null {
  const parts: Buffer[] = [];
  let off = 0;
  for (let i = 0; i < count; i++) {
    if (buf.length - off < 4) return null;
    const len = buf.readUInt32BE(off);
    if (len > buf.length - off - 4) return null;
    parts.push(buf.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return { parts, rest: buf.subarray(off) };
}

function unsigned(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/** A node KeyObject for a plain (canonical) public key blob: ssh-ed25519, ecdsa-sha2-*, ssh-rsa. */
export function keyObjectOf(blob: Buffer): { type: string; key: KeyObject; rsaBytes?: number; curve?: string } | null {
  const head = wireStrings(blob, 1);
  if (head === null) return null;
  const type = head.parts[0]!.toString('latin1');
  try {
    if (type === 'ssh-ed25519') {
      const f = wireStrings(blob, 2);
      if (f === null || f.parts[1]!.length !== 32) return null;
      return { type, key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: f.parts[1]!.toString('base64url') }, format: 'jwk' }) };
    }
    if (type.startsWith('ecdsa-sha2-')) {
      const f = wireStrings(blob, 3);
      const curve = f?.parts[1]!.toString('latin1') ?? '';
      const c = EC_CURVES[curve];
      if (f === null || c === undefined || `ecdsa-sha2-${curve}` !== type) return null;
      const q = f.parts[2]!;
      if (q.length !== 1 + 2 * c.size || q[0] !== 4) return null;
      const jwk = { kty: 'EC', crv: c.jwk, x: q.subarray(1, 1 + c.size).toString('base64url'), y: q.subarray(1 + c.size).toString('base64url') };
      return { type, key: createPublicKey({ key: jwk, format: 'jwk' }), curve };
    }
    if (type === 'ssh-rsa') {
      const f = wireStrings(blob, 3);
      if (f === null) return null;
      const n = unsigned(f.parts[2]!);
      const jwk = { kty: 'RSA', e: unsigned(f.parts[1]!).toString('base64url'), n: n.toString('base64url') };
      return { type, key: createPublicKey({ key: jwk, format: 'jwk' }), rsaBytes: n.length };
    }
  } catch {
    return null;
  }
  return null;
}

/** The signature algorithms a key of `type` can make. */
export function signatureNamesFor(type: string): string[] {
  if (type === 'ssh-rsa') return Object.keys(RSA_HASHES);
  return [type];
}

/**
 * Checks `signature` (wire form) over `data` with the plain public key
 * `keyBlob`. The name inside the signature must be one the key can make;
 * whether that name is acceptable (SHA-1 RSA, the algorithm the client
 * announced) is the caller's decision, made from `algorithm`.
 */
export function verifySshSignature(keyBlob: Buffer, signature: Buffer, data: Buffer): SignatureCheck {
  const key = keyObjectOf(keyBlob);
  if (key === null) return { ok: false, reason: 'signature key is malformed or of an unsupported type' };
  const sig = wireStrings(signature, 2);
  if (sig === null || sig.rest.length !== 0) return { ok: false, reason: 'signature is malformed' };
  const algorithm = sig.parts[0]!.toString('latin1');
  const raw = sig.parts[1]!;
  if (!signatureNamesFor(key.type).includes(algorithm)) return { ok: false, reason: `signature algorithm ${algorithm.slice(0, 64)} does not fit a ${key.type} key`, algorithm };
  let good = false;
  try {
    if (key.type === 'ssh-ed25519') {
      good = raw.length === 64 && verify(null, data, key.key, raw);
    } else if (key.curve !== undefined) {
      const c = EC_CURVES[key.curve]!;
      const rs = wireStrings(raw, 2);
      if (rs === null || rs.rest.length !== 0) return { ok: false, reason: 'ECDSA signature is malformed', algorithm };
      const r = unsigned(rs.parts[0]!);
      const s = unsigned(rs.parts[1]!);
      if (r.length > c.size || s.length > c.size) return { ok: false, reason: 'ECDSA signature is malformed', algorithm };
      const p1363 = Buffer.alloc(2 * c.size);
      r.copy(p1363, c.size - r.length);
      s.copy(p1363, 2 * c.size - s.length);
      good = verify(c.hash, data, { key: key.key, dsaEncoding: 'ieee-p1363' }, p1363);
    } else {
      const bytes = key.rsaBytes ?? 0;
      if (raw.length > bytes) return { ok: false, reason: 'RSA signature is longer than the modulus', algorithm };
      // OpenSSH accepts a signature with its leading zero bytes dropped; OpenSSL wants the full length.
      const padded = Buffer.alloc(bytes);
      raw.copy(padded, bytes - raw.length);
      good = verify(RSA_HASHES[algorithm]!, data, key.key, padded);
    }
  } catch {
    good = false;
  }
  return good ? { ok: true, algorithm } : { ok: false, reason: 'incorrect signature', algorithm };
}
