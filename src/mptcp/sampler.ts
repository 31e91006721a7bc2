/**
 * Samples every MPTCP connection of the daemon's network namespace once per
 * period: two sock_diag dumps (MPTCP sockets, listeners included, and TCP
 * sockets with their MPTCP subflow details), the interface each subflow
 * leaves through (the kernel's route lookup, cached for a few seconds per
 * 4-tuple), and the owning process of sockets not seen before. One sample
 * at a time; a slow one makes the next start late, never two at once.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { RouteLookup } from '../netlink/route-lookup.js';
import { SockDiag } from '../netlink/sock-diag.js';
import { TCP_LISTEN } from '../netlink/sock-diag-codec.js';
import type { Logger } from '../util/logger.js';
import { joinConnections, type ListenerKey, type MptcpConnection } from './connections.js';
import type { SubflowInfo } from './info.js';
import { findSocketOwners, type SocketOwner } from './owners.js';

/** A route answer is trusted this long; then the 4-tuple is looked up again (routes change). */
const ROUTE_TTL_MS = 5000;
/** Owners are looked for again after this long (a process may have received the socket since). */
const OWNER_RETRY_MS = 10_000;
/** A socket this young is still being passed around: its owner is looked at on every sample. */
const YOUNG_MS = 5000;

/** One sample, as read from the kernel. */
export interface RawConnectionsSample {
  at: number;
  connections: MptcpConnection[];
  listeners: ListenerKey[];
  owners: ReadonlyMap<number, SocketOwner>;
  staleLossCnt: number;
}

export interface ConnectionSamplerEvents {
  sample: [RawConnectionsSample];
  error: [Error];
}

export class ConnectionSampler extends EventEmitter<ConnectionSamplerEvents> {
  private readonly diag: SockDiag;
  private readonly routes: RouteLookup;
  private readonly routeCache = new Map<string, { oif: number | undefined; at: number }>();
  private readonly owners = new Map<number, { owner: SocketOwner | undefined; firstSeen: number; checkedAt: number }>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private closed = false;

  constructor(
    private readonly log: Logger,
    readonly periodMs: number,
    opts: { netns?: string } = {},
  ) {
    super();
    this.diag = new SockDiag({ log, ...(opts.netns !== undefined ? { netns: opts.netns } : {}) });
    this.routes = new RouteLookup({ log, ...(opts.netns !== undefined ? { netns: opts.netns } : {}) });
  }

  /** Starts sampling (the first sample at once); safe to call twice. */
  start(): void {
    if (this.timer !== undefined || this.closed || this.periodMs <= 0) return;
    this.timer = setInterval(() => void this.sample(), this.periodMs);
    this.timer.unref();
    void this.sample();
  }

  /** Stops sampling and closes the netlink sockets; safe to call twice. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    this.diag.close();
    this.routes.close();
  }

  /** Takes one sample now (tests, and the timer). */
  async sample(): Promise<RawConnectionsSample | undefined> {
    if (this.running || this.closed) return undefined;
    this.running = true;
    try {
      const at = Date.now();
      const [mptcp, tcp] = await Promise.all([this.diag.mptcpSockets(true), this.diag.tcpSockets()]);
      const listeners = mptcp.filter((s) => s.state === TCP_LISTEN).map((s) => ({ address: s.local.address, port: s.local.port }));
      const joined = joinConnections(mptcp, tcp);
      for (const c of joined) c.subflows = await Promise.all(c.subflows.map((s) => this.withInterface(s, at)));
      this.lookUpOwners(joined, at);
      const owners = new Map<number, SocketOwner>();
      for (const c of joined) {
        const o = this.owners.get(c.inode)?.owner;
        if (o !== undefined) owners.set(c.inode, o);
      }
      // Forget sockets that are gone, and stale route answers.
      const live = new Set(joined.map((c) => c.inode));
      for (const inode of this.owners.keys()) if (!live.has(inode)) this.owners.delete(inode);
      for (const [k, v] of this.routeCache) if (at - v.at > ROUTE_TTL_MS) this.routeCache.delete(k);
      const sample: RawConnectionsSample = { at, connections: joined, listeners, owners, staleLossCnt: staleLossCnt() };
      this.emit('sample', sample);
      return sample;
    } catch (err) {
      this.emit('error', err as Error);
      return undefined;
    } finally {
      this.running = false;
    }
  }

  /** The interface a subflow really leaves through: its bound device, else the kernel's route for its 4-tuple. */
  private async withInterface(s: SubflowInfo, at: number): Promise<SubflowInfo> {
    if (s.ifindex !== undefined) return s;
    const mapped = (a: string): string => /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a)?.[1] ?? a;
    const src = mapped(s.local.address);
    const dst = mapped(s.remote.address);
    const family: 4 | 6 = src !== s.local.address && dst !== s.remote.address ? 4 : s.local.family;
    const key = `${src}:${s.local.port}>${dst}:${s.remote.port}`;
    let hit = this.routeCache.get(key);
    if (hit === undefined) {
      hit = { oif: await this.routes.oif({ family, src, dst, sport: s.local.port, dport: s.remote.port }), at };
      this.routeCache.set(key, hit);
    }
    return hit.oif !== undefined ? { ...s, ifindex: hit.oif } : s;
  }

  /**
   * Scans /proc once for every socket whose owner is unknown or due for a
   * second look. Sockets change hands early in their life (mpssh makes the
   * connection and passes it to ssh), so a young socket's owner is checked
   * on every sample, an older one's every OWNER_RETRY_MS.
   */
  private lookUpOwners(conns: readonly MptcpConnection[], at: number): void {
    const wanted = new Set<number>();
    for (const c of conns) {
      if (c.inode === 0) continue;
      const o = this.owners.get(c.inode);
      if (o === undefined) {
        wanted.add(c.inode);
        continue;
      }
      const young = at - o.firstSeen < YOUNG_MS;
      if (!young && at - o.checkedAt < OWNER_RETRY_MS) continue;
      // A known owner is asked first (one process's descriptors); only a socket it let go of costs a scan.
      if (o.owner !== undefined && holds(o.owner.pid, c.inode)) o.checkedAt = at;
      else if (o.owner !== undefined || young || at - o.checkedAt >= OWNER_RETRY_MS) wanted.add(c.inode);
    }
    if (wanted.size === 0) return;
    const found = findSocketOwners(wanted);
    for (const inode of wanted) this.owners.set(inode, { owner: found.get(inode), firstSeen: this.owners.get(inode)?.firstSeen ?? at, checkedAt: at });
  }

}

/** Whether process `pid` still has the socket with this inode open. */
function holds(pid: number, inode: number): boolean {
  const want = `socket:[${inode}]`;
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === want) return true;
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    // the process is gone
  }
  return false;
}

/** net.mptcp.stale_loss_cnt of the calling thread's namespace (default 4). */
function staleLossCnt(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/net/mptcp/stale_loss_cnt', 'utf8').trim()) || 4;
  } catch {
    return 4;
  }
}
