/**
 * OpenSSH's sshd behind mpsshd's listeners: each accepted connection (MPTCP,
 * or TCP from a client without it) is given to `sshd -i` as its standard
 * input and output, as inetd or systemd's `Accept=yes` would, and mpsshd
 * closes its own copy: the bytes go from the kernel to sshd with no copy in
 * between. sshd's privilege separation, PAM, certificates and Match blocks
 * apply unchanged.
 *
 * mpsshd keeps watching each connection without its descriptor: the sshd
 * monitor's title says when and as whom a user logged in (only that root
 * process is asked, never the user's own ones), and sock_diag finds the
 * subflows by the connection's MPTCP token. sshd processes run in their own
 * session and outlive a restart of mpsshd, which finds them again through
 * its records.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { joinConnections, unmappedSubflow, type MptcpConnection } from '../../mptcp/connections.js';
import { mptcpInfo, type SubflowInfo } from '../../mptcp/info.js';
import { addon } from '../../native/load.js';
import { socketFd, type Transport } from '../../mptcp/socket.js';
import { RouteLookup } from '../../netlink/route-lookup.js';
import { SockDiag } from '../../netlink/sock-diag.js';
import { cloexecAll } from '../../native/fds.js';
import type { Logger } from '../../util/logger.js';
import { processStartTime } from '../../util/proc.js';
import { sourceKey } from '../auth/penalties.js';
import type { SessionReport } from '../session-report.js';
import { reportEvents, type SessionEvent, type UnauthenticatedEnd } from '../session-report.js';
import { checkSshd, sshdArgv, type OpenSshSettings, type SshdEffective } from './sshd-command.js';
import { snapshotSshdConfig } from './sshd-config-snapshot.js';
import { childUids, processTitle, readSshdRecords, removeSshdRecord, writeSshdRecord, type SshdRecord } from './sshd-records.js';
import { loggedInUser, parseSshdTitle } from './sshd-title.js';

/** sshd's privilege separation directory; Debian's ssh.service creates it, so without that service nobody would. */
export const PRIVSEP_DIR = '/run/sshd';
const POLL_MS = 1000;
/** Least time between two looks at one connection's monitor. */
const RECHECK_MS = 200;
const UID_TTL_MS = 10_000;
/** Snapshots kept: the one in use and the one before (connections still starting may read it). */
const KEEP_SNAPSHOTS = 2;

export interface OpenSshBackendOptions {
  log: Logger;
  /** Root-only directory for the records (the server's session directory). */
  sessionDir: string;
  /** Where configuration copies go (under the daemon's runtime directory). */
  snapshotDir: string;
  onEvent(e: SessionEvent): void;
  onUnauthenticatedEnd(e: UnauthenticatedEnd): void;
  pollMs?: number;
}

/** What a connection is served with: checked at start and at each reload. */
export interface PreparedSshd {
  settings: OpenSshSettings;
  argv: string[];
  effective: SshdEffective;
  sources: string[];
}

interface Tracked {
  rec: SshdRecord;
  /** When the monitor was last looked at (a flood of accepts must not re-read every title each time). */
  checkedAt: number;
  report: SessionReport | undefined;
  announced: boolean;
  ended: boolean;
}

export class OpenSshBackend {
  private readonly log: Logger;
  private prepared: PreparedSshd | undefined;
  private readonly sessions = new Map<string, Tracked>();
  private readonly diag: SockDiag;
  private readonly routes: RouteLookup;
  private readonly uids = new UidCache();
  private timer: NodeJS.Timeout | undefined;
  private generation = 0;
  private polling = false;

  constructor(private readonly opts: OpenSshBackendOptions) {
    this.log = opts.log.child({ mod: 'openssh' });
    this.diag = new SockDiag({ log: this.log });
    this.routes = new RouteLookup({ log: this.log });
  }

