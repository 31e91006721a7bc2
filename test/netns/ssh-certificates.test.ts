/**
 * User certificates against the real OpenSSH client: CAs made and
 * certificates signed with ssh-keygen, trusted by a `cert-authority` line
 * of authorized_keys or by TrustedUserCAKeys with AuthorizedPrincipalsFile;
 * sshd's refusals (expired, principal, source-address, SHA-1 CA) and the
 * options a certificate carries (no pty, forced command).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { Netns, waitFor } from '../../tools/netns.js';
import { fileSkip } from '../../tools/require-netns.js';
import { startMpsshdSsh, run, type MpsshdSsh } from '../../tools/mpsshd-ssh.js';
import { createTestUser, type TestUser } from '../../tools/test-user.js';

const skip = fileSkip({ programs: ['ssh', 'ssh-keygen'] });
const NO_PM = 'pathManager:\n  enabled: false';

let ns: Netns;
let srv: MpsshdSsh;
let user: TestUser;
let dir: string;
let serial = 1;

function keygen(name: string, type: string, bits?: number): string {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', name, '-f', file]);
  return file;
}

/** Signs `key`.pub with `ca` (ssh-keygen -s), returning the certificate file; `extra` are ssh-keygen options (-V, -O ...). */
function sign(ca: string, key: string, id: string, principals: string, extra: string[] = []): string {
  const copy = path.join(dir, `${id}`);
  fs.copyFileSync(key, copy);
  fs.chmodSync(copy, 0o600);
  fs.copyFileSync(`${key}.pub`, `${copy}.pub`);
  execFileSync('ssh-keygen', ['-q', '-s', ca, '-I', id, '-n', principals, '-z', String(serial++), ...extra, `${copy}.pub`]);
  return copy;
}

/** ssh as `login` with the key `key` and its certificate `key`-cert.pub only. */
function sshCert(server: MpsshdSsh, key: string, login: string, command: string, extra: string[] = []) {
  const opts = server.clientOptions.map((o) => (o === server.clientKey ? key : o));
  return run(ns, 'ssh', [...opts, '-o', 'IdentitiesOnly=yes', '-o', `CertificateFile=${key}-cert.pub`, ...extra, `${login}@127.0.0.1`, command]);
}

/** A log line that appears from now on. */
function nextLog(server: MpsshdSsh, what: string, pred: (l: Record<string, unknown>) => boolean) {
  const from = server.daemon.logs.length;
  return () => waitFor(`mpsshd log: ${what}`, () => server.daemon.logs.slice(from).find(pred), 8000);
}

const msg = (l: Record<string, unknown>) => String(l.msg ?? '');

let ca: string;

before(async () => {
  if (skip) return;
  ns = Netns.create('sshcert');
  dir = fs.mkdtempSync('/tmp/mpssh-cert-');
  srv = await startMpsshdSsh(ns, { port: 22, extraYaml: NO_PM, sshYaml: ['UsePAM: no'] });
  user = createTestUser();
  ca = keygen('ca', 'ed25519');
  user.authorize(fs.readFileSync(`${ca}.pub`, 'utf8'), { options: 'cert-authority' });
});

after(async () => {
  if (skip) return;
  await srv?.stop();
  user?.remove();
  ns?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('a certificate from a cert-authority CA logs in, and the log names its ID, serial and CA', { skip }, async () => {
  const key = sign(ca, keygen('u1', 'ed25519'), 'alice-laptop', user.name);
  const logged = nextLog(srv, 'accepted', (l) => l.event === 'auth-accepted' && l.user === user.name);
  const r = await sshCert(srv, key, user.name, 'id -un');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), user.name);
  const line = await logged();
  const s = serial - 1;
  assert.match(msg(line), new RegExp(`^Accepted publickey for ${user.name} from 127\\.0\\.0\\.1 port \\d+ ssh2: ED25519-CERT SHA256:[A-Za-z0-9+/]{43} ID alice-laptop \\(serial ${s}\\) CA ED25519 SHA256:[A-Za-z0-9+/]{43}$`));
  const caFp = execFileSync('ssh-keygen', ['-l', '-f', `${ca}.pub`], { encoding: 'utf8' }).split(' ')[1] as string;
  assert.ok(msg(line).endsWith(caFp), msg(line));
});

