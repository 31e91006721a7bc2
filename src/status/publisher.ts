/**
 * The daemon's published state: one snapshot, rebuilt after each reconcile
 * pass and each session report, plus a numbered event stream with a bounded
 * backlog (for SSE resumption). The status API only ever reads from here.
 */
import fs from 'node:fs';
import { buildConnections, connectionEvents, type SampleContext } from './connection-sample.js';
import type { ConnectionsStatus, ConnectionStatus } from './connection.js';
import type { EventBody, StatusEvent } from './events.js';
import { passEvents } from './pass-events.js';
import type { EndpointView, PassResult } from './path-manager.js';
import type { SessionEvent, SessionReport, SessionStatus } from './session.js';
import type { InterfaceStatus, SshStatus, StatusSnapshot, StatusSource } from './snapshot.js';
import type { RawConnectionsSample } from '../mptcp/sampler.js';
import type { Logger } from '../util/logger.js';
import { addon } from '../native/load.js';
import { unmapIPv4 } from '../util/address.js';
import { VERSION } from '../util/version.js';

/** Events kept for clients that reconnect with Last-Event-ID. */
export const BACKLOG = 1000;

/** What the publisher needs from the daemon for the changing operations. */
export interface StatusActions {
  reload(): Promise<{ changed: boolean }>;
  setEndpointBackup(id: number, backup: boolean): Promise<EndpointView>;
  closeSession(id: string): Promise<boolean>;
  ssh(): SshStatus;
  /** pathManager.enabled of the running configuration. */
  pathManagerEnabled(): boolean;
  sessions(): SessionReport[];
}

/** How old a snapshot may get when nothing announced a change. */
const SNAPSHOT_MAX_AGE_MS = 1000;

function readSysctl(name: string): string | null {
  try {
    return fs.readFileSync(`/proc/sys/net/mptcp/${name}`, 'utf8').trim();
  } catch {
    return null;
  }
}

export class StatusPublisher implements StatusSource {
  private pass: PassResult | null = null;
  private passes = 0;
  private seq = 0;
  private readonly backlog: StatusEvent[] = [];
  private readonly listeners = new Set<(e: StatusEvent) => void>();
  private readonly startedAt = Date.now();
  private connections: ConnectionsStatus = { periodMs: 0, sampledAt: null, connections: [] };
  private cached: { at: number; snap: StatusSnapshot } | undefined;
  private readonly userNames = new Map<number, string | undefined>();
  private mptcpEnabled = readSysctl('enabled') === '1';
  private pmType = readSysctl('pm_type');

  constructor(
    private readonly log: Logger,
    private readonly actions: StatusActions,
  ) {}

  /** Called after every reconcile pass. */
  onPass(result: PassResult): void {
    this.changed();
    const events = passEvents(this.pass, result);
    this.pass = result;
    this.passes++;
    this.mptcpEnabled = readSysctl('enabled') === '1';
    this.pmType = readSysctl('pm_type');
    for (const e of events) this.publish(e);
  }

  /** Called for every session event of the SSH server. */
  onSession(e: SessionEvent): void {
    this.changed();
    const names = this.ifnames();
    if (e.type === 'session-sample') {
      this.publish({
        type: 'session-sample',
        session: e.session,
        sampledAt: e.report.sampledAt,
        subflows: e.report.subflows.map((s) => {
          const ifname = s.ifindex !== undefined ? names.get(s.ifindex) : undefined;
          return { local: `${s.local.address}:${s.local.port}`, ...(ifname ? { ifname } : {}), ...(s.bytesSent !== undefined ? { bytesSent: s.bytesSent } : {}), ...(s.bytesReceived !== undefined ? { bytesReceived: s.bytesReceived } : {}) };
        }),
      });
    } else if (e.type === 'subflow-established' || e.type === 'subflow-closed') {
      const ifname = e.ifindex !== undefined ? names.get(e.ifindex) : undefined;
      this.publish({ type: e.type, session: e.session, local: e.local, remote: e.remote, ...(ifname ? { ifname } : {}) });
    } else {
      this.publish(e);
    }
  }

  /** Sets the sampling period shown in the status (0: sampling off). */
  connectionSampling(periodMs: number): void {
    this.connections = { ...this.connections, periodMs };
  }

  /** Called with every sample of the host's MPTCP connections. */
  onConnections(raw: RawConnectionsSample): void {
    this.changed();
    const names = this.ifnames();
    const sessions = this.actions.sessions();
    const key = (l: { address: string; port: number }, r: { address: string; port: number }): string => `${unmapIPv4(l.address)}:${l.port}>${unmapIPv4(r.address)}:${r.port}`;
    const bySocket = new Map(sessions.map((s) => [key(s.local, s.remote), { id: s.id, user: s.user }]));
    if (this.userNames.size > 1024) this.userNames.clear();
    const ctx: SampleContext = {
      at: raw.at,
      listeners: raw.listeners,
      ifname: (i) => names.get(i),
      owner: (inode) => raw.owners.get(inode),
      userName: (uid) => {
        if (!this.userNames.has(uid)) this.userNames.set(uid, userNameOf(uid));
        return this.userNames.get(uid);
      },
      session: (l, r) => bySocket.get(key(l, r)),
      staleLossCnt: raw.staleLossCnt,
    };
    const before = new Map(this.connections.connections.map((c) => [c.id, c]));
    const prev = this.connections.sampledAt === null ? undefined : { at: this.connections.sampledAt, connections: before };
    // A quiet sample (nothing carried, nothing came or went) changes only the rates, to zero: the last
    // statuses stand, and a host with many idle connections pays almost nothing per sample.
    const next = raw.quiet && prev !== undefined && raw.connections.length === before.size ? quietConnections(this.connections.connections) : buildConnections(raw.connections, ctx, prev);
    this.connections = { periodMs: this.connections.periodMs, sampledAt: raw.at, connections: next };
    for (const e of connectionEvents(before, next, raw.at)) this.publish(e);
  }

