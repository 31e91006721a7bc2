/**
 * GET /metrics: Prometheus text from a registry of our own (never
 * prom-client's global one, which other code in the process could fill).
 * Gauges and per-session counters are read from the snapshot at scrape
 * time; reconcile durations and errors are accumulated from events, since a
 * snapshot only holds the last pass.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { connectionStatus } from '../status/connection.js';
import { endpointView } from '../status/path-manager.js';
import { sessionStatus } from '../status/session.js';
import type { StatusSnapshot, StatusSource } from '../status/snapshot.js';

/** Sums over subflows by interface name ("?" when unknown), each subflow added into its interface's total by `add`. */
function sumByInterface<S extends { ifname?: string }, T extends Record<string, number>>(subflows: Iterable<S>, zero: () => T, add: (acc: T, s: S) => void): Map<string, T> {
  const out = new Map<string, T>();
  for (const sf of subflows) {
    const k = sf.ifname ?? '?';
    const cur = out.get(k) ?? zero();
    add(cur, sf);
    out.set(k, cur);
  }
  return out;
}

/** Sums of per-subflow counters of the SSH sessions, by interface name. */
export function bytesByInterface(snap: StatusSnapshot): Map<string, { sent: number; received: number; subflows: number }> {
  return sumByInterface(snap.sessions.flatMap((s) => s.subflows), () => ({ sent: 0, received: 0, subflows: 0 }), (acc, sf) => {
    acc.sent += sf.bytesSent ?? 0;
    acc.received += sf.bytesReceived ?? 0;
    acc.subflows += 1;
  });
}

/** Per interface, over every MPTCP connection of the host: rates of the last sample and subflow counts. */
export function connectionRatesByInterface(snap: StatusSnapshot): Map<string, { sendBps: number; recvBps: number; subflows: number }> {
  return sumByInterface(snap.connections.connections.flatMap((c) => c.subflows), () => ({ sendBps: 0, recvBps: 0, subflows: 0 }), (acc, sf) => {
    acc.sendBps += sf.sendBps ?? 0;
    acc.recvBps += sf.recvBps ?? 0;
    acc.subflows += 1;
  });
}

/** The registry behind /metrics, and what to undo on close. */
export interface ApiMetrics {
  registry: Registry;
  close(): void;
}

