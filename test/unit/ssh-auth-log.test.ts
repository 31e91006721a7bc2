import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import {
  acceptedLine,
  disconnectLine,
  failedLine,
  graceTimeoutLine,
  invalidUserLine,
  keyFileRefusedLine,
  logAuthLine,
  maxTriesLine,
  notAllowedLine,
  postponedLine,
  rootRefusedLine,
  startupDroppedLine,
  visEncode,
} from '../../src/ssh/auth/auth-log.js';
import { createLogger } from '../../src/util/logger.js';

const peer = { ip: '10.0.0.5', port: 51234 };
const alice = { name: 'alice', valid: true };
const bob = { name: 'bob', valid: false };
const key = { shortType: 'ED25519', fingerprint: 'SHA256:XTgnPOaDX8TR70srKQWQ/rj3moLg+SEjA3DYE8cR1hg' };

test('lines read exactly as sshd writes them', () => {
  const rows: [string, string][] = [
    [acceptedLine('publickey', alice, peer, key).message, 'Accepted publickey for alice from 10.0.0.5 port 51234 ssh2: ED25519 SHA256:XTgnPOaDX8TR70srKQWQ/rj3moLg+SEjA3DYE8cR1hg'],
    [acceptedLine('password', alice, peer).message, 'Accepted password for alice from 10.0.0.5 port 51234 ssh2'],
    [failedLine('publickey', alice, peer, 'info', key).message, 'Failed publickey for alice from 10.0.0.5 port 51234 ssh2: ED25519 SHA256:XTgnPOaDX8TR70srKQWQ/rj3moLg+SEjA3DYE8cR1hg'],
    [failedLine('publickey', bob, peer, 'info', key).message, 'Failed publickey for invalid user bob from 10.0.0.5 port 51234 ssh2: ED25519 SHA256:XTgnPOaDX8TR70srKQWQ/rj3moLg+SEjA3DYE8cR1hg'],
    [failedLine('none', bob, { ip: '2001:db8::7', port: 22 }).message, 'Failed none for invalid user bob from 2001:db8::7 port 22 ssh2'],
    [postponedLine('publickey', alice, peer, key).message, `Postponed publickey for alice from 10.0.0.5 port 51234 ssh2: ED25519 ${key.fingerprint}`],
    [invalidUserLine('bob', peer).message, 'Invalid user bob from 10.0.0.5 port 51234'],
    [notAllowedLine('root', '10.0.0.5', 'not allowed because listed in DenyUsers').message, 'User root from 10.0.0.5 not allowed because listed in DenyUsers'],
    [notAllowedLine('alice', 'ws.example.org', "not allowed because none of user's groups are listed in AllowGroups").message, "User alice from ws.example.org not allowed because none of user's groups are listed in AllowGroups"],
    [notAllowedLine('alice', '10.0.0.5', 'not allowed because account is locked').message, 'User alice not allowed because account is locked'],
    [rootRefusedLine(peer).message, 'ROOT LOGIN REFUSED FROM 10.0.0.5 port 51234'],
    [keyFileRefusedLine('bad ownership or modes for file /home/x/.ssh/authorized_keys').message, 'Authentication refused: bad ownership or modes for file /home/x/.ssh/authorized_keys'],
    [maxTriesLine(alice, peer).message, 'maximum authentication attempts exceeded for alice from 10.0.0.5 port 51234 ssh2 [preauth]'],
    [maxTriesLine(bob, peer).message, 'maximum authentication attempts exceeded for invalid user bob from 10.0.0.5 port 51234 ssh2 [preauth]'],
    [disconnectLine('Too many authentication failures', peer, alice).message, 'Disconnecting authenticating user alice 10.0.0.5 port 51234: Too many authentication failures [preauth]'],
    [disconnectLine('Too many authentication failures', peer, bob).message, 'Disconnecting invalid user bob 10.0.0.5 port 51234: Too many authentication failures [preauth]'],
    [graceTimeoutLine(peer).message, 'Timeout before authentication for 10.0.0.5 port 51234'],
    [startupDroppedLine(12, peer, { ip: '10.0.0.1', port: 22 }).message, 'drop connection #12 from [10.0.0.5]:51234 on [10.0.0.1]:22 Maxstartups'],
  ];
  for (const [got, want] of rows) assert.equal(got, want);
  assert.equal(maxTriesLine(alice, peer).level, 'error');
  assert.equal(failedLine('publickey', alice, peer, 'verbose').level, 'verbose');
});

