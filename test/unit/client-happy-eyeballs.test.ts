import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AllAttemptsFailed, interleaveFamilies, race } from '../../src/ssh/client/happy-eyeballs.js';

test('families interleave, starting with the resolver first family', () => {
  assert.deepEqual(interleaveFamilies(['2001:db8::1', '2001:db8::2', '192.0.2.1']), ['2001:db8::1', '192.0.2.1', '2001:db8::2']);
  assert.deepEqual(interleaveFamilies(['192.0.2.1', '192.0.2.2', '2001:db8::1', '2001:db8::2']), ['192.0.2.1', '2001:db8::1', '192.0.2.2', '2001:db8::2']);
  assert.deepEqual(interleaveFamilies(['192.0.2.1']), ['192.0.2.1']);
  assert.deepEqual(interleaveFamilies([]), []);
});

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new Error('aborted'));
    });
  });

test('a slow first address does not hold up a fast second one, and is aborted', async () => {
  const aborted: string[] = [];
  const t0 = Date.now();
  const res = await race(
    ['a', 'b'],
    async (addr, signal) => {
      signal.addEventListener('abort', () => aborted.push(addr));
      await sleep(addr === 'a' ? 2000 : 10, signal);
      return addr;
    },
    () => {},
    50,
  );
  assert.equal(res.address, 'b');
  assert.ok(Date.now() - t0 < 500);
  assert.deepEqual(aborted, ['a']);
});

test('a failure starts the next attempt at once; all failing reports every error in order', async () => {
  const started: [string, number][] = [];
  const t0 = Date.now();
  await assert.rejects(
    race(['a', 'b', 'c'], async (addr) => {
      started.push([addr, Date.now() - t0]);
      throw Object.assign(new Error(`refused ${addr}`), { code: 'ECONNREFUSED' });
    }, () => {}, 1000),
    (err: unknown) => err instanceof AllAttemptsFailed && err.errors.map((e) => e.address).join() === 'a,b,c',
  );
  assert.ok(started.every(([, ms]) => ms < 200), JSON.stringify(started));
  await assert.rejects(race([], async () => 1, () => {}), AllAttemptsFailed);
});

test('a winner that arrives after the race ended is disposed of', async () => {
  const disposed: string[] = [];
  const res = await race(['a', 'b'], async (addr, signal) => {
    if (addr === 'a') {
      await new Promise((r) => setTimeout(r, 30));
      return 'late-a'; // ignores the abort, as a connect that already completed would
    }
    await sleep(5, signal);
    return 'b';
  }, (v) => disposed.push(v), 1);
  assert.equal(res.value, 'b');
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(disposed, ['late-a']);
});
