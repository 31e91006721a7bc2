import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  addrMatchList,
  isValidUserPattern,
  matchHostAndIp,
  matchHostname,
  matchPattern,
  matchPatternList,
  matchUser,
  normaliseClientAddress,
  parseCidr,
  parseIp,
  type AddrListMatch,
  type ListMatch,
} from '../../src/ssh/auth/match.js';

test('single patterns: * and ?', () => {
  const rows: [string, string, boolean][] = [
    ['alice', 'alice', true],
    ['alice', 'Alice', false],
    ['alice', 'al*', true],
    ['alice', '*ce', true],
    ['alice', 'a*i*e', true],
    ['alice', 'al?ce', true],
    ['alce', 'al?ce', false],
    ['', '*', true],
    ['', '', true],
    ['a', '', false],
    ['abc', '***', true],
    ['abc', '?*?', true],
    ['a', '??', false],
    ['a*b', 'a\\*b', false], // no escapes in OpenSSH patterns
    ['[x]', '[x]', true], // no character classes either
    ['x', '[x]', false],
    ['\u00e9', '?', false], // one character, two bytes
    ['\u00e9', '??', true],
    ['a'.repeat(5000) + 'b', '*a*a*a*a*a*c', false],
  ];
  for (const [s, p, want] of rows) assert.equal(matchPattern(s, p), want, `${s.slice(0, 20)} ~ ${p}`);
});

test('pattern lists: negation wins, case, limits', () => {
  const rows: [string, string, ListMatch, boolean?][] = [
    ['alice', 'bob,alice', 'match'],
    ['alice', 'bob,carol', 'none'],
    ['alice', 'a*,!alice', 'negated'],
    ['alice', '!alice,a*', 'negated'],
    ['alice', '!bob', 'none'], // a negation alone admits nobody
    ['alice', '', 'none'],
    ['', ',', 'match'], // empty entries match the empty string
    ['alice', 'ALICE', 'none'],
    ['alice', 'ALICE', 'match', true],
    ['alice', `${'x'.repeat(1023)},alice`, 'none'], // an over-long entry fails the whole list
    ['alice', `${'x'.repeat(1022)},alice`, 'match'],
  ];
  for (const [s, list, want, fold] of rows) assert.equal(matchPatternList(s, list, fold ?? false), want, `${s} ~ ${list.slice(0, 30)}`);
  assert.equal(matchHostname('Host.Example.ORG', '*.example.org'), 'match');
  assert.equal(matchHostname('host.example.org', '*.EXAMPLE.org,!host.*'), 'negated');
});

