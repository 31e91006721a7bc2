/**
 * The path manager's decision: which addresses of the host should be MPTCP
 * endpoints, in which mode, and why every other address is left out. A pure
 * function of the config and one snapshot of the host's network state, so it
 * is tested with tables and never depends on the order events arrived in.
 */
import { MAX_CLOSE_TIMEOUT_SECONDS, MODE_ORDER, type Mode } from '../config/constants.js';
import type { InterfaceRule, PathManagerConfig } from '../config/schema.js';
import type { Address, Limits, Link, NetSnapshot, Route } from '../netlink/types.js';
import { globMatch } from './glob.js';
import { MPTCP_PM_ADDR_MAX } from '../netlink/mptcp-constants.js';
import { addressBytes } from '../netlink/mptcp-pm-codec.js';
import type { DesiredEndpoint, Exclusion, ExclusionReason } from '../status/path-manager.js';
export type { DesiredEndpoint, Exclusion, ExclusionReason };

/** What the policy decided for one snapshot. */
export interface PolicyResult {
  /** In priority order: config rule order, then interface index, then address. */
  desired: DesiredEndpoint[];
  excluded: Exclusion[];
}

/** Facts about time that the snapshot alone does not hold. */
export interface PolicyClock {
  now: number;
  /** When each currently unusable link (by ifindex) was first seen unusable. */
  downSince: ReadonlyMap<number, number>;
}

/** Sorts a mode list into the canonical order used in comparisons and logs. */
export function canonicalModes(modes: readonly Mode[]): Mode[] {
  return MODE_ORDER.filter((m) => modes.includes(m));
}

interface LinkVerdict {
  rule: { priority: number; mode: Mode[] } | null;
  reason?: ExclusionReason;
  detail?: string;
}

/** Which rule governs a link: the first matching `interfaces` rule, then the default ignores, then `defaultMode`. */
export function ruleFor(cfg: PathManagerConfig, ifname: string): LinkVerdict {
  for (const [i, rule] of cfg.interfaces.entries()) {
    if (rule.match.some((g) => globMatch(g, ifname))) return fromRule(cfg, rule, i);
  }
  const ignoredBy = cfg.ignoreByDefault.find((g) => globMatch(g, ifname));
  if (ignoredBy !== undefined) return { rule: null, reason: 'interface-ignored', detail: `matches "${ignoredBy}" of ignoreByDefault` };
  return { rule: { priority: cfg.interfaces.length, mode: cfg.defaultMode } };
}

function fromRule(cfg: PathManagerConfig, rule: InterfaceRule, index: number): LinkVerdict {
  if (rule.ignore) return { rule: null, reason: 'interface-ignored', detail: `interfaces[${index}] (${rule.match.join(', ')}) says ignore` };
  return { rule: { priority: index, mode: rule.mode ?? cfg.defaultMode } };
}

/** Whether a link can carry traffic now: administratively up, with carrier, and not dormant. */
export function linkUsable(link: Link): { usable: true } | { usable: false; reason: 'link-down' | 'no-carrier'; detail: string } {
  if (!link.up) return { usable: false, reason: 'link-down', detail: 'interface is administratively down' };
  if (!link.lowerUp) return { usable: false, reason: 'no-carrier', detail: 'no carrier' };
  if (link.operstate !== 'up' && link.operstate !== 'unknown') {
    return { usable: false, reason: 'no-carrier', detail: `operstate ${link.operstate}` };
  }
  return { usable: true };
}

