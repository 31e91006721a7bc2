import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { parseAuthorizedKeys, parseAuthorizedKeysLine, MAX_LINE_LENGTH, type AuthorizedKeyEntry, type LineProblem } from '../../src/ssh/auth/authorized-keys.js';
import { decodeBase64Strict, fingerprintSha256, parseKeyBlob, KeyBlobError } from '../../src/ssh/auth/key-blob.js';

// ---- helpers: RFC 4251 encoding for hand-made blobs

const str = (b: Buffer | string) => {
  const body = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
};
const blob = (...parts: (Buffer | string)[]) => Buffer.concat(parts.map(str));
const ed = (pk = Buffer.alloc(32, 7)) => blob('ssh-ed25519', pk);
const b64 = (b: Buffer) => b.toString('base64');

function rsaParts(bits = 1024): { e: Buffer; n: Buffer } {
  const jwk = generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ format: 'jwk' });
  return { e: Buffer.from(jwk.e as string, 'base64url'), n: Buffer.from(jwk.n as string, 'base64url') };
}
const mp = (v: Buffer) => ((v[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);

function ecPoint(curve: 'P-256' | 'P-384' | 'P-521'): Buffer {
  const jwk = generateKeyPairSync('ec', { namedCurve: curve }).publicKey.export({ format: 'jwk' });
  return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x as string, 'base64url'), Buffer.from(jwk.y as string, 'base64url')]);
}

function hasSshKeygen(): boolean {
  return spawnSync('ssh-keygen', ['-?'], { stdio: 'ignore' }).error === undefined;
}

const entry = (r: AuthorizedKeyEntry | LineProblem | null): AuthorizedKeyEntry => {
  assert.ok(r && !('code' in r), `expected an entry, got ${JSON.stringify(r)}`);
  return r as AuthorizedKeyEntry;
};
const problem = (r: AuthorizedKeyEntry | LineProblem | null): LineProblem => {
  assert.ok(r && 'code' in r, `expected a problem, got ${r && 'key' in r ? 'an entry' : String(r)}`);
  return r as LineProblem;
};

