/**
 * What the address reflex is armed with, as tables, and the property that
 * makes it safe: wherever it is armed, the fast path itself would add the
 * same endpoint, with the same flags, for any address the reflex accepts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/loader.js';
import { fastPlan, type FastInput } from '../../src/daemon/fast-path.js';
import { inPrefix } from '../../src/daemon/policy.js';
import { reflexPlan, type ReflexPlan } from '../../src/daemon/reflex.js';
import { ownershipKey } from '../../src/daemon/diff.js';
import type { Address, KernelEndpoint, NetSnapshot } from '../../src/netlink/types.js';
import { addressFlags } from '../../src/netlink/rt-decode.js';
import { addr, defaultRoute, link, snapshot } from '../helpers/snapshots.js';

function cfg(yaml = '') {
  return parseConfig(`pathManager:\n  linkDownHoldMs: 0\n${yaml}`, 'test.yaml').config.pathManager;
}

const ep = (id: number, address: string, ifindex: number): KernelEndpoint => ({ id, family: address.includes(':') ? 6 : 4, address, ifindex, flags: ['subflow'] });

/** eth0 (2) with 10.1.0.2, its endpoint owned, default routes of both families; wlan0 (3) up, nothing on it yet. */
function base(): { snap: NetSnapshot; actual: KernelEndpoint[] } {
  return {
    snap: snapshot([link(1, 'lo', { loopback: true }), link(2, 'eth0'), link(3, 'wlan0')], [addr(2, '10.1.0.2'), addr(1, '127.0.0.1', { scope: 254 })], [defaultRoute(4, 2), defaultRoute(6, 2), defaultRoute(4, 3), defaultRoute(6, 3)]),
    actual: [ep(1, '10.1.0.2', 2)],
  };
}

function input(yaml: string, over: Partial<{ snap: NetSnapshot; actual: KernelEndpoint[] }> = {}): Omit<FastInput, 'changes'> {
  const b = { ...base(), ...over };
  return { cfg: cfg(yaml), snap: b.snap, actual: b.actual, owned: new Set(b.actual.map(ownershipKey)), now: 1000, downSince: new Map() };
}

/** Entries as text: `ifindex/family flags refuse=0x..`. */
function entries(p: ReflexPlan): string[] {
  return p.entries.map((e) => `${e.ifname}/${e.family} ${e.flags.join(',')} refuse=0x${e.refuseFlags.toString(16)}`);
}

test('reflex: what it is armed with, case by case', () => {
  const many = Array.from({ length: 7 }, (_, i) => ep(10 + i, `10.9.0.${i + 1}`, 2));
  const rows: { name: string; yaml?: string; over?: Partial<{ snap: NetSnapshot; actual: KernelEndpoint[] }>; held?: boolean; want: string[] }[] = [
    {
      name: 'defaults: every usable link, both families; never the loopback',
      // IPv6 refuses temporary (0x01), dadfailed (0x08), deprecated (0x20), tentative (0x40); IPv4 has no temporary bit.
      want: ['eth0/4 subflow refuse=0x68', 'eth0/6 subflow refuse=0x69', 'wlan0/4 subflow refuse=0x68', 'wlan0/6 subflow refuse=0x69'],
    },
    { name: 'the mode of the rule that matches', yaml: '  interfaces:\n    - { match: "wlan*", mode: [backup] }', want: ['eth0/4 subflow refuse=0x68', 'eth0/6 subflow refuse=0x69', 'wlan0/4 backup refuse=0x68', 'wlan0/6 backup refuse=0x69'] },
    { name: 'an ignored interface: not armed', yaml: '  interfaces:\n    - { match: "wlan*", ignore: true }', want: ['eth0/4 subflow refuse=0x68', 'eth0/6 subflow refuse=0x69'] },
    { name: 'IPv6 off: IPv4 only', yaml: '  addresses: { ipv6: false }', want: ['eth0/4 subflow refuse=0x68', 'wlan0/4 subflow refuse=0x68'] },
    { name: 'temporary addresses allowed: not refused', yaml: '  addresses: { temporary: true }', want: ['eth0/4 subflow refuse=0x68', 'eth0/6 subflow refuse=0x68', 'wlan0/4 subflow refuse=0x68', 'wlan0/6 subflow refuse=0x68'] },
    {
      name: 'requireRoute default: only links with a default route of the family',
      over: { snap: { ...base().snap, routes: [defaultRoute(4, 2), defaultRoute(6, 3)] } },
      want: ['eth0/4 subflow refuse=0x68', 'wlan0/6 subflow refuse=0x69'],
    },
    {
      name: 'a link down (even inside the hold time): not armed',
      held: true,
      over: { snap: { ...base().snap, links: [link(1, 'lo', { loopback: true }), link(2, 'eth0'), link(3, 'wlan0', { up: false, lowerUp: false, operstate: 'down' })] } },
      want: ['eth0/4 subflow refuse=0x68', 'eth0/6 subflow refuse=0x69'],
    },
    {
      name: 'no free slot beyond the endpoints wanted now: nothing armed',
      over: { snap: { ...base().snap, addresses: [...base().snap.addresses, ...many.map((e) => addr(2, e.address))] }, actual: [ep(1, '10.1.0.2', 2), ...many] },
      want: [],
    },
    { name: 'the kernel\'s table full now (stale endpoints the pass will remove): nothing armed', over: { actual: [ep(1, '10.1.0.2', 2), ...many] }, want: [] },
    { name: 'the path manager disabled: nothing armed', yaml: '  enabled: false', want: [] },
  ];
  for (const r of rows) {
    const inp = input(r.yaml ?? '', r.over);
    // wlan0 went down 1 ms ago, well inside a one-minute hold: the policy still wants its endpoints.
    if (r.held) Object.assign(inp, { cfg: { ...inp.cfg, linkDownHoldMs: 60000 }, downSince: new Map([[3, 999]]) });
    assert.deepEqual(entries(reflexPlan(inp)), r.want, r.name);
  }
});