/** Computes the endpoints the config wants for this snapshot. */
export function policy(cfg: PathManagerConfig, snap: NetSnapshot, clock: PolicyClock): PolicyResult {
  const links = new Map(snap.links.map((l) => [l.index, l]));
  const desired: DesiredEndpoint[] = [];
  const excluded: Exclusion[] = [];
  for (const addr of snap.addresses) {
    const link = links.get(addr.ifindex);
    const ifname = link?.name ?? `if${addr.ifindex}`;
    const base = { family: addr.family, address: addr.address, ifindex: addr.ifindex, ifname };
    const verdict = judge(cfg, addr, link, snap.routes, clock);
    if ('reason' in verdict) excluded.push({ ...base, ...verdict });
    else desired.push({ ...base, ...verdict });
  }
  desired.sort(byPriority);
  // The kernel keys endpoints by address: one address on two interfaces is
  // one endpoint, on the interface that comes first.
  const taken = new Map<string, DesiredEndpoint>();
  const unique = desired.filter((d) => {
    const first = taken.get(d.address);
    if (first === undefined) {
      taken.set(d.address, d);
      return true;
    }
    excluded.push({ family: d.family, address: d.address, ifindex: d.ifindex, ifname: d.ifname, reason: 'duplicate-address', detail: `also on ${first.ifname}, which comes first` });
    return false;
  });
  return { desired: unique, excluded };
}

type Judgement = { reason: ExclusionReason; detail?: string } | { flags: Mode[]; priority: number; held: boolean };

function judge(cfg: PathManagerConfig, addr: Address, link: Link | undefined, routes: Route[], clock: PolicyClock): Judgement {
  if (link === undefined) return { reason: 'link-down', detail: 'interface not found' };
  if (link.loopback) return { reason: 'loopback' };
  const verdict = ruleFor(cfg, link.name);
  if (verdict.rule === null) return { reason: verdict.reason ?? 'interface-ignored', ...(verdict.detail ? { detail: verdict.detail } : {}) };
  let held = false;
  const state = linkUsable(link);
  if (!state.usable) {
    const since = clock.downSince.get(link.index) ?? clock.now;
    if (clock.now - since >= cfg.linkDownHoldMs) return { reason: state.reason, detail: state.detail };
    held = true;
  }
  const addrReason = addressReason(cfg, addr);
  if (addrReason) return addrReason;
  if (!hasRoute(cfg.requireRoute, addr, routes)) {
    return { reason: 'no-route', detail: cfg.requireRoute === 'default' ? `no IPv${addr.family} default route via ${link.name}` : `no route via ${link.name}` };
  }
  return { flags: canonicalModes(verdict.rule.mode), priority: verdict.rule.priority, held };
}

/** Why an address itself is unusable (its flags, scope or kind), or null. */
export function addressReason(cfg: PathManagerConfig, addr: Address): { reason: ExclusionReason; detail?: string } | null {
  const a = cfg.addresses;
  if ((addr.family === 4 && !a.ipv4) || (addr.family === 6 && !a.ipv6)) return { reason: 'family-disabled', detail: `addresses.ipv${addr.family} is false` };
  if (addr.scope >= 254) return { reason: 'host-scope' };
  if (addr.flags.dadfailed) return { reason: 'dadfailed', detail: 'duplicate address detection failed' };
  if (addr.flags.tentative) return { reason: 'tentative', detail: 'duplicate address detection still running' };
  if (addr.flags.deprecated) return { reason: 'deprecated', detail: 'preferred lifetime expired' };
  if (isLinkLocal(addr) && !a.linkLocal) return { reason: 'link-local', detail: 'addresses.linkLocal is false' };
  if (addr.family === 6 && isUniqueLocal(addr) && !a.uniqueLocal) return { reason: 'unique-local', detail: 'addresses.uniqueLocal is false' };
  // IFA_F_TEMPORARY shares its bit with IFA_F_SECONDARY, which is harmless on IPv4.
  if (addr.family === 6 && addr.flags.temporary && !a.temporary) return { reason: 'temporary', detail: 'addresses.temporary is false' };
  return null;
}

function isLinkLocal(addr: Address): boolean {
  if (addr.family === 4) return inPrefix(addr, '169.254.0.0', 16);
  return addr.scope === 253 || inPrefix(addr, 'fe80::', 10);
}

function isUniqueLocal(addr: Address): boolean {
  return inPrefix(addr, 'fc00::', 7);
}

/** Whether the address is in prefix/len: bit by bit, as the reflex (address_reflex.cc) compares. */
export function inPrefix(addr: Pick<Address, 'family' | 'address'>, prefix: string, len: number): boolean {
  const family = prefix.includes(':') ? 6 : 4;
  if (addr.family !== family) return false;
  let a: Buffer;
  try {
    a = addressBytes(family, addr.address);
  } catch {
    return false;
  }
  const p = prefixBytes(family, prefix);
  const whole = len >> 3;
  if (!a.subarray(0, whole).equals(p.subarray(0, whole))) return false;
  const rest = len & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[whole] ?? 0) & mask) === ((p[whole] ?? 0) & mask);
}

