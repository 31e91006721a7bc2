/**
 * What the address reflex (native/src/address_reflex.h) may do on its own:
 * for each link and family, whether an ordinary new address there would get
 * an endpoint, and with which flags. Computed by running the fast path's own
 * decision on a probe address, so the reflex holds no policy of its own, and
 * armed only where the answer cannot depend on which address arrives:
 *
 * - the address is new: not on any link the daemon knows, not an endpoint,
 *   and not one the daemon was told to treat apart (`overridden`);
 * - it is of universe scope, and carries none of the IFA_F_* flags the
 *   policy refuses (`refuseFlags`, found by asking the policy, bit by bit);
 * - it is in none of the prefixes the policy treats apart (`refuse`, found
 *   the same way from PREFIXES);
 * - the kernel's table has a free slot now, and one beyond every endpoint
 *   wanted now, so the new one displaces nobody;
 * - its link is usable now, not held through a short outage.
 *
 * Everything else (IPv6 addresses before duplicate address detection ends,
 * links that wait for a route, ...) goes through the fast path as before.
 */
import type { PathManagerConfig } from '../config/schema.js';
import type { Mode } from '../config/constants.js';
import type { Address } from '../netlink/types.js';
import { addressFlags } from '../netlink/rt-decode.js';
import { slotsForOwn } from './diff.js';
import { fastPlan, type FastInput } from './fast-path.js';
import { addressReason, KERNEL_MAX_ENDPOINTS, policy } from './policy.js';

/**
 * Addresses that stand for "any ordinary address": from the documentation
 * prefixes (RFC 5737, RFC 3849), the first one the host does not use.
 */
const PROBES: Record<4 | 6, readonly string[]> = { 4: ['192.0.2.1', '198.51.100.1', '203.0.113.1'], 6: ['2001:db8::1', '2001:db8::2'] };

/**
 * Every prefix the policy may judge by: one probe address inside each. A
 * prefix whose probe the policy refuses is left to the daemon.
 */
const PREFIXES: ReadonlyArray<{ family: 4 | 6; address: string; len: number; probe: string }> = [
  { family: 4, address: '169.254.0.0', len: 16, probe: '169.254.1.1' },
  { family: 6, address: 'fe80::', len: 10, probe: 'fe80::1' },
  { family: 6, address: 'fc00::', len: 7, probe: 'fd00::1' },
];

/** IFA_F_* bits an address notification can carry in its header byte. */
const FLAG_BITS = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80];

export interface ReflexEntryPlan {
  ifindex: number;
  ifname: string;
  family: 4 | 6;
  flags: Mode[];
  refuseFlags: number;
}

export interface ReflexPlan {
  entries: ReflexEntryPlan[];
  /** The address each family's decision was made for: the requests are built with it. */
  probes: Record<4 | 6, string>;
  refuse: Array<{ family: 4 | 6; address: string; len: number }>;
  known: Array<{ family: 4 | 6; address: string }>;
}

export const NO_REFLEX: ReflexPlan = { entries: [], probes: { 4: '', 6: '' }, refuse: [], known: [] };

function probe(family: 4 | 6, ifindex: number, address: string, bits = 0): Address {
  return { family, address, prefixLen: family === 4 ? 24 : 64, ifindex, scope: 0, flags: addressFlags(bits) };
}

/** What the reflex may do for the state in `input`; NO_REFLEX when nothing. */
export function reflexPlan(input: Omit<FastInput, 'changes'>, overridden: Iterable<string> = []): ReflexPlan {
  const { cfg, snap, actual, owned } = input;
  if (!cfg.enabled) return NO_REFLEX;
  const clock = { now: input.now, downSince: input.downSince };
  const wanted = policy(cfg, snap, clock).desired;
  if (wanted.length + 1 > slotsForOwn(actual, owned, KERNEL_MAX_ENDPOINTS) || actual.length >= KERNEL_MAX_ENDPOINTS) return NO_REFLEX;
  const taken = new Set([...snap.addresses.map((a) => a.address), ...actual.map((e) => e.address)]);
  const p4 = PROBES[4].find((a) => !taken.has(a));
  const p6 = PROBES[6].find((a) => !taken.has(a));
  if (p4 === undefined || p6 === undefined) return NO_REFLEX;
  const probes = { 4: p4, 6: p6 };
  // What the policy thinks of an address's own flags and prefix does not depend on its link.
  const refuseFlags = { 4: refusedBits(cfg, 4, p4), 6: refusedBits(cfg, 6, p6) };

  const entries: ReflexEntryPlan[] = [];
  for (const link of snap.links) {
    for (const family of [4, 6] as const) {
      const add = fastPlan({ ...input, changes: [{ kind: 'address', gone: false, address: probe(family, link.index, probes[family]) }] }).add;
      const d = add.find((x) => x.address === probes[family]);
      if (d === undefined || d.held) continue;
      entries.push({ ifindex: link.index, ifname: d.ifname, family, flags: [...d.flags], refuseFlags: refuseFlags[family] });
    }
  }
  if (entries.length === 0) return NO_REFLEX;
  const refuse = PREFIXES.filter((p) => addressReason(cfg, probe(p.family, 0, p.probe)) !== null).map(({ family, address, len }) => ({ family, address, len }));
  const known = [...new Set([...taken, ...overridden])].map((address) => ({ family: address.includes(':') ? (6 as const) : (4 as const), address }));
  return { entries, probes, refuse, known };
}

/** The IFA_F_* bits with which the policy would refuse an otherwise ordinary address. */
function refusedBits(cfg: PathManagerConfig, family: 4 | 6, address: string): number {
  return FLAG_BITS.filter((bit) => addressReason(cfg, probe(family, 0, address, bit)) !== null).reduce((m, b) => m | b, 0);
}
