/**
 * Path manager reaction latency and idle memory, for mpsshd and, where
 * Debian's mptcpd is installed, for mptcpd on the same events in the same run.
 *
 * Each daemon runs as its own process in a fresh namespace. The benchmark
 * makes the change itself over its own netlink socket (so t0 is the moment the
 * request goes to the kernel, without `ip`'s start-up time) and polls the
 * kernel's endpoint table with back-to-back dumps until the daemon's reaction
 * shows there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AttrStream } from 'netlink/dist/structs';
import * as rt from 'netlink/dist/rt/structs';
import { MptcpPmClient } from '../src/netlink/mptcp-pm.js';
import { NetlinkSocket } from '../src/netlink/socket.js';
import { silentLogger } from '../src/util/logger.js';
import { Netns, vethPair, waitFor } from '../tools/netns.js';
import { summary } from './stats.js';

const REPS = Number(process.env.MPSSH_BENCH_REPS ?? 60);
const TIMEOUT_MS = 1000;
/** Between two looks at the endpoint table. */
const POLL_MS = 0.2;
/** Between one sample and the next: longer than mpsshd's checking pass takes to follow. */
const IDLE_MS = 150;
/** From a daemon's first endpoint to the first measured event. */
const SETTLE_MS = 1000;
const MPTCPD = '/usr/libexec/mptcpd';
/** mptcpd's in-kernel path manager plugin (Debian package mptcpd-plugins). */
const MPTCPD_PLUGIN = '/usr/lib/x86_64-linux-gnu/mptcpd/addr_adv.so';
const NETLINK_ROUTE = 0;
const NLM_F_CREATE = 0x400;
const NLM_F_EXCL = 0x200;
const IFF_UP = 1;

interface DaemonUnderTest {
  name: string;
  start(ns: Netns, dir: string): ChildProcess;
}

const MPSSHD: DaemonUnderTest = {
  name: 'mpsshd',
  start(ns, dir) {
    const cfg = path.join(dir, 'mpsshd.yaml');
    fs.writeFileSync(cfg, `ssh:\n  Enabled: no\napi:\n  enabled: false\npathManager:\n  interfaces:\n    - { match: "eth*" }\n  requireRoute: none\nstateDir: ${dir}/state\n`, { mode: 0o600 });
    // Its log (stdout, one JSON object a line) tells which endpoints the address reflex added.
    return ns.spawn(path.resolve(__dirname, '../../bin/mpsshd.js'), ['-f', cfg], { stdio: ['ignore', 'pipe', 'ignore'] });
  },
};

const MPTCPD_PM: DaemonUnderTest = {
  name: 'mptcpd',
  start(ns) {
    return ns.spawn(MPTCPD, ['--path-manager=addr_adv', '--addr-flags=subflow', '--notify-flags=existing,skip_link_local,skip_loopback', '--log=stderr'], { stdio: 'ignore' });
  },
};

function addrRequest(ifindex: number, a: string): Buffer {
  const out = new AttrStream();
  const bytes = Buffer.from(a.split('.').map(Number));
  rt.formatAddressMessage({ kind: 'address', data: { family: 2, prefixlen: 24, index: ifindex, scope: 0 }, attrs: { local: bytes, address: bytes } }, out);
  return Buffer.concat(out.bufs);
}

function linkRequest(ifindex: number, up: boolean): Buffer {
  const out = new AttrStream();
  rt.formatLinkMessage({ kind: 'link', data: { index: ifindex, flags: { up }, change: { up: true } }, attrs: {} } as never, out);
  return Buffer.concat(out.bufs);
}

/** A futex the poll sleeps on: nobody wakes it, the timeout does. */
const nap = new Int32Array(new SharedArrayBuffer(4));

/**
 * Polls every POLL_MS. Back-to-back dumps would compete with the daemon under
 * test for the CPU and the kernel's locks and slow down what they measure;
 * a timer could not wait less than a millisecond, which is the size of the
 * figures themselves. So the poll sleeps in the kernel (a futex wait with a
 * timeout), giving the CPU away, for a fraction of a millisecond.
 */
async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<number | null> {
  const t0 = process.hrtime.bigint();
  for (;;) {
    if (await check()) return Number(process.hrtime.bigint() - t0) / 1e6;
    if (Number(process.hrtime.bigint() - t0) / 1e6 > timeoutMs) return null;
    Atomics.wait(nap, 0, 0, POLL_MS);
  }
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Math.round((Number(m?.[1]) / 1024) * 10) / 10;
}

/** A namespace whose eth0 (a veth to a peer namespace) holds `address`/24, with the bench's own clients inside. */
interface OneLink {
  ns: Netns;
  ifindex: number;
  pm: MptcpPmClient;
  /** rtnetlink, for the changes the bench makes itself. */
  sock: NetlinkSocket;
  close(): void;
}

