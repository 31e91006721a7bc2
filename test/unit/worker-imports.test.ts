/**
 * A per-connection worker loads no zod: every worker pays for each module it
 * loads, and the worker only needs the status types (erased in the build),
 * never the schemas. Walks the built worker's require() graph, lazy requires
 * included, so a value import that pulls a schema in is caught.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const DIST = path.resolve(__dirname, '../..');

/** Packages reached from `entry`, each with the first built module that requires it. */
function packagesLoadedBy(entry: string): Map<string, string> {
  const seen = new Set<string>();
  const packages = new Map<string, string>();
  const walk = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/\brequire\("([^"]+)"\)/g)) {
      const spec = m[1] as string;
      if (spec.startsWith('.')) {
        const target = path.resolve(path.dirname(file), spec.endsWith('.js') ? spec : `${spec}.js`);
        if (fs.existsSync(target)) walk(target);
      } else if (!packages.has(spec)) {
        packages.set(spec, path.relative(DIST, file));
      }
    }
  };
  walk(entry);
  return packages;
}

test('the SSH worker loads no zod', () => {
  const packages = packagesLoadedBy(path.join(DIST, 'src/ssh/server/worker-main.js'));
  assert.ok(packages.has('ssh2'), 'the walk reaches the worker proper');
  const zod = [...packages].filter(([name]) => name === 'zod' || name.startsWith('zod/'));
  assert.deepEqual(zod, []);
});
