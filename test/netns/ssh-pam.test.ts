/**
 * Accounts, PAM and login records as Debian's sshd does them (UsePAM yes),
 * with the real Linux-PAM modules and test services under /etc/pam.d that
 * this file writes and removes: the account stack after the key (an expired
 * account, pam_nologin, a stack that denies), the same refusals without PAM,
 * keyboard-interactive through the PAM conversation (pam_exec checking the
 * answer) alone and after a key (AuthenticationMethods), and for a terminal
 * session: PAM's environment, pam_motd's motd and "Last login", the
 * terminal given to the user and the tty group (0620), and the wtmp entry
 * with the terminal and the client's address.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Netns, waitFor } from '../../tools/netns.js';
import { fileSkip } from '../../tools/require-netns.js';
import { run, startMpsshdSsh, type MpsshdSsh } from '../../tools/mpsshd-ssh.js';
import { createTestUser, type TestUser } from '../../tools/test-user.js';
import { pamServices } from '../helpers/pam-services.js';

const skip = fileSkip({ programs: ['ssh', 'ssh-keygen', 'utmpdump'] });
const NO_PM = 'pathManager:\n  enabled: false';
const services = pamServices();
const service = services.name;

let ns: Netns;
let dir: string;
let user: TestUser;
/** UsePAM yes, the Debian-like test stack, keyboard-interactive on. */
let pam: MpsshdSsh;
/** UsePAM no. */
let nopam: MpsshdSsh;
/** UsePAM yes with an account stack that denies everyone. */
let deny: MpsshdSsh;
/** AuthenticationMethods publickey,keyboard-interactive. */
let both: MpsshdSsh;

before(async () => {
  if (skip) return;
  ns = Netns.create('sshpam');
  dir = fs.mkdtempSync('/tmp/mpssh-pam-');
  // pam_motd reads its files as the user.
  fs.chmodSync(dir, 0o755);
  fs.writeFileSync(path.join(dir, 'env'), 'MPSSH_PAM_VAR=from-pam\nUSER=not-from-pam\n');
  fs.writeFileSync(path.join(dir, 'motd'), 'Welcome to the PAM test host\n');
  const check = path.join(dir, 'check');
  // pam_exec hands the answer on stdin, NUL-terminated.
  fs.writeFileSync(check, '#!/bin/sh\npw=$(tr -d "\\000")\n[ "$pw" = sesame ]\n', { mode: 0o755 });
  // Debian's /etc/pam.d/sshd, with test files for pam_nologin, pam_env and pam_motd.
  services.write('main', [
    `auth required pam_exec.so expose_authtok quiet ${check}`,
    // pam_exec has no credentials to give; like pam_unix in common-auth, this answers pam_setcred.
    'auth optional pam_permit.so',
    `account required pam_nologin.so file=${path.join(dir, 'nologin')}`,
    '@include common-account',
    'session required pam_limits.so',
    // A hardened host's umask: what the user's programs must inherit.
    'session optional pam_umask.so umask=0027',
    `session optional pam_motd.so motd=${path.join(dir, 'motd')} noupdate`,
    `session required pam_env.so readenv=1 user_readenv=0 envfile=${path.join(dir, 'env')}`,
    '@include common-session',
  ]);
  services.write('deny', ['auth required pam_deny.so', 'account required pam_deny.so', 'session required pam_permit.so']);
  const main = [`PAMServiceName: ${service('main')}`, 'KbdInteractiveAuthentication: yes'];
  pam = await startMpsshdSsh(ns, { port: 22, extraYaml: NO_PM, sshYaml: main });
  nopam = await startMpsshdSsh(ns, { port: 2202, extraYaml: NO_PM, sshYaml: ['UsePAM: no'] });
  deny = await startMpsshdSsh(ns, { port: 2203, extraYaml: NO_PM, sshYaml: [`PAMServiceName: ${service('deny')}`] });
  both = await startMpsshdSsh(ns, { port: 2204, extraYaml: NO_PM, sshYaml: [...main, 'AuthenticationMethods: "publickey,keyboard-interactive"'] });
  user = createTestUser();
  const file = user.authorize(pam.clientPub);
  fs.writeFileSync(file, [pam, nopam, deny, both].map((s) => s.clientPub.trim()).join('\n') + '\n');
});

