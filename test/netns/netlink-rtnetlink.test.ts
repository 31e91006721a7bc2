import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Netns, vethPair, waitFor } from '../../tools/netns.js';
import { requireNetns } from '../../tools/require-netns.js';
import { RtnlMonitor } from '../../src/netlink/rtnetlink.js';
import type { NetChangeKind } from '../../src/netlink/clients.js';
import type { NetSnapshot } from '../../src/netlink/types.js';
import { silentLogger } from '../../src/util/logger.js';
import { ipAddresses, ipLinks, ipRoutes, sortAddresses, sortRoutes, withoutLifetimes } from '../fixtures/rtnl-iproute.js';

/** Compares a snapshot with what iproute2 reads from the same namespace. */
function assertMatchesIproute(ns: Netns, snap: NetSnapshot): void {
  const links = ipLinks(JSON.parse(ns.ipSync('-j', 'link', 'show')));
  assert.deepEqual(snap.links.map(({ kind: _k, ...rest }) => rest), links);
  const ifindex = (name: string): number => links.find((l) => l.name === name)!.index;
  assert.deepEqual(withoutLifetimes(sortAddresses(snap.addresses)), withoutLifetimes(ipAddresses(JSON.parse(ns.ipSync('-j', 'addr', 'show')))));
  const routes = [
    ...ipRoutes(4, JSON.parse(ns.ipSync('-j', '-4', 'route', 'show', 'table', 'all')), ifindex),
    ...ipRoutes(6, JSON.parse(ns.ipSync('-j', '-6', 'route', 'show', 'table', 'all')), ifindex),
  ];
  assert.deepEqual(sortRoutes(snap.routes), sortRoutes(routes));
}

function setup(t: { after: (fn: () => void) => void }): { a: Netns; b: Netns; mon: RtnlMonitor; changes: NetChangeKind[] } {
  const a = Netns.create('rtm');
  const b = Netns.create('rtp');
  const mon = new RtnlMonitor(silentLogger(), { netns: a.name });
  const changes: NetChangeKind[] = [];
  mon.on('change', (k) => changes.push(k));
  t.after(() => {
    mon.close();
    mon.close();
    a.close();
    b.close();
  });
  vethPair(a, 'eth0', b, 'eth0');
  return { a, b, mon, changes };
}

test('the snapshot equals what iproute2 reports, policy-routing tables included', async (t) => {
  if (!requireNetns(t)) return;
  const { a, mon } = setup(t);
  a.ipSync('addr', 'add', '10.50.0.1/24', 'dev', 'eth0');
  a.ipSync('addr', 'add', '2001:db8:50::1/64', 'dev', 'eth0', 'nodad');
  a.ipSync('route', 'add', 'default', 'via', '10.50.0.254', 'table', '100');
  a.ipSync('rule', 'add', 'from', '10.50.0.1', 'table', '100');
  a.ipSync('-6', 'route', 'add', '2001:db8:99::/48', 'via', '2001:db8:50::fe', 'table', '4000');
  await mon.start();
  await mon.start();
  const snap = await mon.snapshot();
  assertMatchesIproute(a, snap);
  assert.ok(snap.routes.some((r) => r.table === 100 && r.dst === null && r.gateway === '10.50.0.254'));
  assert.ok(snap.routes.some((r) => r.table === 4000 && r.dst === '2001:db8:99::' && r.dstLen === 48));
  assert.equal(snap.links.find((l) => l.name === 'eth0')?.kind, 'veth');
});

test('an IPv6 address added without nodad is tentative, then not once DAD is done', async (t) => {
  if (!requireNetns(t)) return;
  const { a, b, mon, changes } = setup(t);
  // DAD finishes in about a second with one probe; keep the test short.
  a.sysctl('net.ipv6.conf.eth0.dad_transmits', '1');
  a.sysctl('net.ipv6.neigh.eth0.retrans_time_ms', '200');
  await mon.start();
  await waitFor('carrier on both ends', async () => (await mon.snapshot()).links.find((l) => l.name === 'eth0')?.lowerUp, 3000);
  assert.ok(b);
  a.ipSync('addr', 'add', '2001:db8:51::1/64', 'dev', 'eth0');
  const first = (await mon.snapshot()).addresses.find((x) => x.address === '2001:db8:51::1');
  assert.equal(first?.flags.tentative, true);
  await waitFor('DAD done', async () => (await mon.snapshot()).addresses.find((x) => x.address === '2001:db8:51::1')?.flags.tentative === false, 5000);
  assert.ok(changes.includes('address'));
});

test('a link set down reads up=false and raises a link change', async (t) => {
  if (!requireNetns(t)) return;
  const { a, mon, changes } = setup(t);
  await mon.start();
  a.ipSync('link', 'set', 'eth0', 'down');
  await waitFor('link change', () => changes.includes('link'), 2000);
  const eth0 = (await mon.snapshot()).links.find((l) => l.name === 'eth0')!;
  assert.deepEqual([eth0.up, eth0.lowerUp], [false, false]);
  a.ipSync('route', 'add', 'unreachable', '10.77.0.0/16');
  await waitFor('route change', () => changes.includes('route'), 2000);
});

test('a notification storm against a tiny buffer overruns without harm, and a snapshot afterwards is exact', async (t) => {
  if (!requireNetns(t)) return;
  const { a, mon, changes } = setup(t);
  let overruns = 0;
  mon.on('overrun', () => overruns++);
  const monTiny = new RtnlMonitor(silentLogger(), { netns: a.name, rcvbuf: 4096 });
  let tinyOverruns = 0;
  monTiny.on('overrun', () => tinyOverruns++);
  t.after(() => monTiny.close());
  await mon.start();
  await monTiny.start();
  const lines: string[] = [];
  for (let i = 0; i < 300; i++) lines.push(`addr add 10.60.${i >> 8}.${i & 255}/32 dev eth0`);
  for (let i = 0; i < 200; i++) lines.push(`addr del 10.60.${i >> 8}.${i & 255}/32 dev eth0`);
  const batch = path.join(os.tmpdir(), `rtnl-storm-${process.pid}.txt`);
  fs.writeFileSync(batch, `${lines.join('\n')}\n`);
  const started = Date.now();
  try {
    // Synchronous on purpose: nothing reads the sockets while the kernel queues ~1000 notifications.
    a.ipSync('-batch', batch);
  } finally {
    fs.rmSync(batch, { force: true });
  }
  await waitFor('overrun on the tiny buffer', () => tinyOverruns > 0, 2000);
  const snap = await monTiny.snapshot();
  assertMatchesIproute(a, snap);
  assert.equal(snap.addresses.filter((x) => x.address.startsWith('10.60.')).length, 100);
  // The socket keeps delivering after the overrun.
  let tinyChanges = 0;
  monTiny.on('change', () => tinyChanges++);
  a.ipSync('addr', 'add', '10.61.0.1/32', 'dev', 'eth0');
  await waitFor('a change after the overrun', () => tinyChanges > 0, 2000);
  t.diagnostic(`storm of ${lines.length} changes: tiny-buffer overruns ${tinyOverruns}, 4 MiB-buffer overruns ${overruns}, change events ${changes.length}, ${Date.now() - started} ms`);
});
