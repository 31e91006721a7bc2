import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { checkSecurePath, readAuthorizedKeysFile, type PathProbe, type PathStat } from '../../src/ssh/auth/strict-modes.js';

const UID = 4242;
const OTHER = 4343;

interface Tree {
  root: string;
  home: string;
  ssh: string;
  file: string;
}

// root/ (0700 root) / home (0755 root) / alice (0755 alice) / .ssh (0700 alice) / authorized_keys (0600 alice)
function makeTree(): Tree {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'mpssh-strict-')));
  chmodSync(root, 0o700);
  const home = join(root, 'home', 'alice');
  const ssh = join(home, '.ssh');
  const file = join(ssh, 'authorized_keys');
  mkdirSync(ssh, { recursive: true });
  chmodSync(join(root, 'home'), 0o755);
  chmodSync(home, 0o755);
  chmodSync(ssh, 0o700);
  writeFileSync(file, 'ssh-ed25519 AAAA test\n');
  chmodSync(file, 0o600);
  for (const p of [home, ssh, file]) chownSync(p, UID, UID);
  return { root, home, ssh, file };
}

const owner = (t: Tree) => ({ name: 'alice', uid: UID, home: t.home });

test('StrictModes on a real tree: owners and modes of the file and each directory up to home', (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to chown test files');
    return;
  }
  const rows: [string, (t: Tree) => void, (t: Tree) => string | null][] = [
    ['all in order', () => {}, () => null],
    ['file group-writable', (t) => chmodSync(t.file, 0o620), (t) => `bad ownership or modes for file ${t.file}`],
    ['file world-writable', (t) => chmodSync(t.file, 0o602), (t) => `bad ownership or modes for file ${t.file}`],
    ['file world-readable is fine', (t) => chmodSync(t.file, 0o644), () => null],
    ['file owned by someone else', (t) => chownSync(t.file, OTHER, OTHER), (t) => `bad ownership or modes for file ${t.file}`],
    ['file owned by root', (t) => chownSync(t.file, 0, 0), () => null],
    ['.ssh group-writable', (t) => chmodSync(t.ssh, 0o770), (t) => `bad ownership or modes for directory ${t.ssh}`],
    ['.ssh sticky and world-writable', (t) => chmodSync(t.ssh, 0o1777), (t) => `bad ownership or modes for directory ${t.ssh}`],
    ['home world-writable', (t) => chmodSync(t.home, 0o777), (t) => `bad ownership or modes for directory ${t.home}`],
    ['home owned by someone else', (t) => chownSync(t.home, OTHER, OTHER), (t) => `bad ownership or modes for directory ${t.home}`],
    ['above home is not checked', (t) => chmodSync(dirname(t.home), 0o777), () => null],
    ['file is a directory', (t) => (rmSync(t.file), mkdirSync(t.file)), () => 'not a regular file'],
  ];
  for (const [name, mutate, expect] of rows) {
    const tree = makeTree();
    try {
      mutate(tree);
      const r = readAuthorizedKeysFile(tree.file, owner(tree), true);
      const want = expect(tree);
      if (want === null) {
        assert.deepEqual(r, { status: 'ok', text: 'ssh-ed25519 AAAA test\n' }, name);
      } else {
        assert.equal(r.status, 'refused', name);
        assert.ok('reason' in r && r.reason.endsWith(want), `${name}: ${'reason' in r ? r.reason : ''}`);
      }
      // With StrictModes off only the regular-file test remains.
      const loose = readAuthorizedKeysFile(tree.file, owner(tree), false);
      assert.equal(loose.status, want === 'not a regular file' ? 'refused' : 'ok', `${name} (StrictModes no)`);
    } finally {
      rmSync(tree.root, { recursive: true, force: true });
    }
  }
});

