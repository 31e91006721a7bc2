/**
 * The programs the lab runs on its network: mpsshd on both sides (the
 * server's SSH server; the client's path manager with SSH off), OpenSSH's
 * sshd as the plain-TCP baseline and, where mptcpize is installed, the same
 * sshd forced onto MPTCP; and the SSH clients that talk to them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { VERSION } from '../src/util/version.js';
import { startDaemon, type DaemonProcess } from '../tools/daemon-process.js';
import { startMpsshdSsh, type MpsshdSsh } from '../tools/mpsshd-ssh.js';
import { startSshd, sshdPath, type TestSshd } from '../tools/sshd.js';
import type { Netns } from '../tools/netns.js';
import type { LabTopology } from './topology.js';
import { killDescendants, track } from './children.js';

/** Path of the mpssh launcher in this checkout. */
export const MPSSH = path.resolve(__dirname, '../../bin/mpssh.js');

/** Whether a program is on PATH (or an absolute path exists). */
export function haveProgram(p: string): boolean {
  if (p.includes('/')) return fs.existsSync(p);
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && fs.existsSync(`${d}/${p}`));
}

/** How one kind of client reaches its server: argv for a remote command. */
export interface SshClient {
  name: 'mpssh' | 'ssh-tcp' | 'ssh-mptcpize';
  argv(command: string): string[];
}

/** Everything running on the lab network; `close()` ends it all (safe twice). */
export interface LabPeers {
  server: MpsshdSsh;
  pathManager: DaemonProcess;
  sshdTcp: TestSshd | null;
  sshdMptcp: TestSshd | null;
  clients: SshClient[];
  /** The client mpsshd's control socket (its status API). */
  clientApiSocket: string;
  close(): Promise<void>;
}

/** The client's mpsshd: the path manager on its default settings, no SSH server, the status API on a socket only. */
function clientYaml(dir: string, aliveInterval: number): string {
  // ClientAlive is read on the client too: pathManager.closeTimeout auto follows it.
  // Connections sampled as often as the interface counters, for the plot.
  return ['ssh:', '  Enabled: no', `  ClientAliveInterval: ${aliveInterval}`, 'api:', '  listen: []', `  controlSocket: ${path.join(dir, 'api.sock')}`, '  connectionSampleMs: 200'].join('\n');
}

/** Starts mpsshd on both sides and, unless `baselines` is false, the OpenSSH baselines that are installed. */
export async function startPeers(topo: LabTopology, opts: { baselines: boolean; aliveInterval?: number }): Promise<LabPeers> {
  const alive = opts.aliveInterval ?? 60;
  const started: { close(): Promise<void> | void }[] = [];
  const closeAll = async (): Promise<void> => {
    for (const s of started.reverse()) await s.close();
    started.length = 0;
  };
  try {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-lab-pm-'));
    const pathManager = startDaemon(topo.client, clientYaml(dir, alive));
    started.push({ close: async () => (await pathManager.stop(), fs.rmSync(dir, { recursive: true, force: true })) });
    await pathManager.waitForLog('mpsshd ready', (l) => l.msg === 'mpsshd ready', 10_000);
    const server = await startMpsshdSsh(topo.server, { port: 22, sshYaml: [`ClientAliveInterval: ${alive}`] });
    started.push({ close: () => server.stop() });
    const dest = `root@${topo.serviceAddress}`;
    // mpssh's own ServerAlive (60 x 60) compressed like ClientAlive, so a session past the budget ends on both sides.
    const serverAlive = ['-o', `ServerAliveInterval=${alive}`, '-o', 'ServerAliveCountMax=60'];
    const clients: SshClient[] = [{ name: 'mpssh', argv: (c) => [process.execPath, MPSSH, ...serverAlive, ...server.clientOptions, dest, c] }];
    let sshdTcp: TestSshd | null = null;
    let sshdMptcp: TestSshd | null = null;
    if (opts.baselines && sshdPath()) {
      const tcp = await startSshd(topo.server, 2222, { listenAddress: '0.0.0.0' });
      sshdTcp = tcp;
      started.push({ close: () => (killDescendants(tcp.proc.pid), tcp.stop()) });
      clients.push({ name: 'ssh-tcp', argv: (c) => ['ssh', ...tcp.clientOptions, '-p', '2222', dest, c] });
      if (haveProgram('mptcpize')) {
        const mp = await startSshd(topo.server, 2223, { listenAddress: '0.0.0.0', launcher: ['mptcpize', 'run'] });
        sshdMptcp = mp;
        started.push({ close: () => (killDescendants(mp.proc.pid), mp.stop()) });
        clients.push({ name: 'ssh-mptcpize', argv: (c) => ['mptcpize', 'run', 'ssh', ...mp.clientOptions, '-p', '2223', dest, c] });
      }
    }
    return { server, pathManager, clientApiSocket: path.join(dir, 'api.sock'), sshdTcp, sshdMptcp, clients, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** A client process with its output counted and time-stamped as it arrives. */
export interface Stream {
  child: ChildProcess;
  bytes: number;
  firstAt: number | null;
  lastAt: number | null;
  /** Complete lines with their arrival time (only when `lines` was asked for). */
  lines: { at: number; text: string }[];
  /** Arrival times of output chunks (bytes so far, time), for gap analysis. */
  chunks: { at: number; bytes: number }[];
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  stop(): void;
}

/** Runs `argv` in `ns`, counting stdout; `onData` sees every chunk (for checksums). */
export function startStream(ns: Netns, argv: string[], opts: { lines?: boolean; onData?: (b: Buffer) => void; stdin?: 'pipe' | 'ignore' } = {}): Stream {
  const child = track(ns.spawn(argv[0] as string, argv.slice(1), { stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] }));
  const s: Stream = {
    child,
    bytes: 0,
    firstAt: null,
    lastAt: null,
    lines: [],
    chunks: [],
    done: Promise.resolve({ code: null, signal: null, stderr: '' }),
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
  let buf = '';
  let stderr = '';
  child.stdout?.on('data', (b: Buffer) => {
    const now = Date.now();
    s.firstAt ??= now;
    s.lastAt = now;
    s.bytes += b.length;
    s.chunks.push({ at: now, bytes: s.bytes });
    opts.onData?.(b);
    if (opts.lines) {
      buf += b.toString('latin1');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        s.lines.push({ at: now, text: buf.slice(0, nl) });
        buf = buf.slice(nl + 1);
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    if (stderr.length < 4096) stderr += c;
  });
  s.done = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr: stderr.trim() })));
  return s;
}

/** Versions of what the lab ran, for result.json: the first line each program prints about itself. */
export function versions(): Record<string, string> {
  const first = (cmd: string, args: string[]): string => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.error) return 'not installed';
    // ssh -V writes to stderr.
    return `${r.stdout}${r.stderr}`.split('\n')[0]?.trim() ?? '';
  };
  return {
    kernel: os.release(),
    node: process.version,
    openssh: first('ssh', ['-V']),
    mpssh: VERSION,
    iperf3: first('iperf3', ['--version']),
    iproute2: first('ip', ['-V']),
    mptcpize: haveProgram('mptcpize') ? 'installed' : 'not installed',
  };
}
