import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  authoriseKeyOptions,
  checkRootLogin,
  checkUserAccess,
  filterUserEnvironment,
  findAuthorizedKey,
  parsePermitRootLogin,
  splitAuthUser,
  validateUserAccessConfig,
  type Account,
  type PermitRootLogin,
  type UserAccessConfig,
} from '../../src/ssh/auth/access.js';
import { checkAccountState, shadowDay } from '../../src/ssh/auth/account-state.js';
import { parseAuthorizedKeys } from '../../src/ssh/auth/authorized-keys.js';
import { defaultKeyOptions, type KeyOptions } from '../../src/ssh/auth/key-options.js';

const str = (b: Buffer | string) => {
  const body = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
};
const edBlob = (fill: number) => Buffer.concat([str('ssh-ed25519'), str(Buffer.alloc(32, fill))]);
const ed = (fill: number) => `ssh-ed25519 ${edBlob(fill).toString('base64')}`;

test('PermitRootLogin values', () => {
  assert.equal(parsePermitRootLogin('without-password'), 'prohibit-password');
  assert.equal(parsePermitRootLogin('Prohibit-Password'), 'prohibit-password');
  assert.equal(parsePermitRootLogin('NO'), 'no');
  assert.equal(parsePermitRootLogin('maybe'), null);

  const rows: [PermitRootLogin, number, string, string | undefined, boolean][] = [
    ['prohibit-password', 0, 'publickey', undefined, true],
    ['prohibit-password', 0, 'password', undefined, false],
    ['prohibit-password', 0, 'keyboard-interactive', undefined, false],
    ['prohibit-password', 0, 'hostbased', undefined, true],
    ['forced-commands-only', 0, 'publickey', undefined, false],
    ['forced-commands-only', 0, 'publickey', '/usr/local/bin/backup', true],
    ['forced-commands-only', 0, 'publickey', '', true], // command="" is still a forced command
    ['yes', 0, 'password', undefined, true],
    ['no', 0, 'publickey', '/bin/true', false],
    ['no', 1000, 'password', undefined, true], // only uid 0 is concerned
  ];
  for (const [setting, uid, method, forcedCommand, want] of rows) {
    const d = checkRootLogin(setting, { uid, method, forcedCommand });
    assert.equal(d.allowed, want, `${setting} uid=${uid} ${method} cmd=${forcedCommand}`);
    if (!want) assert.match(d.reason, /ROOT LOGIN REFUSED/);
  }
});