  /** Called when a sample failed: the last one stays, with the reason. */
  onConnectionsError(err: Error): void {
    this.changed();
    if (this.connections.error === err.message) return;
    this.log.warn({ err: err.message }, 'sampling the MPTCP connections failed, keeping the last sample');
    this.connections = { ...this.connections, error: err.message };
  }

  /**
   * The current state, built once per change (a pass, a session report or
   * event, a connections sample) and shared, frozen, by every reader until
   * the next: a /metrics scrape or an API burst costs one build. What
   * changes without an event (listener states, the sysctls) is at most
   * SNAPSHOT_MAX_AGE_MS old.
   */
  snapshot(): StatusSnapshot {
    const now = Date.now();
    if (this.cached === undefined || now - this.cached.at > SNAPSHOT_MAX_AGE_MS) this.cached = { at: now, snap: Object.freeze(this.build()) };
    return this.cached.snap;
  }

  /** Marks the snapshot stale: the next read builds a new one. */
  private changed(): void {
    this.cached = undefined;
  }

  private build(): StatusSnapshot {
    const p = this.pass;
    const lastReconcile = p === null ? null : withoutNet(p);
    const names = this.ifnames();
    return {
      version: VERSION,
      startedAt: this.startedAt,
      mptcp: { enabled: this.mptcpEnabled, available: p?.mptcpAvailable ?? false },
      pathManager: { enabled: this.actions.pathManagerEnabled(), kind: this.pmType === '0' ? 'in-kernel' : this.pmType === '1' ? 'userspace' : 'unknown' },
      limits: p?.limits ?? null,
      interfaces: this.interfaces(),
      endpoints: p?.endpoints ?? [],
      lastReconcile,
      reconcileCount: this.passes,
      warnings: p?.warnings ?? [],
      ssh: this.actions.ssh(),
      sessions: this.actions.sessions().map((r) => sessionStatus(r, names)),
      connections: this.connections,
    };
  }

  subscribe(listener: (e: StatusEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  eventsSince(after: number): StatusEvent[] {
    return this.backlog.filter((e) => e.seq > after);
  }

  reload(): Promise<{ changed: boolean }> {
    return this.actions.reload();
  }

  setEndpointBackup(id: number, backup: boolean) {
    return this.actions.setEndpointBackup(id, backup);
  }

  closeSession(id: string): Promise<boolean> {
    return this.actions.closeSession(id);
  }

  private publish(body: EventBody): void {
    const e: StatusEvent = { ...body, seq: ++this.seq, at: Date.now() };
    this.backlog.push(e);
    if (this.backlog.length > BACKLOG) this.backlog.shift();
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.log.warn({ err }, 'status event listener failed, ignoring');
      }
    }
  }

  private ifnames(): Map<number, string> {
    return new Map((this.pass?.net?.links ?? []).map((l) => [l.index, l.name]));
  }

  private interfaces(): InterfaceStatus[] {
    const p = this.pass;
    if (!p?.net) return [];
    return p.net.links.map((link) => {
      const desired = p.desired.find((d) => d.ifindex === link.index);
      const s: InterfaceStatus = {
        link,
        addresses: p.net?.addresses.filter((a) => a.ifindex === link.index) ?? [],
        excluded: p.excluded.filter((x) => x.ifindex === link.index),
      };
      if (desired) s.mode = desired.flags.slice();
      return s;
    });
  }
}

/** The statuses of the last sample with every rate at zero (the same objects when already so). */
function quietConnections(list: readonly ConnectionStatus[]): ConnectionStatus[] {
  const zero = (x: { sendBps?: number; recvBps?: number }): boolean => (x.sendBps ?? 0) === 0 && (x.recvBps ?? 0) === 0;
  return list.map((c) =>
    zero(c) && c.subflows.every(zero) ? c : { ...c, sendBps: 0, recvBps: 0, subflows: c.subflows.map((s) => (zero(s) ? s : { ...s, sendBps: 0, recvBps: 0 })) },
  );
}

/** A user's name through NSS, or undefined. */
function userNameOf(uid: number): string | undefined {
  try {
    return addon<{ getpwuidName(uid: number): string | null }>().getpwuidName(uid) ?? undefined;
  } catch {
    return undefined;
  }
}

/** The pass as the snapshot shows it: its links and addresses appear per interface instead. */
function withoutNet(p: PassResult): StatusSnapshot['lastReconcile'] & object {
  const { net: _, ...rest } = p;
  return rest;
}

function sessionStatus(r: SessionReport, names: Map<number, string>): SessionStatus {
  const subflows = r.subflows.map((s) => {
    const ifname = s.ifindex !== undefined ? names.get(s.ifindex) : undefined;
    return { ...s, ...(ifname ? { ifname } : {}) };
  });
  return { ...r, subflows };
}
