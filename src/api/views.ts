/**
 * What each read-only route answers, as pure functions of one snapshot, so
 * the wire format is tested with tables and a handler is one line.
 */
import type { AddressFlags } from '../netlink/types.js';
import type { ConnectionStatus } from '../status/connection.js';
import type { SessionStatus, SubflowStatus } from '../status/session.js';
import type { StatusSnapshot } from '../status/snapshot.js';
import type { ConnectionsView, ConnectionView, EndpointItem, EndpointsView, InterfacesView, SessionsView, SessionView, StatusView } from './schemas.js';
import { hostPort } from '../util/address.js';

/** The state of the API's own listeners, as startApi knows it. */
export interface ApiListenersState {
  listeners: StatusView['api']['listeners'];
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Copies the defined entries of `extra` onto `base`, so absent fields stay absent in JSON. */
function defined<T extends object>(base: T, extra: Record<string, unknown>): T {
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) (base as Record<string, unknown>)[k] = v;
  return base;
}

/** Standing conditions the snapshot implies but the daemon's warning list may not carry: TCP fallback above all. */
export function derivedWarnings(snap: StatusSnapshot, api: ApiListenersState): StatusView['warnings'] {
  const since = iso(snap.startedAt);
  const out: StatusView['warnings'] = [];
  if (!snap.mptcp.enabled) {
    out.push({ code: 'mptcp-disabled', message: 'net.mptcp.enabled is 0: new SSH connections fall back to plain TCP', since });
  } else if (!snap.mptcp.available) {
    out.push({ code: 'mptcp-unavailable', message: 'MPTCP sockets cannot be created (kernel built without CONFIG_MPTCP?): SSH runs on plain TCP', since });
  }
  const fallbackListeners = snap.ssh.listeners.filter((l) => l.state === 'tcp-fallback');
  if (fallbackListeners.length > 0) {
    const which = fallbackListeners.map((l) => `${hostPort(l.address, l.port)}${l.error ? ` (${l.error})` : ''}`).join(', ');
    out.push({ code: 'ssh-tcp-fallback', message: `SSH listener on plain TCP: ${which}`, since });
  }
  const fallbackSessions = snap.sessions.filter((s) => s.transport === 'tcp-fallback');
  if (fallbackSessions.length > 0) {
    const first = Math.min(...fallbackSessions.map((s) => s.startedAt));
    out.push({
      code: 'session-tcp-fallback',
      message: `${fallbackSessions.length} SSH session(s) fell back to plain TCP (client without MPTCP, or a middlebox stripped the option)`,
      since: iso(first),
    });
  }
  const failed = api.listeners.filter((l) => !l.ok);
  if (failed.length > 0) {
    out.push({ code: 'api-degraded', message: `status API not listening on ${failed.map((l) => `${l.address}: ${l.error ?? 'failed'}`).join('; ')}`, since });
  }
  return out;
}


