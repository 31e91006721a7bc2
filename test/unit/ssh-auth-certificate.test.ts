/**
 * OpenSSH user certificates: the parser on certificates built here field by
 * field (and one made by ssh-keygen), every malformed form refused with a
 * reason and never a throw; sshd's checks (type, validity, principals, CA
 * signature algorithm), critical options and extensions, the merge with
 * the trusting line's options, and the principals file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCertificate, type Certificate } from '../../src/ssh/auth/certificate.js';
import { certKeyOptions, checkCaSignatureAlgorithm, checkCertAuthority, checkSourceAddress, DEFAULT_CA_SIGNATURE_ALGORITHMS, mergeCertOptions, parsePrincipalsLine } from '../../src/ssh/auth/cert-policy.js';
import { authoriseCertificate, caKeyListed, findCertAuthorityLine, matchPrincipalsFile } from '../../src/ssh/auth/cert-authority.js';
import { parseAuthorizedKeys } from '../../src/ssh/auth/authorized-keys.js';
import { defaultKeyOptions, parseKeyOptions } from '../../src/ssh/auth/key-options.js';
import { verifySshSignature } from '../../src/ssh/auth/ssh-signature.js';

// ---- RFC 4251 encoding and a certificate builder

const str = (b: Buffer | string) => {
  const body = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const opts = (pairs: [string, Buffer][]) => Buffer.concat(pairs.flatMap(([n, d]) => [str(n), str(d)]));

function edKey(): { pub: Buffer; blob: Buffer; priv: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  return { pub, blob: Buffer.concat([str('ssh-ed25519'), str(pub)]), priv: privateKey };
}

const CA = edKey();
const USER = edKey();

interface CertFields {
  type?: number;
  serial?: bigint;
  keyId?: string;
  principals?: string[];
  after?: bigint;
  before?: bigint;
  critical?: [string, Buffer][];
  extensions?: [string, Buffer][];
  caBlob?: Buffer;
  sigName?: string;
  corruptSig?: boolean;
}

const ALL_EXTENSIONS: [string, Buffer][] = ['permit-X11-forwarding', 'permit-agent-forwarding', 'permit-port-forwarding', 'permit-pty', 'permit-user-rc'].map((n) => [n, Buffer.alloc(0)]);

/** The body of an ssh-ed25519-cert-v01 certificate, before its signature. */
function body(f: CertFields = {}): Buffer {
  return Buffer.concat([
    str('ssh-ed25519-cert-v01@openssh.com'), str(Buffer.alloc(32, 1)), str(USER.pub),
    u64(f.serial ?? 7n), u32(f.type ?? 1), str(f.keyId ?? 'alice-laptop'),
    str(Buffer.concat((f.principals ?? ['alice']).map((p) => str(p)))),
    u64(f.after ?? 0n), u64(f.before ?? 0xffffffffffffffffn),
    str(opts(f.critical ?? [])), str(opts(f.extensions ?? ALL_EXTENSIONS)), str(''), str(f.caBlob ?? CA.blob),
  ]);
}

function cert(f: CertFields = {}): Buffer {
  const b = body(f);
  const sig = sign(null, b, CA.priv);
  if (f.corruptSig) sig[0] = (sig[0] as number) ^ 1;
  return Buffer.concat([b, str(Buffer.concat([str(f.sigName ?? 'ssh-ed25519'), str(sig)]))]);
}

function parsed(f: CertFields = {}): Certificate {
  const r = parseCertificate(cert(f));
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.cert;
}

// ---- the parser

test('a well-formed user certificate is read field by field', () => {
  const c = parsed({ principals: ['alice', 'ops'], critical: [['force-command', str('uptime')]] });
  assert.equal(c.certType, 'ssh-ed25519-cert-v01@openssh.com');
  assert.equal(c.shortType, 'ED25519-CERT');
  assert.equal(c.key.type, 'ssh-ed25519');
  assert.ok(c.key.blob.equals(USER.blob));
  assert.equal(c.serial, 7n);
  assert.equal(c.type, 1);
  assert.equal(c.keyId, 'alice-laptop');
  assert.deepEqual(c.principals, ['alice', 'ops']);
  assert.equal(c.ca.shortType, 'ED25519');
  assert.equal(c.signatureAlgorithm, 'ssh-ed25519');
  assert.deepEqual(c.criticalOptions.map((o) => o.name), ['force-command']);
});

