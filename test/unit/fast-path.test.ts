/**
 * The fast path's decisions, as tables: a last snapshot and endpoints, the
 * notifications that came since, and the adds and removes it may apply
 * before the full pass re-reads the kernel.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/loader.js';
import { fastPlan, predictSnapshot, warmUp } from '../../src/daemon/fast-path.js';
import { ownershipKey } from '../../src/daemon/diff.js';
import type { NetChange } from '../../src/netlink/clients.js';
import type { Address, KernelEndpoint, Link, NetSnapshot, Route } from '../../src/netlink/types.js';

const FLAGS = { tentative: false, deprecated: false, temporary: false, dadfailed: false, nodad: false, optimistic: false, permanent: true };
const link = (index: number, name: string, up = true): Link => ({ index, name, up, lowerUp: up, operstate: up ? 'up' : 'down', loopback: false });
/** Up, but the driver reports no carrier (a Wi-Fi link between access points): routes stay. */
const noCarrier = (index: number, name: string): Link => ({ ...link(index, name), lowerUp: false, operstate: 'down' });
const addr = (ifindex: number, address: string, flags = FLAGS): Address => ({ family: 4, address, prefixLen: 24, ifindex, scope: 0, flags });
const defaultRoute = (ifindex: number, prefsrc?: string): Route => ({ family: 4, dst: null, dstLen: 0, table: 254, type: 'unicast', oifs: [ifindex], gateway: '192.0.2.254', ...(prefsrc ? { prefsrc } : {}) });
const ep = (id: number, address: string, ifindex: number): KernelEndpoint => ({ id, family: 4, address, ifindex, flags: ['subflow'] });

const addrAdded = (a: Address): NetChange => ({ kind: 'address', gone: false, address: a });
const addrGone = (a: Address): NetChange => ({ kind: 'address', gone: true, address: a });
const linkState = (l: Link, gone = false): NetChange => ({ kind: 'link', gone, link: l });
const routeAdded = (r: Route): NetChange => ({ kind: 'route', gone: false, route: r });

/** eth0 (2) with 192.0.2.10 and a default route, endpoint 1 owned; wlan0 (3) up with no address. */
function base(): NetSnapshot {
  return { links: [link(2, 'eth0'), link(3, 'wlan0')], addresses: [addr(2, '192.0.2.10')], routes: [defaultRoute(2)] };
}

function cfg(yaml = '') {
  const hold = yaml.includes('linkDownHoldMs') ? '' : '  linkDownHoldMs: 0\n';
  return parseConfig(`pathManager:\n${hold}${yaml}`, 'test.yaml').config.pathManager;
}

/** The plan as text: `+address flags dev N` and `-address`. */
function text(p: ReturnType<typeof fastPlan>): string[] {
  return [...p.add.map((d) => `+${d.address} ${d.flags.join(',')} dev ${d.ifindex}`), ...p.remove.map((e) => `-${e.address}`)];
}

