/**
 * OpenSSH certificates (PROTOCOL.certkeys, the *-cert-v01@openssh.com
 * formats): the blob a client presents as its key, read field by field,
 * with the CA's signature over it checked. Parsing never throws: a bad
 * certificate comes back with the reason sshd would give.
 */
import { KeyBlobError, parseKeyBlob, printable, type PublicKey, wireString } from './key-blob.js';
import { verifySshSignature, wireStrings } from './ssh-signature.js';

/** Certificate types of PROTOCOL.certkeys. */
export const SSH_CERT_TYPE_USER = 1;
export const SSH_CERT_TYPE_HOST = 2;

/** One critical option or extension: its name and its data (a string for the known critical options). */
export interface CertOption {
  name: string;
  data: Buffer;
}

export interface Certificate {
  /** The certificate's own type name, e.g. `ssh-ed25519-cert-v01@openssh.com`. */
  certType: string;
  /** The certified key, as a plain key: its signatures are what the client makes. */
  key: PublicKey;
  /** `ED25519-CERT`, `ECDSA-CERT`, `RSA-CERT`: sshkey_type() of a certificate, for log lines. */
  shortType: string;
  serial: bigint;
  /** 1 user, 2 host. */
  type: number;
  keyId: string;
  principals: string[];
  validAfter: bigint;
  validBefore: bigint;
  criticalOptions: CertOption[];
  extensions: CertOption[];
  /** The CA's public key (never itself a certificate). */
  ca: PublicKey;
  /** Signature algorithm the CA used (ssh-ed25519, rsa-sha2-512, ...). */
  signatureAlgorithm: string;
}

export type CertificateParse = { ok: true; cert: Certificate } | { ok: false; reason: string };

/** Certificate type → the plain key type it certifies and the number of key fields after the nonce. */
const CERT_KINDS: Record<string, { plain: string; fields: number }> = {
  'ssh-ed25519-cert-v01@openssh.com': { plain: 'ssh-ed25519', fields: 1 },
  'ecdsa-sha2-nistp256-cert-v01@openssh.com': { plain: 'ecdsa-sha2-nistp256', fields: 2 },
  'ecdsa-sha2-nistp384-cert-v01@openssh.com': { plain: 'ecdsa-sha2-nistp384', fields: 2 },
  'ecdsa-sha2-nistp521-cert-v01@openssh.com': { plain: 'ecdsa-sha2-nistp521', fields: 2 },
  'ssh-rsa-cert-v01@openssh.com': { plain: 'ssh-rsa', fields: 2 },
};

/**
 * The user-auth algorithm names of certificates, with the certificate type
 * each names and the signature algorithm the client's signature must carry.
 */
export const CERT_ALGORITHMS: Readonly<Record<string, { certType: string; signature: string }>> = {
  'ssh-ed25519-cert-v01@openssh.com': { certType: 'ssh-ed25519-cert-v01@openssh.com', signature: 'ssh-ed25519' },
  'ecdsa-sha2-nistp256-cert-v01@openssh.com': { certType: 'ecdsa-sha2-nistp256-cert-v01@openssh.com', signature: 'ecdsa-sha2-nistp256' },
  'ecdsa-sha2-nistp384-cert-v01@openssh.com': { certType: 'ecdsa-sha2-nistp384-cert-v01@openssh.com', signature: 'ecdsa-sha2-nistp384' },
  'ecdsa-sha2-nistp521-cert-v01@openssh.com': { certType: 'ecdsa-sha2-nistp521-cert-v01@openssh.com', signature: 'ecdsa-sha2-nistp521' },
  'rsa-sha2-256-cert-v01@openssh.com': { certType: 'ssh-rsa-cert-v01@openssh.com', signature: 'rsa-sha2-256' },
  'rsa-sha2-512-cert-v01@openssh.com': { certType: 'ssh-rsa-cert-v01@openssh.com', signature: 'rsa-sha2-512' },
  'ssh-rsa-cert-v01@openssh.com': { certType: 'ssh-rsa-cert-v01@openssh.com', signature: 'ssh-rsa' },
};

/** True when `algorithm` (as a client names its key) is a certificate. */
export function isCertificateAlgorithm(algorithm: string): boolean {
  return algorithm.endsWith('-cert-v01@openssh.com');
}

