/**
 * The discipline of a worker's monitor channel, as a worker taken over by
 * its client would test it: one request at a time, nothing answered after
 * the connection was told to end, and no answer or descriptor waiting for
 * ever on a worker that stopped reading or went away.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { drained, serveSigner, type MonitorAuth, type UserauthReply } from '../../src/ssh/server/host-key-signer.js';
import { encodeFrame } from '../../src/ssh/server/sign-protocol.js';
import { silentLogger } from '../../src/util/logger.js';
import { answers, pair } from '../helpers/monitor-pair.js';

const NONE = { op: 'userauth', user: 'alice', service: 'ssh-connection', method: 'none' };

/** A MonitorAuth that counts requests and answers each with `reply`. */
function countingAuth(reply: UserauthReply): MonitorAuth & { calls: number } {
  const a = {
    calls: 0,
    async userauth() {
      a.calls++;
      return reply;
    },
    async answers() {
      a.calls++;
      return reply;
    },
  };
  return a;
}

const closed = (s: net.Socket) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));

test('one request at a time: requests sent back to back, without waiting for the answers, close the channel', async () => {
  const [daemonEnd, workerEnd] = pair();
  const auth = countingAuth({ answer: { auth: 'failure', methods: ['publickey'] } });
  serveSigner(daemonEnd, [], silentLogger(), Date.now, auth);
  // The daemon closes with the flood unread: the worker's end sees a reset.
  workerEnd.on('error', () => {});
  const next = answers(workerEnd);
  workerEnd.write(encodeFrame(NONE));
  assert.equal((await next()).auth, 'failure', 'a request, then its answer: served');
  // A flood: a thousand requests in one write.
  workerEnd.write(Buffer.concat(Array.from({ length: 1000 }, () => encodeFrame(NONE))));
  await closed(workerEnd);
  assert.equal(auth.calls, 1, 'none of the flood was decided');
});

test('after an answer that ends the connection, a further request closes the channel unanswered', async () => {
  const [daemonEnd, workerEnd] = pair();
  const auth = countingAuth({ answer: { auth: 'disconnect', reason: 'Too many authentication failures' } });
  serveSigner(daemonEnd, [], silentLogger(), Date.now, auth);
  const next = answers(workerEnd);
  workerEnd.write(encodeFrame(NONE));
  assert.equal((await next()).auth, 'disconnect');
  workerEnd.write(encodeFrame(NONE));
  await closed(workerEnd);
  assert.equal(auth.calls, 1);
});

test('drained: resolves once written, rejects when the peer stops reading or goes away', async () => {
  const [a, b] = pair();
  await drained(a, 100);
  b.pause();
  a.write(Buffer.alloc(8 * 1024 * 1024));
  await assert.rejects(drained(a, 200), /does not read/);
  const waiting = drained(a, 60_000);
  b.destroy();
  a.destroy();
  await assert.rejects(waiting, /closed/);
  await assert.rejects(drained(a, 100), /closed/);
});
