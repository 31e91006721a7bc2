/**
 * What changed between two reconcile passes, as status events: interfaces
 * going up or down, endpoints added or removed, and the pass itself. Pure.
 */
import type { EventBody } from './events.js';
import type { PassResult } from './path-manager.js';

/** Events for `next`, compared with the pass before it (null for the first). */
export function passEvents(prev: PassResult | null, next: PassResult): EventBody[] {
  const out: EventBody[] = [];
  const upBefore = new Map((prev?.net?.links ?? []).map((l) => [l.index, l.up && l.lowerUp]));
  for (const l of next.net?.links ?? []) {
    const up = l.up && l.lowerUp;
    const was = upBefore.get(l.index);
    if (prev !== null && was !== undefined && was !== up) out.push({ type: up ? 'interface-up' : 'interface-down', ifindex: l.index, ifname: l.name });
    if (prev !== null && was === undefined && up) out.push({ type: 'interface-up', ifindex: l.index, ifname: l.name });
  }
  const key = (e: { id: number; address: string }) => `${e.id}|${e.address}`;
  const before = new Map((prev?.endpoints ?? []).map((e) => [key(e), e]));
  const after = new Map(next.endpoints.map((e) => [key(e), e]));
  for (const [k, e] of after) if (!before.has(k)) out.push({ type: 'endpoint-added', id: e.id, address: e.address, ...(e.ifname ? { ifname: e.ifname } : {}) });
  for (const [k, e] of before) if (!after.has(k)) out.push({ type: 'endpoint-removed', id: e.id, address: e.address, ...(e.ifname ? { ifname: e.ifname } : {}) });
  out.push({ type: 'reconcile', pass: next.seq, durationMs: next.durationMs, changes: next.changes.length, errors: next.errors.length });
  return out;
}
