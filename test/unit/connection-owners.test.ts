import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findSocketOwners } from '../../src/mptcp/owners.js';

/** A /proc tree with processes holding sockets (fd symlinks), as the kernel shows them. */
function fakeProc(procs: { pid: number; comm: string; uid: number; argv: string[]; start: number; sockets: number[] }[]): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-proc-'));
  for (const p of procs) {
    const dir = path.join(root, String(p.pid));
    fs.mkdirSync(path.join(dir, 'fd'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'status'), `Name:\t${p.comm}\nUid:\t${p.uid}\t${p.uid}\t${p.uid}\t${p.uid}\n`);
    fs.writeFileSync(path.join(dir, 'comm'), `${p.comm}\n`);
    fs.writeFileSync(path.join(dir, 'cmdline'), `${p.argv.join('\0')}\0`);
    // Field 22 is the start time; the name in parentheses may hold spaces.
    fs.writeFileSync(path.join(dir, 'stat'), `${p.pid} (${p.comm} x) S ${Array.from({ length: 18 }, () => '0').join(' ')} ${p.start} 0\n`);
    p.sockets.forEach((inode, i) => fs.symlinkSync(`socket:[${inode}]`, path.join(dir, 'fd', String(i + 3))));
    fs.symlinkSync('/dev/null', path.join(dir, 'fd', '0'));
  }
  fs.mkdirSync(path.join(root, 'self'));
  return root;
}

test('socket owners: found by inode, the youngest of several holders, ssh destinations as typed', () => {
  const root = fakeProc([
    { pid: 100, comm: 'node', uid: 1000, argv: ['/usr/bin/node', '/usr/bin/mpssh', 'alice@server'], start: 500, sockets: [7001] },
    { pid: 120, comm: 'ssh', uid: 1000, argv: ['ssh', '-o', 'ProxyCommand=x', 'alice@server'], start: 510, sockets: [7001, 7002] },
    { pid: 130, comm: 'python3', uid: 0, argv: ['/usr/bin/python3', 'peer.py'], start: 400, sockets: [7003] },
  ]);
  try {
    const found = findSocketOwners(new Set([7001, 7002, 7003, 7999]), root);
    assert.deepEqual(found.get(7001), { pid: 120, command: 'ssh', uid: 1000, destination: 'alice@server' });
    assert.equal(found.get(7002)?.pid, 120);
    assert.deepEqual(found.get(7003), { pid: 130, command: 'python3', uid: 0 });
    assert.equal(found.has(7999), false, 'a socket nobody holds (a kernel socket) has no owner');
    assert.equal(findSocketOwners(new Set(), root).size, 0);
    assert.equal(findSocketOwners(new Set([7001]), path.join(root, 'missing')).size, 0);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
