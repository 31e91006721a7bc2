import { afterEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { AllAttemptsFailed, interleaveFamilies, race } from '../../src/ssh/client/happy-eyeballs.js';

test('families interleave, starting with the resolver first family', () => {
  assert.deepEqual(interleaveFamilies(['2001:db8::1', '2001:db8::2', '192.0.2.1']), ['2001:db8::1', '192.0.2.1', '2001:db8::2']);
  assert.deepEqual(interleaveFamilies(['192.0.2.1', '192.0.2.2', '2001:db8::1', '2001:db8::2']), ['192.0.2.1', '2001:db8::1', '192.0.2.2', '2001:db8::2']);
  assert.deepEqual(interleaveFamilies(['192.0.2.1']), ['192.0.2.1']);
  assert.deepEqual(interleaveFamilies([]), []);
});

// The race's delays and the attempts' sleeps run on mocked timers, so each test
// says exactly how much time passes; nothing depends on the machine's speed.
// setImmediate stays real: it lets the promise callbacks a tick released run.
const flush = () => new Promise<void>((r) => setImmediate(r));
afterEach(() => mock.timers.reset());

/** Advances the mocked clock by `ms`, then lets the callbacks that released run. */
async function advance(ms: number): Promise<void> {
  mock.timers.tick(ms);
  await flush();
}

/** Whether `p` has settled, without waiting for it. */
async function state(p: Promise<unknown>): Promise<'pending' | 'resolved' | 'rejected'> {
  let s: 'pending' | 'resolved' | 'rejected' = 'pending';
  p.then(() => (s = 'resolved'), () => (s = 'rejected'));
  await flush();
  return s;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new Error('aborted'));
    });
  });

test('a slow first address does not hold up a fast second one, and is aborted', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  const aborted: string[] = [];
  const started: string[] = [];
  const p = race(
    ['a', 'b'],
    async (addr, signal) => {
      started.push(addr);
      signal.addEventListener('abort', () => aborted.push(addr));
      await sleep(addr === 'a' ? 2000 : 10, signal);
      return addr;
    },
    () => {},
    50,
  );
  await advance(49);
  assert.deepEqual(started, ['a'], 'the second attempt waits for the delay');
  await advance(1);
  assert.deepEqual(started, ['a', 'b']);
  await advance(9);
  assert.equal(await state(p), 'pending');
  await advance(1);
  assert.equal(await state(p), 'resolved', 'b wins 60 ms in, long before a would answer');
  assert.equal((await p).address, 'b');
  assert.deepEqual(aborted, ['a']);
});

test('a failure starts the next attempt at once; all failing reports every error in order', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  const started: string[] = [];
  const p = race(['a', 'b', 'c'], async (addr) => {
    started.push(addr);
    throw Object.assign(new Error(`refused ${addr}`), { code: 'ECONNREFUSED' });
  }, () => {}, 1000);
  // No time passes: the 1000 ms delay never fires, so each attempt was started by the failure before it.
  assert.equal(await state(p), 'rejected');
  assert.deepEqual(started, ['a', 'b', 'c']);
  await assert.rejects(p, (err: unknown) => err instanceof AllAttemptsFailed && err.errors.map((e) => e.address).join() === 'a,b,c');
  await assert.rejects(race([], async () => 1, () => {}), AllAttemptsFailed);
});

test('a winner that arrives after the race ended is disposed of', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  const disposed: string[] = [];
  const p = race(['a', 'b'], async (addr, signal) => {
    if (addr === 'a') {
      await sleep(30);
      return 'late-a'; // ignores the abort, as a connect that already completed would
    }
    await sleep(5, signal);
    return 'b';
  }, (v) => disposed.push(v), 1);
  await advance(1); // b starts
  await advance(5); // b wins
  assert.equal(await state(p), 'resolved');
  assert.equal((await p).value, 'b');
  assert.deepEqual(disposed, []);
  await advance(24); // a completes after all
  assert.deepEqual(disposed, ['late-a']);
});
