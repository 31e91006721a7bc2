/**
 * Memory per logged-in session as sessions accumulate, mpsshd against the
 * system's OpenSSH sshd, both in one namespace on loopback, measured in the
 * same run and the same fresh account.
 *
 * A session is `ssh -f -N`: the stock client logs in, then waits in the
 * background with no channel open, so that only the server's cost of a
 * connection and its login is counted, no user program.
 *
 * T(n) is the total PSS of all the server's processes with n sessions open:
 * the listening process and all its descendants (sshd: the listener and each
 * connection's [priv] and user processes; mpsshd: the daemon, its waiting
 * workers, each connection's worker and its user-side processes). For each
 * n in CHECKPOINTS, with p the checkpoint before it (0 before the first):
 *  - marginal(n) = (T(n) − T(p)) / (n − p): what each session added between
 *    p and n sessions (a single session's difference is lost in the noise of
 *    fifty processes' heaps);
 *  - average(n) = (T(n) − T(0)) / n: what each of the n sessions added;
 * with mpsshd's figures as ratios to sshd's, and at the last checkpoint the
 * PSS per process by program name.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Netns } from '../tools/netns.js';
import { startMpsshdSsh } from '../tools/mpsshd-ssh.js';
import { startSshd } from '../tools/sshd.js';
import { createTestUser } from '../tools/test-user.js';
import { descendants, pssKiBIfAlive } from './proc.js';

const CHECKPOINTS = [1, 10, 50];
/** Logins started together: enough to go quickly, few enough for MaxStartups and two cores. */
const BATCH = 4;
/**
 * After logins, before a measurement: the pool's replacement worker starts,
 * and V8's memory reducer compacts the new workers' heaps some seconds after
 * their logins, as it does in every session left idle.
 */
const SETTLE_MS = 15_000;
/** Each total is the median of a few readings: a garbage collection in the daemon moves a single one. */
const READINGS = 3;

interface Server {
  name: string;
  root: () => number;
  clientArgs: string[];
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Total PSS (MiB) of the server's process tree and its number of processes, the median of READINGS. */
async function total(s: Server): Promise<{ mib: number; processes: number }> {
  const readings: { mib: number; processes: number }[] = [];
  for (let i = 0; i < READINGS; i++) {
    if (i > 0) await sleep(500);
    const pids = [s.root(), ...descendants(s.root())];
    readings.push({ mib: pids.reduce((a, p) => a + pssKiBIfAlive(p), 0) / 1024, processes: pids.length });
  }
  readings.sort((a, b) => a.mib - b.mib);
  return readings[Math.floor(readings.length / 2)] as { mib: number; processes: number };
}

/** Logs one session in; resolves once the client went to the background (authenticated). */
function login(ns: Netns, s: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = ns.spawn('ssh', ['-f', '-N', ...s.clientArgs], { stdio: 'ignore' });
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${s.name}: ssh -f -N exited ${code}`))));
  });
}

async function openSessions(ns: Netns, s: Server, n: number): Promise<void> {
  for (let i = 0; i < n; i += BATCH) await Promise.all(Array.from({ length: Math.min(BATCH, n - i) }, () => login(ns, s)));
}

/** Ends the background clients of `s` (their command line carries its port). */
function closeSessions(ns: Netns, s: Server): void {
  const port = s.clientArgs[s.clientArgs.indexOf('-p') + 1];
  for (const p of execFileSync('ip', ['netns', 'pids', ns.name], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
    try {
      const argv = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (argv[0] === 'ssh' && argv.includes('-N') && argv[argv.indexOf('-p') + 1] === port) process.kill(Number(p), 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;

/** PSS per process (MiB) and number of processes, by program name (comm). */
function byProgram(s: Server): Record<string, { processes: number; pssMiBEach: number }> {
  const groups = new Map<string, number[]>();
  for (const p of [s.root(), ...descendants(s.root())]) {
    let comm: string;
    try {
      comm = fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    groups.set(comm, [...(groups.get(comm) ?? []), pssKiBIfAlive(p)]);
  }
  return Object.fromEntries([...groups].map(([comm, kib]) => [comm, { processes: kib.length, pssMiBEach: r1(kib.reduce((a, b) => a + b, 0) / kib.length / 1024) }]));
}

/** Totals at 0 and at each checkpoint, sessions opened in between. */
async function measure(ns: Netns, s: Server): Promise<Record<string, unknown>> {
  await sleep(SETTLE_MS);
  const totals: Record<number, { mib: number; processes: number }> = { 0: await total(s) };
  let open = 0;
  for (const n of CHECKPOINTS) {
    await openSessions(ns, s, n - open);
    open = n;
    await sleep(SETTLE_MS);
    totals[n] = await total(s);
  }
  const at = (n: number) => (totals[n] as { mib: number; processes: number }).mib;
  const prev = (i: number) => (i === 0 ? 0 : (CHECKPOINTS[i - 1] as number));
  return {
    totalsMiB: Object.fromEntries(Object.entries(totals).map(([n, t]) => [n, { mib: r1(t.mib), processes: t.processes }])),
    marginalMiB: Object.fromEntries(CHECKPOINTS.map((n, i) => [n, r1((at(n) - at(prev(i))) / (n - prev(i)))])),
    averageMiB: Object.fromEntries(CHECKPOINTS.map((n) => [n, r1((at(n) - at(0)) / n)])),
    byProgram: byProgram(s),
  };
}

export async function bench(): Promise<Record<string, unknown>> {
  const ns = Netns.create('bses');
  const sshd = await startSshd(ns, 2222, { authorizedKeysFile: '.ssh/authorized_keys' });
  const mp = await startMpsshdSsh(ns, { port: 22, extraYaml: 'pathManager:\n  enabled: false', sshYaml: ['PreforkWorkers: 2'] });
  const user = createTestUser();
  const keys = user.authorize(mp.clientPub);
  fs.appendFileSync(keys, fs.readFileSync(path.join(sshd.dir, 'id.pub')));
  try {
    const servers: Server[] = [
      { name: 'sshd', root: () => sshd.proc.pid as number, clientArgs: [...sshd.clientOptions, '-p', '2222', `${user.name}@127.0.0.1`] },
      { name: 'mpsshd', root: () => mp.daemon.proc.pid as number, clientArgs: [...mp.clientOptions, `${user.name}@127.0.0.1`] },
    ];
    const out: Record<string, Record<string, unknown>> = {};
    for (const s of servers) {
      out[s.name] = await measure(ns, s);
      closeSessions(ns, s);
    }
    const fig = (name: string, kind: string) => (out[name]?.[kind] ?? {}) as Record<string, number>;
    const ratios = (kind: string) => Object.fromEntries(CHECKPOINTS.map((n) => [n, r2((fig('mpsshd', kind)[n] ?? NaN) / (fig('sshd', kind)[n] ?? NaN))]));
    return {
      ...out,
      marginalRatio: ratios('marginalMiB'),
      averageRatio: ratios('averageMiB'),
      target: 'marginal PSS at 50 sessions within 2x of sshd',
      note: 'sessions are ssh -f -N (logged in, no channel) from the stock client on loopback; T(n) = PSS of the listening process and all its descendants with n sessions, median of 3 readings; marginal(n) = (T(n) - T(p)) / (n - p), p the checkpoint before n (0, 1, 10); average(n) = (T(n) - T(0)) / n; mpsshd with 2 waiting workers (counted in T, constant), UsePAM yes; sshd UsePAM no',
    };
  } finally {
    await mp.stop();
    ns.killAll();
    sshd.stop();
    user.remove();
    ns.close();
  }
}
