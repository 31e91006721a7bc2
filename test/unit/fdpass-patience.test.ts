/**
 * sendFdPatiently: a peer that stops reading costs the sender a timer, not
 * its event loop; the descriptor goes once the peer reads, and a peer that
 * never reads ends in ETIMEDOUT.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { receiveFd, sendFd, sendFdPatiently, socketPair } from '../../src/mptcp/fdpass.js';
import { native } from '../../src/mptcp/native.js';

/** Sends descriptors into `fd` until the socket is full; returns how many went. */
function fill(fd: number, what: number): number {
  for (let n = 0; ; n++) {
    try {
      sendFd(fd, what, { timeoutMs: 0 });
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ETIMEDOUT');
      return n;
    }
  }
}

test('sendFdPatiently waits for a full socket without blocking, sends once the peer reads, and gives up after its patience', async () => {
  const [a, b] = socketPair();
  const devnull = fs.openSync('/dev/null', 'r');
  try {
    const queued = fill(a, devnull);
    assert.ok(queued > 0);
    let settled = false;
    const sent = sendFdPatiently(a, devnull, 5000).then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false, 'the socket is full: not sent yet');
    let loopRan = false;
    setImmediate(() => (loopRan = true));
    await new Promise((r) => setTimeout(r, 30));
    assert.ok(loopRan, 'the event loop ran while it waited');
    for (let i = 0; i < queued; i++) native().closeFd(receiveFd(b, { timeoutMs: 0 }));
    await sent;
    assert.equal(settled, true);
    native().closeFd(receiveFd(b, { timeoutMs: 0 }));

    fill(a, devnull);
    await assert.rejects(sendFdPatiently(a, devnull, 50), (e: NodeJS.ErrnoException) => e.code === 'ETIMEDOUT');
  } finally {
    for (const fd of [a, b, devnull]) native().closeFd(fd);
  }
});