async function oneLink(name: string, address: string): Promise<OneLink> {
  const ns = Netns.create(name);
  const peer = Netns.create(`${name}peer`);
  const pm = new MptcpPmClient(silentLogger(), { netns: ns.path });
  const sock = NetlinkSocket.open(NETLINK_ROUTE, { netns: ns.path });
  const close = (): void => {
    sock.close();
    pm.close();
    ns.close();
    peer.close();
  };
  try {
    vethPair(ns, 'eth0', peer, 'eth0');
    ns.ipSync('addr', 'add', `${address}/24`, 'dev', 'eth0');
    const ifindex = Number(/^(\d+):/.exec(ns.ipSync('-o', 'link', 'show', 'eth0'))?.[1]);
    await pm.start();
    return { ns, ifindex, pm, sock, close };
  } catch (err) {
    close();
    throw err;
  }
}

async function measure(d: DaemonUnderTest): Promise<Record<string, unknown>> {
  // Under /run when there is one: the state directory's default lives there (tmpfs), and
  // each endpoint change is saved to it before the daemon reads its next notification.
  const dir = fs.mkdtempSync(path.join(fs.existsSync('/run') ? '/run' : os.tmpdir(), `mpssh-bench-${d.name}-`));
  let proc: ChildProcess | undefined;
  let link: OneLink | undefined;
  try {
    link = await oneLink('bench', '10.60.0.1');
    const { ns, ifindex, pm, sock } = link;
    proc = d.start(ns, dir);
    let reflexAdds = 0;
    let partial = '';
    proc.stdout?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      reflexAdds += lines.filter((l) => l.includes('"reflex":true')).length;
    });
    const has = async (a: string) => (await pm.dumpEndpoints()).some((e) => e.address === a);
    await waitFor(`${d.name} ready (endpoint for the first address)`, () => has('10.60.0.1'), 10000);
    // What a daemon does right after start (mpsshd compiles its fast path) is not a reaction.
    await new Promise((r) => setTimeout(r, SETTLE_MS));

    const added: number[] = [];
    let addMissed = 0;
    const reflexBefore = reflexAdds;
    for (let i = 0; i < REPS; i++) {
      const a = `10.60.0.${10 + (i % 200)}`;
      const t0 = process.hrtime.bigint();
      await sock.request(rt.MessageType.NEWADDR, NLM_F_CREATE | NLM_F_EXCL, addrRequest(ifindex, a));
      const lat = await until(() => has(a), TIMEOUT_MS);
      if (lat === null) addMissed++;
      else added.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await sock.request(rt.MessageType.DELADDR, 0, addrRequest(ifindex, a));
      await until(async () => !(await has(a)), TIMEOUT_MS);
      // Let the daemon go idle (finish the removal, check it) so each sample
      // measures one reaction, not the tail of the last one.
      await new Promise((r) => setTimeout(r, IDLE_MS));
    }

    const byReflex = reflexAdds - reflexBefore;
    const removed: number[] = [];
    const linkDownAck: number[] = [];
    let removeMissed = 0;
    for (let i = 0; i < REPS; i++) {
      await sock.request(rt.MessageType.NEWLINK, 0, linkRequest(ifindex, true));
      if ((await until(() => has('10.60.0.1'), 3000)) === null) break;
      // A link coming up brings more notifications (IPv6 link-local address,
      // routes); let the daemon go idle so each sample measures one reaction.
      await new Promise((r) => setTimeout(r, 300));
      const t0 = process.hrtime.bigint();
      await sock.request(rt.MessageType.NEWLINK, 0, linkRequest(ifindex, false));
      // The kernel announces the link change only once its own link-down work
      // is done: part of every daemon's floor, reported on its own.
      linkDownAck.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const lat = await until(async () => !(await has('10.60.0.1')), TIMEOUT_MS);
      if (lat === null) removeMissed++;
      else removed.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    await sock.request(rt.MessageType.NEWLINK, 0, linkRequest(ifindex, true));
    await new Promise((r) => setTimeout(r, 2000));
    const rss = proc.pid ? rssMb(proc.pid) : NaN;
    return {
      addressAddedToEndpointMs: added.length ? summary(added) : null,
      addressMissed: addMissed,
      linkDownToEndpointRemovedMs: removed.length ? summary(removed) : null,
      linkDownMissed: removeMissed,
      linkDownRequestAckMs: linkDownAck.length ? summary(linkDownAck) : null,
      missedMeans: `no reaction within ${TIMEOUT_MS} ms`,
      idleRssMb: rss,
      ...(proc.stdout ? { addressesAddedByReflex: byReflex } : {}),
    };
  } finally {
    proc?.kill('SIGKILL');
    link?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The kernel's own time to delete an endpoint (it waits for an RCU grace
 * period), measured directly with no daemon running: the floor under any path
 * manager's link-down reaction on this machine.
 */
