/**
 * Public key authentication for one connection, decided as sshd decides it:
 * MaxAuthTries, the user's existence and AllowUsers/DenyUsers/AllowGroups/
 * DenyGroups, the authorized_keys files (read with the user's effective
 * uid, under StrictModes), key options (from=, expiry-time), signature, then
 * PermitRootLogin. Every decision is logged in sshd's words.
 */
import crypto from 'node:crypto';
import ssh2 from 'ssh2';
import type { AuthContext, PublicKeyAuthContext } from 'ssh2';
import type { SshConfig } from '../../config/ssh-schema.js';
import type { Logger } from '../../util/logger.js';
import {
  acceptedLine, splitAuthUser, checkAccountState, failureDelayMs, userFloorMs, checkRootLogin, shadowDay, checkUserAccess, failedLine, findAuthorizedKey, finishAuthRequest, invalidUserLine, keyFileRefusedLine, logAuthLine, maxTriesLine,
  newAuthTries, normaliseClientAddress, notAllowedLine, parseAuthorizedKeys, postponedLine, readAuthorizedKeysFile, rootRefusedLine, beginAuthRequest,
  type AuthTries, type AuthUser, type KeyInfo, type KeyLookup, type Peer,
} from '../auth/index.js';
import type { KeyOptions } from '../auth/key-options.js';
import { lookupUser, type LookedUpUser } from './accounts.js';
import { asUser } from './privileges.js';
import { acceptKeyQuery } from './ssh2-internals.js';
import { acceptedPubkeyAlgorithms } from './algorithms.js';

/** The outcome the worker acts on. */
export interface AuthSuccess {
  user: LookedUpUser;
  options: KeyOptions;
  key: KeyInfo;
}

/** Expands AuthorizedKeysFile tokens (%h, %u, %U, %%) and makes the path absolute under HOME. */
export function expandKeysFile(pattern: string, user: { name: string; uid: number; home: string }): string {
  const out = pattern.replace(/%([%hUu])/g, (_m, t: string) => (t === '%' ? '%' : t === 'h' ? user.home : t === 'u' ? user.name : String(user.uid)));
  return out.startsWith('/') ? out : `${user.home.replace(/\/+$/, '')}/${out}`;
}

/** Per-process secret of the failure floors: the floor of a name cannot be learned elsewhere. */
const FAILURE_SECRET = crypto.randomBytes(32);

export class Authenticator {
  private tries: AuthTries = newAuthTries();
  private readonly peer: Peer;
  private readonly accepted: ReadonlySet<string>;
  success: AuthSuccess | undefined;

  /** Failed attempts so far (PerSourcePenalties tells authfail from noauth by it). */
  get failures(): number {
    return this.tries.failures;
  }

  constructor(
    private readonly cfg: SshConfig,
    remote: { address: string; port: number },
    private readonly log: Logger,
    /** Called when the client must be disconnected (MaxAuthTries reached). */
    private readonly disconnect: (reason: string) => void,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.peer = { ip: normaliseClientAddress(remote.address), port: remote.port };
    this.accepted = acceptedPubkeyAlgorithms(cfg.PubkeyAcceptedAlgorithms);
  }

  /** Handles one ssh2 'authentication' event. Never throws. */
  handle(ctx: AuthContext): void {
    const started = performance.now();
    // Every refusal waits out the name's floor, so that it takes as long for a real user as for an unknown name.
    const reject = ctx.reject.bind(ctx);
    // "none" only asks which methods exist; sshd does not pad it either.
    if (ctx.method !== 'none') ctx.reject = ((...args: Parameters<AuthContext['reject']>) => {
      const wait = failureDelayMs(userFloorMs(ctx.username, FAILURE_SECRET), performance.now() - started);
      setTimeout(() => reject(...args), wait).unref();
    }) as AuthContext['reject'];
    try {
      this.decide(ctx);
    } catch (err) {
      this.log.error({ err }, 'authentication failed on an internal error');
      ctx.reject(['publickey']);
    }
  }

