/**
 * Public key authentication for one connection, decided by the root daemon
 * (the monitor) as sshd decides it: MaxAuthTries, the user's existence and
 * AllowUsers/DenyUsers/AllowGroups/DenyGroups, account expiry and locks,
 * the authorized_keys files (read with the user's credentials, under
 * StrictModes), key options (from=, expiry-time), or for a certificate its
 * CA and limits (certificate-login.ts), the signature, then PermitRootLogin.
 * Every decision is logged in sshd's words.
 *
 * The worker only relays the client's request. The signature is checked
 * here over data rebuilt from the session id this daemon signed, so a
 * worker taken over by its client cannot log in as anyone without the key.
 *
 * With UsePAM, as Debian's sshd: the account stack (pam_acct_mgmt) decides
 * after the key instead of the shadow checks, and keyboard-interactive and
 * password go through the PAM stack; PAM runs in the connection's root
 * process (user-side/login-process.ts), never here.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import ssh2 from 'ssh2';
import type { SshConfig } from '../../config/ssh-schema.js';
import type { Logger } from '../../util/logger.js';
import {
  acceptedLine, splitAuthUser, checkAccountState, failureDelayMs, userFloorMs, checkRootLogin, shadowDay, checkUserAccess, failedLine, findAuthorizedKey, finishAuthRequest, invalidUserLine, keyFileRefusedLine, logAuthLine, maxTriesLine,
  newAuthTries, normaliseClientAddress, notAllowedLine, parseAuthorizedKeys, postponedLine, rootRefusedLine, beginAuthRequest, judgeOpenedKeyFile, systemErrorText, MAX_KEY_FILE_BYTES,
  isCertificateAlgorithm, type AuthTries, type AuthUser, type KeyFileRead, type KeyInfo, type KeyLookup, type Peer,
} from '../auth/index.js';
import { defaultKeyOptions, type KeyOptions } from '../auth/key-options.js';
import { completeMethod, methodsAllowed } from '../auth/auth-methods.js';
import { fakePassword, pamAttempt } from '../auth/pam-attempt.js';
import type { LoginProcess, PamOutcome, PamStep } from '../user-side/login-process.js';
import { lookupUser, type LookedUpUser } from './accounts.js';
import { acceptedPubkeyAlgorithms } from '../../config/ssh-algorithms.js';
import { readFileAs } from '../../native/sandbox.js';
import { sshString } from '../wire.js';
import { findCertificateLogin, type FoundKey } from './certificate-login.js';
import { mergeKeySteps } from './channel-policy.js';

/** The outcome the monitor acts on. */
export interface AuthSuccess {
  user: LookedUpUser;
  /** The key's options (defaults when no key was part of the login). */
  options: KeyOptions;
  key?: KeyInfo;
}

/** Starts the connection's root process for a user name (it runs PAM for that name). */
export type LoginStarter = (user: string) => LoginProcess;

/** One userauth request as the client sent it (relayed by the worker). */
export interface UserauthRequest {
  user: string;
  service: string;
  method: string;
  /** publickey: the algorithm name as sent (rsa-sha2-256, ssh-ed25519, ...) and the key blob. */
  key?: { algo: string; blob: Buffer };
  /** The signature in the form ssh2 verifies; absent for a query. */
  signature?: Buffer;
  /** password: what the client typed. */
  password?: string;
}

export type UserauthVerdict =
  | { result: 'failure'; methods?: string[] }
  | { result: 'partial'; methods: string[] }
  | { result: 'prompt'; name: string; instructions: string; prompts: { prompt: string; echo: boolean }[] }
  | { result: 'pk-ok' }
  | { result: 'success'; success: AuthSuccess }
  | { result: 'disconnect'; reason: string; fatal?: boolean };

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

/** PK_OK answers one connection gets; further key queries count as failed attempts. */
export const MAX_ACCEPTED_KEY_QUERIES = 10;

/** The file whose presence stops logins other than root's (login(1), sshd without PAM). */
const NOLOGIN_FILE = '/etc/nologin';

