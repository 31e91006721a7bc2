/**
 * What the daemon publishes about itself: one immutable snapshot, replaced
 * after every reconcile pass and every session poll, and a stream of events.
 * The status API reads only this; it never asks the kernel per request.
 */
import { z } from 'zod';
import { address, limits, link } from './kernel.js';
import { endpointView, exclusion, passResult, warning, type EndpointView } from './path-manager.js';
import { sessionStatus } from './session.js';
import { connectionsStatus } from './connection.js';
import type { StatusEvent } from './events.js';

/** One interface with its addresses, and why each address is or is not an endpoint. */
export const interfaceStatus = z.object({
  link,
  addresses: z.array(address),
  /** Addresses left out, with the policy's reason. */
  excluded: z.array(exclusion),
  /** Mode the config gives this interface (absent when the interface is ignored). */
  mode: z.array(z.string()).optional(),
});
export type InterfaceStatus = z.infer<typeof interfaceStatus>;

/** One SSH listener: `mptcp`, or `tcp-fallback` with the reason; `down` while it cannot bind (retrying). */
export const listenerStatus = z.object({ address: z.string(), port: z.number().int(), state: z.enum(['mptcp', 'tcp-fallback', 'down']), error: z.string().optional() });
export type ListenerStatus = z.infer<typeof listenerStatus>;

/** The SSH server's state and its listeners. */
export const sshStatus = z.object({ state: z.enum(['up', 'degraded', 'disabled']), listeners: z.array(listenerStatus) });
export type SshStatus = z.infer<typeof sshStatus>;

/** net.mptcp.enabled in the daemon's namespace, and whether IPPROTO_MPTCP sockets can be made. */
export const mptcpStatus = z.object({
  enabled: z.boolean().describe('net.mptcp.enabled'),
  available: z.boolean().describe('IPPROTO_MPTCP sockets can be made'),
});

/** Which path manager is in use: the kernel's in-kernel PM driven by mpsshd, or off. */
export const pathManagerStatus = z.object({ enabled: z.boolean(), kind: z.enum(['in-kernel', 'userspace', 'unknown']) });

/** The whole picture at one instant. */
export const statusSnapshot = z.object({
  version: z.string(),
  startedAt: z.number(),
  mptcp: mptcpStatus,
  pathManager: pathManagerStatus,
  limits: limits.nullable(),
  interfaces: z.array(interfaceStatus),
  endpoints: z.array(endpointView),
  /** The last pass without its working data (`net`: the snapshot shows it per interface). */
  lastReconcile: passResult.omit({ net: true }).nullable(),
  reconcileCount: z.number().int(),
  warnings: z.array(warning),
  ssh: sshStatus,
  sessions: z.array(sessionStatus),
  connections: connectionsStatus,
});
export type StatusSnapshot = z.infer<typeof statusSnapshot>;

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