test('malformed certificates are refused with a reason, never a throw', () => {
  const good = cert();
  const userCert = cert();
  const rows: [string, Buffer, RegExp][] = [
    ['empty', Buffer.alloc(0), /truncated at key type/],
    ['plain key, not a certificate', USER.blob, /unsupported certificate type "ssh-ed25519"/],
    ['unknown certificate type', Buffer.concat([str('ssh-ed448-cert-v01@openssh.com'), good.subarray(36)]), /unsupported certificate type/],
    ['cut in the middle', good.subarray(0, 120), /truncated/],
    ['cut before the signature', body(), /truncated at signature/],
    ['trailing byte', Buffer.concat([good, Buffer.from([0])]), /trailing data after certificate/],
    ['bad CA signature', cert({ corruptSig: true }), /CA signature on certificate: incorrect signature/],
    ['signature named for another key type', cert({ sigName: 'rsa-sha2-256' }), /does not fit a ssh-ed25519 key/],
    ['CA key is itself a certificate', cert({ caBlob: userCert }), /signed by a certificate, not a CA key/],
    ['CA key malformed', cert({ caBlob: Buffer.concat([str('ssh-ed25519'), str(Buffer.alloc(5))]) }), /CA key: .*not 32/],
    ['unknown certificate type number', cert({ type: 3 }), /unknown certificate type 3/],
    ['NUL in key id', cert({ keyId: 'a\0b' }), /NUL byte in certificate key id/],
    ['empty principal', cert({ principals: ['alice', ''] }), /empty principal/],
    ['extension twice', cert({ extensions: [['permit-pty', Buffer.alloc(0)], ['permit-pty', Buffer.alloc(0)]] }), /extension "permit-pty" appears twice/],
    ['length past the end', Buffer.concat([str('ssh-ed25519-cert-v01@openssh.com'), u32(0xffffffff)]), /truncated at nonce/],
  ];
  for (const [what, blob, reason] of rows) {
    let r;
    assert.doesNotThrow(() => (r = parseCertificate(blob)), what);
    assert.ok(r !== undefined && !(r as { ok: boolean }).ok, what);
    assert.match((r as unknown as { reason: string }).reason, reason, what);
  }
  // Every prefix of a good certificate is refused, none throws.
  for (let n = 0; n < good.length; n += 7) assert.equal(parseCertificate(good.subarray(0, n)).ok, false, `prefix ${n}`);
});