after(async () => {
  if (skip) return;
  for (const s of [pam, nopam, deny, both]) await s?.stop();
  user?.remove();
  services.removeAll();
  fs.rmSync(dir, { recursive: true, force: true });
  ns?.close();
});

function ssh(srv: MpsshdSsh, command: string[], opts: { input?: string } = {}) {
  return run(ns, 'ssh', [...srv.clientOptions, `${user.name}@127.0.0.1`, ...command], opts);
}

/** ssh answering keyboard-interactive prompts with `answer` (through SSH_ASKPASS, no terminal needed). */
function sshKbd(srv: MpsshdSsh, answer: string, extra: string[], command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const askpass = path.join(dir, `askpass-${crypto.randomBytes(3).toString('hex')}`);
  fs.writeFileSync(askpass, `#!/bin/sh\necho '${answer}'\n`, { mode: 0o755 });
  const opts = srv.clientOptions.map((o) => (o === 'BatchMode=yes' ? 'BatchMode=no' : o));
  return new Promise((resolve) => {
    execFile(
      'ip',
      ['netns', 'exec', ns.name, 'env', `SSH_ASKPASS=${askpass}`, 'SSH_ASKPASS_REQUIRE=force', 'DISPLAY=:0', 'setsid', '-w', 'ssh', ...opts, '-o', 'NumberOfPasswordPrompts=1', ...extra, `${user.name}@127.0.0.1`, command],
      { encoding: 'utf8', timeout: 20_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null) : 0, stdout, stderr }),
    ).stdin?.end();
  });
}

const accessDenied = (srv: MpsshdSsh, code = 'pam-account') =>
  srv.daemon.waitForLog('access denied', (l) => l.event === 'account-refused' && l.code === code && l.user === user.name && l.msg === `Access denied for user ${user.name} by PAM account configuration [preauth]`);

test('an expired account is refused by the PAM account stack (UsePAM yes) and by the shadow checks (UsePAM no), with sshd\'s lines', { skip }, async () => {
  execFileSync('usermod', ['--expiredate', '1', user.name]);
  try {
    const r = await ssh(pam, ['echo in']);
    assert.equal(r.code, 255, r.stdout);
    await accessDenied(pam);
    const n = await ssh(nopam, ['echo in']);
    assert.equal(n.code, 255, n.stdout);
    const line = await nopam.daemon.waitForLog('expired', (l) => l.event === 'account-refused' && l.code === 'account-expired' && l.user === user.name);
    assert.match(String(line.msg), /^Account \w+ has expired$/);
  } finally {
    execFileSync('usermod', ['--expiredate', '', user.name]);
  }
  assert.equal((await ssh(pam, ['echo in'])).stdout, 'in\n');
});

test('nologin: pam_nologin refuses and its text reaches the client (UsePAM yes); /etc/nologin refuses without PAM', { skip }, async () => {
  fs.writeFileSync(path.join(dir, 'nologin'), 'Down for maintenance\n');
  try {
    const r = await ssh(pam, ['echo in']);
    assert.equal(r.code, 255);
    assert.match(r.stderr, /Down for maintenance/);
    await accessDenied(pam);
  } finally {
    fs.rmSync(path.join(dir, 'nologin'));
  }
  // The system's file, for as short a time as possible: every login of this host sees it.
  let had = true;
  try {
    fs.writeFileSync('/etc/nologin', 'Down for maintenance (system)\n', { flag: 'wx' });
    had = false;
    const n = await ssh(nopam, ['echo in']);
    assert.equal(n.code, 255);
    assert.match(n.stderr, /Down for maintenance \(system\)/);
    await nopam.daemon.waitForLog('nologin', (l) => l.event === 'account-refused' && l.code === 'nologin' && l.msg === `User ${user.name} not allowed because /etc/nologin exists`);
  } finally {
    if (!had) fs.rmSync('/etc/nologin', { force: true });
  }
  assert.equal((await ssh(pam, ['echo in'])).stdout, 'in\n');
  assert.equal((await ssh(nopam, ['echo in'])).stdout, 'in\n');
});