test('fast path: what each notification lets it do before the full pass', () => {
  const owned = [ep(1, '192.0.2.10', 2)];
  const rows: { name: string; yaml?: string; changes: NetChange[]; want: string[]; snap?: NetSnapshot }[] = [
    { name: 'an address on an up link with a route: its endpoint at once', yaml: '  requireRoute: any', changes: [addrAdded(addr(2, '192.0.2.11'))], want: ['+192.0.2.11 subflow dev 2'] },
    { name: 'requireRoute none: any address on an up link', yaml: '  requireRoute: none', changes: [addrAdded(addr(3, '198.51.100.20'))], want: ['+198.51.100.20 subflow dev 3'] },
    { name: 'requireRoute default, no default route via the link yet: wait', changes: [addrAdded(addr(3, '198.51.100.20'))], want: [] },
    {
      name: '...then the default route arrives: the endpoint',
      snap: { ...base(), addresses: [...base().addresses, addr(3, '198.51.100.20')] },
      changes: [routeAdded(defaultRoute(3))],
      want: ['+198.51.100.20 subflow dev 3'],
    },
    { name: 'address and route in one batch', changes: [addrAdded(addr(3, '198.51.100.20')), routeAdded(defaultRoute(3))], want: ['+198.51.100.20 subflow dev 3'] },
    { name: 'a tentative address: not yet', yaml: '  requireRoute: none', changes: [addrAdded(addr(3, '198.51.100.20', { ...FLAGS, tentative: true }))], want: [] },
    { name: 'an address added then deleted in one batch: nothing', yaml: '  requireRoute: none', changes: [addrAdded(addr(3, '198.51.100.20')), addrGone(addr(3, '198.51.100.20'))], want: [] },
    { name: 'an excluded interface: nothing', yaml: '  requireRoute: none\n  interfaces:\n    - { match: "wlan*", ignore: true }', changes: [addrAdded(addr(3, '198.51.100.20'))], want: [] },
    { name: 'the owned address goes: its endpoint goes', changes: [addrGone(addr(2, '192.0.2.10'))], want: ['-192.0.2.10'] },
    { name: 'its link goes down: the endpoint goes', changes: [linkState(link(2, 'eth0', false))], want: ['-192.0.2.10'] },
    { name: 'its link loses carrier: the endpoint goes', changes: [linkState(noCarrier(2, 'eth0'))], want: ['-192.0.2.10'] },
    { name: 'its link loses carrier with a hold time: kept for now', yaml: '  linkDownHoldMs: 5000', changes: [linkState(noCarrier(2, 'eth0'))], want: [] },
    { name: 'its link is deleted: the endpoint goes', changes: [linkState(link(2, 'eth0'), true)], want: ['-192.0.2.10'] },
    { name: 'another link changes: the owned endpoint is not touched', changes: [linkState(link(3, 'wlan0', false))], want: [] },
    { name: 'a notification about the address already there: nothing', changes: [addrAdded(addr(2, '192.0.2.10'))], want: [] },
  ];
  for (const row of rows) {
    const c = cfg(row.yaml ?? '');
    const got = fastPlan({ cfg: c, snap: row.snap ?? base(), changes: row.changes, actual: owned, owned: new Set(owned.map(ownershipKey)), now: 1000, downSince: new Map() });
    assert.deepEqual(text(got), row.want, row.name);
  }
});

test('fast path: nothing when disabled, and never a foreign endpoint', () => {
  const foreign = [ep(7, '192.0.2.10', 2)];
  const input = { snap: base(), actual: foreign, owned: new Set<string>(), now: 0, downSince: new Map<number, number>() };
  assert.deepEqual(text(fastPlan({ ...input, cfg: cfg(), changes: [addrGone(addr(2, '192.0.2.10'))] })), [], 'a foreign endpoint is never removed');
  assert.deepEqual(text(fastPlan({ ...input, cfg: cfg('  enabled: false\n  requireRoute: none'), changes: [addrAdded(addr(3, '198.51.100.20'))] })), [], 'a disabled path manager does nothing');
  assert.deepEqual(text(fastPlan({ ...input, cfg: cfg('  requireRoute: none'), changes: [addrAdded(addr(2, '192.0.2.10'))] })), [], 'an address held by another manager is not added twice');
});

test('predictSnapshot: routes the kernel evicts without a notification go with their link or source address', () => {
  const snap: NetSnapshot = { links: [link(2, 'eth0'), link(3, 'wlan0')], addresses: [addr(2, '192.0.2.10'), addr(3, '198.51.100.20')], routes: [defaultRoute(2), defaultRoute(3, '198.51.100.20')] };
  const down = predictSnapshot(snap, [linkState(link(2, 'eth0', false))]);
  assert.deepEqual(down.routes.map((r) => r.oifs[0]), [3]);
  assert.equal(down.links.find((l) => l.index === 2)?.up, false);
  assert.equal(down.addresses.length, 2, 'IPv4 addresses stay on a link that is down');
  const gone = predictSnapshot(snap, [addrGone(addr(3, '198.51.100.20'))]);
  assert.deepEqual(gone.routes.map((r) => r.oifs[0]), [2]);
  const deleted = predictSnapshot(snap, [linkState(link(3, 'wlan0'), true)]);
  assert.deepEqual(deleted.addresses.map((a) => a.address), ['192.0.2.10']);
  assert.deepEqual(snap.routes.length, 2, 'the last snapshot is not changed');
});

test('warmUp: decides on the real inputs without changing them', () => {
  const snap = base();
  const before = structuredClone(snap);
  const owned = new Set(['1|192.0.2.10']);
  warmUp({ cfg: cfg(), snap, actual: [ep(1, '192.0.2.10', 2)], owned, now: 0, downSince: new Map() }, 50);
  assert.deepEqual(snap, before);
  assert.deepEqual([...owned], ['1|192.0.2.10']);
  assert.doesNotThrow(() => warmUp({ cfg: cfg(), snap: { links: [], addresses: [], routes: [] }, actual: [], owned: new Set(), now: 0, downSince: new Map() }, 5), 'an empty snapshot has nothing to warm');
});
