/**
 * mpsshd's SSH server against the system's OpenSSH sshd, both in one
 * namespace on loopback, measured in the same run:
 *  - bulk throughput (server to client) with chacha20-poly1305 and aes128-gcm;
 *  - handshakes per second until the first command output (sequential logins);
 *  - memory of one idle session: PSS of the processes that serve it.
 * Figures are reported as ratios to sshd's.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Netns } from '../tools/netns.js';
import { startSshd } from '../tools/sshd.js';
import { startMpsshdSsh } from '../tools/mpsshd-ssh.js';
import { createTestUser } from '../tools/test-user.js';
import { summary } from './stats.js';
import { descendants, memoryKiB } from './proc.js';

const MIB = 1024 * 1024;
const BULK_MIB = Number(process.env.MPSSH_BENCH_BULK_MIB ?? 512);
const ROUNDS = 3;
const LOGINS = 30;

interface Target {
  name: string;
  opts: string[];
  dest: string;
}

function runSsh(ns: Netns, t: Target, extra: string[], command: string): Promise<{ ms: number; bytes: number; code: number | null }> {
  return new Promise((resolve) => {
    // wc counts the bytes: reading them here, in JavaScript, would be a third
    // busy process on the two cores and would weigh on whichever server needs more CPU.
    const quote = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;
    const line = `${['ssh', ...t.opts, ...extra, t.dest, command].map(quote).join(' ')} | wc -c; exit \${PIPESTATUS[0]}`;
    const t0 = process.hrtime.bigint();
    const child = ns.spawn('bash', ['-c', line]);
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes: Number(out.trim()), code }));
  });
}

/** First byte of output: the login is complete and the command ran. */
function timeToFirstOutput(ns: Netns, t: Target): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = ns.spawn('ssh', [...t.opts, t.dest, 'echo x']);
    child.stdout?.once('data', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
    child.on('exit', (code) => (code !== 0 ? reject(new Error(`${t.name}: ssh exited ${code}`)) : undefined));
  });
}

function pss(pid: number): number {
  return memoryKiB(pid).pss / 1024;
}

/** PSS (MiB) of the server-side processes of one idle session, found from its marker `sleep`. */
async function idleSessionPss(ns: Netns, t: Target, serving: (sleepPid: number) => number[]): Promise<{ mib: number; processes: number }> {
  const marker = `${Math.floor(Math.random() * 1e6) + 1000}`;
  const child = ns.spawn('ssh', [...t.opts, t.dest, `exec sleep ${marker}`]);
  try {
    let sleepPid = 0;
    for (let i = 0; i < 100 && sleepPid === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      sleepPid = Number(execFileSync('sh', ['-c', `pgrep -xf "sleep ${marker}" || true`], { encoding: 'utf8' }).trim().split('\n')[0] || 0);
    }
    await new Promise((r) => setTimeout(r, 500));
    const pids = [...new Set(serving(sleepPid))];
    return { mib: Math.round(pids.reduce((a, p) => a + pss(p), 0) * 10) / 10, processes: pids.length };
  } finally {
    child.kill('SIGKILL');
  }
}

/** Workers of `user`'s logged-in connections, from the daemon's root-only session records. */
function sessionWorkers(stateDir: string, user: string): number[] {
  const dir = path.join(stateDir, 'sessions');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).flatMap((f) => {
    const rec = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { pid: number; user?: string };
    return rec.user === user && fs.existsSync(`/proc/${rec.pid}`) ? [rec.pid] : [];
  });
}

