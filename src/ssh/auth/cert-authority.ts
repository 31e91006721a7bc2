/**
 * A user certificate against the CAs a user trusts: `cert-authority` lines
 * of authorized_keys (with their `principals="..."`), or sshd_config's
 * TrustedUserCAKeys with the principals of AuthorizedPrincipalsFile. Pure:
 * the files are read by the caller and passed in as text.
 */
import type { KeyUseContext } from './access.js';
import { authoriseKeyOptions } from './access.js';
import type { AuthorizedKeyEntry } from './authorized-keys.js';
import type { Certificate } from './certificate.js';
import { certKeyOptions, certPrincipalInList, checkCaSignatureAlgorithm, checkCertAuthority, checkSourceAddress, mergeCertOptions, parsePrincipalsLine } from './cert-policy.js';
import { decodeBase64Strict, parseKeyBlob } from './key-blob.js';
import { defaultKeyOptions, parseKeyOptions, type KeyOptions } from './key-options.js';

export type CertVerdict = { allowed: true; options: KeyOptions; reason: string } | { allowed: false; code: string; reason: string };

const deny = (code: string, reason: string): CertVerdict => ({ allowed: false, code, reason });

/**
 * The checks common to both sources once the CA is trusted and the
 * principal settled: the CA's algorithm, the certificate's authority for
 * `principal` (null: already matched by the caller), the line's own
 * options (from=, expiry-time), the certificate's options merged with
 * them, and its source-address.
 */
export function authoriseCertificate(cert: Certificate, line: KeyOptions, principal: string | null, ctx: KeyUseContext, caAlgorithms: readonly string[]): CertVerdict {
  const alg = checkCaSignatureAlgorithm(cert, caAlgorithms);
  if (!alg.allowed) return deny(alg.code, alg.reason);
  const authority = checkCertAuthority(cert, ctx.now, principal);
  if (!authority.allowed) return deny(authority.code, authority.reason);
  const lineOk = authoriseKeyOptions(line, ctx);
  if (!lineOk.allowed) return deny(lineOk.code ?? 'refused', lineOk.reason);
  const fromCert = certKeyOptions(cert);
  if (!fromCert.ok) return deny('cert-options', fromCert.reason);
  const merged = mergeCertOptions(line, fromCert.value.options);
  if (!merged.ok) return deny('cert-options', merged.reason);
  const source = checkSourceAddress(fromCert.value.sourceAddress, ctx.client.ip, ctx.user);
  if (!source.allowed) return deny(source.code, source.reason);
  return { allowed: true, options: merged.options, reason: `certificate ${cert.keyId} accepted` };
}

/**
 * check_authkey_line() for a certificate: a `cert-authority` line holding
 * the CA's key; with `principals="..."` one of the certificate's
 * principals must be listed there, else the user's name must be among
 * them. Like plain keys, a refusing line does not end the search.
 */
export function findCertAuthorityLine(entries: readonly AuthorizedKeyEntry[], cert: Certificate, ctx: KeyUseContext, caAlgorithms: readonly string[], file: string): CertVerdict & { entry?: AuthorizedKeyEntry } {
  let first: CertVerdict | undefined;
  for (const entry of entries) {
    if (!entry.options.certAuthority || !entry.key.blob.equals(cert.ca.blob)) continue;
    const location = `${file}:${entry.line}`;
    let v: CertVerdict;
    if (entry.options.principals !== undefined && !certPrincipalInList(cert, entry.options.principals)) {
      v = deny('cert-principal', 'Certificate does not contain an authorized principal');
    } else {
      v = authoriseCertificate(cert, entry.options, entry.options.principals !== undefined ? null : ctx.user, { ...ctx, location }, caAlgorithms);
    }
    if (v.allowed) return { ...v, entry };
    first ??= v;
  }
  return first ?? deny('ca-not-found', `CA ${cert.ca.shortType} ${cert.ca.fingerprint} not found in ${file}`);
}

/** sshkey_in_file(): the CA key is one of the keys of a TrustedUserCAKeys file (options not allowed there). */
export function caKeyListed(text: string, cert: Certificate): boolean {
  for (const raw of text.split('\n')) {
    const words = raw.trim().split(/[ \t]+/);
    if (words.length < 2 || (words[0] as string).startsWith('#')) continue;
    const blob = decodeBase64Strict(words[1] as string);
    if (blob === null) continue;
    try {
      if (parseKeyBlob(blob, words[0]).blob.equals(cert.ca.blob)) return true;
    } catch {
      // a line sshd could not read either
    }
  }
  return false;
}

/**
 * match_principals_file(): the first line naming one of the certificate's
 * principals; its options apply. Null when none does.
 */
export function matchPrincipalsFile(text: string, cert: Certificate): { principal: string; options: KeyOptions; line: number } | { bad: string; line: number } | null {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const p = parsePrincipalsLine(lines[i] as string);
    if (p === null || !cert.principals.includes(p.principal)) continue;
    const parsed = p.optionsText === '' ? { ok: true as const, options: defaultKeyOptions() } : parseKeyOptions(p.optionsText);
    if (!parsed.ok) return { bad: `bad key options: ${parsed.reason}`, line: i + 1 };
    return { principal: p.principal, options: parsed.options, line: i + 1 };
  }
  return null;
}