test('AllowUsers/DenyUsers/AllowGroups/DenyGroups in sshd order', () => {
  const alice: Account = { name: 'alice', groups: ['alice', 'staff'] };
  const root: Account = { name: 'root', groups: ['root'] };
  const lan = { ip: '10.0.0.5' };
  const wan = { ip: '203.0.113.7', name: 'host.example.net' };
  const rows: [string, UserAccessConfig, Account, { ip: string; name?: string }, string][] = [
    ['no lists', {}, alice, lan, 'ok'],
    ['DenyUsers hit', { denyUsers: ['bob', 'al*'] }, alice, lan, 'deny-users'],
    ['DenyUsers beats AllowUsers', { denyUsers: ['alice'], allowUsers: ['alice'] }, alice, lan, 'deny-users'],
    ['AllowUsers miss', { allowUsers: ['bob'] }, alice, lan, 'not-in-allow-users'],
    ['AllowUsers with host', { allowUsers: ['alice@10.0.0.0/8'] }, alice, lan, 'ok'],
    ['AllowUsers host miss', { allowUsers: ['alice@10.0.0.0/8'] }, alice, wan, 'not-in-allow-users'],
    ['AllowUsers host by name', { allowUsers: ['alice@*.example.net'] }, alice, wan, 'ok'],
    ['DenyUsers root from outside', { denyUsers: ['root@!10.0.0.0/8,*'] }, root, wan, 'deny-users'],
    ['DenyUsers root from inside', { denyUsers: ['root@!10.0.0.0/8,*'] }, root, lan, 'ok'],
    ['AllowUsers passes, DenyGroups refuses', { allowUsers: ['alice'], denyGroups: ['staff'] }, alice, lan, 'deny-groups'],
    ['DenyGroups beats AllowGroups', { denyGroups: ['st*'], allowGroups: ['alice'] }, alice, lan, 'deny-groups'],
    ['AllowGroups miss', { allowGroups: ['wheel', 'adm'] }, alice, lan, 'not-in-allow-groups'],
    ['AllowGroups hit on a supplementary group', { allowGroups: ['staff'] }, alice, lan, 'ok'],
    ['groups are single patterns, not lists', { allowGroups: ['wheel,staff'] }, alice, lan, 'not-in-allow-groups'],
    ['no groups at all', { allowGroups: ['*'] }, { name: 'x', groups: [] }, lan, 'no-groups'],
    ['AllowUsers refuses before groups are looked at', { allowUsers: ['bob'], allowGroups: ['staff'] }, alice, lan, 'not-in-allow-users'],
    ['locked account first', { allowUsers: ['alice'] }, { ...alice, locked: true }, lan, 'account-locked'],
    ['missing shell', {}, { ...alice, shell: { path: '/bin/nosuch', status: 'missing' } }, lan, 'shell-missing'],
    ['invalid pattern denies', { allowUsers: ['alice@10.1.2.3/8'] }, alice, lan, 'invalid-pattern'],
  ];
  for (const [name, cfg, account, client, code] of rows) {
    const d = checkUserAccess(cfg, account, client);
    assert.equal(d.code, code, `${name}: ${d.reason}`);
    assert.equal(d.allowed, code === 'ok', name);
  }
  assert.match(checkUserAccess({ allowGroups: ['wheel'] }, alice, lan).reason, /^not allowed because none of user's groups are listed in AllowGroups$/);
  assert.deepEqual(validateUserAccessConfig({ allowUsers: ['ok', 'a@10.1.2.3/8', ''], denyGroups: ['x'] }), [
    'invalid AllowUsers pattern: "a@10.1.2.3/8"',
    'invalid AllowUsers pattern: ""',
  ]);
});

test('user:style is split as sshd splits it', () => {
  assert.deepEqual(splitAuthUser('alice'), { user: 'alice' });
  assert.deepEqual(splitAuthUser('alice:skey'), { user: 'alice', style: 'skey' });
  assert.deepEqual(splitAuthUser(':x:y'), { user: '', style: 'x:y' });
});

test('key options at use: expiry, principals, from=', () => {
  const now = Date.UTC(2026, 0, 1) / 1000;
  const o = (over: Partial<KeyOptions>): KeyOptions => ({ ...defaultKeyOptions(), ...over });
  const rows: [string, Partial<KeyOptions>, { ip: string; name?: string }, string][] = [
    ['plain', {}, { ip: '10.0.0.5' }, 'ok'],
    ['not expired', { expiresAt: now + 1 }, { ip: '10.0.0.5' }, 'ok'],
    ['expires this second', { expiresAt: now }, { ip: '10.0.0.5' }, 'ok'],
    ['expired', { expiresAt: now - 1 }, { ip: '10.0.0.5' }, 'expired'],
    ['principals without cert-authority', { principals: 'alice' }, { ip: '10.0.0.5' }, 'principals-without-ca'],
    ['from match', { from: '10.0.0.0/8,!10.1.2.3' }, { ip: '10.0.0.5' }, 'ok'],
    ['from negated', { from: '10.0.0.0/8,!10.1.2.3' }, { ip: '10.1.2.3' }, 'from-mismatch'],
    ['from miss', { from: '10.0.0.0/8' }, { ip: '192.0.2.1' }, 'from-mismatch'],
    ['from by name', { from: '*.example.org' }, { ip: '192.0.2.1', name: 'a.example.org' }, 'ok'],
    ['from name needs a name', { from: '*.example.org' }, { ip: '192.0.2.1' }, 'from-mismatch'],
    ['from malformed', { from: '10.0.0.0/8,' }, { ip: '10.0.0.5' }, 'from-invalid'],
    ['expiry checked before from', { from: '10.0.0.0/8', expiresAt: now - 5 }, { ip: '192.0.2.1' }, 'expired'],
  ];
  for (const [name, over, client, code] of rows) {
    const d = authoriseKeyOptions(o(over), { user: 'alice', client, now, location: '/home/alice/.ssh/authorized_keys:4' });
    assert.equal(d.code, code, `${name}: ${d.reason}`);
    assert.equal(d.allowed, code === 'ok', name);
  }
  const d = authoriseKeyOptions(o({ from: '10.0.0.0/8' }), { user: 'alice', client: { ip: '192.0.2.1' }, now, location: 'ak:4' });
  assert.equal(d.reason, 'ak:4: Authentication tried for alice with correct key but not from a permitted host (host=192.0.2.1, ip=192.0.2.1, required=10.0.0.0/8).');
});

test('finding a presented key: first line that admits it wins, CA lines never match', () => {
  const file = parseAuthorizedKeys(
    [
      `cert-authority ${ed(1)} ca`,
      `from="10.0.0.0/8" ${ed(1)} lan-only`,
      `expiry-time="20200101Z" ${ed(2)} old`,
      `command="/bin/backup" ${ed(1)} anywhere`,
      `${ed(3)} plain`,
    ].join('\n'),
  );
  assert.equal(file.problems.length, 0);
  const now = Date.UTC(2026, 0, 1) / 1000;
  const ctx = (ip: string) => ({ user: 'alice', client: { ip }, now });

  const lan = findAuthorizedKey(file.entries, edBlob(1), ctx('10.0.0.5'), '/home/alice/.ssh/authorized_keys');
  assert.equal(lan.allowed, true);
  assert.equal(lan.entry?.comment, 'lan-only');
  assert.match(lan.reason, /^Accepted key ED25519 SHA256:\S+ found at \/home\/alice\/\.ssh\/authorized_keys:2$/);

  const wan = findAuthorizedKey(file.entries, edBlob(1), ctx('192.0.2.1'));
  assert.equal(wan.allowed, true, 'a later line with the same key still admits it');
  assert.equal(wan.entry?.options.command, '/bin/backup');
  assert.deepEqual(wan.refused.map((r) => [r.entry.line, r.code]), [[2, 'from-mismatch']]);

  const old = findAuthorizedKey(file.entries, edBlob(2), ctx('10.0.0.5'));
  assert.equal(old.allowed, false);
  assert.equal(old.code, 'expired');

  const unknown = findAuthorizedKey(file.entries, edBlob(9), ctx('10.0.0.5'));
  assert.equal(unknown.code, 'key-not-found');

  const cert = Buffer.concat([str('ssh-ed25519-cert-v01@openssh.com'), str('nonce')]);
  const c = findAuthorizedKey(file.entries, cert, ctx('10.0.0.5'));
  assert.equal(c.code, 'certificate-unsupported');
  assert.match(c.reason, /a certificate is trusted through its CA, not as a key/);

  for (const junk of [Buffer.alloc(0), Buffer.from([0, 0, 0, 99]), Buffer.from('garbage')]) {
    assert.equal(findAuthorizedKey(file.entries, junk, ctx('10.0.0.5')).code, 'bad-key');
  }
});

test('PermitUserEnvironment filters environment= values', () => {
  const env = [
    { name: 'LANG', value: 'C' },
    { name: 'LD_PRELOAD', value: '/tmp/x.so' },
    { name: 'LC_ALL', value: 'C' },
  ];
  assert.deepEqual(filterUserEnvironment(env, 'no'), []);
  assert.deepEqual(filterUserEnvironment(env, false), []);
  assert.deepEqual(filterUserEnvironment(env, 'yes'), env);
  assert.deepEqual(filterUserEnvironment(env, 'LANG,LC_*').map((e) => e.name), ['LANG', 'LC_ALL']);
  assert.deepEqual(filterUserEnvironment(env, '*,!LD_*').map((e) => e.name), ['LANG', 'LC_ALL']);
});

test('checkAccountState: expiry, lock and forced password change, as sshd without PAM', () => {
  const ok = { lastChange: 20000, max: 99999, inactive: -1, expire: -1, locked: false };
  const rows: [string, Parameters<typeof checkAccountState>[1], number, string][] = [
    ['no shadow data', null, 20000, 'ok'],
    ['an ordinary account', ok, 20000, 'ok'],
    ['expires later', { ...ok, expire: 20001 }, 20000, 'ok'],
    ['expires today: still valid', { ...ok, expire: 20000 }, 20000, 'ok'],
    ['expired yesterday', { ...ok, expire: 19999 }, 20000, 'account-expired'],
    ['usermod -e 1', { ...ok, expire: 1 }, 20000, 'account-expired'],
    ['locked (usermod -L)', { ...ok, locked: true }, 20000, 'account-locked'],
    ['expired and locked: expiry first', { ...ok, expire: 1, locked: true }, 20000, 'account-expired'],
    ['chage -d 0', { ...ok, lastChange: 0 }, 20000, 'password-change-required'],
    ['password aged past max', { ...ok, lastChange: 19000, max: 90 }, 20000, 'password-change-required'],
    ['aged and inactive too', { ...ok, lastChange: 19000, max: 90, inactive: 30 }, 20000, 'account-inactive'],
    ['aging off (empty max)', { ...ok, lastChange: 1, max: -1 }, 20000, 'ok'],
    ['empty last change: no aging', { ...ok, lastChange: -1, max: 1 }, 20000, 'ok'],
  ];
  for (const [name, shadow, today, code] of rows) assert.equal(checkAccountState('alice', shadow, today).code, code, name);
  assert.equal(checkAccountState('alice', { ...ok, expire: 1 }, 20000).reason, 'Account alice has expired');
  assert.equal(shadowDay(Date.UTC(2026, 11, 1, 23, 59)), 20788);
});
