/**
 * Public key authentication for one connection, decided by the root daemon
 * (the monitor) as sshd decides it: MaxAuthTries, the user's existence and
 * AllowUsers/DenyUsers/AllowGroups/DenyGroups, account expiry and locks,
 * the authorized_keys files (read with the user's credentials, under
 * StrictModes), key options (from=, expiry-time), the signature, then
 * PermitRootLogin. Every decision is logged in sshd's words.
 *
 * The worker only relays the client's request. The signature is checked
 * here over data rebuilt from the session id this daemon signed, so a
 * worker taken over by its client cannot log in as anyone without the key.
 */
import crypto from 'node:crypto';
import ssh2 from 'ssh2';
import type { SshConfig } from '../../config/ssh-schema.js';
import type { Logger } from '../../util/logger.js';
import {
  acceptedLine, splitAuthUser, checkAccountState, failureDelayMs, userFloorMs, checkRootLogin, shadowDay, checkUserAccess, failedLine, findAuthorizedKey, finishAuthRequest, invalidUserLine, keyFileRefusedLine, logAuthLine, maxTriesLine,
  newAuthTries, normaliseClientAddress, notAllowedLine, parseAuthorizedKeys, postponedLine, rootRefusedLine, beginAuthRequest, judgeOpenedKeyFile, systemErrorText, MAX_KEY_FILE_BYTES,
  type AuthTries, type AuthUser, type KeyFileRead, type KeyInfo, type KeyLookup, type Peer,
} from '../auth/index.js';
import type { KeyOptions } from '../auth/key-options.js';
import { lookupUser, type LookedUpUser } from './accounts.js';
import { acceptedPubkeyAlgorithms } from '../../config/ssh-algorithms.js';
import { readFileAs } from '../../native/sandbox.js';
import { sshString } from './host-key-signer.js';

/** The outcome the monitor acts on. */
export interface AuthSuccess {
  user: LookedUpUser;
  options: KeyOptions;
  key: KeyInfo;
}

/** One userauth request as the client sent it (relayed by the worker). */
export interface UserauthRequest {
  user: string;
  service: string;
  method: string;
  /** publickey: the algorithm name as sent (rsa-sha2-256, ssh-ed25519, ...) and the key blob. */
  key?: { algo: string; blob: Buffer };
  /** The signature in the form ssh2 verifies; absent for a query. */
  signature?: Buffer;
}

export type UserauthVerdict =
  | { result: 'failure' }
  | { result: 'pk-ok' }
  | { result: 'success'; success: AuthSuccess }
  | { result: 'disconnect'; reason: string };

/** Expands AuthorizedKeysFile tokens (%h, %u, %U, %%) and makes the path absolute under HOME. */
export function expandKeysFile(pattern: string, user: { name: string; uid: number; home: string }): string {
  const out = pattern.replace(/%([%hUu])/g, (_m, t: string) => (t === '%' ? '%' : t === 'h' ? user.home : t === 'u' ? user.name : String(user.uid)));
  return out.startsWith('/') ? out : `${user.home.replace(/\/+$/, '')}/${out}`;
}

/** Reads an authorized_keys file with the user's credentials; the daemon's other work never runs as the user. */
export type KeyFileReader = (file: string, user: LookedUpUser, strictModes: boolean) => Promise<KeyFileRead>;

export const readKeyFileAsUser: KeyFileReader = async (file, user, strictModes) => {
  const owner = { name: user.account.name, uid: user.account.uid, home: user.account.home };
  let got: { data: Buffer; uid: number; mode: number; size: number };
  try {
    got = await readFileAs(user.account.uid, user.gids, file, MAX_KEY_FILE_BYTES);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const syscall = (e as NodeJS.ErrnoException).syscall;
    if (syscall !== 'open' && syscall !== 'read' && syscall !== 'fstat') return { status: 'error', reason: `cannot read '${file}' as ${owner.name}: ${(e as Error).message}` };
    const msg = `Could not open user '${owner.name}' authorized keys '${file}': ${systemErrorText(e)}`;
    return code === 'ENOENT' ? { status: 'missing', reason: msg } : { status: 'error', reason: msg, ...(code ? { code } : {}) };
  }
  try {
    const refused = judgeOpenedKeyFile(file, got, owner, strictModes);
    return refused !== null ? { status: 'refused', reason: refused } : { status: 'ok', text: got.data.toString('utf8') };
  } catch (e) {
    return { status: 'error', reason: `checking '${file}': ${systemErrorText(e)}` };
  }
};

