/**
 * Throughput through `mpssh proxy`: relaying stdio, and with --fdpass (the
 * socket handed over, as ssh's ProxyUseFdpass does), against a direct MPTCP
 * connection to the same sink in the same run. Client and server are two
 * namespaces joined by one veth pair, so the figures are CPU-bound: they show
 * what the proxy costs, not what a network gives.
 *
 * On this kernel (6.18) a single MPTCP connection over veth runs either at
 * about 0.2 Gbit/s or at several Gbit/s, whichever mode or process writes to
 * it; so the modes are interleaved, every sample is reported, and ratios are
 * given both of medians and of the best sample of each mode.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { adoptSocket, connectMptcp, receiveFd, socketPair } from '../src/mptcp/index.js';
import { inNetns } from '../src/native/netns.js';
import { Netns, vethPair } from '../tools/netns.js';

const BYTES = Number(process.env.MPSSH_BENCH_BYTES ?? 256 * 1024 * 1024);
const REPS = Number(process.env.MPSSH_BENCH_PROXY_REPS ?? 5);
const MPSSH = path.resolve(__dirname, '../../bin/mpssh.js');
const SINK = path.resolve(__dirname, 'sink.js');
const CHUNK = Buffer.alloc(Number(process.env.MPSSH_BENCH_CHUNK ?? 64 * 1024), 0x61);

/** Writes BYTES into `out`, ends it, and resolves with seconds until the sink's byte count arrives on `input`. */
function transfer(out: NodeJS.WritableStream, input: NodeJS.ReadableStream): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let answer = '';
    input.on('data', (d: Buffer) => (answer += d.toString()));
    input.on('end', () => {
      if (Number(answer.trim()) !== BYTES) reject(new Error(`sink counted ${answer.trim()} of ${BYTES} bytes`));
      else resolve(Number(process.hrtime.bigint() - t0) / 1e9);
    });
    input.on('error', reject);
    // A proxy that dies mid-transfer shows up as EPIPE here: a failed sample, not a crash.
    out.on('error', reject);
    let sent = 0;
    const pump = (): void => {
      while (sent < BYTES) {
        sent += CHUNK.length;
        if (!out.write(CHUNK)) {
          out.once('drain', pump);
          return;
        }
      }
      out.end();
    };
    pump();
  });
}

async function direct(client: Netns, host: string, port: number): Promise<number> {
  const { socket } = await inNetns(client.path, () => connectMptcp({ host, port }));
  socket.setNoDelay(true);
  try {
    return await transfer(socket, socket);
  } finally {
    socket.destroy();
  }
}

async function relayed(client: Netns, host: string, port: number): Promise<number> {
  const proc = client.spawn(process.execPath, [MPSSH, 'proxy', host, String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    return await transfer(proc.stdin!, proc.stdout!);
  } finally {
    proc.kill('SIGKILL');
  }
}

async function fdpassed(client: Netns, host: string, port: number): Promise<number> {
  const [mine, theirs] = socketPair();
  const proc: ChildProcess = client.spawn(process.execPath, [MPSSH, 'proxy', host, String(port), '--fdpass'], { stdio: ['ignore', theirs, 'inherit'] });
  try {
    // Like ssh, wait for the descriptor; the clock starts once we hold it,
    // so process start-up is not part of the throughput figure.
    const exited = new Promise((r) => proc.once('exit', r));
    await exited;
    const sock: net.Socket = adoptSocket(receiveFd(mine));
    try {
      return await transfer(sock, sock);
    } finally {
      sock.destroy();
    }
  } finally {
    proc.kill('SIGKILL');
    for (const fd of [mine, theirs]) {
      try {
        fs.closeSync(fd);
      } catch {
        // already closed
      }
    }
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Runs the proxy throughput benchmark. */
export async function bench(): Promise<Record<string, unknown>> {
  const client = Netns.create('pxc');
  const server = Netns.create('pxs');
  let sink: ChildProcess | undefined;
  try {
    vethPair(client, 'eth0', server, 'eth0');
    client.ipSync('addr', 'add', '10.70.0.1/24', 'dev', 'eth0');
    server.ipSync('addr', 'add', '10.70.0.2/24', 'dev', 'eth0');
    sink = server.spawn(process.execPath, [SINK, '5001'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      sink!.stdout!.once('data', (d: Buffer) => (d.toString().startsWith('listening') ? resolve() : reject(new Error(d.toString()))));
      sink!.once('exit', (c) => reject(new Error(`sink exited ${c}`)));
    });
    const modes = { direct, relay: relayed, fdpass: fdpassed };
    const secs: Record<string, number[]> = { direct: [], relay: [], fdpass: [] };
    // Interleaved, so that drift of the machine's speed hits every mode alike.
    for (let r = 0; r < REPS; r++) {
      for (const [name, fn] of Object.entries(modes)) secs[name]!.push(await fn(client, '10.70.0.2', 5001));
    }
    const mbps = (s: number) => Math.round((BYTES * 8) / s / 1e6);
    const samples = Object.fromEntries(Object.entries(secs).map(([k, v]) => [k, v.map(mbps)]));
    const med = Object.fromEntries(Object.entries(secs).map(([k, v]) => [k, mbps(median(v))]));
    const best = Object.fromEntries(Object.entries(secs).map(([k, v]) => [k, mbps(Math.min(...v))]));
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    return {
      bytesPerTransfer: BYTES,
      repetitions: REPS,
      samplesMbitPerS: samples,
      medianMbitPerS: med,
      bestMbitPerS: best,
      ratioToDirect: {
        median: { relay: r3(med.relay! / med.direct!), fdpass: r3(med.fdpass! / med.direct!) },
        best: { relay: r3(best.relay! / best.direct!), fdpass: r3(best.fdpass! / best.direct!) },
      },
      targets: { fdpass: '>= 0.98', relay: '>= 0.80' },
    };
  } finally {
    sink?.kill('SIGKILL');
    client.close();
    server.close();
  }
}
