/** AuthenticationMethods: parsing, which methods are offered, partial success. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { completeMethod, methodsAllowed, parseAuthMethods } from '../../src/ssh/auth/auth-methods.js';

const ALL = ['publickey', 'keyboard-interactive', 'password'];

test('parsing: any, lists, keyboard-interactive:pam, unknown methods', () => {
  assert.equal(parseAuthMethods('any'), null);
  assert.equal(parseAuthMethods(''), null);
  assert.deepEqual(parseAuthMethods('publickey,keyboard-interactive:pam  publickey,password'), [['publickey', 'keyboard-interactive'], ['publickey', 'password']]);
  assert.match(String(parseAuthMethods('publickey,gssapi-with-mic')), /unknown authentication method "gssapi-with-mic"/);
});

test('a sequence: the key first, then keyboard-interactive; the key alone is partial', () => {
  let lists = parseAuthMethods('publickey,keyboard-interactive') as string[][];
  assert.deepEqual(methodsAllowed(ALL, lists), ['publickey']);
  const afterKey = completeMethod(lists, 'publickey');
  assert.equal(afterKey.done, false);
  lists = afterKey.lists as string[][];
  assert.deepEqual(methodsAllowed(ALL, lists), ['keyboard-interactive']);
  assert.equal(completeMethod(lists, 'keyboard-interactive').done, true);
});

test('alternatives: either list completes; a method not first in a list is not offered', () => {
  const lists = parseAuthMethods('publickey,password keyboard-interactive') as string[][];
  assert.deepEqual(methodsAllowed(ALL, lists), ['publickey', 'keyboard-interactive']);
  assert.equal(completeMethod(lists, 'keyboard-interactive').done, true);
  assert.equal(completeMethod(lists, 'password').done, false);
  // Disabled methods are never offered, whatever the lists say.
  assert.deepEqual(methodsAllowed(['publickey'], lists), ['publickey']);
  assert.deepEqual(methodsAllowed(ALL, null), ALL);
  assert.equal(completeMethod(null, 'publickey').done, true);
});