/** The data a publickey signature covers (RFC 4252 section 7), rebuilt from the session id and the request. */
export function signedUserauthData(sessionId: Buffer, req: { user: string; service: string; key: { algo: string; blob: Buffer } }): Buffer {
  return Buffer.concat([sshString(sessionId), Buffer.from([50]), sshString(req.user), sshString(req.service), sshString('publickey'), Buffer.from([1]), sshString(req.key.algo), sshString(req.key.blob)]);
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
    private readonly now: () => number = () => Date.now(),
    private readonly readKeyFile: KeyFileReader = readKeyFileAsUser,
  ) {
    this.peer = { ip: normaliseClientAddress(remote.address), port: remote.port };
    this.accepted = acceptedPubkeyAlgorithms(cfg.PubkeyAcceptedAlgorithms);
  }

  /**
   * Decides one request; `sessionId` is the first exchange hash this daemon
   * signed for the connection. Never rejects. A failure is answered only
   * after the name's floor, so that it takes as long for a real user as for
   * an unknown name.
   */
  async handle(req: UserauthRequest, sessionId: Buffer | undefined): Promise<UserauthVerdict> {
    const started = performance.now();
    let verdict: UserauthVerdict;
    try {
      verdict = await this.decide(req, sessionId);
    } catch (err) {
      this.log.error({ err }, 'authentication failed on an internal error');
      verdict = { result: 'failure' };
    }
    // "none" only asks which methods exist; sshd does not pad it either.
    if (req.method !== 'none' && verdict.result !== 'success' && verdict.result !== 'pk-ok') {
      const wait = failureDelayMs(userFloorMs(req.user, FAILURE_SECRET), performance.now() - started);
      await new Promise((r) => setTimeout(r, wait));
    }
    return verdict;
  }

  private async decide(req: UserauthRequest, sessionId: Buffer | undefined): Promise<UserauthVerdict> {
    if (this.success !== undefined) return { result: 'failure' };
    const begin = beginAuthRequest(this.tries, req.user, req.service, this.cfg.MaxAuthTries);
    this.tries = begin.state;
    if (begin.action === 'disconnect') return { result: 'disconnect', reason: begin.reason };
    // sshd takes "user:style" apart and authenticates the user part only.
    const name = splitAuthUser(req.user).user;
    const user = lookupUser(name);
    const authUser: AuthUser = { name, valid: user !== null };
    const key = req.key;
    if (begin.action === 'fail' || req.method !== 'publickey' || !this.cfg.PubkeyAuthentication || key === undefined) {
      return this.finish(req.method, authUser);
    }
    if (!this.accepted.has(key.algo)) {
      // sshd 8.8 and later: SHA-1 RSA (ssh-rsa) and DSA signatures are not accepted.
      this.log.info({ event: 'auth-algorithm-refused', algorithm: key.algo, user: name }, `userauth_pubkey: signature algorithm ${key.algo} not in PubkeyAcceptedAlgorithms [preauth]`);
      return this.finish(req.method, authUser);
    }
    if (user === null) {
      logAuthLine(this.log, invalidUserLine(name, this.peer));
      return this.finish(req.method, authUser);
    }
    const access = checkUserAccess(
      { allowUsers: this.cfg.AllowUsers, denyUsers: this.cfg.DenyUsers, allowGroups: this.cfg.AllowGroups, denyGroups: this.cfg.DenyGroups },
      user.access,
      { ip: this.peer.ip },
    );
    if (!access.allowed) {
      logAuthLine(this.log, notAllowedLine(user.account.name, this.peer.ip, access.reason));
      return this.finish(req.method, { ...authUser, valid: false });
    }
    const state = checkAccountState(user.account.name, user.shadow, shadowDay(this.now()));
    if (!state.allowed) {
      this.log.info({ event: 'account-refused', code: state.code, user: user.account.name, remoteAddress: this.peer.ip }, state.reason);
      return this.finish(req.method, { ...authUser, valid: false });
    }
    const lookup = await this.findKey(user, key.blob);
    if (!lookup.allowed || lookup.entry === undefined || lookup.key === undefined) {
      if (lookup.refused.length > 0 || lookup.code !== 'key-not-found') this.log.info({ user: user.account.name, reason: lookup.reason }, lookup.reason);
      return this.finish(req.method, authUser, lookup.key);
    }
    const info: KeyInfo = lookup.key;
    if (req.signature === undefined) {
      // A query: the key would do; the client signs next (SSH_MSG_USERAUTH_PK_OK).
      logAuthLine(this.log, postponedLine('publickey', authUser, this.peer, info));
      this.tries = finishAuthRequest(this.tries, { method: 'publickey', authenticated: false, postponed: true, validUser: true }, this.cfg.MaxAuthTries).state;
      return { result: 'pk-ok' };
    }
    if (sessionId === undefined || !verifySignature(key, req.signature, signedUserauthData(sessionId, { user: req.user, service: req.service, key }))) {
      return this.finish(req.method, authUser, info);
    }
    const root = checkRootLogin(this.cfg.PermitRootLogin, { uid: user.account.uid, method: 'publickey', forcedCommand: lookup.entry.options.command });
    if (!root.allowed) {
      logAuthLine(this.log, rootRefusedLine(this.peer));
      return this.finish(req.method, authUser, info);
    }
    this.success = { user, options: lookup.entry.options, key: info };
    logAuthLine(this.log, acceptedLine('publickey', authUser, this.peer, info));
    return { result: 'success', success: this.success };
  }

  private async findKey(user: LookedUpUser, blob: Buffer): Promise<KeyLookup> {
    const { account } = user;
    let last: KeyLookup | undefined;
    for (const pattern of this.cfg.AuthorizedKeysFile) {
      if (pattern.toLowerCase() === 'none') continue;
      const file = expandKeysFile(pattern, account);
      const read = await this.readKeyFile(file, user, this.cfg.StrictModes);
      if (read.status === 'refused' || read.status === 'error') {
        logAuthLine(this.log, keyFileRefusedLine(read.reason, account.name));
        continue;
      }
      if (read.status === 'missing') {
        this.log.debug({ file }, `Could not open user '${account.name}' authorized keys '${file}': No such file or directory`);
        continue;
      }
      const parsed = parseAuthorizedKeys(read.text, blob);
      const lookup = findAuthorizedKey(parsed.entries, blob, { user: account.name, client: { ip: this.peer.ip }, now: Math.floor(this.now() / 1000) }, file);
      if (lookup.allowed) return lookup;
      if (last === undefined || lookup.code !== 'key-not-found') last = lookup;
    }
    return last ?? { allowed: false, code: 'key-not-found', reason: 'no authorized_keys file', refused: [] };
  }

  private finish(method: string, user: AuthUser, key?: KeyInfo): UserauthVerdict {
    const verdict = finishAuthRequest(this.tries, { method, authenticated: false, validUser: user.valid }, this.cfg.MaxAuthTries);
    this.tries = verdict.state;
    if (method !== 'none') logAuthLine(this.log, failedLine(method, user, this.peer, verdict.logLevel === 'info' ? 'info' : 'verbose', key));
    if (verdict.disconnect) {
      logAuthLine(this.log, maxTriesLine(user, this.peer));
      return { result: 'disconnect', reason: 'Too many authentication failures' };
    }
    return { result: 'failure' };
  }
}

