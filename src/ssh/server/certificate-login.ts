/**
 * The publickey step for a user certificate, as sshd takes it: the
 * certificate parsed and its CA's signature checked; the CA trusted by
 * TrustedUserCAKeys (principals from AuthorizedPrincipalsFile, read with
 * the user's credentials, or the user's name) or else by a `cert-authority`
 * line of the authorized_keys files; then the certificate's own checks and
 * options (auth/cert-authority.ts). The client's signature must be made by
 * the certified key, under the signature algorithm its certificate
 * algorithm names.
 *
 * ssh2 hands certificate signatures over whole (string algorithm, string
 * blob): it strips the header only when the name inside equals the key
 * algorithm, which for a certificate it never does; and its sigSSHToASN1()
 * leaves names it does not know untouched.
 */
import fs from 'node:fs';
import type { SshConfig } from '../../config/ssh-schema.js';
import { applyModifiers } from '../../config/ssh-algorithms.js';
import type { Logger } from '../../util/logger.js';
import {
  authoriseCertificate, caKeyListed, CERT_ALGORITHMS, certLogTail, DEFAULT_CA_SIGNATURE_ALGORITHMS, findCertAuthorityLine, keyFileRefusedLine, logAuthLine,
  matchPrincipalsFile, parseAuthorizedKeys, parseCertificate, verifySshSignature, type CertVerdict, type Certificate, type KeyFileRead, type KeyInfo, type KeyUseContext, type Peer,
} from '../auth/index.js';
import { defaultKeyOptions, type KeyOptions } from '../auth/key-options.js';
import type { LookedUpUser } from './accounts.js';

/** A key that may log the user in once its signature verifies. */
export type FoundKey =
  | { ok: true; options: KeyOptions; info: KeyInfo; verify(signature: Buffer, data: Buffer): boolean; accepted?: string }
  | { ok: false; info?: KeyInfo };

export interface CertificateLoginContext {
  cfg: SshConfig;
  log: Logger;
  peer: Peer;
  now: () => number;
  readKeyFile: (file: string, user: LookedUpUser, strictModes: boolean) => Promise<KeyFileRead>;
  readAuthorizedKeys: (user: LookedUpUser) => AsyncIterable<{ file: string; text: string }>;
  /** AuthorizedKeysFile's tokens (%h %u %U %%) and HOME-relative paths, for AuthorizedPrincipalsFile. */
  expandPath: (pattern: string, user: { name: string; uid: number; home: string }) => string;
}

/** Largest TrustedUserCAKeys file read (a CA list is a few lines). */
const MAX_CA_FILE_BYTES = 1024 * 1024;

/** Finds what trusts the certificate `key` for `user`; refusals are logged with sshd's reasons. */
export async function findCertificateLogin(ctx: CertificateLoginContext, user: LookedUpUser, key: { algo: string; blob: Buffer }): Promise<FoundKey> {
  const name = user.account.name;
  const parsed = parseCertificate(key.blob);
  if (!parsed.ok) {
    ctx.log.info({ event: 'cert-refused', code: 'cert-malformed', user: name }, `refusing certificate key: ${parsed.reason}`);
    return { ok: false };
  }
  const cert = parsed.cert;
  const info: KeyInfo = { shortType: cert.shortType, fingerprint: cert.key.fingerprint, certificate: certLogTail(cert) };
  const spec = CERT_ALGORITHMS[key.algo];
  if (spec === undefined || spec.certType !== cert.certType) {
    ctx.log.info({ event: 'cert-refused', code: 'cert-type-mismatch', user: name }, `userauth_pubkey: type mismatch for decoded key (received ${key.algo.slice(0, 64)}, expected ${cert.certType})`);
    return { ok: false, info };
  }
  const caAlgorithms = applyModifiers(DEFAULT_CA_SIGNATURE_ALGORITHMS, ctx.cfg.CASignatureAlgorithms);
  const use: KeyUseContext = { user: name, client: { ip: ctx.peer.ip }, now: Math.floor(ctx.now() / 1000) };
  const refused: CertVerdict[] = [];

  const trusted = await viaTrustedCaKeys(ctx, user, cert, use, caAlgorithms);
  if (trusted !== null && trusted.verdict.allowed) return found(cert, info, spec.signature, trusted.verdict.options, `${trusted.via}`);
  if (trusted !== null) refused.push(trusted.verdict);

  for await (const { file, text } of ctx.readAuthorizedKeys(user)) {
    const v = findCertAuthorityLine(parseAuthorizedKeys(text, cert.ca.blob).entries, cert, use, caAlgorithms, file);
    if (v.allowed) return found(cert, info, spec.signature, v.options, `${file}:${v.entry?.line ?? 0}`);
    if (v.code !== 'ca-not-found') refused.push(v);
  }
  const why = refused[0];
  if (why !== undefined && !why.allowed) ctx.log.info({ event: 'cert-refused', code: why.code, user: name, remoteAddress: ctx.peer.ip }, why.reason);
  else ctx.log.info({ event: 'cert-refused', code: 'ca-not-trusted', user: name }, `CA ${cert.ca.shortType} ${cert.ca.fingerprint} is not trusted for ${name}`);
  return { ok: false, info };
}

