/**
 * A session as its worker reports it, and what changes between two reports
 * mean for the status event stream. Shared by the built-in server's session
 * registry and the OpenSSH backend, which report sessions alike.
 */
import { z } from 'zod';

const endpoint = z.object({ address: z.string().max(64), port: z.number().int().min(0).max(65535) });

const subflow = z
  .object({
    local: z.object({ family: z.union([z.literal(4), z.literal(6)]), address: z.string().max(64), port: z.number().int() }),
    remote: z.object({ family: z.union([z.literal(4), z.literal(6)]), address: z.string().max(64), port: z.number().int() }),
    ifindex: z.number().int().optional(),
    state: z.string().max(20),
    rttUs: z.number(),
  })
  .passthrough();

/** Worker → daemon: the session as the worker sees it (the daemon adds interface names). */
export const sessionReportSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{16}$/),
  pid: z.number().int().positive(),
  user: z.string().max(256),
  remote: endpoint,
  local: endpoint,
  startedAt: z.number(),
  authenticatedAt: z.number().optional(),
  transport: z.enum(['mptcp', 'tcp-fallback']),
  channels: z.record(z.string().max(40), z.number().int().min(0)),
  bytesSent: z.number().optional(),
  bytesReceived: z.number().optional(),
  subflows: z.array(subflow).max(64),
  sampledAt: z.number(),
});
export type SessionReport = z.infer<typeof sessionReportSchema>;

export interface UnauthenticatedEnd {
  remoteAddress: string;
  reason: string;
  authFailures: number;
  /** False when the worker went without saying why (it crashed). */
  clean: boolean;
}

/** What the registry tells the status publisher (it adds seq, time and interface names). */
export type SessionEvent =
  | { type: 'session-opened' | 'session-closed'; session: string; user: string; remote: string }
  | { type: 'subflow-established' | 'subflow-closed'; session: string; local: string; remote: string; ifindex?: number }
  | { type: 'session-sample'; session: string; report: SessionReport };

function subflowKey(s: SessionReport['subflows'][number]): string {
  return `${s.local.address}:${s.local.port}>${s.remote.address}:${s.remote.port}`;
}

/**
 * What a new report of an announced session tells listeners: the subflows
 * that came and went since `before` (all of them when the session was
 * announced just now), then the sample itself (pure).
 */
export function reportEvents(session: string, before: SessionReport | undefined, report: SessionReport, opening: boolean): SessionEvent[] {
  const endpoint = (e: { address: string; port: number }): string => `${e.address}:${e.port}`;
  const ev = (type: 'subflow-established' | 'subflow-closed', s: SessionReport['subflows'][number]): SessionEvent => ({ type, session, local: endpoint(s.local), remote: endpoint(s.remote), ...(s.ifindex !== undefined ? { ifindex: s.ifindex } : {}) });
  const old = new Map((opening ? [] : before?.subflows ?? []).map((s) => [subflowKey(s), s]));
  const now = new Map(report.subflows.map((s) => [subflowKey(s), s]));
  const out: SessionEvent[] = [];
  for (const [k, s] of now) if (!old.has(k)) out.push(ev('subflow-established', s));
  for (const [k, s] of old) if (!now.has(k)) out.push(ev('subflow-closed', s));
  out.push({ type: 'session-sample', session, report });
  return out;
}