test('a certificate made by ssh-keygen parses, and its CA signature verifies', { skip: spawnSync('ssh-keygen', ['-?']).error ? 'no ssh-keygen' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'mpssh-cert-'));
  try {
    for (const [t, bits, short] of [['ed25519', '', 'ED25519-CERT'], ['ecdsa', '384', 'ECDSA-CERT'], ['rsa', '2048', 'RSA-CERT']] as const) {
      const ca = join(dir, `ca-${t}`);
      const key = join(dir, `key-${t}`);
      execFileSync('ssh-keygen', ['-q', '-t', t, ...(bits ? ['-b', bits] : []), '-N', '', '-f', ca]);
      execFileSync('ssh-keygen', ['-q', '-t', t, ...(bits ? ['-b', bits] : []), '-N', '', '-f', key]);
      execFileSync('ssh-keygen', ['-q', '-s', ca, '-I', 'id-7', '-n', 'alice,bob', '-z', '42', '-V', '20200101:20991231', '-O', 'source-address=10.0.0.0/8', `${key}.pub`]);
      const blob = Buffer.from(readFileSync(`${key}-cert.pub`, 'utf8').split(' ')[1] as string, 'base64');
      const r = parseCertificate(blob);
      assert.ok(r.ok, r.ok ? '' : r.reason);
      assert.equal(r.cert.shortType, short);
      assert.equal(r.cert.keyId, 'id-7');
      assert.equal(r.cert.serial, 42n);
      assert.deepEqual(r.cert.principals, ['alice', 'bob']);
      assert.deepEqual(r.cert.criticalOptions.map((o) => o.name), ['source-address']);
      const fp = execFileSync('ssh-keygen', ['-l', '-f', `${key}.pub`], { encoding: 'utf8' }).split(' ')[1];
      assert.equal(r.cert.key.fingerprint, fp, 'the fingerprint is the certified key\'s, as ssh-keygen -l prints it');
      if (t === 'rsa') assert.equal(r.cert.signatureAlgorithm, 'rsa-sha2-512');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('signatures: a wrong key, truncated or oversized signature is refused', () => {
  const data = Buffer.from('signed data');
  const good = Buffer.concat([str('ssh-ed25519'), str(sign(null, data, USER.priv))]);
  assert.deepEqual(verifySshSignature(USER.blob, good, data), { ok: true, algorithm: 'ssh-ed25519' });
  assert.equal(verifySshSignature(CA.blob, good, data).ok, false);
  assert.equal(verifySshSignature(USER.blob, good.subarray(0, good.length - 1), data).ok, false);
  assert.equal(verifySshSignature(USER.blob, Buffer.concat([good, Buffer.from([0])]), data).ok, false);
  assert.equal(verifySshSignature(Buffer.from('junk'), good, data).ok, false);
});

// ---- sshd's checks

test('checkCertAuthority: type, validity window [after, before), principals', () => {
  const now = 1_700_000_000;
  const rows: [string, CertFields, string | null, string | null][] = [
    ['valid for the user', {}, 'alice', null],
    ['host certificate', { type: 2 }, 'alice', 'Certificate invalid: not a user certificate'],
    ['not yet valid', { after: BigInt(now + 1) }, 'alice', 'Certificate invalid: not yet valid'],
    ['valid from now', { after: BigInt(now) }, 'alice', null],
    ['expired', { before: BigInt(now - 1) }, 'alice', 'Certificate invalid: expired'],
    ['expires now', { before: BigInt(now) }, 'alice', 'Certificate invalid: expired'],
    ['another principal', { principals: ['bob'] }, 'alice', 'Certificate invalid: name is not a listed principal'],
    ['no principals at all', { principals: [] }, 'alice', 'Certificate lacks principal list'],
    ['principal already settled by the caller', { principals: ['ops'] }, null, null],
  ];
  for (const [what, f, principal, reason] of rows) {
    const d = checkCertAuthority(parsed(f), now, principal);
    assert.equal(d.allowed ? null : d.reason, reason, what);
  }
});

test('CASignatureAlgorithms: sshd 9 default refuses SHA-1 RSA CAs', () => {
  const c = parsed();
  assert.equal(checkCaSignatureAlgorithm(c, DEFAULT_CA_SIGNATURE_ALGORITHMS).allowed, true);
  assert.ok(!DEFAULT_CA_SIGNATURE_ALGORITHMS.includes('ssh-rsa'));
  const d = checkCaSignatureAlgorithm(c, ['rsa-sha2-512']);
  assert.equal(d.allowed ? '' : d.reason, 'certificate signature algorithm ssh-ed25519: signature algorithm not supported');
});

test('critical options and extensions become key options; unknown critical options refuse', () => {
  const none = certKeyOptions(parsed({ extensions: [] }));
  assert.ok(none.ok);
  assert.deepEqual(
    [none.value.options.permitPty, none.value.options.permitPortForwarding, none.value.options.permitAgentForwarding, none.value.options.permitX11Forwarding, none.value.options.permitUserRc],
    [false, false, false, false, false],
  );
  const all = certKeyOptions(parsed({ extensions: [...ALL_EXTENSIONS, ['future-extension@example.com', Buffer.alloc(0)]] }));
  assert.ok(all.ok && all.value.options.permitPty && all.value.options.permitUserRc, 'unknown extensions are ignored');
  const forced = certKeyOptions(parsed({ critical: [['force-command', str('uptime')], ['source-address', str('10.0.0.0/8,192.168.1.1')]] }));
  assert.ok(forced.ok);
  assert.equal(forced.value.options.command, 'uptime');
  assert.equal(forced.value.sourceAddress, '10.0.0.0/8,192.168.1.1');
  const rows: [string, [string, Buffer][], RegExp][] = [
    ['unknown critical option', [['no-such-option@example.com', Buffer.alloc(0)]], /critical option "no-such-option@example.com" is not supported/],
    ['force-command not a string', [['force-command', Buffer.from('raw')]], /force-command" is corrupt/],
    ['bad source-address', [['source-address', str('10.0.0.0/99')]], /source-address contents invalid/],
    ['source-address with a wildcard (CIDR only, as sshd)', [['source-address', str('10.0.*')]], /source-address contents invalid/],
  ];
  for (const [what, critical, reason] of rows) {
    const r = certKeyOptions(parsed({ critical }));
    assert.equal(r.ok, false, what);
    assert.match((r as { reason: string }).reason, reason, what);
  }
});

test('merge with the trusting line: a permission needs both, forced commands must agree', () => {
  const line = (text: string) => {
    const p = parseKeyOptions(text);
    assert.ok(p.ok);
    return p.options;
  };
  const cert = (f: CertFields) => {
    const r = certKeyOptions(parsed(f));
    assert.ok(r.ok);
    return r.value.options;
  };
  const m1 = mergeCertOptions(line('cert-authority,no-pty'), cert({}));
  assert.ok(m1.ok && !m1.options.permitPty && m1.options.permitPortForwarding);
  const m2 = mergeCertOptions(line('cert-authority'), cert({ extensions: [['permit-pty', Buffer.alloc(0)]] }));
  assert.ok(m2.ok && m2.options.permitPty && !m2.options.permitAgentForwarding);
  const m3 = mergeCertOptions(line('cert-authority,command="a"'), cert({ critical: [['force-command', str('b')]] }));
  assert.deepEqual(m3, { ok: false, reason: 'forced command options do not match' });
  const m4 = mergeCertOptions(defaultKeyOptions(), cert({ critical: [['force-command', str('b')]] }));
  assert.ok(m4.ok && m4.options.command === 'b');
});

test('source-address: the client must be in the list', () => {
  assert.equal(checkSourceAddress(undefined, '1.2.3.4', 'alice').allowed, true);
  assert.equal(checkSourceAddress('10.0.0.0/8', '10.1.2.3', 'alice').allowed, true);
  const d = checkSourceAddress('10.0.0.0/8', '1.2.3.4', 'alice');
  assert.equal(d.allowed ? '' : d.reason, 'Authentication tried for alice with valid certificate but not from a permitted source address (1.2.3.4).');
});

// ---- where CAs come from

const CA_LINE = `ssh-ed25519 ${CA.blob.toString('base64')} ca@example`;
const ctx = { user: 'alice', client: { ip: '10.0.0.5' }, now: 1_700_000_000 };

test('cert-authority lines: the CA must match, principals= replaces the user name, a plain line never trusts', () => {
  const find = (text: string, f: CertFields = {}) => findCertAuthorityLine(parseAuthorizedKeys(text).entries, parsed(f), ctx, DEFAULT_CA_SIGNATURE_ALGORITHMS, 'authorized_keys');
  const rows: [string, string, CertFields, string | null][] = [
    ['cert-authority line', `cert-authority ${CA_LINE}`, {}, null],
    ['plain key line of the CA', CA_LINE, {}, 'CA ED25519'],
    ['another CA', `cert-authority ssh-ed25519 ${USER.blob.toString('base64')}`, {}, 'CA ED25519'],
    ['principals= lists one of the certificate\'s', `cert-authority,principals="ops,dba" ${CA_LINE}`, { principals: ['dba'] }, null],
    ['principals= without a match', `cert-authority,principals="ops" ${CA_LINE}`, {}, 'Certificate does not contain an authorized principal'],
    ['from= of the line still applies', `cert-authority,from="192.168.0.0/16" ${CA_LINE}`, {}, 'not from a permitted host'],
    ['expired line', `cert-authority,expiry-time="20200101" ${CA_LINE}`, {}, 'entry expired'],
    ['a later line may still trust', `cert-authority,principals="ops" ${CA_LINE}\ncert-authority ${CA_LINE}`, {}, null],
  ];
  for (const [what, text, f, reason] of rows) {
    const v = find(text, f);
    if (reason === null) assert.ok(v.allowed, `${what}: ${v.allowed ? '' : v.reason}`);
    else assert.ok(!v.allowed && v.reason.includes(reason), `${what}: ${v.allowed ? 'allowed' : v.reason}`);
  }
  const v = find(`cert-authority,no-port-forwarding ${CA_LINE}`, { critical: [['force-command', str('uptime')]] });
  assert.ok(v.allowed && v.options.command === 'uptime' && !v.options.permitPortForwarding && v.options.permitPty);
});

test('TrustedUserCAKeys file and AuthorizedPrincipalsFile lines', () => {
  const c = parsed({ principals: ['web', 'db'] });
  assert.equal(caKeyListed(`# CAs\n${CA_LINE}\n`, c), true);
  assert.equal(caKeyListed(`ssh-ed25519 ${USER.blob.toString('base64')}\nnot a key\n`, c), false);
  assert.deepEqual(parsePrincipalsLine('  web  # the web team'), { principal: 'web', optionsText: '' });
  assert.deepEqual(parsePrincipalsLine('no-pty,command="x" db'), { principal: 'db', optionsText: 'no-pty,command="x"' });
  assert.equal(parsePrincipalsLine('# only a comment'), null);
  const m = matchPrincipalsFile('ops\nno-pty db\nweb\n', c);
  assert.ok(m !== null && 'principal' in m && m.principal === 'db' && m.line === 2 && !m.options.permitPty);
  assert.equal(matchPrincipalsFile('ops\n', c), null);
  const bad = matchPrincipalsFile('bogus-option web\n', c);
  assert.ok(bad !== null && 'bad' in bad && /unknown key option/.test(bad.bad));
  const v = authoriseCertificate(c, defaultKeyOptions(), null, ctx, DEFAULT_CA_SIGNATURE_ALGORITHMS);
  assert.ok(v.allowed);
});

// ---- what the pinned ssh2 hands over

test('ssh2 hands a certificate signature over whole (string algorithm, string blob), as the daemon verifies it', () => {
  // ssh2 strips the signature's header only when its name equals the key algorithm, never so for a
  // certificate; certificate-login.ts relies on receiving it whole.
  const handlers = require('ssh2/lib/protocol/handlers.misc.js') as Record<number, (self: unknown, payload: Buffer) => void>;
  const blob = cert();
  const signature = Buffer.concat([str('ssh-ed25519'), str(Buffer.alloc(64, 9))]);
  const payload = Buffer.concat([Buffer.from([50]), str('alice'), str('ssh-connection'), str('publickey'), Buffer.from([1]), str('ssh-ed25519-cert-v01@openssh.com'), str(blob), str(signature)]);
  let got: { keyAlgo: string; key: Buffer; signature: Buffer } | undefined;
  const self = {
    _kex: { sessionID: Buffer.alloc(32, 1) },
    _authsQueue: [] as string[],
    _handlers: { USERAUTH_REQUEST: (_s: unknown, _u: string, _sv: string, _m: string, data: typeof got) => (got = data) },
  };
  (handlers[50] as (self: unknown, payload: Buffer) => void)(self, payload);
  assert.ok(got !== undefined);
  assert.equal(got.keyAlgo, 'ssh-ed25519-cert-v01@openssh.com');
  assert.ok(got.key.equals(blob));
  assert.ok(got.signature.equals(signature));
});
