/**
 * Per-source limits, after sshd 9.8's PerSourceMaxStartups and
 * PerSourcePenalties: a source (an IPv4 address, an IPv6 /64 by default)
 * that keeps connecting without logging in earns penalty time for each such
 * connection; once its penalty passes `min` it is turned away at accept,
 * before any identification line is read or worker spent, until the penalty
 * runs out. One flooding source then cannot hold the server's pre-login
 * slots (MaxStartups) against everyone else. Pure: the caller keeps the
 * state and the clock.
 */
import net from 'node:net';
import { parseSshdTime } from './limits.js';

/** How a connection that never logged in ended. */
export type PenaltyEvent = 'crash' | 'authfail' | 'noauth' | 'grace-exceeded';

export interface PenaltyConfig {
  enabled: boolean;
  /** Seconds added per event. */
  crash: number;
  authfail: number;
  noauth: number;
  'grace-exceeded': number;
  /** A source is refused once its penalty exceeds `min` seconds; it never exceeds `max`. */
  min: number;
  max: number;
  /** Sources remembered at most; past it the oldest penalties are forgotten. */
  maxSources: number;
}

/** sshd 9.8's defaults. */
export const DEFAULT_PENALTIES: PenaltyConfig = { enabled: true, crash: 90, authfail: 5, noauth: 1, 'grace-exceeded': 10, min: 15, max: 600, maxSources: 65536 };

/** Parses `no`, `yes` or sshd's `crash:90s authfail:5s ... min:15s max:10m`; a string says what is wrong. */
export function parsePenalties(text: string): PenaltyConfig | string {
  const t = text.trim().toLowerCase();
  if (t === 'no') return { ...DEFAULT_PENALTIES, enabled: false };
  if (t === 'yes' || t === '') return { ...DEFAULT_PENALTIES };
  const out: PenaltyConfig = { ...DEFAULT_PENALTIES };
  for (const word of t.split(/\s+/)) {
    const m = /^([a-z-]+[46]?):(.+)$/.exec(word);
    if (!m) return `"${word}": expected name:value`;
    const [, name, value] = m as unknown as [string, string, string];
    if (name === 'max-sources4' || name === 'max-sources6') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) return `"${word}": expected a positive count`;
      out.maxSources = n;
      continue;
    }
    if (name === 'overflow' || name === 'overflow6') continue; // mpsshd forgets the oldest source instead
    if (!['crash', 'authfail', 'noauth', 'grace-exceeded', 'min', 'max'].includes(name)) return `"${name}": unknown penalty (crash, authfail, noauth, grace-exceeded, min, max)`;
    const secs = value === '0' ? 0 : parseSshdTime(value);
    if (secs === null) return `"${word}": invalid time`;
    out[name as 'min'] = secs;
  }
  return out;
}

/** The key a source is counted under: the address masked to /32 (IPv4) or /`v6Bits` (IPv6). */
export function sourceKey(address: string, v6Bits = 64): string {
  const a = address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
  if (!net.isIPv6(a)) return a;
  const groups = expandV6(a);
  const keep = Math.floor(v6Bits / 16);
  return `${groups.slice(0, keep).join(':')}::/${v6Bits}`;
}

function expandV6(a: string): string[] {
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : Array(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16).toString(16));
}

/** Penalty expiry per source, in ms since the epoch. */
export type PenaltyState = Map<string, number>;

/** Adds an event's penalty to `key`; returns the seconds now owed. Forgets the oldest source past maxSources. */
export function penalise(state: PenaltyState, cfg: PenaltyConfig, key: string, event: PenaltyEvent, now: number): number {
  if (!cfg.enabled || cfg[event] <= 0) return Math.max(0, ((state.get(key) ?? now) - now) / 1000);
  const start = Math.max(now, state.get(key) ?? now);
  const until = Math.min(start + cfg[event] * 1000, now + cfg.max * 1000);
  state.delete(key); // re-inserted last: Map order is then oldest-updated first
  state.set(key, until);
  while (state.size > cfg.maxSources) state.delete(state.keys().next().value as string);
  return (until - now) / 1000;
}

/** Whether `key` is refused now; expired entries are dropped as they are met. */
export function penalised(state: PenaltyState, cfg: PenaltyConfig, key: string, now: number): boolean {
  if (!cfg.enabled) return false;
  const until = state.get(key);
  if (until === undefined) return false;
  if (until <= now) {
    state.delete(key);
    return false;
  }
  return until - now > cfg.min * 1000;
}

/** How a connection that never authenticated is judged, from how it ended. */
export function penaltyEventFor(end: { authenticated: boolean; reason: string; authFailures: number; clean: boolean }): PenaltyEvent | undefined {
  if (end.authenticated) return undefined;
  if (!end.clean) return 'crash';
  if (/grace time/i.test(end.reason)) return 'grace-exceeded';
  return end.authFailures > 0 ? 'authfail' : 'noauth';
}