test('an expired certificate is refused: "Certificate invalid: expired"', { skip }, async () => {
  const key = sign(ca, keygen('u2', 'ed25519'), 'old', user.name, ['-V', '20200101:20200102']);
  const refused = nextLog(srv, 'expired', (l) => msg(l) === 'Certificate invalid: expired');
  const r = await sshCert(srv, key, user.name, 'true');
  assert.equal(r.code, 255);
  assert.match(r.stderr, /Permission denied/);
  await refused();
});

test('a certificate for another principal is refused: "name is not a listed principal"', { skip }, async () => {
  const key = sign(ca, keygen('u3', 'ed25519'), 'bob', 'bob,carol');
  const refused = nextLog(srv, 'principal', (l) => msg(l) === 'Certificate invalid: name is not a listed principal');
  const r = await sshCert(srv, key, user.name, 'true');
  assert.equal(r.code, 255);
  await refused();
});

test('principals="..." on the cert-authority line names the principals instead of the user name', { skip }, async () => {
  const caPub = fs.readFileSync(`${ca}.pub`, 'utf8');
  user.authorize(caPub, { options: 'cert-authority,principals="ops,dba"' });
  try {
    const ops = sign(ca, keygen('u4', 'ed25519'), 'ops-id', 'ops');
    const good = await sshCert(srv, ops, user.name, 'true');
    assert.equal(good.code, 0, good.stderr);
    const mine = sign(ca, keygen('u5', 'ed25519'), 'name-id', user.name);
    const refused = nextLog(srv, 'not authorized principal', (l) => msg(l) === 'Certificate does not contain an authorized principal');
    const bad = await sshCert(srv, mine, user.name, 'true');
    assert.equal(bad.code, 255);
    await refused();
  } finally {
    user.authorize(caPub, { options: 'cert-authority' });
  }
});

test('a certificate without permit-pty gets no terminal', { skip }, async () => {
  // The pty request is refused as sshd refuses it; ssh -tt then gives up, since a
  // terminal it was told to force is fatal to miss (OpenSSH's client_status_confirm).
  const key = sign(ca, keygen('u6', 'ed25519'), 'nopty', user.name, ['-O', 'no-pty']);
  const r = await sshCert(srv, key, user.name, 'tty', ['-tt']);
  assert.match(r.stderr, /PTY allocation request failed on channel 0/);
  assert.doesNotMatch(r.stdout, /\/dev\/pts/);
  // Without -tt no terminal is asked for, and the command runs.
  const plain = await sshCert(srv, key, user.name, 'tty');
  assert.match(plain.stdout, /not a tty/);
  const withPty = sign(ca, keygen('u7', 'ed25519'), 'pty', user.name);
  const p = await sshCert(srv, withPty, user.name, 'tty', ['-tt']);
  assert.match(p.stdout, /^\/dev\/pts\/\d+/);
  assert.doesNotMatch(p.stderr, /PTY allocation request failed/);
});

test('the force-command critical option replaces the command', { skip }, async () => {
  const key = sign(ca, keygen('u8', 'ed25519'), 'forced', user.name, ['-O', 'force-command=echo forced-by-cert']);
  const r = await sshCert(srv, key, user.name, 'echo asked');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'forced-by-cert');
});

test('the source-address critical option: a client from elsewhere is refused, one from a listed network logs in', { skip }, async () => {
  const away = sign(ca, keygen('u9', 'ed25519'), 'away', user.name, ['-O', 'source-address=10.9.9.0/24']);
  const refused = nextLog(srv, 'source-address', (l) => msg(l).includes('with valid certificate but not from a permitted source address (127.0.0.1)'));
  const bad = await sshCert(srv, away, user.name, 'true');
  assert.equal(bad.code, 255);
  await refused();
  const here = sign(ca, keygen('u10', 'ed25519'), 'here', user.name, ['-O', 'source-address=10.9.9.0/24,127.0.0.0/8']);
  const good = await sshCert(srv, here, user.name, 'true');
  assert.equal(good.code, 0, good.stderr);
});