function parentOf(pid: number): number {
  return Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

export async function bench(): Promise<Record<string, unknown>> {
  const ns = Netns.create('bssh');
  const sshd = await startSshd(ns, 2222, { authorizedKeysFile: '.ssh/authorized_keys' });
  const mp = await startMpsshdSsh(ns, { port: 22, extraYaml: 'pathManager:\n  enabled: false', sshYaml: ['PreforkWorkers: 2'] });
  // The same server on plain TCP: separates what MPTCP costs on one path from what the server costs.
  const mpTcp = await startMpsshdSsh(ns, { port: 2223, extraYaml: 'pathManager:\n  enabled: false', sshYaml: ['PreforkWorkers: 2', 'UseMPTCP: no'] });
  // The same sshd, with the same configuration, behind mpsshd's listener (ssh.Server: openssh).
  const behind = await startMpsshdSsh(ns, { port: 2224, extraYaml: 'pathManager:\n  enabled: false', sshYaml: ['Server: openssh', `OpenSSH: {Config: ${path.join(sshd.dir, 'sshd_config')}}`] });
  // Both servers log in the same fresh account: a login's cost must not
  // depend on what the machine's own accounts have in their shell startup
  // files (bash reads ~/.bashrc for commands run by sshd).
  const user = createTestUser();
  // useradd leaves the account locked ("!"), which sshd without PAM refuses even for keys; "*" is no password, not locked.
  execFileSync('usermod', ['-p', '*', user.name]);
  const keys = user.authorize(mp.clientPub);
  fs.appendFileSync(keys, fs.readFileSync(path.join(sshd.dir, 'id.pub')));
  fs.appendFileSync(keys, mpTcp.clientPub);
  try {
    const targets: Target[] = [
      { name: 'sshd', opts: [...sshd.clientOptions, '-p', '2222'], dest: `${user.name}@127.0.0.1` },
      { name: 'mpsshd', opts: mp.clientOptions, dest: `${user.name}@127.0.0.1` },
      { name: 'mpsshdTcp', opts: mpTcp.clientOptions, dest: `${user.name}@127.0.0.1` },
      { name: 'sshdBehindMpsshd', opts: [...sshd.clientOptions, '-p', '2224'], dest: `${user.name}@127.0.0.1` },
    ];
    const throughput: Record<string, Record<string, number[]>> = {};
    for (const cipher of ['chacha20-poly1305@openssh.com', 'aes128-gcm@openssh.com']) {
      for (let round = 0; round < ROUNDS; round++) {
        for (const t of targets) {
          const r = await runSsh(ns, t, ['-c', cipher], `head -c ${BULK_MIB * MIB} /dev/zero`);
          if (r.code !== 0 || r.bytes !== BULK_MIB * MIB) throw new Error(`${t.name} ${cipher}: exit ${r.code}, ${r.bytes} bytes`);
          ((throughput[cipher] ??= {})[t.name] ??= []).push((r.bytes * 8) / (r.ms / 1000) / 1e9);
        }
      }
    }
    const bulk = Object.fromEntries(
      Object.entries(throughput).map(([cipher, by]) => {
        const best = (n: string) => Math.max(...(by[n] ?? [0]));
        return [
          cipher,
          {
            sshdGbps: round2(best('sshd')),
            mpsshdGbps: round2(best('mpsshd')),
            ratio: round2(best('mpsshd') / best('sshd')),
            mpsshdTcpGbps: round2(best('mpsshdTcp')),
            tcpRatio: round2(best('mpsshdTcp') / best('sshd')),
            sshdBehindMpsshdGbps: round2(best('sshdBehindMpsshd')),
            behindRatio: round2(best('sshdBehindMpsshd') / best('sshd')),
            samples: by,
          },
        ];
      }),
    );
    const logins: Record<string, number[]> = { sshd: [], mpsshd: [], sshdBehindMpsshd: [] };
    for (let i = 0; i < LOGINS; i++) for (const t of targets.filter((x) => x.name in logins)) logins[t.name]?.push(await timeToFirstOutput(ns, t));
    const rate = (v: number[]) => 1000 / (v.reduce((a, b) => a + b, 0) / v.length);
    const handshakes = {
      sshdPerSecond: round2(rate(logins.sshd ?? [])),
      mpsshdPerSecond: round2(rate(logins.mpsshd ?? [])),
      ratio: round2(rate(logins.mpsshd ?? []) / rate(logins.sshd ?? [])),
      sshdMs: summary(logins.sshd ?? []),
      mpsshdMs: summary(logins.mpsshd ?? []),
      // sshd -i reads its configuration and host keys for every connection; the daemon has them loaded.
      sshdBehindMpsshdPerSecond: round2(rate(logins.sshdBehindMpsshd ?? [])),
      behindRatio: round2(rate(logins.sshdBehindMpsshd ?? []) / rate(logins.sshd ?? [])),
      sshdBehindMpsshdMs: summary(logins.sshdBehindMpsshd ?? []),
    };
    // sshd: the per-connection sshd (child of the listener) and what it forked.
    const sshdMem = await idleSessionPss(ns, targets[0] as Target, (s) => {
      let p = s;
      while (parentOf(p) !== sshd.proc.pid && parentOf(p) > 1) p = parentOf(p);
      return [p, ...descendants(p)];
    });
    // mpsshd: the connection's worker (from the daemon's session record) and its user-side helper (the sleep's parent) with what it runs.
    const mpMem = await idleSessionPss(ns, targets[1] as Target, (s) => {
      const helper = parentOf(s);
      return [...sessionWorkers(mp.stateDir, user.name), helper, ...descendants(helper)];
    });
    return {
      bulkMiB: BULK_MIB,
      bulk,
      handshakes,
      idleSessionPssMiB: { sshd: sshdMem, mpsshd: mpMem, ratio: round2(mpMem.mib / sshdMem.mib) },
      note: 'all servers on loopback in one namespace, one fresh account, the stock ssh client (TCP); mpsshd on an MPTCP listener and, as mpsshdTcp, a TCP one; sshdBehindMpsshd: the same sshd and configuration as sshd, started as sshd -i by mpsshd (ssh.Server: openssh)',
    };
  } finally {
    await mp.stop();
    await mpTcp.stop();
    await behind.stop();
    // sshd -i processes outlive mpsshd by design; none may outlive the benchmark.
    try {
      for (const p of execFileSync('ip', ['netns', 'pids', ns.name], { encoding: 'utf8' }).split('\n').filter(Boolean)) process.kill(Number(p), 'SIGKILL');
    } catch {
      // nothing left
    }
    sshd.stop();
    user.remove();
    ns.close();
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

