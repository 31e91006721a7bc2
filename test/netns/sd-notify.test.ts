import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startDaemon } from '../../tools/daemon-process.js';
import { notifySocket } from '../helpers/notify-socket.js';
import { requireNetns } from '../../tools/require-netns.js';
import { twoPaths } from '../../tools/topology.js';

/** Pids of the processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        // Field 4 of stat is the parent pid; the command name (field 2) may hold spaces, so split after ')'.
        return Number(fs.readFileSync(`/proc/${d}/stat`, 'utf8').split(')').pop()?.trim().split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

test('Type=notify: READY=1 with listeners up, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM', async (t) => {
  if (!requireNetns(t, { programs: ['python3', 'ssh-keygen', 'curl'] })) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-sdnotify-'));
  const topo = twoPaths({ subnet: 47 });
  const sock = await notifySocket(path.join(dir, 'notify'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
  const apiSock = path.join(dir, 'api.sock');
  const yaml = [
    'pathManager:\n  interfaces:\n    - { match: "eth*" }',
    `ssh:\n  Port: 2222\n  HostKey: [${path.join(dir, 'host_key')}]\n  PreforkWorkers: 1`,
    `api:\n  listen: []\n  controlSocket: ${apiSock}`,
    `dataDir: ${path.join(dir, 'data')}`,
  ].join('\n');
  const d = startDaemon(topo.client, yaml, { env: { NOTIFY_SOCKET: sock.address } });
  try {
    const ready = await sock.waitForMessage('READY=1', (m) => m.startsWith('READY=1'));
    // Everything READY=1 promises is there the moment it arrives.
    assert.match(ready, /^READY=1\nSTATUS=2 endpoints managed; SSH on .*:2222/);
    const status = JSON.parse(execFileSync('curl', ['-sf', '--unix-socket', apiSock, 'http://localhost/status'], { encoding: 'utf8' })) as { ssh: { state: string } };
    assert.equal(status.ssh.state, 'up');
    // The line is written before READY=1 is sent, but travels through a pipe: it may be read a moment later.
    await d.waitForLog('mpsshd ready', (l) => l.msg === 'mpsshd ready', 3000);

    // SSH workers (and the sessions they start) must not see the variable.
    const workers = await waitForChildren(d.proc.pid ?? 0);
    for (const pid of workers) assert.doesNotMatch(fs.readFileSync(`/proc/${pid}/environ`, 'latin1'), /NOTIFY_SOCKET=/, `worker ${pid}`);

    const before = sock.messages.length;
    d.proc.kill('SIGHUP');
    const reloading = await sock.waitForMessage('RELOADING=1', (m) => m.startsWith('RELOADING=1'), { from: before });
    const usec = BigInt(/MONOTONIC_USEC=(\d+)/.exec(reloading)?.[1] ?? '0');
    assert.ok(usec > 0n, reloading);
    await sock.waitForMessage('READY=1 after the reload', (m) => m.startsWith('READY=1'), { from: before });
    const after = sock.messages.slice(before);
    assert.ok(after.findIndex((m) => m.startsWith('READY=1')) > after.indexOf(reloading), `READY=1 comes after RELOADING=1: ${JSON.stringify(after)}`);
    assert.ok(d.logs.some((l) => l.msg === 'configuration reloaded'));

    const beforeStop = sock.messages.length;
    d.proc.kill('SIGTERM');
    await sock.waitForMessage('STOPPING=1', (m) => m.startsWith('STOPPING=1'), { from: beforeStop });
    assert.equal(await d.exited(), 0);
    assert.ok(!sock.messages.slice(beforeStop).some((m) => m.startsWith('READY=1')), 'no READY=1 after STOPPING=1');
  } finally {
    await d.stop();
    await sock.close();
    topo.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

async function waitForChildren(pid: number): Promise<number[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const kids = childrenOf(pid);
    if (kids.length > 0 || Date.now() > deadline) return kids;
    await new Promise((r) => setTimeout(r, 50));
  }
}