test('fingerprints, bits and comments match ssh-keygen -lf on keys ssh-keygen made', (t) => {
  if (!hasSshKeygen()) {
    t.skip('ssh-keygen not installed');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'mpssh-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kinds = [['ed25519'], ['ecdsa', '-b', '256'], ['ecdsa', '-b', '384'], ['ecdsa', '-b', '521'], ['rsa', '-b', '1024'], ['rsa', '-b', '2048']];
  const lines: string[] = [];
  kinds.forEach((k, i) => {
    const f = join(dir, `k${i}`);
    execFileSync('ssh-keygen', ['-q', '-t', ...k, '-N', '', '-C', `key ${i} ${k.join('')}`, '-f', f]);
    const pub = readFileSync(`${f}.pub`, 'utf8').trim();
    // Vary the shape of the line: options, tabs, CRLF, leading blanks.
    const shapes = [pub, `restrict,command="echo \\"hi\\"" ${pub}`, `  ${pub.replace(' ', '\t')}`, `from="10.0.0.0/8,!10.1.2.3" ${pub}\r`];
    lines.push(shapes[i % shapes.length] as string);
  });
  lines.push('# a comment', '', 'ssh-ed25519 AAAA!!!! broken');
  const file = join(dir, 'authorized_keys');
  writeFileSync(file, lines.join('\n') + '\n');
  // ssh-keygen keeps a CRLF file's '\r' in the comment; the parser trims it.
  const want = execFileSync('ssh-keygen', ['-lf', file], { encoding: 'utf8' }).trim().split('\n').map((l) => l.replace('\r', ''));
  const got = parseAuthorizedKeys(readFileSync(file, 'utf8'));
  assert.deepEqual(
    got.entries.map((e) => `${e.key.bits} ${e.key.fingerprint} ${e.comment} (${e.key.shortType})`),
    want,
  );
  assert.deepEqual(got.problems.map((p) => [p.line, p.code]), [[9, 'bad-base64']]);
});

test('strict base64 follows b64_pton', () => {
  const rows: [string, string | null][] = [
    ['AAAA', '000000'],
    ['AA==', '00'],
    ['AAA=', '0000'],
    ['AA\r\n==', '00'], // whitespace anywhere is skipped
    ['AA', null], // padding is required
    ['AAA', null],
    ['A===', null],
    ['AB==', null], // non-zero bits after the last byte
    ['AAA=A', null], // data after padding
    ['AA=A', null],
    ['AA-_', null], // base64url alphabet is not base64
    ['', ''],
    ['====', null],
  ];
  for (const [text, hex] of rows) {
    const got = decodeBase64Strict(text);
    assert.equal(got === null ? null : got.toString('hex'), hex, JSON.stringify(text));
  }
});

test('key blobs: structure, type agreement, canonical form', () => {
  const { e, n } = rsaParts();
  const rsa = blob('ssh-rsa', mp(e), mp(n));
  const k = parseKeyBlob(rsa);
  assert.equal(k.type, 'ssh-rsa');
  assert.equal(k.bits, 1024);
  assert.deepEqual(k.blob, rsa);
  // Padded integers are the same key with the same fingerprint, as in OpenSSH.
  const padded = blob('ssh-rsa', Buffer.concat([Buffer.alloc(3), mp(e)]), Buffer.concat([Buffer.alloc(2), mp(n)]));
  assert.equal(parseKeyBlob(padded).fingerprint, k.fingerprint);
  // Signature algorithm names stand for the RSA key type.
  assert.equal(parseKeyBlob(rsa, 'rsa-sha2-512').type, 'ssh-rsa');
  assert.equal(parseKeyBlob(blob('rsa-sha2-256', mp(e), mp(n))).fingerprint, k.fingerprint);

  const p256 = ecPoint('P-256');
  assert.equal(parseKeyBlob(blob('ecdsa-sha2-nistp256', 'nistp256', p256)).bits, 256);
  const sk = parseKeyBlob(blob('sk-ssh-ed25519@openssh.com', Buffer.alloc(32, 1), 'ssh:'));
  assert.equal(sk.shortType, 'ED25519-SK');
  assert.equal(sk.application, 'ssh:');
  const skEc = parseKeyBlob(blob('webauthn-sk-ecdsa-sha2-nistp256@openssh.com', 'nistp256', p256, 'ssh:'));
  assert.equal(skEc.type, 'sk-ecdsa-sha2-nistp256@openssh.com');
  assert.equal(fingerprintSha256(ed()), parseKeyBlob(ed()).fingerprint);

  const bad: [string, Buffer, string | undefined, string][] = [
    ['empty', Buffer.alloc(0), undefined, 'truncated-blob'],
    ['length past end', Buffer.from([0, 0, 0, 50, 1, 2]), undefined, 'truncated-blob'],
    ['huge length', Buffer.from([0xff, 0xff, 0xff, 0xff]), undefined, 'truncated-blob'],
    ['type only', str('ssh-ed25519'), undefined, 'truncated-blob'],
    ['short ed25519', blob('ssh-ed25519', Buffer.alloc(31)), undefined, 'bad-key-blob'],
    ['trailing bytes', Buffer.concat([ed(), Buffer.from([0])]), undefined, 'bad-key-blob'],
    ['NUL in type', blob('ssh-ed25519\0x', Buffer.alloc(32)), undefined, 'bad-key-blob'],
    ['unknown type', blob('ssh-foo', Buffer.alloc(32)), undefined, 'unknown-key-type'],
    ['dsa', blob('ssh-dss', 'p', 'q', 'g', 'y'), undefined, 'unsupported-key-type'],
    ['certificate', blob('ssh-ed25519-cert-v01@openssh.com', 'nonce'), undefined, 'certificate-unsupported'],
    ['line says rsa', ed(), 'ssh-rsa', 'key-type-mismatch'],
    ['curve vs type', blob('ecdsa-sha2-nistp256', 'nistp256', p256), 'ecdsa-sha2-nistp384', 'key-type-mismatch'],
    ['curve field', blob('ecdsa-sha2-nistp256', 'nistp384', p256), undefined, 'key-type-mismatch'],
    ['point off curve', blob('ecdsa-sha2-nistp256', 'nistp256', Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)])), undefined, 'bad-key-blob'],
    ['compressed point', blob('ecdsa-sha2-nistp256', 'nistp256', Buffer.concat([Buffer.from([2]), p256.subarray(1, 33)])), undefined, 'bad-key-blob'],
    ['small rsa', blob('ssh-rsa', mp(e), Buffer.concat([Buffer.from([0x7f]), Buffer.alloc(100, 0xff)])), undefined, 'bad-key-blob'],
    ['negative modulus', blob('ssh-rsa', mp(e), Buffer.concat([Buffer.from([0x80]), Buffer.alloc(200)])), undefined, 'bad-key-blob'],
    ['oversized modulus', blob('ssh-rsa', mp(e), Buffer.concat([Buffer.from([1]), Buffer.alloc(2049)])), undefined, 'bad-key-blob'],
    ['sk without application', blob('sk-ssh-ed25519@openssh.com', Buffer.alloc(32)), undefined, 'truncated-blob'],
  ];
  for (const [name, b, type, code] of bad) {
    assert.throws(() => parseKeyBlob(b, type), (err: unknown) => err instanceof KeyBlobError && err.code === code, name);
  }
});