test('addresses parse as getaddrinfo(AI_NUMERICHOST) parses them', () => {
  const v4 = (s: string) => {
    const a = parseIp(s);
    return a && a.family === 4 ? Array.from(a.bytes).join('.') : null;
  };
  const rows: [string, string | null][] = [
    ['10.0.0.1', '10.0.0.1'],
    ['10.1', '10.0.0.1'],
    ['10', '0.0.0.10'],
    ['010.0.0.1', '8.0.0.1'],
    ['0x0a.0.0.1', '10.0.0.1'],
    ['1.16777215', '1.255.255.255'],
    ['4294967295', '255.255.255.255'],
    ['4294967296', null],
    ['1.2.3.256', null],
    ['08.1.1.1', null],
    ['1..2', null],
    ['1.2.3.4.', null],
    ['0x', null],
    ['+1.2.3.4', null],
    [' 1.2.3.4', null],
  ];
  for (const [s, want] of rows) assert.equal(v4(s), want, s);
  assert.deepEqual(Array.from(parseIp('2001:db8::1')?.bytes ?? []), [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(Array.from(parseIp('::ffff:1.2.3.4')?.bytes ?? []).slice(10), [255, 255, 1, 2, 3, 4]);
  assert.equal(parseIp('fe80::1%eth0')?.zone, 'eth0');
  assert.equal(parseIp('[::1]'), null);
  assert.equal(normaliseClientAddress('::ffff:10.0.0.5'), '10.0.0.5');
  assert.equal(normaliseClientAddress('::FFFF:10.0.0.5'), '10.0.0.5');
  assert.equal(normaliseClientAddress('2001:db8::5'), '2001:db8::5');
  assert.equal(parseCidr('10.1.2.3/8'), 'invalid'); // host bits set
  assert.equal(parseCidr('10.0.0.0/33'), 'invalid');
  assert.equal(parseCidr('10.0.0.0/'), null); // not an address: a wildcard pattern
  assert.equal(parseCidr('10.*'), null);
});

// Each row: list, client address, expected addr_match_list() outcome.
const ADDRESS_ROWS: [string, string, AddrListMatch][] = [
  ['10.0.0.0/8', '10.1.2.3', 'match'],
  ['10.0.0.0/8', '11.0.0.1', 'none'],
  ['10.0.0.0/8,!10.1.2.3', '10.1.2.3', 'negated'],
  ['!10.1.2.3,10.0.0.0/8', '10.1.2.4', 'match'],
  ['10.0.0.0/8,!10.1.0.0/16', '10.1.9.9', 'negated'],
  ['10.*', '10.200.0.1', 'match'],
  ['10.0.0.?', '10.0.0.7', 'match'],
  ['10.0.0.?', '10.0.0.17', 'none'],
  ['192.168.1.1', '192.168.1.1', 'match'],
  ['192.168.1.1/32', '192.168.1.2', 'none'],
  ['0.0.0.0/0', '203.0.113.9', 'match'],
  ['0.0.0.0/0', '2001:db8::1', 'none'], // families never mix
  ['::/0', '10.0.0.1', 'none'],
  ['2001:db8::/32', '2001:db8:ffff::1', 'match'],
  ['2001:db8::/32', '2001:db9::1', 'none'],
  ['2001:db8::/32,!2001:db8::bad', '2001:db8::bad', 'negated'],
  ['::1', '::1', 'match'],
  ['2001:DB8::1', '2001:db8::1', 'match'],
  ['10.1/16', '10.1.7.7', 'invalid'], // 10.1 is 10.0.0.1: host bits set
  ['10/8', '10.0.0.1', 'invalid'],
  ['10.0/16', '10.0.5.5', 'match'],
  ['10.0.0.0/8,', '10.0.0.1', 'invalid'], // empty entry
  ['!', '10.0.0.1', 'invalid'],
  ['10.1.2.3/8', '10.1.2.3', 'invalid'],
  ['10.0.0.0/33', '10.0.0.1', 'invalid'],
  ['2001:db8::/129', '2001:db8::1', 'invalid'], // OpenSSH 9.8+; older sshd read it as a wildcard
  ['*.example.org', '10.0.0.1', 'none'],
  ['10.0.0.0/8', 'not-an-address', 'none'],
];

test('address lists: CIDR, wildcards, negation, malformed entries', () => {
  for (const [list, ip, want] of ADDRESS_ROWS) assert.equal(addrMatchList(ip, list), want, `${ip} in ${list}`);
  assert.equal(addrMatchList(null, '10.0.0.0/8,!1.2.3.4,*.x'), 'none');
  assert.equal(addrMatchList(null, '10.1.2.3/8'), 'invalid');
});

test('from= and user@host: address and name, negation wins', () => {
  const rows: [string, { ip: string; name?: string }, AddrListMatch][] = [
    ['10.0.0.0/8,!10.1.2.3,*.example.org', { ip: '10.9.9.9' }, 'match'],
    ['10.0.0.0/8,!10.1.2.3,*.example.org', { ip: '10.1.2.3' }, 'negated'],
    ['10.0.0.0/8,!10.1.2.3,*.example.org', { ip: '192.0.2.1' }, 'none'],
    ['10.0.0.0/8,!10.1.2.3,*.example.org', { ip: '192.0.2.1', name: 'ws.example.org' }, 'match'],
    ['10.0.0.0/8,!10.1.2.3,*.example.org', { ip: '10.1.2.3', name: 'ws.example.org' }, 'negated'],
    ['*.example.org,!bad.example.org', { ip: '192.0.2.1', name: 'BAD.example.org' }, 'negated'],
    ['*.example.org', { ip: '192.0.2.1' }, 'none'], // no name, no name match
    ['192.0.2.*', { ip: '192.0.2.1' }, 'match'], // the address stands in for the name
    ['192.0.2.*', { ip: '192.0.2.1', name: 'x.example.org' }, 'match'],
    ['!*.evil.example', { ip: '192.0.2.1', name: 'a.evil.example' }, 'negated'],
    ['10.0.0.0/8,,x', { ip: '10.0.0.1', name: 'x' }, 'invalid'],
  ];
  for (const [list, client, want] of rows) assert.equal(matchHostAndIp(client, list), want, `${JSON.stringify(client)} vs ${list}`);

  const userRows: [string, string, { ip: string; name?: string }, string][] = [
    ['alice', 'alice', { ip: '10.0.0.1' }, 'match'],
    ['alice', 'a*', { ip: '10.0.0.1' }, 'match'],
    ['alice', 'alice,bob', { ip: '10.0.0.1' }, 'none'], // one pattern, not a list
    ['alice', 'alice@10.0.0.0/8', { ip: '10.0.0.1' }, 'match'],
    ['alice', 'alice@10.0.0.0/8', { ip: '192.0.2.1' }, 'none'],
    ['alice', 'alice@10.0.0.0/8,!10.0.0.1', { ip: '10.0.0.1' }, 'none'],
    ['alice', 'alice@*.example.org', { ip: '192.0.2.1', name: 'h.example.org' }, 'match'],
    ['alice', 'bob@10.0.0.0/8', { ip: '10.0.0.1' }, 'none'],
    ['al@ce', 'al@ce@10.0.0.1', { ip: '10.0.0.1' }, 'match'], // split at the last '@'
    ['alice', 'alice@10.1.2.3/8', { ip: '10.1.2.3' }, 'invalid'],
  ];
  for (const [user, pat, client, want] of userRows) assert.equal(matchUser(user, client, pat), want, `${user} vs ${pat}`);
  assert.equal(isValidUserPattern('alice@10.0.0.0/8'), true);
  assert.equal(isValidUserPattern('alice@10.0.0.0/8,'), false);
  assert.equal(isValidUserPattern('*'), true);
});

// OpenSSH's own sshd as the referee: `sshd -T -C` evaluates Match blocks
// (Match Address uses addr_match_list, Match Host match_hostname, Match User
// the user pattern list). Each block adds an AcceptEnv token, which
// accumulate, so one run answers every pattern for one client.
test('agrees with sshd -T on Match Address, Host and User', (t) => {
  const sshd = ['/usr/sbin/sshd', '/usr/local/sbin/sshd'].find((p) => existsSync(p));
  if (!sshd || !hasSshKeygen()) {
    t.skip('OpenSSH sshd/ssh-keygen not installed');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'mpssh-match-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'hk')]);
  const run = (blocks: string[], client: { addr: string; host: string; user: string }): Set<number> | 'invalid' => {
    const cfg = join(dir, 'sshd_config');
    const body = blocks.map((b, i) => `Match ${b}\n  AcceptEnv M${i}\n`).join('');
    writeFileSync(cfg, `HostKey ${join(dir, 'hk')}\nPidFile none\n${body}`);
    const r = spawnSync(sshd, ['-T', '-f', cfg, '-C', `addr=${client.addr},host=${client.host},user=${client.user},laddr=127.0.0.1,lport=22`], { encoding: 'utf8' });
    if (r.status !== 0) return 'invalid';
    const hits = new Set<number>();
    for (const m of r.stdout.matchAll(/^acceptenv (.*)$/gim)) for (const tok of (m[1] as string).split(' ')) hits.add(Number(tok.slice(1)));
    return hits;
  };

  const byAddr = new Map<string, [string, AddrListMatch][]>();
  for (const [list, ip, want] of ADDRESS_ROWS) {
    // Skip what sshd -C cannot express, and prefix lengths over 128, which
    // only OpenSSH 9.8 and later refuse (the installed sshd may be older).
    if (ip === 'not-an-address' || /\/(129|[2-9]\d\d)$/.test(list)) continue;
    byAddr.set(ip, [...(byAddr.get(ip) ?? []), [list, want]]);
  }
  for (const [ip, rows] of byAddr) {
    const valid = rows.filter(([, w]) => w !== 'invalid');
    const hits = run(valid.map(([l]) => `Address ${l}`), { addr: ip, host: 'h.example.org', user: 'alice' });
    assert.notEqual(hits, 'invalid', `sshd refused valid lists for ${ip}`);
    valid.forEach(([list, want], i) => assert.equal((hits as Set<number>).has(i), want === 'match', `sshd on ${ip} in ${list}`));
    for (const [list] of rows.filter(([, w]) => w === 'invalid')) assert.equal(run([`Address ${list}`], { addr: ip, host: 'h', user: 'u' }), 'invalid', `sshd on ${list}`);
  }

  const hostPats = ['*.example.org', '*.EXAMPLE.ORG', '!h.example.org,*', 'h.example.org,!*.org', 'h.?xample.org', '*'];
  const userPats = ['alice', 'al?ce', 'a*,!alice', 'bob,alice', 'ALICE', '*'];
  const client = { addr: '192.0.2.1', host: 'h.example.org', user: 'alice' };
  const hits = run([...hostPats.map((p) => `Host ${p}`), ...userPats.map((p) => `User ${p}`)], client) as Set<number>;
  hostPats.forEach((p, i) => assert.equal(hits.has(i), matchHostname(client.host, p) === 'match', `Host ${p}`));
  userPats.forEach((p, i) => assert.equal(hits.has(hostPats.length + i), matchPatternList(client.user, p) === 'match', `User ${p}`));
});

function hasSshKeygen(): boolean {
  return spawnSync('ssh-keygen', ['-?'], { stdio: 'ignore' }).error === undefined;
}
