/**
 * Public key blobs as OpenSSH reads them from authorized_keys lines and from
 * SSH_MSG_USERAUTH_REQUEST: strict base64, the RFC 4251 wire encoding of each
 * key type, the same structural checks sshkey_fromb() makes, and the SHA256
 * fingerprint `ssh-keygen -l` prints.
 *
 * Keys are compared and fingerprinted in their canonical encoding (what
 * OpenSSH re-serialises after parsing), so an RSA blob with padded integers
 * and the same key sent by a client are the same key, as they are to sshd.
 */
import { createHash, createPublicKey } from 'node:crypto';

/** Why a key blob was refused; stable codes for callers and tests. */
export type KeyBlobErrorCode =
  | 'bad-base64'
  | 'unknown-key-type'
  | 'unsupported-key-type'
  | 'key-type-mismatch'
  | 'truncated-blob'
  | 'bad-key-blob'
  | 'certificate-unsupported';

export class KeyBlobError extends Error {
  constructor(
    readonly code: KeyBlobErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'KeyBlobError';
  }
}

type Family = 'rsa' | 'ed25519' | 'ecdsa' | 'sk-ed25519' | 'sk-ecdsa';

interface KeyTypeInfo {
  family: Family;
  /** Name OpenSSH writes when it serialises a key of this family. */
  canonical: string;
  /** sshkey_type(): the short name in log lines and ssh-keygen output. */
  short: string;
  curve?: EcCurve;
  cert: boolean;
}

type EcCurve = 'nistp256' | 'nistp384' | 'nistp521';

// Names OpenSSH accepts at the start of a key line (sshkey.c keyimpls[],
// OpenSSH 10.x). Signature-only names map to their key type, as
// peek_type_nid() does: "rsa-sha2-256 AAAA..." is an RSA key to sshd.
const PLAIN: Record<string, KeyTypeInfo> = {
  'ssh-ed25519': { family: 'ed25519', canonical: 'ssh-ed25519', short: 'ED25519', cert: false },
  'sk-ssh-ed25519@openssh.com': { family: 'sk-ed25519', canonical: 'sk-ssh-ed25519@openssh.com', short: 'ED25519-SK', cert: false },
  'ecdsa-sha2-nistp256': { family: 'ecdsa', canonical: 'ecdsa-sha2-nistp256', short: 'ECDSA', curve: 'nistp256', cert: false },
  'ecdsa-sha2-nistp384': { family: 'ecdsa', canonical: 'ecdsa-sha2-nistp384', short: 'ECDSA', curve: 'nistp384', cert: false },
  'ecdsa-sha2-nistp521': { family: 'ecdsa', canonical: 'ecdsa-sha2-nistp521', short: 'ECDSA', curve: 'nistp521', cert: false },
  'sk-ecdsa-sha2-nistp256@openssh.com': { family: 'sk-ecdsa', canonical: 'sk-ecdsa-sha2-nistp256@openssh.com', short: 'ECDSA-SK', curve: 'nistp256', cert: false },
  'webauthn-sk-ecdsa-sha2-nistp256@openssh.com': { family: 'sk-ecdsa', canonical: 'sk-ecdsa-sha2-nistp256@openssh.com', short: 'ECDSA-SK', curve: 'nistp256', cert: false },
  'ssh-rsa': { family: 'rsa', canonical: 'ssh-rsa', short: 'RSA', cert: false },
  'rsa-sha2-256': { family: 'rsa', canonical: 'ssh-rsa', short: 'RSA', cert: false },
  'rsa-sha2-512': { family: 'rsa', canonical: 'ssh-rsa', short: 'RSA', cert: false },
};

const CERT_NAMES = [
  'ssh-ed25519-cert-v01@openssh.com',
  'sk-ssh-ed25519-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'ecdsa-sha2-nistp384-cert-v01@openssh.com',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com',
  'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'webauthn-sk-ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'ssh-rsa-cert-v01@openssh.com',
  'rsa-sha2-256-cert-v01@openssh.com',
  'rsa-sha2-512-cert-v01@openssh.com',
];

// Removed from OpenSSH 10.0 (and off by default since 7.0): named so the
// refusal says why instead of "unknown key type".
const REMOVED = new Set(['ssh-dss', 'ssh-dss-cert-v01@openssh.com']);

