/**
 * An SSH session as the status shows it, and as its worker (or the OpenSSH
 * backend) reports it before the daemon names each subflow's interface.
 */
import { z } from 'zod';
import { subflowEnd, subflowInfo } from './kernel.js';

const hostPort = z.object({ address: z.string(), port: z.number().int() });

/** A subflow as the status reports it: the kernel's view plus the interface name. */
export const subflowStatus = subflowInfo.extend({ ifname: z.string().optional() });
export type SubflowStatus = z.infer<typeof subflowStatus>;

/** One SSH connection, served by its own worker process. */
export const sessionStatus = z.object({
  /** Stable id for the connection's life (survives a daemon restart). */
  id: z.string(),
  pid: z.number().int(),
  /** Empty until authenticated. */
  user: z.string(),
  remote: hostPort,
  local: hostPort,
  startedAt: z.number(),
  authenticatedAt: z.number().optional(),
  transport: z.enum(['mptcp', 'tcp-fallback']),
  /** Open channels by kind ("session", "direct-tcpip", ...). */
  channels: z.record(z.string(), z.number().int()),
  /** Connection-level byte counters (MPTCP_INFO; TCP counters on fallback). */
  bytesSent: z.number().optional(),
  bytesReceived: z.number().optional(),
  subflows: z.array(subflowStatus),
  /** When `subflows` was last read from the kernel. */
  sampledAt: z.number(),
});
export type SessionStatus = z.infer<typeof sessionStatus>;

const reportedEnd = z.object({ address: z.string().max(64), port: z.number().int().min(0).max(65535) });
const reportedSubflowEnd = subflowEnd.extend({ address: z.string().max(64) });

/**
 * Worker → daemon: the session without interface names, within the bounds
 * a worker's message must keep (a worker parses the network).
 */
export const sessionReport = sessionStatus.extend({
  id: z.string().regex(/^[0-9a-f]{16}$/),
  pid: z.number().int().positive(),
  user: z.string().max(256),
  remote: reportedEnd,
  local: reportedEnd,
  channels: z.record(z.string().max(40), z.number().int().min(0)),
  subflows: z.array(subflowInfo.extend({ local: reportedSubflowEnd, remote: reportedSubflowEnd })).max(64),
});
export type SessionReport = z.infer<typeof sessionReport>;

/** What the session registry tells the status publisher (it adds seq, time and interface names). */
export type SessionEvent =
  | { type: 'session-opened' | 'session-closed'; session: string; user: string; remote: string }
  | { type: 'subflow-established' | 'subflow-closed'; session: string; local: string; remote: string; ifindex?: number }
  | { type: 'session-sample'; session: string; report: SessionReport };
