import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { deleteMeansGone } from '../../src/daemon/apply.js';

test('deleteMeansGone: only ENOENT and the kernel\'s "address not found" EINVAL mean the endpoint is gone', () => {
  // The kernel's own answers, captured on Linux 6.18.
  const fixture = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../test/fixtures/mptcp-pm-kernel-6.18.json'), 'utf8')) as { errors: { what: string; code: string; extack?: string }[] };
  const verdicts = Object.fromEntries(fixture.errors.map((e) => [e.what, deleteMeansGone(e)]));
  assert.equal(verdicts['delete unknown id'], true);
  for (const what of ['limit above 8', 'signal and fullmesh', 'port without signal', 'duplicate id', 'ninth endpoint']) assert.equal(verdicts[what], false, what);
  assert.equal(deleteMeansGone({ code: 'ENOENT' }), true);
  assert.equal(deleteMeansGone({ code: 'EINVAL' }), false, 'an EINVAL that does not say why keeps the endpoint ours');
  assert.equal(deleteMeansGone({ code: 'EPERM', extack: 'address not found' }), false);
});