class Reader {
  off = 0;
  constructor(readonly buf: Buffer) {}
  bytes(what: string): Buffer {
    const got = wireStrings(this.buf.subarray(this.off), 1);
    if (got === null) throw new CertError(`certificate is truncated at ${what}`);
    this.off += 4 + got.parts[0]!.length;
    return got.parts[0]!;
  }
  text(what: string): string {
    const b = this.bytes(what);
    if (b.includes(0)) throw new CertError(`NUL byte in certificate ${what}`);
    return b.toString('utf8');
  }
  u32(what: string): number {
    if (this.buf.length - this.off < 4) throw new CertError(`certificate is truncated at ${what}`);
    const v = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }
  u64(what: string): bigint {
    if (this.buf.length - this.off < 8) throw new CertError(`certificate is truncated at ${what}`);
    const v = this.buf.readBigUInt64BE(this.off);
    this.off += 8;
    return v;
  }
  get rest(): number {
    return this.buf.length - this.off;
  }
}

class CertError extends Error {}

/** The principals field: a sequence of strings, none empty. */
function readPrincipals(field: Buffer): string[] {
  const r = new Reader(field);
  const out: string[] = [];
  while (r.rest > 0) {
    const p = r.text('principal');
    if (p === '') throw new CertError('empty principal in certificate');
    out.push(p);
  }
  return out;
}

/** Critical options and extensions: (name, data) pairs, each name once. */
function readOptions(field: Buffer, what: string): CertOption[] {
  const r = new Reader(field);
  const out: CertOption[] = [];
  while (r.rest > 0) {
    const name = r.text(`${what} name`);
    const data = r.bytes(`${what} data`);
    if (out.some((o) => o.name === name)) throw new CertError(`certificate ${what} "${printable(name)}" appears twice`);
    out.push({ name, data });
  }
  return out;
}

/**
 * Parses a certificate blob and checks the CA's signature over it. The CA
 * key may not itself be a certificate (sshd refuses chains).
 */
export function parseCertificate(blob: Buffer): CertificateParse {
  try {
    const r = new Reader(blob);
    const certType = r.text('key type');
    const kind = CERT_KINDS[certType];
    if (kind === undefined) return { ok: false, reason: `unsupported certificate type "${printable(certType)}"` };
    r.bytes('nonce');
    const fieldsStart = r.off;
    for (let i = 0; i < kind.fields; i++) r.bytes('public key');
    const plainBlob = Buffer.concat([wireString(kind.plain), blob.subarray(fieldsStart, r.off)]);
    const serial = r.u64('serial');
    const type = r.u32('type');
    const keyId = r.text('key id');
    const principals = readPrincipals(r.bytes('valid principals'));
    const validAfter = r.u64('valid after');
    const validBefore = r.u64('valid before');
    const criticalOptions = readOptions(r.bytes('critical options'), 'critical option');
    const extensions = readOptions(r.bytes('extensions'), 'extension');
    r.bytes('reserved');
    const caBlob = r.bytes('signature key');
    const signedEnd = r.off;
    const signature = r.bytes('signature');
    if (r.rest !== 0) return { ok: false, reason: 'trailing data after certificate' };
    let key: PublicKey;
    let ca: PublicKey;
    try {
      key = parseKeyBlob(plainBlob);
    } catch (e) {
      return { ok: false, reason: `certified key: ${(e as Error).message}` };
    }
    try {
      ca = parseKeyBlob(caBlob);
    } catch (e) {
      if (e instanceof KeyBlobError && e.code === 'certificate-unsupported') return { ok: false, reason: 'certificate signed by a certificate, not a CA key' };
      return { ok: false, reason: `CA key: ${(e as Error).message}` };
    }
    if (type !== SSH_CERT_TYPE_USER && type !== SSH_CERT_TYPE_HOST) return { ok: false, reason: `unknown certificate type ${type}` };
    const check = verifySshSignature(ca.blob, signature, blob.subarray(0, signedEnd));
    if (!check.ok) return { ok: false, reason: `CA signature on certificate: ${check.reason}` };
    const cert: Certificate = {
      certType, key, shortType: `${key.shortType}-CERT`, serial, type, keyId, principals, validAfter, validBefore,
      criticalOptions, extensions, ca, signatureAlgorithm: check.algorithm,
    };
    return { ok: true, cert };
  } catch (e) {
    if (e instanceof CertError) return { ok: false, reason: e.message };
    return { ok: false, reason: `malformed certificate: ${(e as Error).message}` };
  }
}

