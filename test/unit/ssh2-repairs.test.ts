/**
 * The load-time repairs of ssh2 apply to the pinned version: if ssh2 is
 * upgraded and a repaired text changed, this fails rather than the repair
 * silently doing nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { missingRepairs } from '../../src/ssh/ssh2-internals.js';

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
