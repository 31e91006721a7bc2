/**
 * The folders of the source import one way: each only from folders below it
 * in LAYERS (and from itself), so there is no cycle between folders and no
 * import runs back up. tools/, lab/ and bench/ sit above the source; tests
 * above everything; nothing in src/ imports them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const ROOT = path.resolve(__dirname, '../../..');

/** Lowest first. A folder's files may import from their own folder and from folders listed before it. */
const LAYERS = [
  'src/util',
  'src/native',
  'src/netlink',
  'src/mptcp',
  'src/ssh/auth',
  'src/config',
  'src/status',
  'src/ssh/user-side',
  'src/ssh',
  'src/ssh/session',
  'src/ssh/forward',
  'src/ssh/openssh',
  'src/ssh/server',
  'src/api',
  'src/daemon',
  'src/ssh/client',
  'src',
  'tools',
  'lab',
  'bench',
  'test',
];

/** The layer a file belongs to: its longest listed folder. */
function layerOf(file: string): string {
  const dir = path.posix.dirname(file);
  let best = '';
  for (const l of LAYERS) if ((dir === l || dir.startsWith(`${l}/`)) && l.length > best.length) best = l;
  return best;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sources(rel));
    else if (e.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/** Relative modules a file imports: import/export ... from, and require() in code (not inside strings of source repairs). */
function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'(\.{1,2}\/[^']+)'/gms)) out.push(m[1] as string);
  for (const m of text.matchAll(/^[^'"`\n]*\brequire\('(\.{1,2}\/[^']+)'\)/gm)) out.push(m[1] as string);
  return out;
}

test('every import between folders goes down the layers', () => {
  const wrong: string[] = [];
  for (const top of ['src', 'tools', 'lab', 'bench']) {
    for (const file of sources(top)) {
      const from = layerOf(file);
      for (const spec of importsOf(fs.readFileSync(path.join(ROOT, file), 'utf8'))) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec.replace(/\.js$/, '.ts')));
        const to = layerOf(target);
        if (to === from) continue;
        if (LAYERS.indexOf(to) > LAYERS.indexOf(from)) wrong.push(`${file} imports ${target} (${from} → ${to})`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});
