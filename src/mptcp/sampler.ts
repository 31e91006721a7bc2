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
import type { Logger } from '../util/logger.js';
import { joinConnections, unmappedSubflow, type ListenerKey, type MptcpConnection } from './connections.js';
import type { SubflowInfo } from './info.js';
import { findSocketOwners, type SocketOwner } from './owners.js';

/**
 * A route answer is trusted this long; then the 4-tuple is looked up again.
 * Route changes the daemon sees (every reconcile pass follows one) clear the
 * cache at once through routesChanged().
 */
const ROUTE_TTL_MS = 60_000;
/** Every this many samples the subflows are read even when nothing seems to have moved (RTT, windows, flags). */
const FULL_EVERY = 10;

/** What changes when a connection carries data or gains or loses a subflow (struct mptcp_info). */
function activityKey(c: MptcpConnection): string {
  const i = c.info;
  return i === null ? `${c.state}` : `${c.state}/${i.bytesSent ?? i.writeSeq}/${i.bytesReceived ?? i.rcvNxt}/${i.extraSubflows}/${i.subflowsTotal ?? ''}/${i.flags}`;
}

/** Owners are looked for again after this long (a process may have received the socket since). */
const OWNER_RETRY_MS = 30_000;
/** A socket this young is still being passed around: its owner is looked at on every sample. */
const YOUNG_MS = 5000;

/** One sample, as read from the kernel. */
export interface RawConnectionsSample {
  at: number;
  connections: MptcpConnection[];
  listeners: ListenerKey[];
  owners: ReadonlyMap<number, SocketOwner>;
  staleLossCnt: number;
  /** No connection came, went, carried a byte or changed its subflows since the last sample (whose subflows are reused). */
  quiet: boolean;
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
  /** Per connection (cookie): what changes when it is used, and its subflows as last read. */
  private lastKeys = new Map<string, string>();
  private lastSubflows = new Map<string, SubflowInfo[]>();
  private sinceFull = 0;
  private mptcpListeners: ListenerKey[] = [];
  private sinceListeners = FULL_EVERY;

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

  /** Forgets every route answer: the next sample asks the kernel again (call when routes or links changed). */
  routesChanged(): void {
    this.routeCache.clear();
    // The next sample reads the subflows afresh, so their interfaces follow at once.
    this.sinceFull = FULL_EVERY;
  }

