/**
 * What sampling every MPTCP connection of the host costs the daemon: its
 * CPU time (user + system, from /proc/<pid>/stat) over a measured window at
 * the default 1 s period, with no connection, with 100 idle MPTCP
 * connections and with 10 busy ones: python clients in the daemon's
 * namespace, their server in a second one across a veth pair, so the daemon
 * sees exactly that many connections (and subflows). The baseline is the
 * same daemon with sampling off, measured in the same run. Target: at most
 * 1 % of one core.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, type DaemonProcess } from '../tools/daemon-process.js';
import { Netns, vethPair, waitFor } from '../tools/netns.js';

const WINDOW_MS = Number(process.env.MPSSH_BENCH_CONN_WINDOW_MS ?? 30_000);
const TICKS = 100; // USER_HZ on Linux

/** CPU seconds used so far by `pid` (utime + stime). */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

/** The daemon's own pid (ns.spawn runs it under `ip netns exec`, which execs it). */
function daemonPid(d: DaemonProcess): number {
  return d.proc.pid as number;
}

async function cpuPercent(pid: number): Promise<number> {
  const c0 = cpuSeconds(pid);
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  return Math.round(((cpuSeconds(pid) - c0) / ((Date.now() - t0) / 1000)) * 10000) / 100;
}

/** The far end: accepts, and reads everything it is sent. */
const SERVER = `
import socket, threading, time
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 7300)); srv.listen(512)
print("ready", flush=True)
def rx(a):
    while a.recv(1 << 20): pass
while True:
    a, _ = srv.accept(); threading.Thread(target=rx, args=(a,), daemon=True).start()
`;

/** The near end: \`idle\` connections that stay silent, \`busy\` that send as fast as they can. */
const CLIENT = `
import socket, sys, threading, time
idle, busy, host = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
keep = []
def conn():
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262); c.connect((host, 7300)); keep.append(c); return c
for _ in range(idle): conn()
def pump(c):
    buf = b"x" * 65536
    while True: c.sendall(buf)
for _ in range(busy): threading.Thread(target=pump, args=(conn(),), daemon=True).start()
print("ready", flush=True)
time.sleep(3600)
`;

export async function bench(): Promise<Record<string, unknown>> {
  const ns = Netns.create('bconn');
  const far = Netns.create('bconnsrv');
  vethPair(ns, 'eth0', far, 'eth0');
  ns.ipSync('addr', 'add', '10.99.0.1/24', 'dev', 'eth0');
  far.ipSync('addr', 'add', '10.99.0.2/24', 'dev', 'eth0');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-bconn-'));
  const serverFile = path.join(dir, 'server.py');
  const clientFile = path.join(dir, 'client.py');
  fs.writeFileSync(serverFile, SERVER);
  fs.writeFileSync(clientFile, CLIENT);
  const server = far.spawn('/usr/bin/python3', [serverFile]);
  await new Promise((resolve) => server.stdout?.once('data', resolve));
  const daemons: DaemonProcess[] = [];
  const start = async (sampleMs: number): Promise<DaemonProcess> => {
    const sock = path.join(dir, `api-${sampleMs}.sock`);
    const d = startDaemon(ns, ['ssh:', '  Enabled: no', 'api:', '  listen: []', `  controlSocket: ${sock}`, `  connectionSampleMs: ${sampleMs}`].join('\n'), { stateDir: path.join(dir, `state-${sampleMs}`) });
    daemons.push(d);
    await waitFor('the daemon API', () => fs.existsSync(sock), 15_000);
    // Let start-up work (loading, the first passes) finish before measuring.
    await new Promise((r) => setTimeout(r, 3000));
    return d;
  };
  const measure = async (label: string, idle: number, busy: number): Promise<Record<string, number>> => {
    const peer = idle + busy > 0 ? ns.spawn('/usr/bin/python3', [clientFile, String(idle), String(busy), '10.99.0.2']) : undefined;
    try {
      if (peer) await new Promise((resolve, reject) => {
        peer.stdout?.once('data', resolve);
        peer.once('exit', (c) => reject(new Error(`${label}: python peer exited ${c}`)));
      });
      // Sampler off (baseline) and on, one after the other, under the same load.
      const off = await start(0);
      const offPct = await cpuPercent(daemonPid(off));
      await off.stop();
      const on = await start(1000);
      const onPct = await cpuPercent(daemonPid(on));
      await on.stop();
      return { samplingOffPercent: offPct, samplingOnPercent: onPct, samplingCostPercent: Math.round((onPct - offPct) * 100) / 100 };
    } finally {
      peer?.kill('SIGKILL');
    }
  };
  try {
    const none = await measure('no connections', 0, 0);
    const idle = await measure('100 idle', 100, 0);
    const busy = await measure('10 busy', 0, 10);
    return {
      windowSeconds: WINDOW_MS / 1000,
      periodMs: 1000,
      noConnections: none,
      idle100: idle,
      busy10: busy,
      targetPercentOfOneCore: 1,
      note: "CPU of the whole daemon (path manager and API included) as % of one core; the baseline is the same daemon with api.connectionSampleMs: 0 under the same load. The connections' far ends are in another namespace: the daemon lists exactly 100 (or 10).",
    };
  } finally {
    for (const d of daemons) await d.stop().catch(() => {});
    server.kill('SIGKILL');
    ns.close();
    far.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