const EC: Record<EcCurve, { jwk: string; pointLen: number; bits: number }> = {
  nistp256: { jwk: 'P-256', pointLen: 65, bits: 256 },
  nistp384: { jwk: 'P-384', pointLen: 97, bits: 384 },
  nistp521: { jwk: 'P-521', pointLen: 133, bits: 521 },
};

/** sshkey.h SSH_RSA_MINIMUM_MODULUS_SIZE; sshbuf.h SSHBUF_MAX_BIGNUM. */
const RSA_MIN_BITS = 1024;
const MAX_BIGNUM_BYTES = 16384 / 8;

/** A parsed public key. */
export interface PublicKey {
  /** The name OpenSSH serialises the key under, e.g. `ssh-rsa`. */
  type: string;
  /** Short type as in sshd log lines and `ssh-keygen -l`: ED25519, RSA, ECDSA, ... */
  shortType: string;
  bits: number;
  /** Canonical wire encoding; equal keys have equal blobs. */
  blob: Buffer;
  /** `SHA256:` + unpadded base64 of sha256(blob). */
  fingerprint: string;
  /** FIDO application string of sk-* keys. */
  application?: string;
}

/** True when `name` is a key type name OpenSSH accepts at the start of a key line. */
export function isKeyTypeName(name: string): boolean {
  return Object.hasOwn(PLAIN, name) || CERT_NAMES.includes(name) || REMOVED.has(name);
}

/** SHA256 fingerprint of a (canonical) key blob, as `ssh-keygen -l` prints it. */
export function fingerprintSha256(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/**
 * Decodes base64 with the rules of OpenBSD's b64_pton(), which sshd uses:
 * whitespace anywhere is skipped, padding is required, bits after the last
 * whole byte must be zero, nothing may follow the padding. Returns null when
 * the text is not valid.
 */
export function decodeBase64Strict(text: string): Buffer | null {
  const clean = text.replace(/[ \t\n\v\f\r]/g, '');
  const pad = clean.indexOf('=');
  const body = pad === -1 ? clean : clean.slice(0, pad);
  const tail = pad === -1 ? '' : clean.slice(pad);
  if (!/^[A-Za-z0-9+/]*$/.test(body)) return null;
  const rem = body.length % 4;
  if (tail === '') {
    if (rem !== 0) return null;
  } else if (!((rem === 2 && tail === '==') || (rem === 3 && tail === '='))) {
    return null;
  }
  const out = Buffer.from(body + tail, 'base64');
  // Reject a non-zero remainder: it would be a hidden channel in the text.
  if (rem !== 0 && Buffer.from(out).toString('base64') !== body + tail) return null;
  return out;
}

/** Reader over RFC 4251 wire data that throws KeyBlobError('truncated-blob'). */
class WireReader {
  private off = 0;
  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.off;
  }

  bytes(): Buffer {
    if (this.remaining < 4) throw new KeyBlobError('truncated-blob', 'key blob is truncated');
    const len = this.buf.readUInt32BE(this.off);
    if (len > this.remaining - 4) throw new KeyBlobError('truncated-blob', 'key blob is truncated');
    const out = this.buf.subarray(this.off + 4, this.off + 4 + len);
    this.off += 4 + len;
    return out;
  }

  /** A string that may not hold NUL, as sshbuf_get_cstring() insists. */
  cstring(what: string): string {
    const b = this.bytes();
    if (b.includes(0)) throw new KeyBlobError('bad-key-blob', `NUL byte in ${what}`);
    return b.toString('latin1');
  }

  /** A non-negative mpint with leading zero bytes removed. */
  mpint(what: string): Buffer {
    const b = this.bytes();
    if (b.length > 0 && (b[0] as number) & 0x80) throw new KeyBlobError('bad-key-blob', `negative ${what}`);
    if (b.length > MAX_BIGNUM_BYTES + 1 || (b.length === MAX_BIGNUM_BYTES + 1 && b[0] !== 0)) {
      throw new KeyBlobError('bad-key-blob', `${what} too large`);
    }
    let i = 0;
    while (i < b.length && b[i] === 0) i++;
    return b.subarray(i);
  }
}

