/**
 * The fast path: what the reconciler may do the moment a notification
 * arrives, before its full pass re-reads the kernel. The notification's own
 * object is laid over the last snapshot, the same policy runs on the result,
 * and only adds and removes of the addresses that object touches are taken.
 * Pure: the reconciler applies the answer and its full pass, which always
 * follows, verifies and corrects it. A wrong guess can therefore last one
 * pass, never longer.
 */
import type { PathManagerConfig } from '../config/schema.js';
import type { NetChange } from '../netlink/clients.js';
import type { KernelEndpoint, NetSnapshot, Route } from '../netlink/types.js';
import { diff, slotsForOwn } from './diff.js';
import { fitToSlots, KERNEL_MAX_ENDPOINTS, policy, type DesiredEndpoint } from './policy.js';

/** The snapshot after `changes`, applied in the order the kernel sent them to `snap`. */
export function predictSnapshot(snap: NetSnapshot, changes: readonly NetChange[]): NetSnapshot {
  let { links, addresses, routes } = snap;
  for (const ch of changes) {
    switch (ch.kind) {
      case 'link': {
        const idx = ch.link.index;
        links = links.filter((l) => l.index !== idx);
        if (!ch.gone) links.push(ch.link);
        else addresses = addresses.filter((a) => a.ifindex !== idx);
        // IPv4 routes through a link that goes down or away are evicted
        // without an RTM_DELROUTE (kernel commit 7c6bb7d2faaf, "net/ipv6: Add
        // knob to skip DELROUTE message on device down", says so): forget them here.
        if (ch.gone || !ch.link.up) routes = routes.filter((r) => !r.oifs.includes(idx));
        break;
      }
      case 'address': {
        const { address: a } = ch;
        addresses = addresses.filter((x) => !(x.ifindex === a.ifindex && x.address === a.address));
        if (!ch.gone) addresses.push(a);
        // Routes that use the address as their source go with it, also unannounced.
        else routes = routes.filter((r) => r.prefsrc !== a.address);
        break;
      }
      case 'route': {
        const key = routeKey(ch.route);
        routes = routes.filter((r) => routeKey(r) !== key);
        if (!ch.gone) routes.push(ch.route);
        break;
      }
    }
  }
  return { links, addresses, routes };
}

/** A route's identity as far as the policy cares: where it goes and through what. */
function routeKey(r: Route): string {
  return `${r.family} ${r.table} ${r.type} ${r.dst ?? 'default'}/${r.dstLen} ${[...r.oifs].sort((a, b) => a - b).join(',')}`;
}

/** What the fast path needs to decide. */
export interface FastInput {
  cfg: PathManagerConfig;
  /** The snapshot of the last full pass. */
  snap: NetSnapshot;
  changes: readonly NetChange[];
  /** predictSnapshot(snap, changes), when the caller has worked it out already. */
  predicted?: NetSnapshot;
  /** The kernel's endpoints: from the last full pass, or a fresh dump. */
  actual: readonly KernelEndpoint[];
  owned: ReadonlySet<string>;
  now: number;
  downSince: ReadonlyMap<number, number>;
  adjust?: (desired: DesiredEndpoint[]) => DesiredEndpoint[];
}

/** Adds and removes the fast path may apply at once; both empty when there is nothing to do. */
export interface FastPlan {
  add: DesiredEndpoint[];
  remove: KernelEndpoint[];
}

/**
 * Decides the fast path's adds and removes: the plan the full pass would
 * make for the predicted snapshot, cut down to the addresses the changes
 * touch. Flag changes and replacements are left to the full pass: they
 * are rare and not what a link or address event is waiting for.
 */
export function fastPlan(input: FastInput): FastPlan {
  const { cfg, snap, changes, actual, owned } = input;
  if (!cfg.enabled || changes.length === 0) return { add: [], remove: [] };
  const predicted = input.predicted ?? predictSnapshot(snap, changes);
  const pol = policy(cfg, predicted, { now: input.now, downSince: input.downSince });
  const desired = input.adjust ? input.adjust(pol.desired) : pol.desired;
  const { kept } = fitToSlots(desired, slotsForOwn(actual, owned, KERNEL_MAX_ENDPOINTS));
  const plan = diff(kept, actual, owned);
  const touched = touchedAddresses(snap, predicted, changes);
  return {
    add: plan.add.filter((d) => touched.has(d.address)),
    remove: plan.remove.filter((e) => touched.has(e.address)),
  };
}

/** Addresses a change is about: its own, and every address on a link it names, before or after. */
function touchedAddresses(before: NetSnapshot, after: NetSnapshot, changes: readonly NetChange[]): Set<string> {
  const ifindexes = new Set<number>();
  const out = new Set<string>();
  for (const ch of changes) {
    if (ch.kind === 'link') ifindexes.add(ch.link.index);
    else if (ch.kind === 'address') out.add(ch.address.address);
    else for (const i of ch.route.oifs) ifindexes.add(i);
  }
  for (const a of [...before.addresses, ...after.addresses]) if (ifindexes.has(a.ifindex)) out.add(a.address);
  return out;
}

/**
 * Runs the decision on the real config and snapshot with notifications that
 * reverse what is there, so the code is compiled and optimised before the
 * first real one: cold, one decision takes about a millisecond, warm a few
 * microseconds. Pure, like fastPlan: nothing is applied.
 */
export function warmUp(input: Omit<FastInput, 'changes'>, rounds: number): void {
  const { addresses, links, routes } = input.snap;
  const sets: NetChange[][] = [];
  for (const address of addresses.slice(0, 2)) sets.push([{ kind: 'address', gone: false, address }], [{ kind: 'address', gone: true, address }]);
  for (const link of links.slice(0, 2)) sets.push([{ kind: 'link', gone: false, link: { ...link, up: !link.up } }]);
  for (const route of routes.slice(0, 2)) sets.push([{ kind: 'route', gone: true, route }]);
  if (sets.length === 0) return;
  for (let i = 0; i < rounds; i++) fastPlan({ ...input, changes: sets[i % sets.length] as NetChange[] });
}
