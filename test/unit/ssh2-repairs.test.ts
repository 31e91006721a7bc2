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
