/**
 * What the daemon believes of a worker. After the privilege drop a worker
 * runs as the user it serves, so everything it says is the user's word: the
 * daemon keeps who logged in (reported once, before the drop), from where
 * and which process, itself, and meters what a worker may send.
 */
import type { SessionReport } from './control-protocol.js';

/** What the daemon knows of a connection without asking its worker. */
export interface KnownSession {
  id: string;
  pid: number;
  remote: { address: string; port: number };
  local: { address: string; port: number };
  acceptedAt: number;
  /** Set once, when the daemon accepted the login. */
  user?: string;
  authenticatedAt?: number;
  /** The public host keys the worker was handed, in its order: a restarted daemon signs with the same ones. */
  hostKeys?: string[];
}

/** A report with every field the daemon knows itself taken from what it knows. */
export function trustedReport(report: SessionReport, known: KnownSession): SessionReport {
  const r: SessionReport = { ...report, id: known.id, pid: known.pid, user: known.user ?? '', remote: known.remote, local: known.local, startedAt: known.acceptedAt };
  if (known.authenticatedAt !== undefined) r.authenticatedAt = known.authenticatedAt;
  else delete r.authenticatedAt;
  return r;
}

/** A token bucket: `rate` messages a second, bursts of `burst`. */
export interface Budget {
  tokens: number;
  at: number;
}

/** Messages a worker may send per second, and in one burst (it answers one poll a second). */
export const WORKER_MESSAGE_RATE = 20;
export const WORKER_MESSAGE_BURST = 50;

/** Spends one token if there is one; pure. */
export function spend(b: Budget, now: number, rate = WORKER_MESSAGE_RATE, burst = WORKER_MESSAGE_BURST): { ok: boolean; budget: Budget } {
  const tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
  if (tokens < 1) return { ok: false, budget: { tokens, at: now } };
  return { ok: true, budget: { tokens: tokens - 1, at: now } };
}

/** Longest line a worker may send (a report with 64 subflows is about 30 KiB). */
export const MAX_WORKER_LINE = 64 * 1024;