// Patterns of the kind ban tools use for sshd (anchored, user before host).
const BAN_PATTERNS: RegExp[] = [
  /^Failed \S+ for (?:invalid user )?(?<user>.+?) from (?<host>\S+) port \d+ ssh2(?::|$)/,
  /^Invalid user (?<user>.*?) from (?<host>\S+) port \d+$/,
  /^User (?<user>.+) from (?<host>\S+) not allowed because /,
  /^maximum authentication attempts exceeded for (?:invalid user )?(?<user>.*) from (?<host>\S+) port \d+ ssh2 \[preauth\]$/,
  /^ROOT LOGIN REFUSED FROM (?<host>\S+) port \d+$/,
];
const ban = (line: string) => {
  for (const re of BAN_PATTERNS) {
    const m = re.exec(line);
    if (m?.groups) return m.groups['host'];
  }
  return null;
};

test('ban-tool patterns find the real client, even for hostile user names', () => {
  const hostile = [
    'x from 6.6.6.6 port 22 ssh2',
    'root\nFailed password for root from 6.6.6.6 port 22 ssh2',
    'a\rb\tc\0d',
    '\u00e9vil\u202e',
    'back\\slash',
    'y'.repeat(500),
  ];
  for (const name of hostile) {
    for (const line of [
      failedLine('publickey', { name, valid: false }, peer).message,
      invalidUserLine(name, peer).message,
      maxTriesLine({ name, valid: false }, peer).message,
      notAllowedLine(name, '10.0.0.5', 'not allowed because not listed in AllowUsers').message,
    ]) {
      assert.ok(!/[\0-\x1f\x7f-\uffff]/.test(line), `control or non-ASCII text escaped: ${JSON.stringify(line)}`);
      assert.equal(ban(line), '10.0.0.5', line.slice(0, 120));
    }
  }
  assert.equal(ban(rootRefusedLine(peer).message), '10.0.0.5');
});

test('vis encoding matches sshd (strnvis VIS_CSTYLE|VIS_NL|VIS_TAB|VIS_OCTAL)', () => {
  const rows: [string, string][] = [
    ['plain text ok', 'plain text ok'],
    ['a\nb', 'a\\nb'],
    ['a\tb\r', 'a\\tb\\r'],
    ['\x07\x08\x0b\x0c', '\\a\\b\\v\\f'],
    ['\x1b[31m', '\\033[31m'],
    ['\x7f', '\\177'],
    ['\u00e9', '\\303\\251'],
    ['back\\slash', 'back\\\\slash'],
    ['\0x', '\\0x'],
    ['\x001', '\\0001'],
  ];
  for (const [s, want] of rows) assert.equal(visEncode(s), want, JSON.stringify(s));
  assert.equal(invalidUserLine('z'.repeat(300), peer).message, `Invalid user ${'z'.repeat(100)} from 10.0.0.5 port 51234`);
});

test('structured fields go to pino with the sshd text as message', () => {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk.toString());
      cb();
    },
  });
  const log = createLogger({ level: 'debug', stream });
  logAuthLine(log, acceptedLine('publickey', alice, peer, key));
  logAuthLine(log, failedLine('publickey', { name: 'ev\nil', valid: false }, peer, 'verbose', key));
  logAuthLine(log, maxTriesLine(alice, peer));
  const recs = out.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(recs.length, 3);
  assert.deepEqual(
    [recs[0]?.['level'], recs[0]?.['event'], recs[0]?.['user'], recs[0]?.['remoteAddress'], recs[0]?.['remotePort'], recs[0]?.['method'], recs[0]?.['keyType'], recs[0]?.['fingerprint']],
    [30, 'auth-accepted', 'alice', '10.0.0.5', 51234, 'publickey', 'ED25519', key.fingerprint],
  );
  assert.equal(recs[0]?.['msg'], acceptedLine('publickey', alice, peer, key).message);
  // VERBOSE maps to debug; the raw name stays in the field, escaped in the text.
  assert.equal(recs[1]?.['level'], 20);
  assert.equal(recs[1]?.['user'], 'ev\nil');
  assert.equal(recs[1]?.['validUser'], false);
  assert.match(recs[1]?.['msg'] as string, /^Failed publickey for invalid user ev\\nil from/);
  assert.equal(recs[2]?.['level'], 50);
});
