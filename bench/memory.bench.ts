/**
 * The daemon's memory, idle, in the three ways it runs: path manager only
 * (a laptop: `ssh: {Enabled: no}`, `api: {enabled: false}`), path manager
 * and status API (with connection sampling), and everything (the SSH server
 * too; its waiting workers are separate processes, reported apart). RSS and
 * PSS from /proc/<pid>/smaps_rollup after the daemon has settled, against a
 * bare Node.js process measured in the same run.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, type DaemonProcess } from '../tools/daemon-process.js';
import { Netns } from '../tools/netns.js';
import { children, memoryKiB } from './proc.js';

// Past V8's memory reducer, which compacts the heap some seconds after the
// start-up allocations stop: before it, the figures are those of start-up.
const SETTLE_MS = 20_000;

function rollup(pid: number): { rssMiB: number; pssMiB: number } {
  const kb = memoryKiB(pid);
  return { rssMiB: Math.round(kb.rss / 102.4) / 10, pssMiB: Math.round(kb.pss / 102.4) / 10 };
}

export async function bench(): Promise<Record<string, unknown>> {
  const ns = Netns.create('bmem');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-bmem-'));
  const results: Record<string, unknown> = {};
  try {
    const bare = spawn(process.execPath, ['--max-semi-space-size=1', '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 2000));
    const baseline = rollup(bare.pid as number);
    bare.kill();
    results.bareNode = baseline;
    const configs: Record<string, string> = {
      pathManagerOnly: 'ssh:\n  Enabled: no\napi:\n  enabled: false',
      pathManagerAndApi: `ssh:\n  Enabled: no\napi:\n  listen: []\n  controlSocket: ${path.join(dir, 'a.sock')}`,
      everything: `ssh:\n  Port: 2222\napi:\n  listen: []\n  controlSocket: ${path.join(dir, 'b.sock')}\ndataDir: ${path.join(dir, 'data')}`,
    };
    for (const [name, yaml] of Object.entries(configs)) {
      let d: DaemonProcess | undefined;
      try {
        // As the package starts it (/usr/sbin/mpsshd): a small young generation.
        d = startDaemon(ns, yaml, { stateDir: path.join(dir, `state-${name}`), nodeArgs: ['--max-semi-space-size=1'] });
        await d.waitForLog('mpsshd ready', (l) => l.msg === 'mpsshd ready', 20_000);
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        const pid = d.proc.pid as number;
        const own = rollup(pid);
        const workers = children(pid).map(rollup);
        results[name] = {
          daemon: own,
          rssRatioToBareNode: Math.round((own.rssMiB / baseline.rssMiB) * 100) / 100,
          pssRatioToBareNode: Math.round((own.pssMiB / baseline.pssMiB) * 100) / 100,
          ...(workers.length > 0 ? { waitingWorkers: workers.length, workersPssMiB: Math.round(workers.reduce((a, w) => a + w.pssMiB, 0) * 10) / 10 } : {}),
        };
      } finally {
        await d?.stop();
      }
    }
    return {
      ...results,
      settleSeconds: SETTLE_MS / 1000,
      targetPathManagerOnlyRssMiB: 35,
      note: 'idle, in a namespace of its own; PSS shares pages with other Node.js processes on the host, RSS does not',
    };
  } finally {
    ns.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
