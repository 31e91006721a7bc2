/**
 * What sshd decides about a user certificate once its CA is trusted: the
 * certificate's type, validity window and principals, the CA's signature
 * algorithm (CASignatureAlgorithms), its critical options and extensions
 * turned into key options, and those merged with the options of the line
 * that trusted the CA, the more restrictive winning. Pure functions; the
 * reasons are sshd's words.
 */
import type { Certificate } from './certificate.js';
import { SSH_CERT_TYPE_USER } from './certificate.js';
import { defaultKeyOptions, type KeyOptions } from './key-options.js';
import { addrMatchList, parseCidr } from './match.js';
import { wireStrings } from './ssh-signature.js';

/** sshd 9.x's default CASignatureAlgorithms: no SHA-1 RSA, no DSA. */
export const DEFAULT_CA_SIGNATURE_ALGORITHMS: readonly string[] = [
  'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com', 'rsa-sha2-512', 'rsa-sha2-256',
];

export type CertDecision = { allowed: true } | { allowed: false; code: string; reason: string };

const deny = (code: string, reason: string): CertDecision => ({ allowed: false, code, reason });

/**
 * sshkey_cert_check_authority(): a user certificate, valid at `now`
 * (seconds), and naming `principal` when one is given. A certificate
 * without principals is refused whenever a principal is wanted.
 */
export function checkCertAuthority(cert: Certificate, now: number, principal: string | null): CertDecision {
  if (cert.type !== SSH_CERT_TYPE_USER) return deny('cert-not-user', 'Certificate invalid: not a user certificate');
  const t = BigInt(Math.max(0, Math.floor(now)));
  if (t < cert.validAfter) return deny('cert-not-yet-valid', 'Certificate invalid: not yet valid');
  if (t >= cert.validBefore) return deny('cert-expired', 'Certificate invalid: expired');
  if (principal !== null) {
    if (cert.principals.length === 0) return deny('cert-no-principals', 'Certificate lacks principal list');
    if (!cert.principals.includes(principal)) return deny('cert-principal', 'Certificate invalid: name is not a listed principal');
  }
  return { allowed: true };
}

/** match_principals_option(): some principal of the certificate is in the `principals="..."` list. */
export function certPrincipalInList(cert: Certificate, list: string): boolean {
  const allowed = list.split(',');
  return cert.principals.some((p) => allowed.includes(p));
}

/** sshkey_check_cert_sigtype(): the CA's signature algorithm is in CASignatureAlgorithms. */
export function checkCaSignatureAlgorithm(cert: Certificate, accepted: readonly string[]): CertDecision {
  if (accepted.includes(cert.signatureAlgorithm)) return { allowed: true };
  return deny('cert-ca-algorithm', `certificate signature algorithm ${cert.signatureAlgorithm}: signature algorithm not supported`);
}

/** Options a certificate carries: its extensions grant, its critical options restrict. */
export interface CertOptions {
  options: KeyOptions;
  /** `source-address`: CIDR list the client address must be in. */
  sourceAddress?: string;
}

/** Extensions that grant, and the key option each turns on. */
const EXTENSIONS: Record<string, (o: KeyOptions) => void> = {
  'permit-X11-forwarding': (o) => (o.permitX11Forwarding = true),
  'permit-agent-forwarding': (o) => (o.permitAgentForwarding = true),
  'permit-port-forwarding': (o) => (o.permitPortForwarding = true),
  'permit-pty': (o) => (o.permitPty = true),
  'permit-user-rc': (o) => (o.permitUserRc = true),
  'no-touch-required': (o) => (o.noTouchRequired = true),
};

/** A critical option's data: one string, nothing after it. */
function optionString(data: Buffer): string | null {
  const s = wireStrings(data, 1);
  if (s === null || s.rest.length !== 0 || s.parts[0]!.includes(0)) return null;
  return s.parts[0]!.toString('utf8');
}

/**
 * sshauthopt_from_cert(): everything is denied unless an extension permits
 * it; force-command and source-address apply; any other critical option
 * refuses the certificate (unknown extensions are ignored, as sshd does).
 */
