/**
 * Which password and keyboard-interactive attempts reach PAM with the
 * client's words, and the stand-in the others get.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakePassword, pamAttempt, type PamAttemptInput } from '../../src/ssh/auth/pam-attempt.js';

const base: PamAttemptInput = { method: 'password', allowedUser: true, uid: 1000, permitRootLogin: 'prohibit-password', permitEmptyPasswords: false, password: 'sesame' };

test('pamAttempt: a table of who reaches PAM with their own words', () => {
  const rows: [string, Partial<PamAttemptInput>, ReturnType<typeof pamAttempt>][] = [
    ['an ordinary user', {}, { genuine: true }],
    ['keyboard-interactive', { method: 'keyboard-interactive', password: undefined }, { genuine: true }],
    ['an unknown user', { allowedUser: false, uid: undefined }, { genuine: false, why: 'user' }],
    ['a user DenyUsers refuses', { allowedUser: false }, { genuine: false, why: 'user' }],
    ['root, prohibit-password', { uid: 0 }, { genuine: false, why: 'root' }],
    ['root, prohibit-password, keyboard-interactive', { uid: 0, method: 'keyboard-interactive', password: undefined }, { genuine: false, why: 'root' }],
    ['root, forced-commands-only', { uid: 0, permitRootLogin: 'forced-commands-only' }, { genuine: false, why: 'root' }],
    ['root, no', { uid: 0, permitRootLogin: 'no' }, { genuine: false, why: 'root' }],
    ['root, yes', { uid: 0, permitRootLogin: 'yes' }, { genuine: true }],
    ['an empty password', { password: '' }, { genuine: false, why: 'empty-password' }],
    ['an empty password, PermitEmptyPasswords yes', { password: '', permitEmptyPasswords: true }, { genuine: true }],
    // keyboard-interactive's empty answers are PAM's to refuse (PAM_DISALLOW_NULL_AUTHTOK).
    ['keyboard-interactive, nothing said yet', { method: 'keyboard-interactive', password: undefined }, { genuine: true }],
  ];
  for (const [what, change, want] of rows) assert.deepEqual(pamAttempt({ ...base, ...change }), want, what);
});

test('fakePassword: as long in bytes as the real one, never equal to it, the same for any guess of that length', () => {
  for (const real of ['', 'a', 'sesame', 'correct horse battery staple', 'pässwörd', '\x7f\n\r\bnot a password']) {
    const fake = fakePassword(real);
    assert.equal(Buffer.byteLength(fake), Buffer.byteLength(real), JSON.stringify(real));
    if (real !== '') assert.notEqual(fake, real);
    if (!real.startsWith('\x7f')) assert.equal(fake, fakePassword('x'.repeat(Buffer.byteLength(real))));
    assert.ok(!fake.includes('\0'));
  }
});
