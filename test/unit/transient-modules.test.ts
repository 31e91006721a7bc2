import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withTransientModules } from '../../src/util/transient-modules.js';
import { ConfigError, readConfig } from '../../src/config/read.js';

function moduleFiles(): { dir: string; kept: string; dropped: string; dep: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-transient-'));
  const file = (name: string, body: string) => {
    fs.writeFileSync(path.join(dir, name), body);
    return path.join(dir, name);
  };
  return {
    dir,
    kept: file('kept.js', 'exports.n = 1;\n'),
    dep: file('dep.js', 'exports.big = new Array(1000).fill(7);\n'),
    dropped: file('dropped.js', "exports.sum = require('./dep.js').big.length + require('./kept.js').n;\n"),
  };
}

test('modules loaded inside are unloaded afterwards; modules loaded before stay', () => {
  const m = moduleFiles();
  try {
    require(m.kept);
    const sum = withTransientModules(() => (require(m.dropped) as { sum: number }).sum);
    assert.equal(sum, 1001);
    assert.ok(require.cache[m.kept] !== undefined);
    assert.equal(require.cache[m.dropped], undefined);
    assert.equal(require.cache[m.dep], undefined);
    assert.ok(!module.children.some((c) => c.id === m.dropped || c.id === m.dep), 'no parent keeps an unloaded module');
    // Needed again: loaded again.
    assert.equal(withTransientModules(() => (require(m.dropped) as { sum: number }).sum), 1001);
  } finally {
    fs.rmSync(m.dir, { recursive: true, force: true });
  }
});

test('modules are unloaded when the function throws', () => {
  const m = moduleFiles();
  try {
    assert.throws(() =>
      withTransientModules(() => {
        require(m.dep);
        throw new Error('boom');
      }),
    /boom/);
    assert.equal(require.cache[m.dep], undefined);
  } finally {
    fs.rmSync(m.dir, { recursive: true, force: true });
  }
});

test('readConfig reads the configuration and lets go of the loader; its errors are ConfigErrors', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-transient-'));
  try {
    const file = path.join(dir, 'mpsshd.yaml');
    fs.writeFileSync(file, 'pathManager:\n  enabled: false\n', { mode: 0o600 });
    const loaded = readConfig({ file, explicit: true });
    assert.equal(loaded.config.pathManager.enabled, false);
    const loader = require.resolve('../../src/config/loader.js');
    // Loaded earlier by other tests of this process, the loader stays; otherwise it is gone.
    if (require.cache[loader] === undefined) assert.ok(!Object.keys(require.cache).some((k) => k.includes(`${path.sep}yaml${path.sep}`)));
    fs.writeFileSync(file, 'pathManager: [\n', { mode: 0o600 });
    assert.throws(() => readConfig({ file, explicit: true }), (err) => err instanceof ConfigError);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