test('authorized_keys lines: options, key, comment', () => {
  const k = b64(ed());
  const rows: [string, Partial<{ optionsText: string; keyType: string; comment: string; command: string; from: string; pty: boolean }>][] = [
    [`ssh-ed25519 ${k}`, { optionsText: '', comment: '' }],
    [`ssh-ed25519 ${k} alice@laptop  `, { comment: 'alice@laptop' }],
    [`ssh-ed25519 ${k} two  words\there`, { comment: 'two  words\there' }],
    [`\t ssh-ed25519\t${k}\tc`, { comment: 'c' }],
    [`no-pty ssh-ed25519 ${k}`, { optionsText: 'no-pty', pty: false }],
    [`command="echo \\"a b\\"; ls",from="*.example.org" ssh-ed25519 ${k} x`, { command: 'echo "a b"; ls', from: '*.example.org', comment: 'x' }],
    [`restrict,pty ssh-ed25519 ${k}`, { pty: true }],
    [`ssh-ed25519 ${k} # not a comment line`, { comment: '# not a comment line' }],
  ];
  for (const [line, want] of rows) {
    const e = entry(parseAuthorizedKeysLine(line, 3));
    assert.equal(e.line, 3);
    if (want.optionsText !== undefined) assert.equal(e.optionsText, want.optionsText, line);
    if (want.comment !== undefined) assert.equal(e.comment, want.comment, line);
    if (want.command !== undefined) assert.equal(e.options.command, want.command, line);
    if (want.from !== undefined) assert.equal(e.options.from, want.from, line);
    if (want.pty !== undefined) assert.equal(e.options.permitPty, want.pty, line);
  }
  for (const skip of ['', '   ', '\t', '# comment', '   # indented comment', '\r']) assert.equal(parseAuthorizedKeysLine(skip, 1), null, JSON.stringify(skip));
});

test('malformed and hostile lines are reported with line number and reason, never thrown', () => {
  const k = b64(ed());
  const rows: [string, string][] = [
    ['ssh-ed25519', 'missing-key'],
    ['ssh-ed25519 ', 'missing-key'],
    [`ssh-ed25519 ${k.slice(0, -2)}`, 'bad-base64'],
    ['ssh-ed25519 !!!!', 'bad-base64'],
    [`ssh-ed25519 ${b64(ed().subarray(0, 20))}`, 'truncated-blob'],
    [`ssh-rsa ${k}`, 'key-type-mismatch'],
    [`ssh-foo ${k}`, 'unknown-key-type'],
    [k, 'missing-key'],
    [`restrict ${k}`, 'missing-key'],
    ['restrict', 'missing-key'],
    [`command="unterminated ssh-ed25519 ${k}`, 'bad-options'],
    [`bogus ssh-ed25519 ${k}`, 'bad-options'],
    [`ssh-dss ${b64(blob('ssh-dss', 'p', 'q', 'g', 'y'))}`, 'unsupported-key-type'],
    [`ssh-ed25519 ${k}\0trailing`, 'nul-byte'],
    [`ssh-ed25519\0 ${k}`, 'nul-byte'],
    [`${'x'.repeat(MAX_LINE_LENGTH)} ssh-ed25519 ${k}`, 'line-too-long'],
    [`${'a,'.repeat(5000)}b ssh-ed25519 ${k}`, 'bad-options'],
    [`ssh-ed25519 ${'A'.repeat(40000)}`, 'unknown-key-type'],
    [`"${'\\"'.repeat(1000)} ssh-ed25519 ${k}`, 'bad-options'],
    [`\u00e9t\u00e9 ssh-ed25519 ${k}`, 'bad-options'],
  ];
  for (const [line, code] of rows) {
    const p = problem(parseAuthorizedKeysLine(line, 7));
    assert.equal(p.code, code, `${line.slice(0, 60)} -> ${p.reason}`);
    assert.equal(p.line, 7);
    assert.ok(p.reason.length > 0 && p.reason.length < 300, p.reason);
  }
});

test('a file with good and bad lines keeps the good ones and numbers the bad ones', () => {
  const k = b64(ed());
  const k2 = b64(ed(Buffer.alloc(32, 9)));
  const text = [`# keys`, `ssh-ed25519 ${k} one`, `junk`, ``, `no-agent-forwarding ssh-ed25519 ${k2} two`, `ssh-ed25519 AAAA`].join('\r\n');
  const r = parseAuthorizedKeys(text);
  assert.deepEqual(r.entries.map((e) => [e.line, e.comment]), [[2, 'one'], [5, 'two']]);
  assert.deepEqual(r.problems.map((p) => [p.line, p.code]), [[3, 'missing-key'], [6, 'truncated-blob']]);
});