  /**
   * Copies sshd's configuration and checks it with `sshd -t`; on success the
   * next connections use it. Rejects with sshd's words and leaves the
   * configuration in use as it was.
   */
  async prepare(settings: OpenSshSettings, alive: { interval: number; countMax: number }): Promise<PreparedSshd> {
    const gen = ++this.generation;
    const dir = path.join(this.opts.snapshotDir, `${process.pid}-${gen}`);
    let snap;
    try {
      snap = snapshotSshdConfig(settings.Config, dir);
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`cannot read sshd's configuration: ${(err as Error).message}`);
    }
    fs.mkdirSync(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
    let effective: SshdEffective;
    try {
      effective = await checkSshd(settings, snap.main);
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const prepared = { settings, argv: sshdArgv(settings, snap.main, effective, alive), effective, sources: snap.sources };
    this.prepared = prepared;
    this.pruneSnapshots(dir);
    this.log.info({ argv: prepared.argv, files: snap.sources }, `OpenSSH serves SSH: ${prepared.argv.join(' ')}`);
    return prepared;
  }

  /** The command line connections are given to, once prepared. */
  current(): PreparedSshd | undefined {
    return this.prepared;
  }

  /** Starts watching, and finds sshd processes of an earlier run; safe to call twice. */
  start(): void {
    if (this.timer !== undefined) return;
    for (const rec of readSshdRecords(this.opts.sessionDir)) {
      if (this.sessions.has(rec.id)) continue;
      if (processStartTime(rec.pid) !== rec.pidStart) {
        removeSshdRecord(this.opts.sessionDir, rec.id);
        continue;
      }
      this.sessions.set(rec.id, { rec, checkedAt: 0, report: undefined, announced: false, ended: false });
    }
    if (this.sessions.size > 0) this.log.info({ sessions: this.sessions.size }, `found ${this.sessions.size} connection(s) served by sshd from before the restart`);
    this.timer = setInterval(() => void this.poll(), this.opts.pollMs ?? POLL_MS);
    this.timer.unref();
    void this.poll();
  }

  /** Stops watching; the sshd processes go on. Safe to call twice. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.sessions.clear();
    this.diag.close();
    this.routes.close();
  }

  /** Gives an accepted connection to a new `sshd -i`, then lets go of it. `remote` and `local` are as shown (IPv4 clients as IPv4). */
  serve(socket: net.Socket, id: string, remote: SshdRecord['remote'], local: SshdRecord['local'], transport: Transport): void {
    const prepared = this.prepared;
    if (prepared === undefined) {
      socket.destroy();
      return;
    }
    let token: number | undefined;
    if (transport === 'mptcp') {
      try {
        token = mptcpInfo(socket)?.token;
      } catch {
        // an already-reset connection: sshd will see it close
      }
    }
    const fd = socketFd(socket);
    // A removed /run/sshd (tmpfs cleaners, a stopped ssh.service) would make every connection fail.
    if (!fs.existsSync(PRIVSEP_DIR)) fs.mkdirSync(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
    const [cmd, ...args] = prepared.argv as [string, ...string[]];
    // A descriptor opened without close-on-exec (a library's, say) must not reach sshd, which
    // outlives us: a listener kept open there would keep a restarted daemon off its port.
    cloexecAll();
    const child = spawn(cmd, args, { stdio: [fd, fd, 'ignore'], detached: true, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
    socket.destroy();
    const pid = child.pid;
    child.on('error', (err) => this.log.error({ err, session: id }, `cannot start ${cmd}: ${err.message}`));
    if (pid === undefined) return;
    child.unref();
    const rec: SshdRecord = { id, pid, pidStart: processStartTime(pid) ?? '0', remote, local, acceptedAt: Date.now(), transport, ...(token !== undefined && token !== 0 ? { token } : {}) };
    const t: Tracked = { rec, checkedAt: 0, report: undefined, announced: false, ended: false };
    this.sessions.set(id, t);
    this.save(rec);
    child.on('exit', () => this.ended(t));
    this.log.debug({ session: id, sshdPid: pid, remote, transport }, `Connection from ${remote.address} port ${remote.port} given to sshd (pid ${pid})`);
  }

  /** Connections whose user has not logged in yet (MaxStartups), from `source` (a sourceKey) if given. Reads the titles afresh. */
  unauthenticated(source?: string): number {
    let n = 0;
    for (const t of this.sessions.values()) {
      if (t.ended || this.refreshUser(t)) continue;
      if (source === undefined || sourceKey(t.rec.remote.address) === source) n++;
    }
    return n;
  }

  list(): SessionReport[] {
    return [...this.sessions.values()].flatMap((t) => (t.report !== undefined && t.rec.user !== undefined ? [t.report] : []));
  }

  /** Ends a session by signalling its sshd monitor (which ends the user's processes as a disconnect would). */
  close(id: string): boolean {
    const t = this.sessions.get(id);
    if (t === undefined || processStartTime(t.rec.pid) !== t.rec.pidStart) return false;
    try {
      process.kill(t.rec.pid, 'SIGTERM');
      return true;
    } catch {
      return false;
    }
  }

  private save(rec: SshdRecord): void {
    try {
      writeSshdRecord(this.opts.sessionDir, rec);
    } catch (err) {
      this.log.warn({ err, session: rec.id }, 'cannot record the connection, a restarted daemon will not find it, ignoring');
    }
  }

  /** Reads the monitor's title; true once a user has logged in. At most every RECHECK_MS per connection. */
  private refreshUser(t: Tracked): boolean {
    if (t.rec.user !== undefined) return true;
    const now = Date.now();
    if (now - t.checkedAt < RECHECK_MS) return false;
    t.checkedAt = now;
    const title = processTitle(t.rec.pid);
    if (title === undefined) return false;
    const parsed = parseSshdTitle(title);
    const user = parsed.kind === 'priv' || parsed.kind === 'session' ? loggedInUser(parsed, parsed.kind === 'priv' ? childUids(t.rec.pid) : [], (u) => this.uids.lookup(u)) : undefined;
    if (user === undefined) return false;
    t.rec = { ...t.rec, user, authenticatedAt: Date.now() };
    this.save(t.rec);
    return true;
  }

  private ended(t: Tracked): void {
    if (t.ended) return;
    t.ended = true;
    this.sessions.delete(t.rec.id);
    removeSshdRecord(this.opts.sessionDir, t.rec.id);
    if (t.rec.user === undefined) {
      this.opts.onUnauthenticatedEnd({ remoteAddress: t.rec.remote.address, reason: 'sshd ended before a login', authFailures: 0, clean: true });
    }
    if (t.announced) this.opts.onEvent({ type: 'session-closed', session: t.rec.id, user: t.rec.user ?? '', remote: `${t.rec.remote.address}:${t.rec.remote.port}` });
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const t of [...this.sessions.values()]) {
        if (processStartTime(t.rec.pid) !== t.rec.pidStart) this.ended(t);
        else this.refreshUser(t);
      }
      const live = [...this.sessions.values()].filter((t) => t.rec.user !== undefined);
      if (live.length === 0) return;
      let conns: MptcpConnection[] = [];
      if (live.some((t) => t.rec.token !== undefined)) {
        try {
          const [m, tcp] = await Promise.all([this.diag.mptcpSockets(), this.diag.tcpSockets()]);
          conns = joinConnections(m, tcp);
        } catch (err) {
          this.log.debug({ err }, 'sock_diag dump failed, subflows not updated this time');
        }
      }
      const byToken = new Map(conns.map((c) => [c.token, c]));
      for (const t of live) {
        const conn = t.rec.token !== undefined ? byToken.get(t.rec.token) : undefined;
        const subflows = conn === undefined ? [] : await Promise.all(conn.subflows.map((s) => this.withInterface(s)));
        if (!t.ended) this.report(t, conn, subflows);
      }
    } finally {
      this.polling = false;
    }
  }

  /** A subflow with IPv4 addresses written as IPv4, and the interface it really leaves through. */
  private async withInterface(s: SubflowInfo): Promise<SubflowInfo> {
    const { local, remote, flow } = unmappedSubflow(s);
    // A subflow bound to its endpoint's device leaves through it; any other goes where the routes send it.
    const ifindex = s.ifindex ?? (await this.routes.oif(flow));
    return { ...s, local, remote, ...(ifindex !== undefined ? { ifindex } : {}) };
  }

  private report(t: Tracked, conn: MptcpConnection | undefined, subflows: SubflowInfo[]): void {
    const rec = t.rec;
    const report: SessionReport = {
      id: rec.id,
      pid: rec.pid,
      user: rec.user ?? '',
      remote: rec.remote,
      local: rec.local,
      startedAt: rec.acceptedAt,
      ...(rec.authenticatedAt !== undefined ? { authenticatedAt: rec.authenticatedAt } : {}),
      transport: rec.transport,
      channels: {},
      ...(conn?.info?.bytesSent !== undefined ? { bytesSent: conn.info.bytesSent } : {}),
      ...(conn?.info?.bytesReceived !== undefined ? { bytesReceived: conn.info.bytesReceived } : {}),
      subflows,
      sampledAt: Date.now(),
    };
    const before = t.report;
    t.report = report;
    const remote = `${rec.remote.address}:${rec.remote.port}`;
    const opening = !t.announced;
    if (opening) {
      t.announced = true;
      this.opts.onEvent({ type: 'session-opened', session: rec.id, user: report.user, remote });
    }
    for (const e of reportEvents(rec.id, before, report, opening)) this.opts.onEvent(e);
  }

  private pruneSnapshots(keep: string): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.opts.snapshotDir);
    } catch {
      return;
    }
    const dirs = names.map((n) => path.join(this.opts.snapshotDir, n)).filter((d) => d !== keep);
    dirs.sort((a, b) => fs.statSync(a).mtimeMs - fs.statSync(b).mtimeMs);
    for (const d of dirs.slice(0, Math.max(0, dirs.length - (KEEP_SNAPSHOTS - 1)))) fs.rmSync(d, { recursive: true, force: true });
  }
}

/** Users' uids through NSS, remembered for a while: clients choose the names, and many may name the same. */
class UidCache {
  private readonly known = new Map<string, { uid: number | undefined; at: number }>();

  lookup(user: string): number | undefined {
    const now = Date.now();
    const hit = this.known.get(user);
    if (hit !== undefined && now - hit.at < UID_TTL_MS) return hit.uid;
    let uid: number | undefined;
    try {
      uid = addon<{ getpwnam(name: string): { uid: number } | null }>().getpwnam(user)?.uid;
    } catch {
      uid = undefined;
    }
    if (this.known.size >= 1024) this.known.clear();
    this.known.set(user, { uid, at: now });
    return uid;
  }
}

