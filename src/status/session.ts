/**
 * An SSH session as its worker (or the OpenSSH backend) reports it, and as
 * the status shows it once the daemon has named each subflow's interface.
 * The report schema checks what a worker sends: a worker parses the network.
 */
import { z } from 'zod';
import { subflowInfo } from './kernel.js';

const endpoint = z.object({ address: z.string().max(64), port: z.number().int().min(0).max(65535) });

/** Worker → daemon: the session as the worker sees it (the daemon adds interface names). */
export const sessionReport = z.object({
  /** Stable id for the connection's life (survives a daemon restart). */
  id: z.string().regex(/^[0-9a-f]{16}$/),
  pid: z.number().int().positive(),
  /** Empty until authenticated. */
  user: z.string().max(256),
  remote: endpoint,
  local: endpoint,
  startedAt: z.number(),
  authenticatedAt: z.number().optional(),
  transport: z.enum(['mptcp', 'tcp-fallback']),
  /** Open channels by kind ("session", "direct-tcpip", ...). */
  channels: z.record(z.string().max(40), z.number().int().min(0)),
  /** Connection-level byte counters (MPTCP_INFO; TCP counters on fallback). */
  bytesSent: z.number().optional(),
  bytesReceived: z.number().optional(),
  subflows: z.array(subflowInfo).max(64),
  /** When `subflows` was last read from the kernel. */
  sampledAt: z.number(),
});
export type SessionReport = z.infer<typeof sessionReport>;

/** A subflow as the status reports it: the kernel's view plus the interface name. */
export const subflowStatus = subflowInfo.extend({ ifname: z.string().optional() });
export type SubflowStatus = z.infer<typeof subflowStatus>;

/** One SSH connection, served by its own worker process. */
export const sessionStatus = sessionReport.extend({ subflows: z.array(subflowStatus) });
export type SessionStatus = z.infer<typeof sessionStatus>;

/** What the session registry tells the status publisher (it adds seq, time and interface names). */
export type SessionEvent =
  | { type: 'session-opened' | 'session-closed'; session: string; user: string; remote: string }
  | { type: 'subflow-established' | 'subflow-closed'; session: string; local: string; remote: string; ifindex?: number }
  | { type: 'session-sample'; session: string; report: SessionReport };
