/**
 * What a connection that never logs in costs the server, mpsshd against the
 * system's OpenSSH sshd in the same run, on loopback in one namespace:
 *  - memory: PSS added by connections that sent their identification line
 *    and wait in the key exchange (sshd: a [priv] and a [net] process each;
 *    mpsshd: a worker each, and the pool's replacements);
 *  - CPU: server-side CPU seconds of a full key exchange followed by a
 *    failed authentication, the daemon's and every worker's (a worker that
 *    ended is counted in the daemon's children time once reaped), per
 *    attempt.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { Netns } from '../tools/netns.js';
import { startMpsshdSsh } from '../tools/mpsshd-ssh.js';
import { startSshd } from '../tools/sshd.js';
import { descendants, pssKiBIfAlive } from './proc.js';

const HELD = 8;
const ATTEMPTS = 10;
const TICKS = 100;

function pssMiB(pids: number[]): number {
  return pids.reduce((a, p) => a + pssKiBIfAlive(p), 0) / 1024;
}

/** utime+stime (and, with `children`, the reaped children's) of a process, in seconds. */
function cpuSeconds(pid: number, children: boolean): number {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // Fields after the name: state is [0]; utime [11], stime [12], cutime [13], cstime [14].
    const n = (i: number) => Number(f[i] ?? 0);
    return (n(11) + n(12) + (children ? n(13) + n(14) : 0)) / TICKS;
  } catch {
    return 0;
  }
}

function serverCpu(root: number): number {
  return cpuSeconds(root, true) + descendants(root).reduce((a, p) => a + cpuSeconds(p, false), 0);
}

async function settle(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Connections that send an identification line and then wait. */
function hold(ns: Netns, port: number, n: number): ChildProcess[] {
  const script = `import socket,time\ns=socket.create_connection(("127.0.0.1",${port})); s.sendall(b"SSH-2.0-bench\\r\\n"); time.sleep(60)`;
  return Array.from({ length: n }, () => ns.spawn('/usr/bin/python3', ['-c', script]));
}

async function measure(ns: Netns, root: () => number, port: number, clientOptions: string[]): Promise<{ heldPssMiB: number; cpuSecondsPerAttempt: number }> {
  await settle(1500);
  const before = pssMiB([root(), ...descendants(root())]);
  const held = hold(ns, port, HELD);
  await settle(3000);
  const after = pssMiB([root(), ...descendants(root())]);
  for (const h of held) h.kill('SIGKILL');
  await settle(1500);
  const cpu0 = serverCpu(root());
  for (let i = 0; i < ATTEMPTS; i++) {
    await new Promise<void>((resolve) => {
      const c = ns.spawn('ssh', [...clientOptions, '-o', 'PubkeyAuthentication=no', '-o', 'PasswordAuthentication=no', '-o', 'KbdInteractiveAuthentication=no', 'nobody@127.0.0.1', 'true']);
      c.on('exit', () => resolve());
    });
  }
  // The pool's replacement workers finish starting; reaped workers land in the daemon's children time.
  await settle(3000);
  const cpu1 = serverCpu(root());
  return { heldPssMiB: Math.round(((after - before) / HELD) * 10) / 10, cpuSecondsPerAttempt: Math.round(((cpu1 - cpu0) / ATTEMPTS) * 1000) / 1000 };
}

export async function bench(): Promise<Record<string, unknown>> {
  const ns = Netns.create('bpre');
  const sshd = await startSshd(ns, 2222);
  const mp = await startMpsshdSsh(ns, { port: 22, extraYaml: 'pathManager:\n  enabled: false', sshYaml: ['PreforkWorkers: 2', 'PerSourcePenalties: no'] });
  try {
    const sshdFig = await measure(ns, () => sshd.proc.pid as number, 2222, [...sshd.clientOptions, '-p', '2222']);
    const mpFig = await measure(ns, () => mp.daemon.proc.pid as number, 22, mp.clientOptions);
    return {
      held: HELD,
      attempts: ATTEMPTS,
      cpus: os.cpus().length,
      sshd: sshdFig,
      mpsshd: mpFig,
      pssRatio: Math.round((mpFig.heldPssMiB / sshdFig.heldPssMiB) * 100) / 100,
      cpuRatio: Math.round((mpFig.cpuSecondsPerAttempt / sshdFig.cpuSecondsPerAttempt) * 100) / 100,
      note: 'per unauthenticated connection: PSS added while it waits in the key exchange; server CPU of a key exchange and a failed authentication; mpsshd with PerSourcePenalties off so that the attempts are not turned away',
    };
  } finally {
    await mp.stop();
    sshd.stop();
    try {
      for (const p of execFileSync('ip', ['netns', 'pids', ns.name], { encoding: 'utf8' }).split('\n').filter(Boolean)) process.kill(Number(p), 'SIGKILL');
    } catch {
      // nothing left
    }
    ns.close();
  }
}
