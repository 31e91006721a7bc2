import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDaemonArgs } from '../../src/daemon/cli.js';
import { hasNetAdmin } from '../../src/daemon/capabilities.js';

const ok: [string[], Partial<ReturnType<typeof parseDaemonArgs>>][] = [
  [[], { check: false, debug: false, overrides: [] }],
  [['-t'], { check: true }],
  [['-dt'], { check: true, debug: true }],
  [['-T'], { check: true, extended: true }],
  [['-dT'], { check: true, extended: true, debug: true }],
  [['-f', '/tmp/x.yaml'], { file: '/tmp/x.yaml' }],
  [['-f/tmp/x.yaml'], { file: '/tmp/x.yaml' }],
  [['-dfx.yaml'], { debug: true, file: 'x.yaml' }],
  [['-o', 'LogLevel=DEBUG', '-oa.b=1'], { overrides: ['LogLevel=DEBUG', 'a.b=1'] }],
  [['--help'], { help: true }],
  [['-V'], { version: true }],
  [['--version'], { version: true }],
];
for (const [argv, want] of ok) {
  test(`mpsshd ${argv.join(' ') || '(no args)'}`, () => {
    const got = parseDaemonArgs(argv);
    for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k as keyof typeof got], v, k);
  });
}

const bad: [string[], RegExp][] = [
  [['-x'], /unknown option -x/],
  [['-f'], /-f needs a value/],
  [['-o'], /-o needs a value/],
  [['--frobnicate'], /unknown option --frobnicate/],
  [['extra'], /unexpected argument "extra"/],
];
for (const [argv, re] of bad) {
  test(`mpsshd ${argv.join(' ')} is a usage error`, () => assert.throws(() => parseDaemonArgs(argv), re));
}

test('CAP_NET_ADMIN is read from CapEff', () => {
  assert.equal(hasNetAdmin('CapEff:\t000001ffffffffff\n'), true);
  assert.equal(hasNetAdmin('CapEff:\t0000000000000000\n'), false);
  assert.equal(hasNetAdmin('CapEff:\t0000000000001000\n'), true);
});