/** The policy asks about the same few prefixes for every address of every pass: each is parsed once. */
const parsedPrefixes = new Map<string, Buffer>();
function prefixBytes(family: 4 | 6, prefix: string): Buffer {
  let b = parsedPrefixes.get(prefix);
  if (b === undefined) {
    b = addressBytes(family, prefix);
    parsedPrefixes.set(prefix, b);
  }
  return b;
}

/** The `requireRoute` check: does some route in any table lead out through the address's interface? */
export function hasRoute(mode: PathManagerConfig['requireRoute'], addr: Address, routes: Route[]): boolean {
  if (mode === 'none') return true;
  return routes.some(
    (r) =>
      r.family === addr.family &&
      r.type === 'unicast' &&
      r.oifs.includes(addr.ifindex) &&
      (mode === 'any' || r.dst === null || r.dstLen === 0),
  );
}

function byPriority(a: DesiredEndpoint, b: DesiredEndpoint): number {
  return a.priority - b.priority || a.ifindex - b.ifindex || a.family - b.family || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0);
}

/** The kernel's cap on endpoints per namespace. */
export const KERNEL_MAX_ENDPOINTS = MPTCP_PM_ADDR_MAX;

/**
 * Keeps the first `slots` desired endpoints (they are in priority order) and
 * reports the rest as left out, so users see which addresses lost and why
 * instead of the kernel's bare ERANGE.
 */
export function fitToSlots(desired: DesiredEndpoint[], slots: number): { kept: DesiredEndpoint[]; leftOut: Exclusion[] } {
  const n = Math.max(0, slots);
  const kept = desired.slice(0, n);
  const leftOut = desired.slice(n).map((d) => ({
    family: d.family,
    address: d.address,
    ifindex: d.ifindex,
    ifname: d.ifname,
    reason: 'endpoint-limit' as const,
    detail: `the kernel holds at most ${KERNEL_MAX_ENDPOINTS} endpoints and ${n} were free for this daemon; higher-priority addresses took them`,
  }));
  return { kept, leftOut };
}

/**
 * Limits for the in-kernel path manager. `auto` leaves room for one subflow
 * per endpoint towards the peer's address and one towards each address the
 * peer announces, within the kernel's maximum of 8.
 */
export function desiredLimits(cfg: PathManagerConfig, endpointCount: number): Limits {
  if (cfg.limits !== 'auto') return { ...cfg.limits };
  const n = Math.max(endpointCount, 1);
  return { subflows: Math.min(8, Math.max(2, 2 * n)), addAddrAccepted: Math.min(8, Math.max(2, n)) };
}

/** The SSH server's keepalive, which bounds how long a silent client keeps its session. */
export interface ClientAlive {
  /** ClientAliveInterval, seconds; 0 is off. */
  interval: number;
  /** ClientAliveCountMax; 0 is off. */
  countMax: number;
}

/**
 * net.mptcp.close_timeout the config asks for, or null to leave the kernel's.
 * The kernel closes a connection this long after its last subflow went, and
 * that can be the moment a blackout begins (the peer's FIN or RST got
 * through, or the last subflow was a joined one). `auto` therefore covers the
 * whole ClientAlive budget plus one interval, so that ClientAlive, not the
 * kernel, ends a session that stayed away too long. Without a ClientAlive
 * limit there is no budget to derive, and the kernel's value stays.
 */
export function desiredCloseTimeout(cfg: PathManagerConfig, alive: ClientAlive): number | null {
  if (!cfg.enabled) return null;
  if (cfg.closeTimeout !== 'auto') return cfg.closeTimeout;
  if (alive.interval <= 0 || alive.countMax <= 0) return null;
  return Math.min(MAX_CLOSE_TIMEOUT_SECONDS, alive.interval * (alive.countMax + 1));
}