test('a PAM account stack that denies refuses the key login; with UsePAM no the stack is not consulted', { skip }, async () => {
  const r = await ssh(deny, ['echo in']);
  assert.equal(r.code, 255, r.stdout);
  await accessDenied(deny);
  assert.equal((await ssh(nopam, ['echo in'])).stdout, 'in\n');
});

test('pam_umask sets the umask of the user\'s programs (UsePAM yes); without PAM it is 022, as sshd', { skip }, async () => {
  assert.equal((await ssh(pam, ['umask'])).stdout, '0027\n');
  assert.equal((await ssh(nopam, ['umask'])).stdout, '0022\n');
});

test('PAM\'s environment reaches programs; the session\'s own variables win', { skip }, async () => {
  const r = await ssh(pam, ['echo "$MPSSH_PAM_VAR $USER"']);
  assert.equal(r.stdout, `from-pam ${user.name}\n`, r.stderr);
  const n = await ssh(nopam, ['echo "[$MPSSH_PAM_VAR]"']);
  assert.equal(n.stdout, '[]\n');
});

test('a terminal session: tty owned by the user and the tty group 0620, a wtmp login with tty and address, then its logout', { skip }, async () => {
  const r = await ssh(pam, ['-tt', 'stat -c "%U %G %a" $(tty); tty'], { input: '' });
  assert.equal(r.code, 0, r.stderr);
  const [owner, tty] = r.stdout.replace(/\r/g, '').trim().split('\n');
  assert.equal(owner, `${user.name} tty 620`);
  assert.match(tty ?? '', /^\/dev\/pts\/\d+$/);
  const line = (tty ?? '').slice('/dev/'.length);
  // The logout record is written when the root parent sees the program end.
  let dump = '';
  for (let i = 0; i < 50; i++) {
    dump = execFileSync('utmpdump', ['/var/log/wtmp'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    if (dump.split('\n').some((l) => l.startsWith('[8]') && l.includes(`[${line}`))) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  const mine = dump.split('\n').filter((l) => l.includes(`[${user.name}`));
  assert.ok(mine.some((l) => l.startsWith('[7]') && l.includes(`[${line}`) && l.includes('[127.0.0.1')), `no USER_PROCESS for ${line}: ${mine.join('\n')}`);
  assert.ok(dump.split('\n').some((l) => l.startsWith('[8]') && l.includes(`[${line}`)), 'a DEAD_PROCESS for the line');
  const last = execFileSync('last', ['-w', '-i', '-n', '5', user.name], { encoding: 'utf8' });
  assert.match(last, new RegExp(`^${user.name}\\s+${line.replace('/', '\\/')}\\s+127\\.0\\.0\\.1`, 'm'));
});

test('a pty login shell shows pam_motd\'s motd, then "Last login" from the earlier login', { skip }, async () => {
  // The first terminal login of this user wrote lastlog (the previous test, or this one).
  await ssh(pam, ['-tt', 'true'], { input: '' });
  const r = await ssh(pam, ['-tt'], { input: 'echo SHELL-$((6*7))\nexit\n' });
  const out = r.stdout.replace(/\r/g, '');
  assert.match(out, /Welcome to the PAM test host\n/);
  assert.match(out, /Last login: \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} from 127\.0\.0\.1\n/);
  assert.ok(out.indexOf('Welcome') < out.indexOf('Last login') && out.indexOf('Last login') < out.indexOf('SHELL-42'), out);
  // A command is not a login: no motd.
  const c = await ssh(pam, ['-tt', 'echo cmd'], { input: '' });
  assert.doesNotMatch(c.stdout, /Welcome|Last login/);
});

test('logind registers the session where it runs', { skip }, async (t) => {
  let running = false;
  try {
    running = execFileSync('systemctl', ['is-active', 'systemd-logind'], { encoding: 'utf8' }).trim() === 'active';
  } catch {
    running = false;
  }
  if (!running) {
    t.skip('systemd-logind is not running on this machine (pam_systemd has no one to register with)');
    return;
  }
  const held = run(ns, 'ssh', [...pam.clientOptions, `${user.name}@127.0.0.1`, 'sleep 3']);
  const listed = new RegExp(`\\b${user.name}\\b`);
  await waitFor('logind to list the session', () => listed.test(execFileSync('loginctl', ['list-sessions', '--no-legend'], { encoding: 'utf8' })), 10_000, 100);
  await held;
});

test('keyboard-interactive through the PAM conversation: the right answer logs in, a wrong one does not', { skip }, async () => {
  const kbd = ['-o', 'PreferredAuthentications=keyboard-interactive', '-o', 'PubkeyAuthentication=no'];
  const good = await sshKbd(pam, 'sesame', kbd, 'echo kbd-in');
  assert.equal(good.stdout, 'kbd-in\n', good.stderr);
  await pam.daemon.waitForLog('accepted kbdint', (l) => l.event === 'auth-accepted' && l.method === 'keyboard-interactive/pam' && l.user === user.name);
  const bad = await sshKbd(pam, 'wrong', kbd, 'echo kbd-in');
  assert.equal(bad.code, 255);
  assert.match(bad.stderr, /Permission denied/);
  await pam.daemon.waitForLog('failed kbdint', (l) => l.event === 'auth-failed' && l.method === 'keyboard-interactive' && l.user === user.name);
  // Answers are never logged.
  assert.ok(!pam.daemon.logs.some((l) => JSON.stringify(l).includes('sesame')) && !pam.daemon.stderr().includes('sesame'), 'an answer reached the log');
});

test('AuthenticationMethods publickey,keyboard-interactive: the key is a partial success, then the PAM conversation decides', { skip }, async () => {
  const good = await sshKbd(both, 'sesame', [], 'echo both-in');
  assert.equal(good.stdout, 'both-in\n', good.stderr);
  await both.daemon.waitForLog('partial', (l) => l.event === 'auth-partial' && l.user === user.name && String(l.msg).startsWith(`Partial publickey for ${user.name} from 127.0.0.1`));
  await both.daemon.waitForLog('accepted', (l) => l.event === 'auth-accepted' && l.method === 'keyboard-interactive/pam');
  const bad = await sshKbd(both, 'wrong', [], 'echo both-in');
  assert.equal(bad.code, 255);
  // The key alone is not enough.
  const keyOnly = await ssh(both, ['echo in']);
  assert.equal(keyOnly.code, 255);
  assert.match(keyOnly.stderr, /Permission denied \(keyboard-interactive\)/);
});

test('a PAM module that hangs cannot hold a connection past LoginGraceTime', { skip }, async () => {
  services.write('hang', ['auth required pam_deny.so', 'account required pam_exec.so quiet /bin/sleep 60', 'session required pam_permit.so']);
  const hang = await startMpsshdSsh(ns, { port: 2205, extraYaml: NO_PM, sshYaml: [`PAMServiceName: ${service('hang')}`, 'LoginGraceTime: 3'] });
  try {
    fs.appendFileSync(path.join(user.home, '.ssh', 'authorized_keys'), hang.clientPub);
    const started = Date.now();
    const r = await ssh(hang, ['echo in']);
    const took = Date.now() - started;
    assert.equal(r.code, 255, r.stdout);
    assert.ok(took < 10_000, `the connection lasted ${took} ms`);
    await hang.daemon.waitForLog('grace timeout', (l) => l.event === 'grace-timeout', 5000);
  } finally {
    await hang.stop();
    fs.rmSync(path.join('/etc/pam.d', service('hang')), { force: true });
  }
});