/** GET /status. */
export function statusView(snap: StatusSnapshot, api: ApiListenersState, now: number): StatusView {
  const last = snap.lastReconcile;
  const daemonWarnings = snap.warnings.map((w) => ({ code: w.code, message: w.message, since: iso(w.since) }));
  const codes = new Set(daemonWarnings.map((w) => w.code));
  const unused = snap.interfaces.reduce((n, i) => n + i.excluded.length, 0);
  return {
    version: snap.version,
    startedAt: iso(snap.startedAt),
    uptimeSeconds: Math.max(0, Math.floor((now - snap.startedAt) / 1000)),
    mptcp: { enabled: snap.mptcp.enabled, available: snap.mptcp.available },
    pathManager: { enabled: snap.pathManager.enabled, kind: snap.pathManager.kind },
    limits: snap.limits ? { subflows: snap.limits.subflows, addAddrAccepted: snap.limits.addAddrAccepted } : null,
    closeTimeout: snap.lastReconcile?.closeTimeout ? { seconds: snap.lastReconcile.closeTimeout.seconds, managed: snap.lastReconcile.closeTimeout.managed } : null,
    counts: {
      interfaces: snap.interfaces.length,
      interfacesUp: snap.interfaces.filter((i) => i.link.up && i.link.lowerUp).length,
      endpoints: snap.endpoints.length,
      endpointsOwned: snap.endpoints.filter((e) => e.owner === 'mpsshd').length,
      addressesUnused: unused,
      sessions: snap.sessions.length,
      subflows: snap.sessions.reduce((n, s) => n + s.subflows.length, 0),
    },
    reconcileCount: snap.reconcileCount,
    lastReconcile: last
      ? {
          pass: last.seq,
          at: iso(last.startedAt),
          durationMs: last.durationMs,
          triggers: [...last.triggers],
          changes: last.changes.length,
          failedChanges: last.changes.filter((c) => !c.ok).length,
          errors: [...last.errors],
        }
      : null,
    ssh: {
      state: snap.ssh.state,
      listeners: snap.ssh.listeners.map((l) => defined({ address: l.address, port: l.port, state: l.state }, { error: l.error })),
    },
    api: {
      state: api.listeners.every((l) => l.ok) ? 'up' : 'degraded',
      listeners: api.listeners.map((l) => defined({ address: l.address, ok: l.ok }, { error: l.error })),
    },
    warnings: [...daemonWarnings, ...derivedWarnings(snap, api).filter((w) => !codes.has(w.code))],
  };
}

function flagNames(f: AddressFlags): string[] {
  return (Object.keys(f) as (keyof AddressFlags)[]).filter((k) => f[k]);
}

/** GET /interfaces. */
export function interfacesView(snap: StatusSnapshot): InterfacesView {
  const byAddress = new Map(snap.endpoints.map((e) => [e.address, e]));
  const subflowsOn = countSubflowsByIfname(snap.sessions.flatMap((s) => s.subflows));
  return {
    interfaces: snap.interfaces.map((i) => {
      const why = new Map(i.excluded.map((x) => [x.address, x]));
      return defined(
        {
          index: i.link.index,
          name: i.link.name,
          up: i.link.up,
          lowerUp: i.link.lowerUp,
          operstate: i.link.operstate,
          mode: i.mode ? [...i.mode] : null,
          addresses: i.addresses.map((a) => {
            const ep = byAddress.get(a.address);
            const x = why.get(a.address);
            return {
              address: a.address,
              family: a.family,
              prefixLen: a.prefixLen,
              scope: a.scope,
              flags: flagNames(a.flags),
              endpoint: ep ? { id: ep.id, flags: [...ep.flags] } : null,
              unused: x ? defined({ reason: x.reason }, { detail: x.detail }) : null,
            };
          }),
          subflows: subflowsOn[i.link.name] ?? 0,
        },
        { kind: i.link.kind, mtu: i.link.mtu },
      );
    }),
  };
}

/** GET /endpoints. */
export function endpointsView(snap: StatusSnapshot): EndpointsView {
  return {
    endpoints: snap.endpoints.map(endpointItem),
    unused: snap.interfaces.flatMap((i) =>
      i.excluded.map((x) => defined({ address: x.address, family: x.family, ifindex: x.ifindex, ifname: x.ifname, reason: x.reason }, { detail: x.detail })),
    ),
  };
}

/** One endpoint as the API shows it. */
export function endpointItem(e: StatusSnapshot['endpoints'][number]): EndpointItem {
  return defined(
    { id: e.id, family: e.family, address: e.address, flags: [...e.flags], backup: e.flags.includes('backup'), owner: e.owner },
    { port: e.port, ifindex: e.ifindex, ifname: e.ifname },
  );
}