/** User signature algorithms accepted by default: sshd 9.x's PubkeyAcceptedAlgorithms, without certificates. */
export const ACCEPTED_SIGNATURE_ALGORITHMS: ReadonlySet<string> = acceptedPubkeyAlgorithms(undefined);

/** The algorithm the client names (ssh2 reports rsa-sha2-* as ssh-rsa plus a hash). */
export function signatureAlgorithm(ctx: { key: { algo: string }; hashAlgo?: string | undefined }): string {
  if (ctx.key.algo !== 'ssh-rsa') return ctx.key.algo;
  return ctx.hashAlgo === 'sha256' ? 'rsa-sha2-256' : ctx.hashAlgo === 'sha512' ? 'rsa-sha2-512' : 'ssh-rsa';
}

/** Checks the client's signature over `data` with the key it offered (which authorized_keys already allowed). */
function verifySignature(key: { algo: string; blob: Buffer }, signature: Buffer, data: Buffer): boolean {
  const rsaHash = key.algo === 'rsa-sha2-256' ? 'sha256' : key.algo === 'rsa-sha2-512' ? 'sha512' : undefined;
  const keyType = rsaHash !== undefined ? 'ssh-rsa' : key.algo;
  const parsed = ssh2.utils.parseKey(`${keyType} ${key.blob.toString('base64')}`);
  const pub = Array.isArray(parsed) ? parsed[0] : parsed;
  if (pub === undefined || pub instanceof Error || pub.type !== keyType) return false;
  return pub.verify(data, signature, rsaHash) === true;
}
