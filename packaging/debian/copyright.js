#!/usr/bin/env node
// Writes debian/copyright (machine-readable format 1.0) for the staged
// /usr/lib/mpssh given as argv[2]: mpssh itself, then one paragraph per
// bundled Node.js module with the copyright lines of its own license file
// and the license its package.json declares.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const lib = process.argv[2];
if (!lib) {
  process.stderr.write('usage: copyright.js STAGED_USR_LIB_MPSSH\n');
  process.exit(2);
}

/** Directories of the modules under node_modules, nested ones included. */
function modules(dir) {
  const out = [];
  const nm = path.join(dir, 'node_modules');
  if (!fs.existsSync(nm)) return out;
  for (const name of fs.readdirSync(nm).sort()) {
    const entries = name.startsWith('@') ? fs.readdirSync(path.join(nm, name)).sort().map((n) => path.join(name, n)) : [name];
    for (const e of entries) {
      const d = path.join(nm, e);
      if (!fs.existsSync(path.join(d, 'package.json'))) continue;
      out.push(d, ...modules(d));
    }
  }
  return out;
}

/** The SPDX expression of a package.json, in the copyright format's words. */
function licenseOf(pkg) {
  let l = pkg.license ?? (Array.isArray(pkg.licenses) ? pkg.licenses.map((x) => x.type).join(' or ') : undefined);
  if (typeof l === 'object' && l !== null) l = l.type;
  if (!l) return 'UNKNOWN';
  return String(l).replace(/^\((.*)\)$/, '$1').replace(/ OR /g, ' or ').replace(/ AND /g, ' and ');
}

/** "Copyright ..." lines of the module's license file, or a pointer to its authors. */
function copyrightOf(dir, pkg) {
  const file = fs.readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
  if (file) {
    const lines = fs
      .readFileSync(path.join(dir, file), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^(copyright\b|\(c\)|©)/i.test(l) && !/^copyright (notice|holders?|owner)/i.test(l))
      .map((l) => l.replace(/^copyright\s*(\(c\)|©)?\s*/i, ''));
    if (lines.length > 0) return [...new Set(lines)];
  }
  const author = typeof pkg.author === 'string' ? pkg.author : pkg.author?.name;
  return [author ? author : `the authors of ${pkg.name}`];
}

const TEXTS = {
  MIT: `Permission is hereby granted, free of charge, to any person obtaining a
copy of this software and associated documentation files (the "Software"),
to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense,
and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:
.
The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.
.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING
FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
DEALINGS IN THE SOFTWARE.`,
  ISC: `Permission to use, copy, modify, and/or distribute this software for any
purpose with or without fee is hereby granted, provided that the above
copyright notice and this permission notice appear in all copies.
.
THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.`,
  'BSD-3-Clause': `Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:
.
1. Redistributions of source code must retain the above copyright notice,
   this list of conditions and the following disclaimer.
2. Redistributions in binary form must reproduce the above copyright
   notice, this list of conditions and the following disclaimer in the
   documentation and/or other materials provided with the distribution.
3. Neither the name of the copyright holder nor the names of its
   contributors may be used to endorse or promote products derived from
   this software without specific prior written permission.
.
THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE
LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR
CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE)
ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
POSSIBILITY OF SUCH DAMAGE.`,
  'Apache-2.0': `Licensed under the Apache License, Version 2.0 (the "License"); you may
not use this file except in compliance with the License.
.
On Debian systems, the full text of the Apache License, Version 2.0 is in
/usr/share/common-licenses/Apache-2.0.`,
  Unlicense: `This is free and unencumbered software released into the public domain.
.
Anyone is free to copy, modify, publish, use, compile, sell, or distribute
this software, either in source code form or as a compiled binary, for any
purpose, commercial or non-commercial, and by any means.
.
In jurisdictions that recognize copyright laws, the author or authors of
this software dedicate any and all copyright interest in the software to
the public domain. We make this dedication for the benefit of the public
at large and to the detriment of our heirs and successors. We intend this
dedication to be an overt act of relinquishment in perpetuity of all
present and future rights to this software under copyright law.
.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN
ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.`,
};

const indent = (text) => text.split('\n').map((l) => ` ${l}`).join('\n');
const field = (name, values) => `${name}: ${values[0]}${values.slice(1).map((v) => `\n ${v}`).join('')}`;

const own = JSON.parse(fs.readFileSync(path.join(lib, 'package.json'), 'utf8'));
const used = new Set([own.license]);
const paras = [
  [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    'Upstream-Name: mpssh',
    'Comment: The Node.js modules under /usr/lib/mpssh/node_modules are bundled',
    ' as npm resolved them; each keeps its own license file.',
  ].join('\n'),
  ['Files: *', 'Copyright: the mpssh authors', `License: ${own.license}`].join('\n'),
];
for (const dir of modules(lib)) {
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const license = licenseOf(pkg);
  for (const l of license.split(/ (?:or|and) /)) used.add(l);
  paras.push([`Files: ${path.relative(path.dirname(path.dirname(path.dirname(lib))), dir)}/*`, field('Copyright', copyrightOf(dir, pkg)), `License: ${license}`].join('\n'));
}
for (const l of [...used].sort()) {
  paras.push(`License: ${l}\n${indent(TEXTS[l] ?? 'See the license file in the module\'s directory.')}`);
}
process.stdout.write(`${paras.join('\n\n')}\n`);