  private decide(ctx: AuthContext): void {
    const begin = beginAuthRequest(this.tries, ctx.username, ctx.service, this.cfg.MaxAuthTries);
    this.tries = begin.state;
    if (begin.action === 'disconnect') {
      this.disconnect(begin.reason);
      return;
    }
    // sshd takes "user:style" apart and authenticates the user part only.
    const name = splitAuthUser(ctx.username).user;
    const user = lookupUser(name);
    const authUser: AuthUser = { name, valid: user !== null };
    if (begin.action === 'fail' || ctx.method !== 'publickey' || !this.cfg.PubkeyAuthentication) {
      this.finish(ctx, authUser, { authenticated: false });
      return;
    }
    const algorithm = signatureAlgorithm(ctx);
    if (!this.accepted.has(algorithm)) {
      // sshd 8.8 and later: SHA-1 RSA (ssh-rsa) and DSA signatures are not accepted.
      this.log.info({ event: 'auth-algorithm-refused', algorithm, user: name }, `userauth_pubkey: signature algorithm ${algorithm} not in PubkeyAcceptedAlgorithms [preauth]`);
      this.finish(ctx, authUser, { authenticated: false });
      return;
    }
    if (user === null) {
      logAuthLine(this.log, invalidUserLine(name, this.peer));
      this.finish(ctx, authUser, { authenticated: false });
      return;
    }
    const access = checkUserAccess(
      { allowUsers: this.cfg.AllowUsers, denyUsers: this.cfg.DenyUsers, allowGroups: this.cfg.AllowGroups, denyGroups: this.cfg.DenyGroups },
      user.access,
      { ip: this.peer.ip },
    );
    if (!access.allowed) {
      logAuthLine(this.log, notAllowedLine(user.account.name, this.peer.ip, access.reason));
      this.finish(ctx, { ...authUser, valid: false }, { authenticated: false });
      return;
    }
    const state = checkAccountState(user.account.name, user.shadow, shadowDay(this.now()));
    if (!state.allowed) {
      this.log.info({ event: 'account-refused', code: state.code, user: user.account.name, remoteAddress: this.peer.ip }, state.reason);
      this.finish(ctx, { ...authUser, valid: false }, { authenticated: false });
      return;
    }
    const lookup = this.findKey(user, ctx);
    if (!lookup.allowed || lookup.entry === undefined || lookup.key === undefined) {
      if (lookup.refused.length > 0 || lookup.code !== 'key-not-found') this.log.info({ user: user.account.name, reason: lookup.reason }, lookup.reason);
      this.finish(ctx, authUser, { authenticated: false }, lookup.key);
      return;
    }
    const key: KeyInfo = lookup.key;
    if (ctx.signature === undefined || ctx.blob === undefined) {
      // A query: the key would do; the client signs next (SSH_MSG_USERAUTH_PK_OK).
      logAuthLine(this.log, postponedLine('publickey', authUser, this.peer, key));
      this.tries = finishAuthRequest(this.tries, { method: 'publickey', authenticated: false, postponed: true, validUser: true }, this.cfg.MaxAuthTries).state;
      acceptKeyQuery(ctx);
      return;
    }
    if (!verifySignature(ctx, lookup)) {
      this.finish(ctx, authUser, { authenticated: false }, key);
      return;
    }
    const root = checkRootLogin(this.cfg.PermitRootLogin, { uid: user.account.uid, method: 'publickey', forcedCommand: lookup.entry.options.command });
    if (!root.allowed) {
      logAuthLine(this.log, rootRefusedLine(this.peer));
      this.finish(ctx, authUser, { authenticated: false }, key);
      return;
    }
    this.success = { user, options: lookup.entry.options, key };
    logAuthLine(this.log, acceptedLine('publickey', authUser, this.peer, key));
    ctx.accept();
  }

  private findKey(user: LookedUpUser, ctx: PublicKeyAuthContext): KeyLookup {
    const { account } = user;
    let last: KeyLookup | undefined;
    for (const pattern of this.cfg.AuthorizedKeysFile) {
      if (pattern.toLowerCase() === 'none') continue;
      const file = expandKeysFile(pattern, account);
      const read = asUser(account.uid, user.gids, () => readAuthorizedKeysFile(file, { name: account.name, uid: account.uid, home: account.home }, this.cfg.StrictModes));
      if (read.status === 'refused' || read.status === 'error') {
        logAuthLine(this.log, keyFileRefusedLine(read.reason, account.name));
        continue;
      }
      if (read.status === 'missing') {
        this.log.debug({ file }, `Could not open user '${account.name}' authorized keys '${file}': No such file or directory`);
        continue;
      }
      const parsed = parseAuthorizedKeys(read.text, ctx.key.data);
      const lookup = findAuthorizedKey(parsed.entries, ctx.key.data, { user: account.name, client: { ip: this.peer.ip }, now: Math.floor(this.now() / 1000) }, file);
      if (lookup.allowed) return lookup;
      if (last === undefined || lookup.code !== 'key-not-found') last = lookup;
    }
    return last ?? { allowed: false, code: 'key-not-found', reason: 'no authorized_keys file', refused: [] };
  }

  private finish(ctx: AuthContext, user: AuthUser, o: { authenticated: boolean }, key?: KeyInfo): void {
    const verdict = finishAuthRequest(this.tries, { method: ctx.method, authenticated: o.authenticated, validUser: user.valid }, this.cfg.MaxAuthTries);
    this.tries = verdict.state;
    if (ctx.method !== 'none') logAuthLine(this.log, failedLine(ctx.method, user, this.peer, verdict.logLevel === 'info' ? 'info' : 'verbose', key));
    if (verdict.disconnect) {
      logAuthLine(this.log, maxTriesLine(user, this.peer));
      ctx.reject(['publickey']);
      this.disconnect('Too many authentication failures');
      return;
    }
    ctx.reject(['publickey']);
  }
}

/** User signature algorithms accepted by default: sshd 9.x's PubkeyAcceptedAlgorithms, without certificates. */
export const ACCEPTED_SIGNATURE_ALGORITHMS: ReadonlySet<string> = acceptedPubkeyAlgorithms(undefined);

/** The algorithm the client names (ssh2 reports rsa-sha2-* as ssh-rsa plus a hash). */
export function signatureAlgorithm(ctx: { key: { algo: string }; hashAlgo?: string | undefined }): string {
  if (ctx.key.algo !== 'ssh-rsa') return ctx.key.algo;
  return ctx.hashAlgo === 'sha256' ? 'rsa-sha2-256' : ctx.hashAlgo === 'sha512' ? 'rsa-sha2-512' : 'ssh-rsa';
}

function verifySignature(ctx: PublicKeyAuthContext, lookup: KeyLookup): boolean {
  const entry = lookup.entry;
  if (entry === undefined || ctx.signature === undefined || ctx.blob === undefined) return false;
  const parsed = ssh2.utils.parseKey(`${ctx.key.algo} ${ctx.key.data.toString('base64')}`);
  const pub = Array.isArray(parsed) ? parsed[0] : parsed;
  if (pub === undefined || pub instanceof Error) return false;
  return pub.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true;
}