/** Builds the registry for one app. `streams` tells how many event streams are open. */
export function createMetrics(source: StatusSource, streams: () => number, owners = true): ApiMetrics {
  const registry = new Registry();
  const registers = [registry];
  const snap = (): StatusSnapshot => source.snapshot();
  // The `user` label is empty where the API leaves owners out (hidepid, see sessionsView).
  const userOf = (s: StatusSnapshot['sessions'][number]): string => (owners ? s.user : '');

  new Gauge({
    name: 'mpssh_info',
    help: 'Always 1; labels carry the version and MPTCP state.',
    labelNames: ['version', 'mptcp_enabled', 'path_manager'],
    registers,
    collect() {
      const s = snap();
      this.reset();
      this.set({ version: s.version, mptcp_enabled: String(s.mptcp.enabled), path_manager: s.pathManager.enabled ? s.pathManager.kind : 'off' }, 1);
    },
  });
  new Gauge({
    name: 'mpssh_start_time_seconds',
    help: 'When the daemon started, seconds since the epoch.',
    registers,
    collect() {
      this.set(snap().startedAt / 1000);
    },
  });
  new Gauge({
    name: 'mpssh_interface_up',
    help: '1 when the interface is up with carrier.',
    labelNames: ['ifname'],
    registers,
    collect() {
      this.reset();
      for (const i of snap().interfaces) this.set({ ifname: i.link.name }, i.link.up && i.link.lowerUp ? 1 : 0);
    },
  });
  const perInterface = (name: string, help: string, pick: (v: { sent: number; received: number; subflows: number }) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['ifname'],
      registers,
      collect() {
        this.reset();
        for (const [ifname, v] of bytesByInterface(snap())) this.set({ ifname }, pick(v));
      },
    });
  };
  // Sums over the sessions open now: they fall when a session ends, so these are gauges.
  perInterface('mpssh_interface_session_bytes_sent', "Bytes sent by current SSH sessions' subflows on this interface.", (v) => v.sent);
  perInterface('mpssh_interface_session_bytes_received', "Bytes received by current SSH sessions' subflows on this interface.", (v) => v.received);
  perInterface('mpssh_interface_subflows', 'Subflows of current SSH sessions on this interface.', (v) => v.subflows);

  // Every MPTCP connection of the host (the sampler's last sample), not only SSH sessions.
  new Gauge({
    name: 'mpssh_mptcp_connections',
    help: 'MPTCP connections of the host in the last sample, by direction.',
    labelNames: ['direction'],
    registers,
    collect() {
      this.reset();
      for (const direction of connectionStatus.shape.direction.options) this.set({ direction }, snap().connections.connections.filter((c) => c.direction === direction).length);
    },
  });
  new Gauge({
    name: 'mpssh_mptcp_interface_throughput_bits_per_second',
    help: 'Throughput of all MPTCP subflows leaving through this interface over the last sampling period.',
    labelNames: ['ifname', 'direction'],
    registers,
    collect() {
      this.reset();
      for (const [ifname, v] of connectionRatesByInterface(snap())) {
        this.set({ ifname, direction: 'send' }, v.sendBps);
        this.set({ ifname, direction: 'receive' }, v.recvBps);
      }
    },
  });
  new Gauge({
    name: 'mpssh_mptcp_interface_subflows',
    help: 'MPTCP subflows of the host leaving through this interface.',
    labelNames: ['ifname'],
    registers,
    collect() {
      this.reset();
      for (const [ifname, v] of connectionRatesByInterface(snap())) this.set({ ifname }, v.subflows);
    },
  });
  new Gauge({
    name: 'mpssh_endpoints',
    help: 'MPTCP endpoints in the kernel, by owner.',
    labelNames: ['owner'],
    registers,
    collect() {
      this.reset();
      for (const owner of endpointView.shape.owner.options) this.set({ owner }, snap().endpoints.filter((e) => e.owner === owner).length);
    },
  });
  new Gauge({
    name: 'mpssh_sessions',
    help: 'Open SSH sessions, by transport.',
    labelNames: ['transport'],
    registers,
    collect() {
      this.reset();
      for (const transport of sessionStatus.shape.transport.options) this.set({ transport }, snap().sessions.filter((s) => s.transport === transport).length);
    },
  });
  const perSession = (name: string, help: string, pick: (s: StatusSnapshot['sessions'][number]) => number | undefined): void => {
    new Counter({
      name,
      help,
      labelNames: ['session', 'user'],
      registers,
      collect() {
        this.reset();
        for (const s of snap().sessions) {
          const v = pick(s);
          if (v !== undefined) this.inc({ session: s.id, user: userOf(s) }, v);
        }
      },
    });
  };
  perSession('mpssh_session_bytes_sent_total', 'Bytes sent on the SSH session (connection level).', (s) => s.bytesSent);
  perSession('mpssh_session_bytes_received_total', 'Bytes received on the SSH session (connection level).', (s) => s.bytesReceived);
  new Gauge({
    name: 'mpssh_session_subflows',
    help: 'Subflows of the SSH session, by interface.',
    labelNames: ['session', 'user', 'ifname'],
    registers,
    collect() {
      this.reset();
      for (const s of snap().sessions) {
        for (const [ifname, n] of bytesByInterface({ ...snap(), sessions: [s] })) this.set({ session: s.id, user: userOf(s), ifname }, n.subflows);
      }
    },
  });
  new Counter({
    name: 'mpssh_reconcile_passes_total',
    help: 'Reconcile passes since the daemon started.',
    registers,
    collect() {
      this.reset();
      this.inc(snap().reconcileCount);
    },
  });
  const reconcileErrors = new Counter({ name: 'mpssh_reconcile_errors_total', help: 'Failed kernel changes in reconcile passes seen by the API.', registers });
  const reconcileChanges = new Counter({ name: 'mpssh_reconcile_changes_total', help: 'Kernel changes made by reconcile passes seen by the API.', registers });
  const reconcileDuration = new Histogram({
    name: 'mpssh_reconcile_duration_seconds',
    help: 'Duration of reconcile passes seen by the API.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  new Gauge({
    name: 'mpssh_warnings',
    help: "Standing warnings in the daemon's list.",
    registers,
    collect() {
      this.set(snap().warnings.length);
    },
  });
  new Gauge({
    name: 'mpssh_api_event_streams',
    help: 'Open /events streams.',
    registers,
    collect() {
      this.set(streams());
    },
  });

  const unsubscribe = source.subscribe((e) => {
    if (e.type !== 'reconcile') return;
    reconcileDuration.observe(e.durationMs / 1000);
    reconcileChanges.inc(e.changes);
    reconcileErrors.inc(e.errors);
  });
  return { registry, close: unsubscribe };
}