async function kernelDeleteBaseline(): Promise<Record<string, unknown>> {
  const ns = Netns.create('benchkern');
  const pm = new MptcpPmClient(silentLogger(), { netns: ns.path });
  try {
    await pm.start();
    const times: number[] = [];
    for (let i = 0; i < REPS; i++) {
      const id = await pm.addEndpoint({ family: 4, address: '10.61.0.1', flags: ['subflow'] });
      const t0 = process.hrtime.bigint();
      await pm.deleteEndpoint({ id, family: 4, address: '10.61.0.1' });
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return { endpointDeleteMs: summary(times) };
  } finally {
    pm.close();
    ns.close();
  }
}

/**
 * The floor under any path manager's link-down reaction: the link goes down
 * and the endpoint on it is deleted at once by the same process, which knows
 * its id, with no notification to wait for and no decision to make. The
 * kernel's delete waits for an RCU grace period, and right after a link went
 * down that wait is longer than for a delete on its own.
 */
async function linkDownFloor(): Promise<Record<string, unknown>> {
  const { ifindex, pm, sock, close } = await oneLink('benchfloor', '10.62.0.1');
  try {
    const times: number[] = [];
    for (let i = 0; i < REPS; i++) {
      await sock.request(rt.MessageType.NEWLINK, 0, linkRequest(ifindex, true));
      const id = await pm.addEndpoint({ family: 4, address: '10.62.0.1', ifindex, flags: ['subflow'] });
      // As for the daemons: the link settles before each sample.
      await new Promise((r) => setTimeout(r, 300));
      const t0 = process.hrtime.bigint();
      await sock.request(rt.MessageType.NEWLINK, 0, linkRequest(ifindex, false));
      await pm.deleteEndpoint({ id, family: 4, address: '10.62.0.1' });
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return { linkDownThenDeleteMs: summary(times) };
  } finally {
    close();
  }
}

/** One daemon's failure is reported in its own entry instead of losing the other's figures. */
async function measureOrExplain(d: DaemonUnderTest): Promise<Record<string, unknown>> {
  try {
    return await measure(d);
  } catch (err) {
    return { error: (err as Error).message };
  }
}

function ratio(a: unknown, b: unknown): number | null {
  return typeof a === 'number' && typeof b === 'number' && b > 0 ? Math.round((a / b) * 100) / 100 : null;
}

/**
 * Keeps every core busy with a spinning process at normal priority, as a
 * build or a browser does on a laptop, until stopped.
 */
function cpuLoad(): { stop(): void } {
  const procs = os.cpus().map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  return {
    stop() {
      for (const p of procs) p.kill('SIGKILL');
    },
  };
}

type Summary = { p50: number; p99: number } | null;

/** Every daemon and the kernel's own delete, in one condition of the machine. */
async function condition(loaded: boolean): Promise<Record<string, unknown>> {
  const load = loaded ? cpuLoad() : null;
  try {
    const kernel = { ...(await kernelDeleteBaseline()), ...(await linkDownFloor()) };
    const ours = await measureOrExplain(MPSSHD);
    const kDel = kernel.endpointDeleteMs as { p50: number; p99: number };
    const floor = kernel.linkDownThenDeleteMs as { p50: number; p99: number };
    const ourDown = ours.linkDownToEndpointRemovedMs as Summary;
    const out: Record<string, unknown> = {
      kernel,
      mpsshd: ours,
      ratioLinkDownToKernelDelete: { p50: ratio(ourDown?.p50, kDel.p50), p99: ratio(ourDown?.p99, kDel.p99), note: 'link down -> endpoint removed, over the kernel alone deleting an endpoint' },
      ratioLinkDownToFloor: { p50: ratio(ourDown?.p50, floor.p50), p99: ratio(ourDown?.p99, floor.p99), note: 'link down -> endpoint removed, over the same process taking the link down and deleting the endpoint at once' },
    };
    if (!(fs.existsSync(MPTCPD) && fs.existsSync(MPTCPD_PLUGIN))) {
      out.mptcpd = { skipped: `${MPTCPD} or ${MPTCPD_PLUGIN} not installed (Debian packages mptcpd, mptcpd-plugins)` };
      return out;
    }
    const theirs = await measureOrExplain(MPTCPD_PM);
    out.mptcpd = theirs;
    const oa = ours.addressAddedToEndpointMs as Summary;
    const ta = theirs.addressAddedToEndpointMs as Summary;
    out.ratioMpsshdToMptcpd = {
      addressAddedP50: ratio(oa?.p50, ta?.p50),
      addressAddedP99: ratio(oa?.p99, ta?.p99),
      idleRss: ratio(ours.idleRssMb, theirs.idleRssMb),
      note: 'below 1 means mpsshd is faster / smaller; mptcpd does not remove endpoints on link down (see linkDownMissed)',
    };
    return out;
  } finally {
    load?.stop();
  }
}

/** Runs the path manager benchmark on a quiet machine, then with every core busy. */
export async function bench(): Promise<Record<string, unknown>> {
  const quiet = await condition(false);
  const loaded = await condition(true);
  return {
    repetitions: REPS,
    targets: { addressAddedToMptcpd: 'at most 1.0 at p50 and p99', linkDownToKernelDelete: 'at most 1.1 at p50', idleRssMb: 35 },
    quiet,
    loaded: { ...loaded, load: `${os.cpus().length} spinning processes, one per core, at normal priority` },
  };
}