/** Subflow count per interface name; "?" collects subflows whose interface is unknown. */
export function countSubflowsByIfname(subflows: readonly SubflowStatus[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const sf of subflows) {
    const k = sf.ifname ?? '?';
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

function sessionSummary(s: SessionStatus, owners: boolean): SessionsView['sessions'][number] {
  return defined(
    {
      id: s.id,
      client: { address: s.remote.address, port: s.remote.port },
      server: { address: s.local.address, port: s.local.port },
      startedAt: iso(s.startedAt),
      transport: s.transport,
      channels: { ...s.channels },
      subflowsByInterface: countSubflowsByIfname(s.subflows),
    },
    {
      pid: owners ? s.pid : undefined,
      user: owners ? s.user : undefined,
      authenticatedAt: s.authenticatedAt === undefined ? undefined : iso(s.authenticatedAt),
      bytesSent: s.bytesSent,
      bytesReceived: s.bytesReceived,
    },
  );
}

/**
 * GET /sessions. `owners` is false where connectionsView's `processes` is:
 * who is logged in from where, and their worker's pid, is what `ps` would
 * show and hidepid hides (`who` shows terminal sessions only).
 */
export function sessionsView(snap: StatusSnapshot, owners: boolean): SessionsView {
  return { sessions: snap.sessions.map((s) => sessionSummary(s, owners)) };
}

/** GET /sessions/:id; undefined when no such session. */
export function sessionView(snap: StatusSnapshot, id: string, owners: boolean): SessionView | undefined {
  const s = snap.sessions.find((x) => x.id === id);
  if (!s) return undefined;
  return {
    ...sessionSummary(s, owners),
    sampledAt: iso(s.sampledAt),
    subflows: s.subflows.map(subflowItem),
  };
}

/** One connection; `processes: false` leaves out who owns it (see connectionsView). */
export function connectionItem(c: ConnectionStatus, processes: boolean): ConnectionView {
  return defined(
    {
      id: c.id,
      token: c.token,
      direction: c.direction,
      local: { ...c.local },
      remote: { ...c.remote },
      state: c.state,
      openedAt: iso(c.openedAt),
      subflows: c.subflows.map((sf) => defined({ ...subflowItem(sf), stale: sf.stale }, { sendBps: sf.sendBps, recvBps: sf.recvBps })),
    },
    {
      process: processes && c.process !== undefined ? { ...c.process } : undefined,
      session: c.session !== undefined ? (processes ? { ...c.session } : { id: c.session.id }) : undefined,
      bytesSent: c.bytesSent,
      bytesReceived: c.bytesReceived,
      sendBps: c.sendBps,
      recvBps: c.recvBps,
    },
  );
}

/**
 * GET /connections. `processes` is false on listeners any local user reaches
 * when /proc hides other users' processes (hidepid): the API must not show
 * what `ps` would not.
 */
export function connectionsView(snap: StatusSnapshot, processes: boolean): ConnectionsView {
  const c = snap.connections;
  return defined(
    { periodMs: c.periodMs, sampledAt: c.sampledAt === null ? null : iso(c.sampledAt), connections: c.connections.map((x) => connectionItem(x, processes)) },
    { error: c.error },
  );
}

/** GET /connections/:id; undefined when no such connection. */
export function connectionView(snap: StatusSnapshot, id: string, processes: boolean): ConnectionView | undefined {
  const c = snap.connections.connections.find((x) => x.id === id);
  return c === undefined ? undefined : connectionItem(c, processes);
}

function subflowItem(sf: SubflowStatus): SessionView['subflows'][number] {
  return defined(
    {
      local: { family: sf.local.family, address: sf.local.address, port: sf.local.port },
      remote: { family: sf.remote.family, address: sf.remote.address, port: sf.remote.port },
      state: sf.state,
      rttUs: sf.rttUs,
      rttVarUs: sf.rttVarUs,
      sndCwnd: sf.sndCwnd,
      pmtu: sf.pmtu,
      totalRetrans: sf.totalRetrans,
    },
    {
      id: sf.id,
      ifname: sf.ifname,
      ifindex: sf.ifindex,
      backup: sf.backup,
      minRttUs: sf.minRttUs,
      bytesSent: sf.bytesSent,
      bytesReceived: sf.bytesReceived,
      bytesRetrans: sf.bytesRetrans,
      deliveryRate: sf.deliveryRate,
    },
  );
}
