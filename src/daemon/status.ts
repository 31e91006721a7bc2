/**
 * The daemon's published state: one snapshot, rebuilt after each reconcile
 * pass and each session report, plus a numbered event stream with a bounded
 * backlog (for SSE resumption). The status API only ever reads from here.
 */
import fs from 'node:fs';
import type { SessionEvent } from '../ssh/server/sessions.js';
import type { SessionReport } from '../ssh/server/control-protocol.js';
import type { InterfaceStatus, SessionStatus, StatusEvent, StatusSnapshot, StatusSource, SubflowStatus } from '../status/types.js';
import type { Logger } from '../util/logger.js';
import { VERSION } from '../version.js';
import type { PassResult } from './reconciler.js';
import { passEvents, type EventBody } from './status-events.js';

/** Events kept for clients that reconnect with Last-Event-ID. */
export const BACKLOG = 1000;

/** What the publisher needs from the daemon for the changing operations. */
export interface StatusActions {
  reload(): Promise<{ changed: boolean }>;
  setEndpointBackup(id: number, backup: boolean): Promise<StatusSnapshot['endpoints'][number]>;
  closeSession(id: string): Promise<boolean>;
  ssh(): StatusSnapshot['ssh'];
  /** pathManager.enabled of the running configuration. */
  pathManagerEnabled(): boolean;
  sessions(): SessionReport[];
}

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
  private mptcpEnabled = readSysctl('enabled') === '1';
  private pmType = readSysctl('pm_type');

  constructor(
    private readonly log: Logger,
    private readonly actions: StatusActions,
  ) {}

  /** Called after every reconcile pass. */
  onPass(result: PassResult): void {
    const events = passEvents(this.pass, result);
    this.pass = result;
    this.passes++;
    this.mptcpEnabled = readSysctl('enabled') === '1';
    this.pmType = readSysctl('pm_type');
    for (const e of events) this.publish(e);
  }

  /** Called for every session event of the SSH server. */
  onSession(e: SessionEvent): void {
    const names = this.ifnames();
    if (e.type === 'session-sample') {
      this.publish({
        type: 'session-sample',
        session: e.session,
        sampledAt: e.report.sampledAt,
        subflows: e.report.subflows.map((s) => {
          const ifname = s.ifindex !== undefined ? names.get(s.ifindex) : undefined;
          const x = s as unknown as { bytesSent?: number; bytesReceived?: number };
          return { local: `${s.local.address}:${s.local.port}`, ...(ifname ? { ifname } : {}), ...(x.bytesSent !== undefined ? { bytesSent: x.bytesSent } : {}), ...(x.bytesReceived !== undefined ? { bytesReceived: x.bytesReceived } : {}) };
        }),
      });
    } else if (e.type === 'subflow-established' || e.type === 'subflow-closed') {
      const ifname = e.ifindex !== undefined ? names.get(e.ifindex) : undefined;
      this.publish({ type: e.type, session: e.session, local: e.local, remote: e.remote, ...(ifname ? { ifname } : {}) });
    } else {
      this.publish(e);
    }
  }

  snapshot(): StatusSnapshot {
    const p = this.pass;
    const names = this.ifnames();
    return {
      version: VERSION,
      startedAt: this.startedAt,
      mptcp: { enabled: this.mptcpEnabled, available: p?.mptcpAvailable ?? false },
      pathManager: { enabled: this.actions.pathManagerEnabled(), kind: this.pmType === '0' ? 'in-kernel' : this.pmType === '1' ? 'userspace' : 'unknown' },
      limits: p?.limits ?? null,
      interfaces: this.interfaces(),
      endpoints: p?.endpoints ?? [],
      lastReconcile: p === null ? null : { ...p, net: undefined } as PassResult,
      reconcileCount: this.passes,
      warnings: p?.warnings ?? [],
      ssh: this.actions.ssh(),
      sessions: this.actions.sessions().map((r) => sessionStatus(r, names)),
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
    const e = { ...body, seq: ++this.seq, at: Date.now() } as StatusEvent;
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

function sessionStatus(r: SessionReport, names: Map<number, string>): SessionStatus {
  const subflows = r.subflows.map((s) => {
    const ifname = s.ifindex !== undefined ? names.get(s.ifindex) : undefined;
    return { ...(s as unknown as SubflowStatus), ...(ifname ? { ifname } : {}) };
  });
  return { ...r, subflows } as SessionStatus;
}