test('random garbage never throws and stays fast', () => {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const alphabet = 'ssh-ed25519 AAAAC3Nza"\\=,!*\t \0\r\nfrom=command="restrict';
  const start = Date.now();
  for (let i = 0; i < 2000; i++) {
    let s = '';
    const len = Math.floor(rnd() * 120);
    for (let j = 0; j < len; j++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    parseAuthorizedKeys(s);
  }
  parseAuthorizedKeys('x'.repeat(5_000_000));
  parseAuthorizedKeys(`from="${'*'.repeat(100_000)}" ssh-ed25519 ${b64(ed())}`.slice(0, MAX_LINE_LENGTH));
  assert.ok(Date.now() - start < 2000, `took ${Date.now() - start} ms`);
});

test('a 100 000-key file: only the presented key\'s lines are parsed, and the last line is found', () => {
  const keys = Array.from({ length: 50 }, () => generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).subarray(-32));
  const blob = (raw: Buffer) => {
    const t = Buffer.from('ssh-ed25519');
    const b = Buffer.alloc(4 + t.length + 4 + 32);
    b.writeUInt32BE(t.length, 0);
    t.copy(b, 4);
    b.writeUInt32BE(32, 4 + t.length);
    raw.copy(b, 8 + t.length);
    return b;
  };
  const others = keys.slice(0, 49).map(blob);
  const mine = blob(keys[49] as Buffer);
  const lines: string[] = [];
  for (let i = 0; i < 100_000; i++) lines.push(`from="10.${i % 250}.0.0/16" ssh-ed25519 ${(others[i % 49] as Buffer).toString('base64')} user${i}@example`);
  lines.push(`restrict ssh-ed25519 ${mine.toString('base64')} me@example`);
  lines.push('garbage line that is not a key');
  const text = lines.join('\n');
  assert.ok(text.length > 8 * 1024 * 1024, 'past the old 8 MiB cap');
  const found = parseAuthorizedKeys(text, mine);
  assert.deepEqual(found.entries.map((e) => [e.line, e.comment]), [[100_001, 'me@example']]);
  assert.equal(found.entries[0]?.options.restrict, true, 'its options were parsed');
  assert.deepEqual(found.problems, [], 'lines that cannot hold the key are not parsed, so not reported either');
  // Without the filter every line is parsed, as before.
  assert.equal(parseAuthorizedKeys(lines.slice(0, 100).join('\n')).entries.length, 100);
});

test('parseAuthorizedKeys for one key: the lines found by search give what parsing every line gives, with the same line numbers', () => {
  const keys = Array.from({ length: 6 }, (_, i) => ed(Buffer.alloc(32, i + 1)));
  const lineFor = (k: Buffer, i: number): string => {
    const forms = [
      `ssh-ed25519 ${b64(k)} plain-${i}`,
      `from="10.0.0.0/8",no-pty ssh-ed25519 ${b64(k)} options-${i}`,
      `  ssh-ed25519 ${b64(k)}`,
      `# a comment naming ${b64(k)}`,
      `command="echo ${b64(k)}" ssh-ed25519 ${b64(keys[0] as Buffer)} key in an option`,
      `ssh-ed25519 ${b64(k).slice(0, 20)}broken`,
      '',
      `ssh-ed25519 ${b64(k)}\r`,
      `ssh-ed25519 ${b64(k).slice(0, 30)}\v${b64(k).slice(30)} whitespace inside`,
    ];
    return forms[i % forms.length] as string;
  };
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (let round = 0; round < 40; round++) {
    const lines = Array.from({ length: 1 + rand(30) }, (_, i) => lineFor(keys[rand(keys.length)] as Buffer, rand(9) + i));
    const text = lines.join('\n') + (rand(2) ? '\n' : '');
    const every = parseAuthorizedKeys(text);
    for (const k of keys) {
      const want = every.entries.filter((e) => e.key.blob.equals(k));
      assert.deepEqual(parseAuthorizedKeys(text, k).entries, want, `round ${round}`);
    }
  }
});

test('parseAuthorizedKeys for one key: a line repeating the key past the line limit is one problem, and the search goes on after it', () => {
  const k = ed(Buffer.alloc(32, 9));
  const long = `${b64(k)} `.repeat(Math.ceil((MAX_LINE_LENGTH + 1) / (b64(k).length + 1)));
  const text = [`ssh-ed25519 ${b64(k)} first`, long, `ssh-ed25519 ${b64(k)} ${b64(k)}`, long, 'ssh-ed25519 ' + b64(k)].join('\n');
  const r = parseAuthorizedKeys(text, k);
  assert.deepEqual(r.entries.map((e) => [e.line, e.comment]), [[1, 'first'], [3, b64(k)], [5, '']]);
  assert.deepEqual(r.problems.map((p) => [p.line, p.code]), [[2, 'line-too-long'], [4, 'line-too-long']]);
});
