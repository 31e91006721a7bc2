/** The async lock: holders run one at a time, first come first served, and a throw passes it on. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lock } from '../../src/util/lock.js';

test('Lock: one holder at a time, in the order they asked, and a failing holder still passes it on', async () => {
  const lock = new Lock();
  const log: string[] = [];
  const holder = (name: string, fail = false) =>
    lock.run(async () => {
      log.push(`${name} in`);
      await new Promise((r) => setImmediate(r));
      log.push(`${name} out`);
      if (fail) throw new Error(name);
      return name;
    });
  assert.equal(lock.busy, false);
  const runs = [holder('a'), holder('b', true), holder('c')];
  assert.equal(lock.busy, true);
  const settled = await Promise.allSettled(runs);
  assert.deepEqual(log, ['a in', 'a out', 'b in', 'b out', 'c in', 'c out']);
  assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.equal(lock.busy, false);
});
