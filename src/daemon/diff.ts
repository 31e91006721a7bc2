/**
 * Comparing the endpoints the policy wants with the kernel's dump. Pure: the
 * reconciler applies the plan and the kernel's next dump says what really
 * happened. Only endpoints this daemon created (`owned`) are ever changed or
 * removed; anything else belongs to an admin, NetworkManager or mptcpd.
 */
import { MODE_ORDER, type Mode } from '../config/constants.js';
import { CHANGEABLE_FLAGS } from '../netlink/mptcp-constants.js';
import type { EndpointFlag, KernelEndpoint } from '../netlink/types.js';
import { canonicalModes, type DesiredEndpoint } from './policy.js';

/** Identity of an endpoint this daemon created: ids are reused by the kernel, so the address is part of it. */
export function ownershipKey(ep: Pick<KernelEndpoint, 'id' | 'address'>): string {
  return `${ep.id}|${ep.address}`;
}

/** The steps that take the kernel from `actual` to `desired`. */
export interface Plan {
  add: DesiredEndpoint[];
  /** Flags the kernel can change in place (backup, fullmesh). */
  change: { endpoint: KernelEndpoint; to: DesiredEndpoint }[];
  /** Differences the kernel cannot change in place (signal/subflow, device): delete then add. */
  replace: { endpoint: KernelEndpoint; to: DesiredEndpoint }[];
  remove: KernelEndpoint[];
  keep: KernelEndpoint[];
  /** Endpoints not created by this daemon: left alone. */
  foreign: KernelEndpoint[];
  /** Desired addresses already held by a foreign endpoint. */
  blocked: { desired: DesiredEndpoint; by: KernelEndpoint }[];
}

/** Flags this daemon manages; others the kernel reports (implicit, laminar) are not compared. */
const MANAGED: readonly EndpointFlag[] = MODE_ORDER;

function managedFlags(flags: readonly EndpointFlag[]): Mode[] {
  return canonicalModes(flags.filter((f): f is Mode => MANAGED.includes(f)));
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** Computes the plan. `desired` must hold each address at most once. */
export function diff(desired: readonly DesiredEndpoint[], actual: readonly KernelEndpoint[], owned: ReadonlySet<string>): Plan {
  const plan: Plan = { add: [], change: [], replace: [], remove: [], keep: [], foreign: [], blocked: [] };
  const byAddress = new Map<string, KernelEndpoint>();
  for (const a of actual) {
    // An implicit endpoint is the kernel's own record of an address a peer
    // used; adding a real endpoint for that address replaces it, as long as the
    // request names no id, and ours never do (mptcp_pm_nl_append_new_local_addr()
    // in net/mptcp/pm_kernel.c, as of torvalds/linux 1a9239bb4253).
    if (a.flags.includes('implicit') && !owned.has(ownershipKey(a))) continue;
    byAddress.set(a.address, a);
  }
  const wanted = new Set<string>();
  for (const d of desired) {
    wanted.add(d.address);
    const a = byAddress.get(d.address);
    if (a === undefined) {
      plan.add.push(d);
    } else if (!owned.has(ownershipKey(a))) {
      plan.blocked.push({ desired: d, by: a });
    } else {
      const have = managedFlags(a.flags);
      const sameDevice = (a.ifindex ?? 0) === d.ifindex;
      if (sameDevice && sameSet(have, d.flags)) plan.keep.push(a);
      else if (sameDevice && sameSet(fixed(have), fixed(d.flags))) plan.change.push({ endpoint: a, to: d });
      else plan.replace.push({ endpoint: a, to: d });
    }
  }
  for (const a of actual) {
    if (owned.has(ownershipKey(a))) {
      if (!wanted.has(a.address)) plan.remove.push(a);
    } else if (!a.flags.includes('implicit')) {
      plan.foreign.push(a);
    }
  }
  return plan;
}

function fixed(flags: readonly Mode[]): Mode[] {
  return flags.filter((f) => !(CHANGEABLE_FLAGS as readonly EndpointFlag[]).includes(f));
}

/** True when the plan changes nothing in the kernel. */
export function planIsEmpty(plan: Plan): boolean {
  return plan.add.length + plan.change.length + plan.replace.length + plan.remove.length === 0;
}

/** Number of endpoint slots the kernel has left for this daemon: the cap minus what others hold. */
export function slotsForOwn(actual: readonly KernelEndpoint[], owned: ReadonlySet<string>, max: number): number {
  return max - actual.filter((a) => !owned.has(ownershipKey(a))).length;
}