test('ECDSA and RSA certificates (rsa-sha2-*-cert-v01, RSA CA) log in; a SHA-1 CA signature is refused', { skip }, async () => {
  const ecCa = keygen('ca-ec', 'ecdsa', 384);
  const rsaCa = keygen('ca-rsa', 'rsa', 3072);
  user.authorize([`cert-authority ${fs.readFileSync(`${ecCa}.pub`, 'utf8').trim()}`, `cert-authority ${fs.readFileSync(`${rsaCa}.pub`, 'utf8').trim()}`].join('\n'));
  try {
    const ec = sign(ecCa, keygen('u11', 'ecdsa', 256), 'ec-id', user.name);
    const ecLog = nextLog(srv, 'ecdsa accepted', (l) => l.event === 'auth-accepted' && msg(l).includes('ECDSA-CERT') && msg(l).includes('CA ECDSA'));
    const r1 = await sshCert(srv, ec, user.name, 'true');
    assert.equal(r1.code, 0, r1.stderr);
    await ecLog();
    const rsa = sign(rsaCa, keygen('u12', 'rsa', 2048), 'rsa-id', user.name);
    const rsaLog = nextLog(srv, 'rsa accepted', (l) => l.event === 'auth-accepted' && msg(l).includes('RSA-CERT') && msg(l).includes('CA RSA'));
    const r2 = await sshCert(srv, rsa, user.name, 'true');
    assert.equal(r2.code, 0, r2.stderr);
    await rsaLog();
    // A CA signature with SHA-1 (ssh-rsa) is outside sshd 9's CASignatureAlgorithms.
    const sha1 = sign(rsaCa, keygen('u13', 'ed25519'), 'sha1-id', user.name, ['-t', 'ssh-rsa']);
    const refused = nextLog(srv, 'sha1 CA', (l) => msg(l) === 'certificate signature algorithm ssh-rsa: signature algorithm not supported');
    const r3 = await sshCert(srv, sha1, user.name, 'true');
    assert.equal(r3.code, 255);
    await refused();
  } finally {
    user.authorize(fs.readFileSync(`${ca}.pub`, 'utf8'), { options: 'cert-authority' });
  }
});

test('TrustedUserCAKeys with AuthorizedPrincipalsFile: principals from the user\'s file, read as the user', { skip }, async () => {
  const sysCa = keygen('ca-sys', 'ed25519');
  const trusted = await startMpsshdSsh(ns, {
    port: 2201,
    extraYaml: NO_PM,
    sshYaml: ['UsePAM: no', `TrustedUserCAKeys: ${sysCa}.pub`, 'AuthorizedPrincipalsFile: "%h/.ssh/principals"'],
  });
  const principals = path.join(user.home, '.ssh', 'principals');
  try {
    fs.writeFileSync(principals, '# who may log in as this user\nweb-admins\nno-pty db-admins\n');
    fs.chownSync(principals, user.uid, user.gid);
    const web = sign(sysCa, keygen('u14', 'ed25519'), 'web', 'web-admins');
    const logged = nextLog(trusted, 'via', (l) => l.event === 'cert-accepted' && msg(l).includes(`via ${sysCa}.pub`));
    const r1 = await sshCert(trusted, web, user.name, 'id -un');
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(r1.stdout.trim(), user.name);
    await logged();
    // The principals line's options apply on top of the certificate's.
    const db = sign(sysCa, keygen('u15', 'ed25519'), 'db', 'db-admins');
    const r2 = await sshCert(trusted, db, user.name, 'tty', ['-tt']);
    assert.match(r2.stderr, /PTY allocation request failed on channel 0/);
    assert.equal((await sshCert(trusted, web, user.name, 'tty', ['-tt'])).stdout.trim().startsWith('/dev/pts/'), true);
    // The user name alone is not a principal here: the file decides.
    const mine = sign(sysCa, keygen('u16', 'ed25519'), 'mine', user.name);
    const refused = nextLog(trusted, 'not in principals file', (l) => msg(l) === 'Certificate does not contain an authorized principal');
    const r3 = await sshCert(trusted, mine, user.name, 'true');
    assert.equal(r3.code, 255);
    await refused();
  } finally {
    fs.rmSync(principals, { force: true });
    await trusted.stop();
  }
});

test('TrustedUserCAKeys without AuthorizedPrincipalsFile: the user name must be a principal', { skip }, async () => {
  const sysCa = keygen('ca-sys2', 'ed25519');
  const trusted = await startMpsshdSsh(ns, { port: 2202, extraYaml: NO_PM, sshYaml: ['UsePAM: no', `TrustedUserCAKeys: ${sysCa}.pub`] });
  try {
    const good = await sshCert(trusted, sign(sysCa, keygen('u17', 'ed25519'), 'named', `other,${user.name}`), user.name, 'true');
    assert.equal(good.code, 0, good.stderr);
    const refused = nextLog(trusted, 'principal', (l) => msg(l) === 'Certificate invalid: name is not a listed principal');
    const bad = await sshCert(trusted, sign(sysCa, keygen('u18', 'ed25519'), 'unnamed', 'other'), user.name, 'true');
    assert.equal(bad.code, 255);
    await refused();
  } finally {
    await trusted.stop();
  }
});
