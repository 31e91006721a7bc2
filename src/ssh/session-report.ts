/**
 * What changes between two reports of a session mean for the status event
 * stream (status/session.ts describes the report). Shared by the built-in
 * server's session registry and the OpenSSH backend, which report sessions
 * alike.
 */
import type { SessionEvent, SessionReport } from '../status/session.js';
export type { SessionEvent, SessionReport };

export interface UnauthenticatedEnd {
  remoteAddress: string;
  reason: string;
  authFailures: number;
  /** False when the worker went without saying why (it crashed). */
  clean: boolean;
}

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

