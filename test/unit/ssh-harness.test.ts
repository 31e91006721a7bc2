import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startSshHarness } from '../helpers/ssh-harness.js';
import { requirePrograms } from '../../tools/require-netns.js';

/** The OpenSSH tools these tests drive. */
const PROGRAMS = ['ssh', 'ssh-keygen'];

test('the SSH test harness authenticates OpenSSH and hands the connection to the handlers', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const h = await startSshHarness({
    attach(client) {
      client.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acceptExec, _reject, info) => {
          const ch = acceptExec();
          ch.write(`ran: ${info.command}\n`);
          ch.exit(3);
          ch.end();
        });
      });
    },
  });
  try {
    const r = await h.ssh(['hello']);
    assert.equal(r.stdout.toString(), 'ran: hello\n');
    assert.equal(r.code, 3);
    assert.equal(h.contexts.length, 1);
  } finally {
    await h.close();
  }
});
