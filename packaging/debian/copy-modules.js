#!/usr/bin/env node
// Copies the production modules npm lists (`npm ls --omit=dev --all
// --parseable`, on stdin) from the checkout argv[2] to the staged
// /usr/lib/mpssh argv[3], leaving out what is not needed at run time: tests,
// docs, native sources and build-only modules. One process for all of them:
// a copy per module in a shell loop costs seconds in process starts.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const [root, dest] = process.argv.slice(2);
if (!root || !dest) {
  process.stderr.write('usage: npm ls --omit=dev --all --parseable | copy-modules.js CHECKOUT STAGED_LIB\n');
  process.exit(2);
}

// Build-time only: headers for node-gyp, type declarations.
const BUILD_ONLY = /(^|\/)node_modules\/(node-addon-api|nan|buildcheck|@types\/[^/]+)$/;
// Directory names never needed at run time (a native module's deps/ and third_party/ can be tens of MB).
const SKIP_DIRS = new Set(['test', 'tests', '__tests__', '.github', 'deps', 'third_party', 'docs', 'example', 'examples', 'benchmarks', 'integration', 'scripts', '.husky', 'obj.target', '.deps']);

const dirs = fs
  .readFileSync(0, 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && path.resolve(l) !== path.resolve(root));
let count = 0;
for (const dir of dirs) {
  const rel = path.relative(root, dir);
  if (BUILD_ONLY.test(rel)) continue;
  fs.cpSync(dir, path.join(dest, rel), {
    recursive: true,
    filter: (src) => {
      // A module's own node_modules: its packages are listed on their own lines.
      if (src === path.join(dir, 'node_modules')) return false;
      return !(SKIP_DIRS.has(path.basename(src)) && fs.statSync(src).isDirectory());
    },
  });
  count++;
}
process.stderr.write(`copied ${count} modules\n`);