  /** Takes one sample now (tests, and the timer). */
  async sample(): Promise<RawConnectionsSample | undefined> {
    if (this.running || this.closed) return undefined;
    this.running = true;
    try {
      const at = Date.now();
      const mptcp = await this.diag.mptcpSockets(false);
      // Listeners only tell a connection's direction: read again when a connection is new, or now and then.
      const fresh = mptcp.some((s) => !this.lastKeys.has(s.cookie));
      if (fresh || this.sinceListeners >= FULL_EVERY) {
        this.mptcpListeners = (await this.diag.mptcpListeners()).map((s) => ({ address: s.local.address, port: s.local.port }));
        this.sinceListeners = 0;
      } else this.sinceListeners++;
      const listeners = this.mptcpListeners;
      // The TCP table (every socket of the host, walked by the kernel) is read only when some
      // connection moved: new, gone, bytes counted, subflows counted, or once every FULL_EVERY samples.
      const shallow = joinConnections(mptcp, []);
      const keys = new Map(shallow.map((c) => [c.cookie, activityKey(c)]));
      const quiet = this.sinceFull < FULL_EVERY - 1 && keys.size === this.lastKeys.size && [...keys].every(([k, v]) => this.lastKeys.get(k) === v);
      let joined: MptcpConnection[];
      if (quiet) {
        this.sinceFull++;
        joined = shallow.map((c) => ({ ...c, subflows: this.lastSubflows.get(c.cookie) ?? [] }));
      } else {
        this.sinceFull = 0;
        joined = joinConnections(mptcp, await this.diag.tcpSockets());
        for (const c of joined) c.subflows = await Promise.all(c.subflows.map((s) => this.withInterface(s, at)));
        this.lastSubflows = new Map(joined.map((c) => [c.cookie, c.subflows]));
      }
      this.lastKeys = keys;
      // Owners change hands early in a socket's life and are re-checked on a slow timer; a quiet sample may skip both.
      if (!quiet || this.ownersDue(at)) this.lookUpOwners(joined, at);
      const owners = new Map<number, SocketOwner>();
      for (const c of joined) {
        const o = this.owners.get(c.inode)?.owner;
        if (o !== undefined) owners.set(c.inode, o);
      }
      // Forget sockets that are gone, and stale route answers.
      const live = new Set(joined.map((c) => c.inode));
      for (const inode of this.owners.keys()) if (!live.has(inode)) this.owners.delete(inode);
      for (const [k, v] of this.routeCache) if (at - v.at > ROUTE_TTL_MS) this.routeCache.delete(k);
      const sample: RawConnectionsSample = { at, connections: joined, listeners, owners, staleLossCnt: staleLossCnt(), quiet };
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
    const { flow } = unmappedSubflow(s);
    const key = `${flow.src}:${flow.sport}>${flow.dst}:${flow.dport}`;
    let hit = this.routeCache.get(key);
    if (hit === undefined) {
      hit = { oif: await this.routes.oif(flow), at };
      this.routeCache.set(key, hit);
    }
    return hit.oif !== undefined ? { ...s, ifindex: hit.oif } : s;
  }

  /** Whether some socket is young or due for its owner's second look. */
  private ownersDue(at: number): boolean {
    for (const o of this.owners.values()) if (at - o.firstSeen < YOUNG_MS || at - o.checkedAt >= OWNER_RETRY_MS) return true;
    return false;
  }

  /**
   * Scans /proc once for every socket whose owner is unknown or due for a
   * second look. Sockets change hands early in their life (mpssh makes the
   * connection and passes it to ssh), so a young socket's owner is checked
   * on every sample, an older one's every OWNER_RETRY_MS.
   */
  private lookUpOwners(conns: readonly MptcpConnection[], at: number): void {
    const wanted = new Set<number>();
    // Known owners are asked first, each process's descriptor table read once for all its sockets
    // (a server with hundreds of connections would otherwise be read once per connection).
    const verify = new Map<number, number[]>();
    for (const c of conns) {
      if (c.inode === 0) continue;
      const o = this.owners.get(c.inode);
      if (o === undefined) {
        wanted.add(c.inode);
        continue;
      }
      const young = at - o.firstSeen < YOUNG_MS;
      if (!young && at - o.checkedAt < OWNER_RETRY_MS) continue;
      if (o.owner !== undefined) {
        const list = verify.get(o.owner.pid) ?? [];
        list.push(c.inode);
        verify.set(o.owner.pid, list);
      } else if (young || at - o.checkedAt >= OWNER_RETRY_MS) wanted.add(c.inode);
    }
    for (const [pid, inodes] of verify) {
      const held = socketInodes(pid);
      for (const inode of inodes) {
        const o = this.owners.get(inode);
        if (o === undefined) continue;
        // Only a socket its owner let go of costs a scan of every process.
        if (held.has(inode)) o.checkedAt = at;
        else wanted.add(inode);
      }
    }
    if (wanted.size === 0) return;
    const found = findSocketOwners(wanted);
    for (const inode of wanted) this.owners.set(inode, { owner: found.get(inode), firstSeen: this.owners.get(inode)?.firstSeen ?? at, checkedAt: at });
  }


}

/** Inodes of the sockets process `pid` has open (empty when it is gone). */
function socketInodes(pid: number): Set<number> {
  const out = new Set<number>();
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m !== null) out.add(Number(m[1]));
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    // the process is gone
  }
  return out;
}

/** net.mptcp.stale_loss_cnt of the calling thread's namespace (default 4). */
function staleLossCnt(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/net/mptcp/stale_loss_cnt', 'utf8').trim()) || 4;
  } catch {
    return 4;
  }
}