/** SSH string encoding; a string argument is latin1, so that a blob's own strings (sk application) survive a round trip. */
export function wireString(b: Buffer | string): Buffer {
  const body = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function wireMpint(v: Buffer): Buffer {
  return wireString(v.length > 0 && (v[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

function bitLength(v: Buffer): number {
  if (v.length === 0) return 0;
  return (v.length - 1) * 8 + (32 - Math.clz32(v[0] as number));
}

/**
 * Parses a public key blob. `expectedType`, when given, is the type name
 * written before the blob; its key type (and curve) must match the blob's.
 * Throws KeyBlobError.
 */
export function parseKeyBlob(blob: Buffer, expectedType?: string): PublicKey {
  const r = new WireReader(blob);
  const name = r.cstring('key type');
  if (REMOVED.has(name)) throw new KeyBlobError('unsupported-key-type', `${name}: DSA keys are not supported (removed in OpenSSH 10.0)`);
  if (CERT_NAMES.includes(name)) throw new KeyBlobError('certificate-unsupported', `${name}: a certificate where a plain key is expected`);
  const info = Object.hasOwn(PLAIN, name) ? PLAIN[name] : undefined;
  if (!info) throw new KeyBlobError('unknown-key-type', `unknown key type "${printable(name)}" in key blob`);
  if (expectedType !== undefined) {
    const want = PLAIN[expectedType];
    if (!want || want.family !== info.family || want.curve !== info.curve) {
      throw new KeyBlobError('key-type-mismatch', `key blob holds ${name}, line says ${printable(expectedType)}`);
    }
  }
  const parsed = parseBody(r, info);
  if (r.remaining !== 0) throw new KeyBlobError('bad-key-blob', 'trailing data after key');
  return { ...parsed, type: info.canonical, shortType: info.short, fingerprint: fingerprintSha256(parsed.blob) };
}

function parseBody(r: WireReader, info: KeyTypeInfo): { blob: Buffer; bits: number; application?: string } {
  switch (info.family) {
    case 'rsa': {
      const e = r.mpint('RSA exponent');
      const n = r.mpint('RSA modulus');
      const bits = bitLength(n);
      if (bits < RSA_MIN_BITS) throw new KeyBlobError('bad-key-blob', `RSA key of ${bits} bits is too small (minimum ${RSA_MIN_BITS})`);
      return { blob: Buffer.concat([wireString(info.canonical), wireMpint(e), wireMpint(n)]), bits };
    }
    case 'ed25519':
    case 'sk-ed25519': {
      const pk = r.bytes();
      if (pk.length !== 32) throw new KeyBlobError('bad-key-blob', `Ed25519 public key is ${pk.length} bytes, not 32`);
      const parts = [wireString(info.canonical), wireString(pk)];
      if (info.family === 'ed25519') return { blob: Buffer.concat(parts), bits: 256 };
      const application = r.cstring('security key application');
      return { blob: Buffer.concat([...parts, wireString(application)]), bits: 256, application };
    }
    case 'ecdsa':
    case 'sk-ecdsa': {
      const curve = info.curve as EcCurve;
      const named = r.cstring('curve name');
      if (named !== curve) throw new KeyBlobError('key-type-mismatch', `curve ${printable(named)} does not match key type ${info.canonical}`);
      const q = r.bytes();
      checkEcPoint(curve, q);
      const parts = [wireString(info.canonical), wireString(curve), wireString(q)];
      if (info.family === 'ecdsa') return { blob: Buffer.concat(parts), bits: EC[curve].bits };
      const application = r.cstring('security key application');
      return { blob: Buffer.concat([...parts, wireString(application)]), bits: EC[curve].bits, application };
    }
  }
}

// sshkey_ec_validate_public(): an uncompressed point on the curve. Importing
// it as a JWK makes OpenSSL do the on-curve check for us.
function checkEcPoint(curve: EcCurve, q: Buffer): void {
  const c = EC[curve];
  if (q.length !== c.pointLen || q[0] !== 0x04) throw new KeyBlobError('bad-key-blob', `${curve} public point is malformed`);
  const half = (c.pointLen - 1) / 2;
  const x = q.subarray(1, 1 + half).toString('base64url');
  const y = q.subarray(1 + half).toString('base64url');
  try {
    createPublicKey({ key: { kty: 'EC', crv: c.jwk, x, y }, format: 'jwk' });
  } catch {
    throw new KeyBlobError('bad-key-blob', `${curve} public point is not on the curve`);
  }
}

/** Makes untrusted text safe to quote in a message: control bytes escaped, length capped. */
export function printable(s: string, max = 64): string {
  const cut = s.length > max ? s.slice(0, max) + '...' : s;
  return cut.replace(/[\x00-\x1f\x7f-\uffff]/g, (ch) => '\\x' + ch.charCodeAt(0).toString(16).padStart(2, '0'));
}