test('reflex: known addresses and refused prefixes follow the config', () => {
  const p = reflexPlan(input(''), ['10.7.7.7']);
  assert.deepEqual(
    p.known.map((k) => k.address).sort(),
    ['10.1.0.2', '10.7.7.7', '127.0.0.1'],
    'addresses on links, endpoints and addresses with settings of their own are not new',
  );
  assert.deepEqual(p.refuse.map((r) => `${r.address}/${r.len}`), ['169.254.0.0/16', 'fe80::/10', 'fc00::/7']);
  const open = reflexPlan(input('  addresses: { linkLocal: true, uniqueLocal: true }'));
  assert.deepEqual(open.refuse, [], 'with link-local and unique-local addresses allowed, no prefix is refused');
});

test('reflex: a probe address the host uses is not used as the probe', () => {
  const b = base();
  const snap = { ...b.snap, addresses: [...b.snap.addresses, addr(2, '192.0.2.1'), addr(2, '2001:db8::1')] };
  const p = reflexPlan(input('', { snap }));
  assert.deepEqual(p.probes, { 4: '198.51.100.1', 6: '2001:db8::2' });
  assert.equal(p.entries.length, 4);
});

/**
 * The native side (address_reflex.cc) accepts an address when its link and
 * family are armed, its scope is universe, it has none of the refused flag
 * bits, it is in no refused prefix and it is not known. Written again here
 * to check that the policy agrees with every such acceptance.
 */
function reflexAccepts(p: ReflexPlan, a: Address, bits: number): { flags: string[] } | null {
  const e = p.entries.find((x) => x.ifindex === a.ifindex && x.family === a.family);
  if (!e || a.scope !== 0 || (bits & e.refuseFlags) !== 0) return null;
  if (p.refuse.some((r) => inPrefix(a, r.address, r.len))) return null;
  if (p.known.some((k) => k.address === a.address)) return null;
  return { flags: e.flags };
}

test('reflex: wherever it would act, the fast path does the same', () => {
  const configs = ['', '  addresses: { temporary: true, uniqueLocal: true }', '  interfaces:\n    - { match: "wlan*", mode: [signal, backup] }', '  requireRoute: none', '  addresses: { linkLocal: true }'];
  const addresses = ['10.1.0.9', '172.16.5.5', '169.254.3.3', '100.64.1.1', '2001:db8:1::5', 'fd12::1', 'fe80::99', '2a00:1450::1', 'fc00::3', '10.1.0.2'];
  const bitsList = [0, 0x01, 0x04, 0x08, 0x20, 0x40, 0x80, 0x02];
  let acted = 0;
  for (const yaml of configs) {
    const inp = input(yaml);
    const p = reflexPlan(inp, []);
    for (const ifindex of [2, 3]) {
      for (const address of addresses) {
        for (const bits of bitsList) {
          const a: Address = { ...addr(ifindex, address), flags: addressFlags(bits) };
          const reflex = reflexAccepts(p, a, bits);
          if (reflex === null) continue;
          acted++;
          const fast = fastPlan({ ...inp, changes: [{ kind: 'address', gone: false, address: a }] }).add.find((d) => d.address === address);
          assert.ok(fast, `${yaml || 'defaults'}: the reflex would add ${address} (bits 0x${bits.toString(16)}) on ${ifindex}, the fast path would not`);
          assert.deepEqual(fast.flags, reflex.flags, `${address}: same flags`);
        }
      }
    }
  }
  assert.ok(acted > 50, `the property was exercised (${acted} cases)`);
});