/** Per-process secret of the failure floors: the floor of a name cannot be learned elsewhere. */
const FAILURE_SECRET = crypto.randomBytes(32);

export class Authenticator {
  private tries: AuthTries = newAuthTries();
  private readonly peer: Peer;
  private readonly accepted: ReadonlySet<string>;
  success: AuthSuccess | undefined;
  /** AuthenticationMethods still to complete (null: any one method will do). */
  private lists: string[][] | null;
  /** The root process PAM runs in, for the user named. */
  private login: { user: string; proc: LoginProcess; pam: boolean } | undefined;
  /** A keyboard-interactive exchange waiting for the client's answers. */
  /** `genuine` false: PAM gets stand-ins for the client's answers, and the attempt fails (pam-attempt.ts). */
  private conversation: { user: LookedUpUser | null; authUser: AuthUser; genuine: boolean } | undefined;
  /** A publickey step that succeeded before another method (its options apply to the login). */
  private keyStep: { options: KeyOptions; key: KeyInfo } | undefined;
  /** The account stack already passed (it runs right after PAM's authentication). */
  private accountChecked = false;
  /** Queries answered "the key would do" (PK_OK), which MaxAuthTries does not count. */
  private keyQueries = 0;
  /** Fingerprints of the keys a step of this login was accepted with (a certificate's: its key's). */
  private readonly usedKeys = new Set<string>();

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
    /** Absent (tests, a daemon not running as root): no PAM, the shadow checks instead. */
    private readonly startLogin?: LoginStarter,
  ) {
    this.peer = { ip: normaliseClientAddress(remote.address), port: remote.port };
    this.accepted = acceptedPubkeyAlgorithms(cfg.PubkeyAcceptedAlgorithms);
    this.lists = cfg.AuthenticationMethods;
  }

  /** Whether PAM is to decide accounts (it may still turn out missing from the helper). */
  private get usePam(): boolean {
    return this.cfg.UsePAM && this.startLogin !== undefined;
  }

  /** Methods the client may try now, as the failure message lists them. */
  allowedMethods(): string[] {
    const enabled: string[] = [];
    if (this.cfg.PubkeyAuthentication) enabled.push('publickey');
    if (this.usePam && this.cfg.KbdInteractiveAuthentication) enabled.push('keyboard-interactive');
    if (this.usePam && this.cfg.PasswordAuthentication) enabled.push('password');
    return methodsAllowed(enabled, this.lists);
  }

  /** The root process of a successful login, for its session; the caller owns it from here. */
  takeLoginProcess(): LoginProcess | undefined {
    const l = this.login;
    this.login = undefined;
    return l?.proc;
  }

  /** The connection ended: a login process that did not become a session exits. */
  close(): void {
    this.login?.proc.close();
    this.login = undefined;
  }

  /** keyboard-interactive: the client's answers to the last prompt. Never rejects. */
  async answers(answers: readonly string[]): Promise<UserauthVerdict> {
    const started = performance.now();
    let verdict: UserauthVerdict;
    try {
      const c = this.conversation;
      const proc = this.login?.proc;
      if (c === undefined || proc === undefined) return { result: 'failure', methods: this.allowedMethods() };
      // One prompt per request, as sshd sends them; anything else gives up.
      const answer = answers.length === 1 ? (answers[0] as string) : null;
      verdict = await this.converse(await proc.answer(answer !== null && !c.genuine ? fakePassword(answer) : answer));
    } catch (err) {
      this.log.error({ err }, 'keyboard-interactive failed on an internal error');
      this.conversation = undefined;
      verdict = { result: 'failure', methods: this.allowedMethods() };
    }
    if (verdict.result === 'failure') await this.failureFloor(this.tries.user ?? '', started);
    return verdict;
  }

  private async failureFloor(user: string, started: number): Promise<void> {
    const wait = failureDelayMs(userFloorMs(user, FAILURE_SECRET), performance.now() - started);
    await new Promise((r) => setTimeout(r, wait));
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
    if (req.method !== 'none' && (verdict.result === 'failure' || verdict.result === 'disconnect')) await this.failureFloor(req.user, started);
    return verdict;
  }

  private async decide(req: UserauthRequest, sessionId: Buffer | undefined): Promise<UserauthVerdict> {
    if (this.success !== undefined) return { result: 'failure' };
    const begin = beginAuthRequest(this.tries, req.user, req.service, this.cfg.MaxAuthTries);
    this.tries = begin.state;
    if (begin.action === 'disconnect') return { result: 'disconnect', reason: begin.reason };
    // sshd takes "user:style" apart and authenticates the user part only.
    const name = splitAuthUser(req.user).user;
    // A new request ends a keyboard-interactive exchange the client left; it counts as failed.
    if (this.conversation !== undefined) await this.abandonConversation();
    const user = lookupUser(name);
    const authUser: AuthUser = { name, valid: user !== null };
    const key = req.key;
    if (begin.action === 'fail' || !this.allowedMethods().includes(req.method)) return this.finish(req.method, authUser);
    if (req.method === 'keyboard-interactive' || req.method === 'password') return this.pamMethod(req, name, user, authUser);
    if (req.method !== 'publickey' || key === undefined) return this.finish(req.method, authUser);
    if (!this.accepted.has(key.algo)) {
      // sshd 8.8 and later: SHA-1 RSA (ssh-rsa) and DSA signatures are not accepted.
      this.log.info({ event: 'auth-algorithm-refused', algorithm: key.algo, user: name }, `userauth_pubkey: signature algorithm ${key.algo} not in PubkeyAcceptedAlgorithms [preauth]`);
      return this.finish(req.method, authUser);
    }
    if (user === null) {
      logAuthLine(this.log, invalidUserLine(name, this.peer));
      return this.finish(req.method, authUser);
    }
    if (!this.accessAllowed(user)) return this.finish(req.method, { ...authUser, valid: false });
    // With PAM, its account stack decides after the key (sshd skips these checks then).
    if (!this.usePam && !this.shadowAllows(user)) return this.finish(req.method, { ...authUser, valid: false });
    // A client asks once per key it holds, then signs with the one that
    // would do; asking again and again is only ever a way to make the daemon
    // read the user's files again. Past the budget a query is a failure,
    // and the files are not read.
    if (req.signature === undefined && this.keyQueries >= MAX_ACCEPTED_KEY_QUERIES) return this.finish(req.method, authUser);
    const found = isCertificateAlgorithm(key.algo) ? await this.findCertificate(user, key) : await this.findPlainKey(user, key);
    if (!found.ok) return this.finish(req.method, authUser, found.info);
    const info = found.info;
    // AuthenticationMethods publickey,publickey asks for two keys: one key
    // (plain or certified) does not count twice, as in sshd.
    if (this.usedKeys.has(info.fingerprint)) {
      this.log.info({ event: 'key-reused', user: name, fingerprint: info.fingerprint }, `refusing previously-used ${info.shortType} key ${info.fingerprint}`);
      return this.finish(req.method, authUser, info);
    }
    if (req.signature === undefined) {
      this.keyQueries++;
      // A query: the key would do; the client signs next (SSH_MSG_USERAUTH_PK_OK).
      logAuthLine(this.log, postponedLine('publickey', authUser, this.peer, info));
      this.tries = finishAuthRequest(this.tries, { method: 'publickey', authenticated: false, postponed: true, validUser: true }, this.cfg.MaxAuthTries).state;
      return { result: 'pk-ok' };
    }
    if (sessionId === undefined || !found.verify(req.signature, signedUserauthData(sessionId, { user: req.user, service: req.service, key }))) {
      return this.finish(req.method, authUser, info);
    }
    const root = checkRootLogin(this.cfg.PermitRootLogin, { uid: user.account.uid, method: 'publickey', forcedCommand: found.options.command });
    if (!root.allowed) {
      logAuthLine(this.log, rootRefusedLine(this.peer));
      return this.finish(req.method, authUser, info);
    }
    if (found.accepted !== undefined) this.log.info({ event: 'cert-accepted', user: user.account.name }, found.accepted);
    return this.succeed('publickey', user, authUser, { options: found.options, key: info });
  }

  /** A plain key: the authorized_keys files, and the signature checked with the key itself. */
  private async findPlainKey(user: LookedUpUser, key: { algo: string; blob: Buffer }): Promise<FoundKey> {
    const lookup = await this.findKey(user, key.blob);
    if (!lookup.allowed || lookup.entry === undefined || lookup.key === undefined) {
      if (lookup.refused.length > 0 || lookup.code !== 'key-not-found') this.log.info({ user: user.account.name, reason: lookup.reason }, lookup.reason);
      return { ok: false, ...(lookup.key ? { info: lookup.key } : {}) };
    }
    return { ok: true, options: lookup.entry.options, info: lookup.key, verify: (sig, data) => verifySignature(key, sig, data) };
  }

  /** A certificate: its CA trusted by TrustedUserCAKeys or a cert-authority line, and sshd's checks (certificate-login.ts). */
  private async findCertificate(user: LookedUpUser, key: { algo: string; blob: Buffer }): Promise<FoundKey> {
    return findCertificateLogin(
      { cfg: this.cfg, log: this.log, peer: this.peer, now: this.now, readKeyFile: this.readKeyFile, readAuthorizedKeys: (u) => this.authorizedKeysTexts(u), expandPath: expandKeysFile },
      user,
      key,
    );
  }

  private shadowAllows(user: LookedUpUser): boolean {
    const state = checkAccountState(user.account.name, user.shadow, shadowDay(this.now()));
    if (!state.allowed) this.log.info({ event: 'account-refused', code: state.code, user: user.account.name, remoteAddress: this.peer.ip }, state.reason);
    return state.allowed;
  }

  /**
   * A method succeeded: partial success while AuthenticationMethods wants
   * more, else the account check (PAM's stack, once) and the login.
   */
  private async succeed(method: string, user: LookedUpUser, authUser: AuthUser, keyStep?: { options: KeyOptions; key: KeyInfo }): Promise<UserauthVerdict> {
    if (keyStep !== undefined) {
      // A second key's options are added to the first's, never put in their place.
      const merged = this.keyStep === undefined ? { ok: true as const, options: keyStep.options } : mergeKeySteps(this.keyStep.options, keyStep.options);
      if (!merged.ok) {
        this.log.info({ event: 'key-options-conflict', user: user.account.name }, `Inconsistent authentication options: ${merged.reason}`);
        return this.finish(method, authUser, keyStep.key);
      }
      this.keyStep = { options: merged.options, key: keyStep.key };
      this.usedKeys.add(keyStep.key.fingerprint);
    }
    const step = completeMethod(this.lists, method);
    this.lists = step.lists;
    const logged = method === 'keyboard-interactive' ? 'keyboard-interactive/pam' : method;
    if (!step.done) {
      const line = acceptedLine(logged, authUser, this.peer, keyStep?.key);
      // sshd: "Partial publickey for alice from ... ssh2: ED25519 SHA256:...".
      this.log.info({ ...line.fields, event: 'auth-partial' }, line.message.replace(/^Accepted/, 'Partial'));
      this.tries = finishAuthRequest(this.tries, { method, authenticated: false, partial: true, validUser: true }, this.cfg.MaxAuthTries).state;
      return { result: 'partial', methods: this.allowedMethods() };
    }
    logAuthLine(this.log, acceptedLine(logged, authUser, this.peer, keyStep?.key));
    if (!this.accountChecked) {
      const proc = this.usePam ? await this.pamProcess(user.account.name) : undefined;
      if (proc !== undefined) {
        const acct = await proc.account();
        if (acct.result !== 'ok') return this.accountRefused(user.account.name, acct, method);
      } else {
        // PAM was wanted but the helper has none: the shadow checks skipped earlier apply now.
        if (this.usePam && !this.shadowAllows(user)) return this.finish(method, { ...authUser, valid: false });
        const nologin = this.nologin(user);
        if (nologin !== undefined) return nologin;
      }
      this.accountChecked = true;
    }
    this.success = { user, options: this.keyStep?.options ?? defaultKeyOptions(), ...(this.keyStep ? { key: this.keyStep.key } : {}) };
    return { result: 'success', success: this.success };
  }

  /** Without PAM, sshd itself refuses everyone but root while /etc/nologin exists, and shows its text. */
  private nologin(user: LookedUpUser): UserauthVerdict | undefined {
    if (user.account.uid === 0) return undefined;
    let text: string;
    try {
      text = fs.readFileSync(NOLOGIN_FILE, 'utf8').slice(0, 200);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      text = '';
    }
    const name = user.account.name;
    this.log.info({ event: 'account-refused', code: 'nologin', user: name, remoteAddress: this.peer.ip }, `User ${name} not allowed because ${NOLOGIN_FILE} exists`);
    return { result: 'disconnect', reason: text.trim() || 'Logins are currently disabled', fatal: true };
  }

  /** sshd ends the connection when the account stack refuses: "Access denied for user alice by PAM account configuration". */
  private accountRefused(name: string, acct: PamOutcome, method: string): UserauthVerdict {
    const text = `Access denied for user ${name} by PAM account configuration`;
    const fields = { event: 'account-refused', code: acct.result === 'new-authtok' ? 'pam-password-change' : 'pam-account', user: name, remoteAddress: this.peer.ip, pam: acct.why };
    if (acct.result === 'new-authtok') {
      // sshd would force the change on the session's terminal; mpsshd cannot run pam_chauthtok there.
      this.log.info(fields, `${text}: password change required, not possible after ${method} [preauth]`);
    } else {
      this.log.info(fields, `${text} [preauth]`);
    }
    this.success = undefined;
    // pam_nologin's text and the like reach the client as the reason, as sshd shows them before closing.
    const shown = acct.text.trim() || text;
    return { result: 'disconnect', reason: shown.length > 200 ? shown.slice(0, 200) : shown, fatal: true };
  }

  /** The root process for `name`, started on first use; undefined when PAM is not to be had. */
  private async pamProcess(name: string): Promise<LoginProcess | undefined> {
    if (this.startLogin === undefined) return undefined;
    if (this.login !== undefined && this.login.user !== name) this.close();
    if (this.login === undefined) {
      try {
        const proc = this.startLogin(name);
        this.login = { user: name, proc, pam: await proc.pam };
      } catch (err) {
        this.log.error({ err }, `PAM: cannot start the login process for ${name}`);
        return undefined;
      }
      if (!this.login.pam) this.log.warn('PAM: mpsshd-user-helper was built without libpam; UsePAM is ignored');
    }
    return this.login.pam ? this.login.proc : undefined;
  }

  /** AllowUsers, DenyUsers, AllowGroups, DenyGroups for this client; a refusal is logged in sshd's words. */
  private accessAllowed(user: LookedUpUser): boolean {
    const access = checkUserAccess(
      { allowUsers: this.cfg.AllowUsers, denyUsers: this.cfg.DenyUsers, allowGroups: this.cfg.AllowGroups, denyGroups: this.cfg.DenyGroups },
      user.access,
      { ip: this.peer.ip },
    );
    if (!access.allowed) logAuthLine(this.log, notAllowedLine(user.account.name, this.peer.ip, access.reason));
    return access.allowed;
  }

  /** keyboard-interactive and password, both decided by the PAM stack. */
  private async pamMethod(req: UserauthRequest, name: string, user: LookedUpUser | null, authUser: AuthUser): Promise<UserauthVerdict> {
    let valid = user !== null;
    if (user === null) logAuthLine(this.log, invalidUserLine(name, this.peer));
    else if (!this.accessAllowed(user)) valid = false;
    const proc = await this.pamProcess(name);
    if (proc === undefined) return this.finish(req.method, authUser);
    const method = req.method === 'password' ? 'password' : 'keyboard-interactive';
    const password = req.password ?? '';
    const attempt = pamAttempt({
      method,
      allowedUser: valid,
      uid: user?.account.uid,
      permitRootLogin: this.cfg.PermitRootLogin,
      permitEmptyPasswords: this.cfg.PermitEmptyPasswords,
      password,
    });
    // An attempt that cannot succeed still goes through the stack, so that it takes as long and asks the same.
    this.conversation = { user: valid ? user : null, authUser: { ...authUser, valid }, genuine: attempt.genuine };
    if (!attempt.genuine && attempt.why !== 'user') this.log.debug({ user: name, why: attempt.why }, `PAM is given a stand-in for the ${method} (${attempt.why === 'root' ? `PermitRootLogin ${this.cfg.PermitRootLogin}` : 'PermitEmptyPasswords no'})`);
    const opts = { permitEmpty: this.cfg.PermitEmptyPasswords, standIn: !attempt.genuine };
    if (method === 'password') return this.converse(await proc.authenticate('password', { ...opts, password: attempt.genuine ? password : fakePassword(password) }), 'password');
    return this.converse(await proc.authenticate('kbdint', opts));
  }

  /** One step of the PAM exchange: a prompt for the client, or its end. */
  private async converse(step: PamStep, method = 'keyboard-interactive'): Promise<UserauthVerdict> {
    const c = this.conversation;
    if (c === undefined) return { result: 'failure', methods: this.allowedMethods() };
    if (step.kind === 'prompt') {
      if (method === 'password') return this.converse(await this.login!.proc.answer(null), method);
      return { result: 'prompt', name: '', instructions: '', prompts: [{ prompt: step.text, echo: step.echo }] };
    }
    this.conversation = undefined;
    if (step.result === 'failed' || c.user === null || !c.genuine) {
      if (step.result !== 'failed') this.log.debug({ user: c.authUser.name }, 'PAM accepted an attempt mpsshd does not');
      return this.finish(method, c.authUser);
    }
    const user = c.user;
    if (step.result !== 'ok') return this.accountRefused(user.account.name, step, method);
    const root = checkRootLogin(this.cfg.PermitRootLogin, { uid: user.account.uid, method, forcedCommand: this.keyStep?.options.command });
    if (!root.allowed) {
      logAuthLine(this.log, rootRefusedLine(this.peer));
      return this.finish(method, c.authUser);
    }
    this.accountChecked = true;
    return this.succeed(method, user, c.authUser);
  }

  private async abandonConversation(): Promise<void> {
    const c = this.conversation;
    this.conversation = undefined;
    if (c === undefined) return;
    try {
      await this.login?.proc.answer(null);
    } catch {
      // the process is gone; the next PAM request starts another
      this.close();
    }
    this.finish('keyboard-interactive', c.authUser);
  }

  /** The user's readable AuthorizedKeysFile files in order; the others are logged as sshd logs them. */
  private async *authorizedKeysTexts(user: LookedUpUser): AsyncGenerator<{ file: string; text: string }> {
    const { account } = user;
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
      yield { file, text: read.text };
    }
  }

  private async findKey(user: LookedUpUser, blob: Buffer): Promise<KeyLookup> {
    const { account } = user;
    let last: KeyLookup | undefined;
    for await (const { file, text } of this.authorizedKeysTexts(user)) {
      const parsed = parseAuthorizedKeys(text, blob);
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
    return { result: 'failure', methods: this.allowedMethods() };
  }
}

/** User signature algorithms accepted by default: sshd 9.x's PubkeyAcceptedAlgorithms, without certificates. */
export const ACCEPTED_SIGNATURE_ALGORITHMS: ReadonlySet<string> = acceptedPubkeyAlgorithms(undefined);

/** Checks the client's signature over `data` with the key it offered (which authorized_keys already allowed). */
function verifySignature(key: { algo: string; blob: Buffer }, signature: Buffer, data: Buffer): boolean {
  const rsaHash = key.algo === 'rsa-sha2-256' ? 'sha256' : key.algo === 'rsa-sha2-512' ? 'sha512' : undefined;
  const keyType = rsaHash !== undefined ? 'ssh-rsa' : key.algo;
  const parsed = ssh2.utils.parseKey(`${keyType} ${key.blob.toString('base64')}`);
  const pub = Array.isArray(parsed) ? parsed[0] : parsed;
  if (pub === undefined || pub instanceof Error || pub.type !== keyType) return false;
  return pub.verify(data, signature, rsaHash) === true;
}