test('StrictModes follows symlinks and walks to / for files outside home', (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to chown test files');
    return;
  }
  const tree = makeTree();
  t.after(() => rmSync(tree.root, { recursive: true, force: true }));
  const keys = join(tree.root, 'keys');
  mkdirSync(keys, { mode: 0o755 });
  const target = join(keys, 'alice');
  writeFileSync(target, 'x\n', { mode: 0o644 });
  rmSync(tree.file);
  symlinkSync(target, tree.file);
  // The first ancestor of the tree that sshd would object to, if any (/tmp usually: 1777).
  let expected: string | null = null;
  for (let d = tree.root; ; d = dirname(d)) {
    const st = statSync(d);
    if ((st.uid !== 0 && st.uid !== UID) || (st.mode & 0o022) !== 0) {
      expected = `bad ownership or modes for directory ${d}`;
      break;
    }
    if (d === '/') break;
  }
  const r = readAuthorizedKeysFile(tree.file, owner(tree), true);
  if (expected === null) assert.equal(r.status, 'ok');
  else assert.deepEqual(r, { status: 'refused', reason: expected });
});

test('missing files, FIFOs and unreadable paths are reported, not thrown', (t) => {
  const tree = { root: realpathSync(mkdtempSync(join(tmpdir(), 'mpssh-strict-'))) };
  t.after(() => rmSync(tree.root, { recursive: true, force: true }));
  const who = { name: 'alice', uid: UID, home: tree.root };
  const missing = readAuthorizedKeysFile(join(tree.root, 'nope'), who, true);
  assert.equal(missing.status, 'missing');
  assert.match((missing as { reason: string }).reason, /^Could not open user 'alice' authorized keys '.*nope': No such file or directory$/);
  const fifo = join(tree.root, 'fifo');
  try {
    execFileSync('mkfifo', [fifo]);
  } catch {
    return; // no mkfifo: nothing more to test here
  }
  // Opened non-blocking, so a FIFO without a writer cannot hang the daemon.
  const r = readAuthorizedKeysFile(fifo, who, true);
  assert.deepEqual(r, { status: 'refused', reason: `User 'alice' authorized keys '${fifo}' is not a regular file` });
  const notDir = readAuthorizedKeysFile(join(tree.root, 'nope', 'x'), who, true);
  assert.equal(notDir.status, 'missing');
});

test('the walk itself: stops at home, else at /, and names the first bad directory', () => {
  const fs: Record<string, PathStat> = {
    '/': { uid: 0, mode: 0o40755 },
    '/srv': { uid: 0, mode: 0o40755 },
    '/srv/keys': { uid: 0, mode: 0o40755 },
    '/srv/keys/alice': { uid: 0, mode: 0o100644 },
    '/home': { uid: 0, mode: 0o40777 },
    '/home/alice': { uid: 1000, mode: 0o40750 },
    '/home/alice/.ssh': { uid: 1000, mode: 0o40700 },
    '/home/alice/.ssh/authorized_keys': { uid: 1000, mode: 0o100600 },
  };
  const seen: string[] = [];
  const probe: PathProbe = {
    realpath: (p) => {
      if (!(p in fs)) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return p;
    },
    stat: (p) => {
      seen.push(p);
      const st = fs[p];
      if (!st) throw new Error('ENOENT');
      return st;
    },
  };
  const alice = { name: 'alice', uid: 1000, home: '/home/alice' };
  assert.equal(checkSecurePath('/home/alice/.ssh/authorized_keys', fs['/home/alice/.ssh/authorized_keys'] as PathStat, alice, probe), null);
  assert.deepEqual(seen, ['/home/alice/.ssh', '/home/alice'], 'stops at home: /home (0777) is not looked at');
  seen.length = 0;
  assert.equal(checkSecurePath('/srv/keys/alice', fs['/srv/keys/alice'] as PathStat, alice, probe), null);
  assert.deepEqual(seen, ['/srv/keys', '/srv', '/']);
  // A home that does not exist: the walk goes all the way up and meets /home.
  assert.equal(
    checkSecurePath('/home/alice/.ssh/authorized_keys', fs['/home/alice/.ssh/authorized_keys'] as PathStat, { ...alice, home: '/nonexistent' }, probe),
    'bad ownership or modes for directory /home',
  );
  assert.match(checkSecurePath('/gone', { uid: 0, mode: 0o100600 }, alice, probe) as string, /^realpath \/gone failed/);
});