export function certKeyOptions(cert: Certificate): { ok: true; value: CertOptions } | { ok: false; reason: string } {
  const o = defaultKeyOptions();
  o.permitX11Forwarding = o.permitAgentForwarding = o.permitPortForwarding = o.permitPty = o.permitUserRc = false;
  for (const ext of cert.extensions) EXTENSIONS[ext.name]?.(o);
  const out: CertOptions = { options: o };
  for (const opt of cert.criticalOptions) {
    if (opt.name === 'force-command') {
      const v = optionString(opt.data);
      if (v === null) return { ok: false, reason: 'Certificate critical option "force-command" is corrupt' };
      o.command = v;
    } else if (opt.name === 'source-address') {
      const v = optionString(opt.data);
      if (v === null || !isCidrList(v)) return { ok: false, reason: 'Certificate source-address contents invalid' };
      out.sourceAddress = v;
    } else if (opt.name === 'verify-required') {
      o.verifyRequired = true;
    } else {
      return { ok: false, reason: `Certificate critical option "${opt.name.slice(0, 64)}" is not supported` };
    }
  }
  return { ok: true, value: out };
}

/** addr_match_cidr_list()'s syntax: addresses and networks only, no wildcards or negation. */
function isCidrList(list: string): boolean {
  return list.split(',').every((e) => {
    const c = parseCidr(e);
    return c !== null && c !== 'invalid';
  });
}

/**
 * sshauthopt_merge(): the authorized_keys (or principals file) line's
 * options with the certificate's. A permission needs both; a forced
 * command from both must be the same command.
 */
export function mergeCertOptions(line: KeyOptions, cert: KeyOptions): { ok: true; options: KeyOptions } | { ok: false; reason: string } {
  if (line.command !== undefined && cert.command !== undefined && line.command !== cert.command) return { ok: false, reason: 'forced command options do not match' };
  const merged: KeyOptions = {
    ...line,
    permitPty: line.permitPty && cert.permitPty,
    permitPortForwarding: line.permitPortForwarding && cert.permitPortForwarding,
    permitAgentForwarding: line.permitAgentForwarding && cert.permitAgentForwarding,
    permitX11Forwarding: line.permitX11Forwarding && cert.permitX11Forwarding,
    permitUserRc: line.permitUserRc && cert.permitUserRc,
    noTouchRequired: line.noTouchRequired && cert.noTouchRequired,
    verifyRequired: line.verifyRequired || cert.verifyRequired,
  };
  const command = line.command ?? cert.command;
  if (command !== undefined) merged.command = command;
  return { ok: true, options: merged };
}

/** The certificate's source-address against the client's address (sshd: "not from a permitted source address"). */
export function checkSourceAddress(sourceAddress: string | undefined, ip: string, user: string): CertDecision {
  if (sourceAddress === undefined) return { allowed: true };
  const m = addrMatchList(ip, sourceAddress);
  if (m === 'match') return { allowed: true };
  if (m === 'invalid') return deny('cert-source-invalid', 'Certificate source-address contents invalid');
  return deny('cert-source-address', `Authentication tried for ${user} with valid certificate but not from a permitted source address (${ip}).`);
}

/** The tail sshd adds to "Accepted publickey ...: ED25519-CERT SHA256:..." for a certificate. */
export function certLogTail(cert: Certificate): string {
  return `ID ${cert.keyId} (serial ${cert.serial}) CA ${cert.ca.shortType} ${cert.ca.fingerprint}`;
}

/**
 * An AuthorizedPrincipalsFile line: `[options] principal`, a trailing
 * `# comment` removed; the last word is the principal. Null for blank and
 * comment lines.
 */
export function parsePrincipalsLine(raw: string): { principal: string; optionsText: string } | null {
  const hash = raw.indexOf('#');
  const text = (hash === -1 ? raw : raw.slice(0, hash)).trim();
  if (text === '') return null;
  const sp = Math.max(text.lastIndexOf(' '), text.lastIndexOf('\t'));
  if (sp === -1) return { principal: text, optionsText: '' };
  return { principal: text.slice(sp + 1), optionsText: text.slice(0, sp).trim() };
}