function found(cert: Certificate, info: KeyInfo, signatureAlgorithm: string, options: KeyOptions, via: string): FoundKey {
  return {
    ok: true,
    options,
    info,
    // sshd: "Accepted certificate ID "alice" (serial 7) signed by ED25519 CA SHA256:... via /etc/ssh/ca.pub".
    accepted: `Accepted certificate ID "${cert.keyId}" (serial ${cert.serial}) signed by ${cert.ca.shortType} CA ${cert.ca.fingerprint} via ${via}`,
    verify(signature, data) {
      const v = verifySshSignature(cert.key.blob, signature, data);
      return v.ok && v.algorithm === signatureAlgorithm;
    },
  };
}

/**
 * user_cert_trusted_ca(): null when TrustedUserCAKeys is unset or does not
 * list the CA (authorized_keys is tried next), else the verdict.
 */
async function viaTrustedCaKeys(ctx: CertificateLoginContext, user: LookedUpUser, cert: Certificate, use: KeyUseContext, caAlgorithms: readonly string[]): Promise<{ verdict: CertVerdict; via: string } | null> {
  const caFile = ctx.cfg.TrustedUserCAKeys;
  if (caFile.toLowerCase() === 'none') return null;
  let text: string;
  try {
    // A system file, read by the daemon as sshd reads it (not with the user's credentials).
    const fd = fs.openSync(caFile, 'r');
    try {
      const buf = Buffer.alloc(MAX_CA_FILE_BYTES);
      text = buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    ctx.log.warn({ event: 'cert-ca-file', file: caFile }, `TrustedUserCAKeys ${caFile}: ${(err as Error).message}`);
    return null;
  }
  if (!caKeyListed(text, cert)) {
    ctx.log.debug({ file: caFile }, `CA ${cert.ca.shortType} ${cert.ca.fingerprint} is not listed in ${caFile}`);
    return null;
  }
  const name = user.account.name;
  const principalsPattern = ctx.cfg.AuthorizedPrincipalsFile;
  if (principalsPattern.toLowerCase() === 'none') {
    return { verdict: authoriseCertificate(cert, defaultKeyOptions(), name, use, caAlgorithms), via: caFile };
  }
  const file = ctx.expandPath(principalsPattern, user.account);
  const read = await ctx.readKeyFile(file, user, ctx.cfg.StrictModes);
  if (read.status !== 'ok') {
    // The reader speaks of authorized keys; this file holds principals (sshd's wording).
    const reason = read.reason.replace('authorized keys', 'authorized principals');
    if (read.status === 'missing') ctx.log.debug({ file }, reason);
    else logAuthLine(ctx.log, keyFileRefusedLine(reason, name));
    return { verdict: { allowed: false, code: 'no-principals-file', reason: 'Certificate does not contain an authorized principal' }, via: file };
  }
  const match = matchPrincipalsFile(read.text, cert);
  if (match === null) return { verdict: { allowed: false, code: 'cert-principal', reason: 'Certificate does not contain an authorized principal' }, via: file };
  if ('bad' in match) return { verdict: { allowed: false, code: 'bad-options', reason: `${file}:${match.line}: ${match.bad}` }, via: file };
  return { verdict: authoriseCertificate(cert, match.options, null, { ...use, location: `${file}:${match.line}` }, caAlgorithms), via: caFile };
}

