/**
 * What the daemon publishes about itself: one immutable snapshot, replaced
 * after every reconcile pass and every session poll, and a stream of events.
 * The status API reads only this; it never asks the kernel per request.
 */
import type { EndpointView, Exclusion, PassResult, Warning } from './path-manager.js';
import type { SubflowInfo } from '../mptcp/info.js';
import type { Address, Limits, Link } from '../netlink/types.js';

/** One interface with its addresses, and why each address is or is not an endpoint. */
export interface InterfaceStatus {
  link: Link;
  addresses: Address[];
  /** Addresses left out, with the policy's reason. */
  excluded: Exclusion[];
  /** Mode the config gives this interface (absent when the interface is ignored). */
  mode?: string[];
}

/** One SSH listener. */
export interface ListenerStatus {
  address: string;
  port: number;
  /** `mptcp`, or `tcp-fallback` with the reason; `down` while it cannot bind (retrying). */
  state: 'mptcp' | 'tcp-fallback' | 'down';
  error?: string;
}

/** A subflow as the status reports it: the kernel's view plus the interface name. */
export interface SubflowStatus extends SubflowInfo {
  ifname?: string;
}

/** One SSH connection, served by its own worker process. */
export interface SessionStatus {
  /** Stable id for the connection's life (survives a daemon restart). */
  id: string;
  pid: number;
  /** Empty until authenticated. */
  user: string;
  remote: { address: string; port: number };
  local: { address: string; port: number };
  startedAt: number;
  authenticatedAt?: number;
  transport: 'mptcp' | 'tcp-fallback';
  /** Open channels by kind ("session", "direct-tcpip", ...). */
  channels: Record<string, number>;
  /** Connection-level byte counters (MPTCP_INFO; TCP counters on fallback). */
  bytesSent?: number;
  bytesReceived?: number;
  subflows: SubflowStatus[];
  /** When `subflows` was last read from the kernel. */
  sampledAt: number;
}

/** A subflow of a host connection: the kernel's view, the interface it leaves through, and its rates. */
export interface ConnectionSubflowStatus extends SubflowStatus {
  /** Retransmission timeouts in a row reached net.mptcp.stale_loss_cnt: the kernel has stopped using it for now. */
  stale: boolean;
  /** Bits per second over the last sampling period (absent on a subflow's first sample). */
  sendBps?: number;
  recvBps?: number;
}

/** One MPTCP connection of the host (its network namespace), whoever owns it. */
export interface ConnectionStatus {
  /** The MPTCP socket's cookie: unique for the connection's life and never reused until reboot. */
  id: string;
  /** The connection's local MPTCP token. */
  token: number;
  direction: 'incoming' | 'outgoing';
  local: { address: string; port: number };
  remote: { address: string; port: number };
  /** TCP state name of the MPTCP socket. */
  state: string;
  /** The owning process, when it could be found (the socket may be shared or held by the kernel only). */
  process?: { pid: number; command: string; uid: number; user?: string; destination?: string };
  /** The SSH session of mpsshd's server (built-in or OpenSSH) on this connection. */
  session?: { id: string; user: string };
  /** Connection-level counters (MPTCP_INFO). */
  bytesSent?: number;
  bytesReceived?: number;
  sendBps?: number;
  recvBps?: number;
  subflows: ConnectionSubflowStatus[];
  /** First seen by the sampler. */
  openedAt: number;
}

/** The latest sample of every MPTCP connection. */
export interface ConnectionsStatus {
  /** 0 when sampling is off. */
  periodMs: number;
  sampledAt: number | null;
  connections: ConnectionStatus[];
  /** Why the last sample failed, if it did. */
  error?: string;
}

/** The whole picture at one instant. */
export interface StatusSnapshot {
  version: string;
  startedAt: number;
  /** net.mptcp.enabled in the daemon's namespace, and whether IPPROTO_MPTCP sockets can be made. */
  mptcp: { enabled: boolean; available: boolean };
  /** Which path manager is in use: the kernel's in-kernel PM driven by mpsshd, or off. */
  pathManager: { enabled: boolean; kind: 'in-kernel' | 'userspace' | 'unknown' };
  limits: Limits | null;
  interfaces: InterfaceStatus[];
  endpoints: EndpointView[];
  lastReconcile: PassResult | null;
  reconcileCount: number;
  warnings: Warning[];
  ssh: { state: 'up' | 'degraded' | 'disabled'; listeners: ListenerStatus[] };
  sessions: SessionStatus[];
  connections: ConnectionsStatus;
}

/** Something that happened, in the order it happened. `seq` rises by one per event. */
export type StatusEvent = { seq: number; at: number } & (
  | { type: 'interface-up' | 'interface-down'; ifindex: number; ifname: string }
  | { type: 'endpoint-added' | 'endpoint-removed'; id: number; address: string; ifname?: string }
  | { type: 'subflow-established' | 'subflow-closed'; session: string; local: string; remote: string; ifname?: string }
  | { type: 'session-opened' | 'session-closed'; session: string; user: string; remote: string }
  | { type: 'session-sample'; session: string; sampledAt: number; subflows: { ifname?: string; local: string; bytesSent?: number; bytesReceived?: number }[] }
  | { type: 'connection-opened' | 'connection-closed'; connection: string; direction: 'incoming' | 'outgoing'; local: string; remote: string; command?: string; destination?: string }
  | { type: 'connection-subflow-added' | 'connection-subflow-removed'; connection: string; local: string; remote: string; ifname?: string }
  /** Once per sample: bits per second per interface, host-wide and per connection. */
  | { type: 'connection-rates'; sampledAt: number; interfaces: Record<string, { sendBps: number; recvBps: number; subflows: number }>; connections: Record<string, Record<string, { sendBps: number; recvBps: number }>> }
  /** `pass` is the reconcile pass's own number (PassResult.seq); the event's `seq` is the event stream's. */
  | { type: 'reconcile'; pass: number; durationMs: number; changes: number; errors: number }
);

/** What the daemon offers the status API. */
export interface StatusSource {
  /** The latest snapshot (cheap: no I/O). */
  snapshot(): StatusSnapshot;
  /** Subscribes to events; returns the unsubscribe function. */
  subscribe(listener: (e: StatusEvent) => void): () => void;
  /** Events still held (a bounded backlog) with seq > `after`, for SSE Last-Event-ID. */
  eventsSince(after: number): StatusEvent[];
  /** Reloads the config file (as SIGHUP does); rejects with an MpsshError config-invalid when the file is refused. */
  reload(): Promise<{ changed: boolean }>;
  /** Sets or clears an endpoint's backup flag; rejects with an MpsshError: not-found, conflict, kernel or unavailable. */
  setEndpointBackup(id: number, backup: boolean): Promise<EndpointView>;
  /** Ends one SSH session; false when no such session. */
  closeSession(id: string): Promise<boolean>;
}
