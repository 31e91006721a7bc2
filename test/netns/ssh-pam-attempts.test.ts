/**
 * Password and keyboard-interactive attempts that must fail whatever the
 * PAM stack says, against the real Linux-PAM modules, as sshd refuses them:
 *  - root under PermitRootLogin prohibit-password, a user DenyUsers refuses,
 *    an unknown name: the stack runs, but what it is handed is a stand-in
 *    of the same length, never the client's password (a test stack records
 *    what it got);
 *  - an account whose password is empty, under Debian's `pam_unix nullok`:
 *    refused with an empty password and over keyboard-interactive unless
 *    PermitEmptyPasswords yes.
 * The client is paramiko, which says exactly which method and secret it sends.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Netns } from '../../tools/netns.js';
import { fileSkip } from '../../tools/require-netns.js';
import { run, startMpsshdSsh, type MpsshdSsh } from '../../tools/mpsshd-ssh.js';
import { createTestUser, type TestUser } from '../../tools/test-user.js';
import { pamServices } from '../helpers/pam-services.js';

const PY = '/usr/bin/python3';
const skip = fileSkip({ programs: [PY] }) || paramikoMissing();

function paramikoMissing(): string | false {
  try {
    execFileSync(PY, ['-c', 'import paramiko'], { stdio: 'ignore' });
    return false;
  } catch {
    if (process.env.MPSSH_REQUIRE_NETNS === '1') throw new Error('MPSSH_REQUIRE_NETNS=1 but python3-paramiko is not installed');
    return 'python3-paramiko is not installed';
  }
}
const NO_PM = 'pathManager:\n  enabled: false';
const services = pamServices();
const service = services.name;

let ns: Netns;
let dir: string;
/** May log in with the password "sesame". */
let user: TestUser;
/** Refused by DenyUsers on `rec`; has an empty password for `nul` and `nulYes`. */
let other: TestUser;
/** A stack that records what it is handed and accepts "sesame". */
let rec: MpsshdSsh;
/** pam_unix nullok, PermitEmptyPasswords no (the default) and yes. */
let nul: MpsshdSsh;
let nulYes: MpsshdSsh;

before(async () => {
  if (skip) return;
  ns = Netns.create('pamatt');
  dir = fs.mkdtempSync('/tmp/mpssh-pamatt-');
  const record = path.join(dir, 'record');
  // pam_exec hands the password on stdin (NUL-terminated or not): kept as hex, one line per attempt.
  fs.writeFileSync(
    record,
    `#!/bin/sh\npw=$(tr -d '\\000' | od -An -v -tx1 | tr -d ' \\n')\necho "$PAM_USER $pw" >> ${path.join(dir, 'seen')}\n[ "$pw" = ${Buffer.from('sesame').toString('hex')} ]\n`,
    { mode: 0o755 },
  );
  const permit = ['account required pam_permit.so', 'session required pam_permit.so'];
  services.write('rec', [`auth required pam_exec.so expose_authtok quiet ${record}`, 'auth optional pam_permit.so', ...permit]);
  services.write('nul', ['auth required pam_unix.so nullok', ...permit]);
  user = createTestUser();
  other = createTestUser();
  execFileSync('passwd', ['-q', '-d', other.name]);
  const both = ['PasswordAuthentication: yes', 'KbdInteractiveAuthentication: yes'];
  rec = await startMpsshdSsh(ns, { port: 22, extraYaml: NO_PM, sshYaml: [`PAMServiceName: ${service('rec')}`, ...both, `DenyUsers: ${other.name}`] });
  nul = await startMpsshdSsh(ns, { port: 2202, extraYaml: NO_PM, sshYaml: [`PAMServiceName: ${service('nul')}`, ...both] });
  nulYes = await startMpsshdSsh(ns, { port: 2203, extraYaml: NO_PM, sshYaml: [`PAMServiceName: ${service('nul')}`, ...both, 'PermitEmptyPasswords: yes'] });
});

after(async () => {
  if (skip) return;
  for (const s of [rec, nul, nulYes]) await s?.stop();
  user?.remove();
  other?.remove();
  services.removeAll();
  fs.rmSync(dir, { recursive: true, force: true });
  ns?.close();
});

const ATTEMPT = [
  'import sys, paramiko',
  'port, name, method, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]',
  't = paramiko.Transport(("127.0.0.1", port)); t.start_client(timeout=10)',
  'try:',
  '    if method == "password": t.auth_password(name, secret, fallback=False)',
  '    else: t.auth_interactive(name, lambda title, instructions, prompts: [secret for _ in prompts])',
  '    print("in")',
  'except paramiko.AuthenticationException:',
  '    print("refused")',
].join('\n');

/** One attempt with paramiko: "in" or "refused". */
async function attempt(srv: MpsshdSsh, name: string, method: 'password' | 'kbdint', secret: string): Promise<string> {
  const r = await run(ns, PY, ['-c', ATTEMPT, String(srv.port), name, method, secret], { timeoutMs: 30_000 });
  assert.match(r.stdout, /^(in|refused)\n$/, r.stderr.slice(-500));
  return r.stdout.trim();
}

/** What the recording stack was handed for `name` since `from` lines: the passwords, decoded. */
function seen(name: string, from: number): string[] {
  const lines = fs.existsSync(path.join(dir, 'seen')) ? fs.readFileSync(path.join(dir, 'seen'), 'utf8').split('\n').filter(Boolean) : [];
  return lines
    .slice(from)
    .map((l) => l.split(' '))
    .filter(([who]) => who === name)
    .map(([, hex]) => Buffer.from(hex ?? '', 'hex').toString('utf8'));
}

const seenCount = () => (fs.existsSync(path.join(dir, 'seen')) ? fs.readFileSync(path.join(dir, 'seen'), 'utf8').split('\n').filter(Boolean).length : 0);

test('the stack checks the real password of a user who may log in with one', { skip }, async () => {
  const from = seenCount();
  assert.equal(await attempt(rec, user.name, 'password', 'sesame'), 'in');
  assert.equal(await attempt(rec, user.name, 'kbdint', 'sesame'), 'in');
  assert.equal(await attempt(rec, user.name, 'password', 'wrong'), 'refused');
  assert.deepEqual(seen(user.name, from), ['sesame', 'sesame', 'wrong']);
});

test('root (PermitRootLogin prohibit-password), a user DenyUsers refuses and an unknown name: the stack runs, handed a stand-in of the same length', { skip }, async () => {
  const unknown = `nx${crypto.randomBytes(3).toString("hex")}`;
  for (const name of ['root', other.name, unknown]) {
    const from = seenCount();
    for (const method of ['password', 'kbdint'] as const) assert.equal(await attempt(rec, name, method, 'sesame'), 'refused', `${name} ${method}`);
    const got = seen(name, from);
    assert.equal(got.length, 2, `${name}: the stack ran for both methods`);
    for (const pw of got) {
      assert.notEqual(pw, 'sesame', name);
      assert.equal(Buffer.byteLength(pw), 'sesame'.length, name);
    }
  }
});

test('an account with an empty password under pam_unix nullok: refused unless PermitEmptyPasswords yes, as sshd', { skip }, async () => {
  assert.equal(await attempt(nul, other.name, 'password', ''), 'refused');
  assert.equal(await attempt(nul, other.name, 'kbdint', ''), 'refused');
  assert.equal(await attempt(nulYes, other.name, 'password', ''), 'in');
  assert.equal(await attempt(nulYes, other.name, 'kbdint', ''), 'in');
  // An account with a password is not let in by an empty one either way.
  assert.equal(await attempt(nulYes, user.name, 'password', ''), 'refused');
});
