/**
 * The fuzz targets (test/fuzz/targets.ts): every input that once crashed
 * one is replayed, then each is fuzzed briefly with a fixed seed. Longer
 * runs: `node dist/test/fuzz/main.js --seconds 60`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hexPreview, replayCorpus, runTarget, type FuzzResult } from '../fuzz/run.js';
import { TARGETS } from '../fuzz/targets.js';

/** Seconds of fuzzing per target: the SSH target needs a connection per input, so it gets more. */
const BUDGET: Record<string, number> = { 'ssh-preauth': 2 };

function assertNoCrash(name: string, what: string, r: FuzzResult): void {
  const c = r.crashes[0];
  if (c === undefined) return;
  assert.fail(`${name}: ${what}: ${r.crashes.length} crash(es) in ${r.iterations} inputs; first on input ${hexPreview(c.input)}\n${c.error}`);
}

for (const target of TARGETS) {
  test(`fuzz ${target.name}: corpus replays and a seeded run find no crash`, async () => {
    assertNoCrash(target.name, 'corpus replay', await replayCorpus(target));
    const r = await runTarget(target, { seconds: BUDGET[target.name] ?? 1, seed: 0x5eed });
    assert.ok(r.iterations >= target.seeds().length, `${target.name}: only ${r.iterations} inputs ran`);
    assertNoCrash(target.name, 'seeded fuzzing', r);
  });
}
