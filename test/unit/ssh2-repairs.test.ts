/**
 * The load-time repairs of ssh2 apply to the pinned version: if ssh2 is
 * upgraded and a repaired text changed, this fails rather than the repair
 * silently doing nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { missingRepairs, NEGOTIATION_MARK, negotiationFailure, OFFER_LOG_MAX } from '../../src/ssh/ssh2-internals.js';

test('every source repair finds its text in the installed ssh2', () => {
  assert.deepEqual(missingRepairs(), []);
  assert.equal((require('ssh2/package.json') as { version: string }).version, '1.17.0', 'ssh2 is pinned; review SOURCE_REPAIRS before moving it');
});

test('with the native binding, no worker compiles the WebAssembly Poly1305', async () => {
  const crypto = require('ssh2/lib/protocol/crypto.js') as { bindingAvailable: boolean; init: Promise<void> };
  await crypto.init;
  assert.equal(crypto.bindingAvailable, true, 'ssh2 was built without its native binding');
  assert.equal(require.cache[require.resolve('ssh2/lib/protocol/crypto/poly1305.js')], undefined);
});

test('negotiationFailure: the client\'s offer is logged with no spaces or control characters, and cut short', () => {
  const msg = (theirs: string) => `Handshake failed: no matching C->S cipher${NEGOTIATION_MARK}${theirs}${NEGOTIATION_MARK}aes128-ctr`;
  assert.deepEqual(negotiationFailure(msg('3des-cbc,blowfish-cbc')), { what: 'cipher', theirs: '3des-cbc,blowfish-cbc', ours: 'aes128-ctr' });
  const forged = negotiationFailure(msg('x\nFailed password for root from 203.0.113.9 port 22 ssh2'));
  assert.equal(forged?.theirs, 'x?Failed?password?for?root?from?203.0.113.9?port?22?ssh2');
  assert.equal(negotiationFailure(msg('a'.repeat(70_000)))?.theirs.length, OFFER_LOG_MAX + 3);
  assert.equal(negotiationFailure('some other error'), undefined);
});
