/**
 * The address reflex against the real kernel: the endpoint of a new address
 * exists before the daemon's JS has seen the notification, the daemon owns
 * it like any other, and what the policy refuses or what is not new is left
 * to the daemon.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../tools/netns.js';
import { requireNetns } from '../../tools/require-netns.js';
import { ipEndpoints, twoPaths } from '../../tools/topology.js';
import { startPathManager } from '../helpers/path-manager.js';
import type { AddressReflexFired } from '../../src/netlink/clients.js';
import type { PassResult } from '../../src/daemon/reconciler.js';
import { NETLINK_GENERIC, NETLINK_ROUTE, NetlinkSocket } from '../../src/netlink/socket.js';

const CONFIG = 'pathManager:\n  requireRoute: none\n  interfaces:\n    - { match: "eth1", ignore: true }\n    - { match: "eth*", mode: [subflow, backup] }\n';

/** A client namespace without IPv6, whose late notifications (DAD of link-local addresses) would use up an arming. */
function quietTopology(subnet: number) {
  const topo = twoPaths({ subnet });
  topo.client.sysctl('net.ipv6.conf.all.disable_ipv6', '1');
  topo.client.sysctl('net.ipv6.conf.default.disable_ipv6', '1');
  return topo;
}

test('address reflex: the endpoint is in the kernel before JS sees the address, and the daemon owns it', async (t) => {
  if (!requireNetns(t)) return;
  const topo = quietTopology(41);
  const pmut = await startPathManager(topo.client, CONFIG);
  const passes: PassResult[] = [];
  pmut.reconciler.on('pass', (p) => passes.push(p));
  try {
    await pmut.settle();
    await waitFor('the reflex armed', () => pmut.reconciler.reflexArmed);
    let fired: AddressReflexFired | undefined;
    let inKernelAlready = false;
    pmut.net.once('reflex', (f) => {
      fired = f;
      // Synchronous, before the notification is handed on: what the kernel has now.
      inKernelAlready = ipEndpoints(topo.client).some((e) => e.address === f.address);
    });
    topo.client.ipSync('addr', 'add', '10.41.1.7/24', 'dev', 'eth0');
    await waitFor('the reflex fired', () => fired !== undefined);
    assert.deepEqual({ ...fired, ifindex: 0 }, { ifindex: 0, family: 4, address: '10.41.1.7', errno: 0 });
    assert.ok(inKernelAlready, 'the endpoint existed before the daemon read the notification');
    const ep = ipEndpoints(topo.client).find((e) => e.address === '10.41.1.7');
    assert.equal(ep?.dev, 'eth0');
    assert.equal(ep?.subflow, true);
    assert.equal(ep?.backup, true, 'the flags of the interface rule that matches');

    const last = await pmut.settle();
    assert.deepEqual(last.errors, []);
    assert.equal(last.endpoints.find((e) => e.address === '10.41.1.7')?.owner, 'mpsshd');
    const adds = passes.flatMap((p) => p.changes).filter((c) => c.address === '10.41.1.7');
    assert.deepEqual(adds.map((c) => `${c.op} ${c.to} ${c.ok}`), ['add subflow,backup true'], 'one add, reported once');

    // Owned, so removed with its address like any other.
    topo.client.ipSync('addr', 'del', '10.41.1.7/24', 'dev', 'eth0');
    await waitFor('endpoint removed with its address', () => !ipEndpoints(topo.client).some((e) => e.address === '10.41.1.7'));
  } finally {
    pmut.close();
    topo.close();
  }
});

test('address reflex: what the policy refuses, and what is not new, is left to the daemon', async (t) => {
  if (!requireNetns(t)) return;
  const topo = quietTopology(42);
  const pmut = await startPathManager(topo.client, CONFIG);
  const fired: AddressReflexFired[] = [];
  pmut.net.on('reflex', (f) => fired.push(f));
  try {
    const cases: { name: string; args: string[] }[] = [
      { name: 'an ignored interface', args: ['addr', 'add', '10.42.2.9/24', 'dev', 'eth1'] },
      { name: 'an IPv4 link-local address', args: ['addr', 'add', '169.254.9.9/16', 'dev', 'eth0'] },
      { name: 'an address the link already has (a lifetime refresh)', args: ['addr', 'change', '10.42.1.1/24', 'dev', 'eth0', 'preferred_lft', '3000'] },
      // The policy takes it; the reflex acts only on universe scope and leaves the rest to the fast path.
      { name: 'an address of site scope', args: ['addr', 'add', '10.142.7.50/24', 'dev', 'eth0', 'scope', '200'] },
    ];
    for (const c of cases) {
      await pmut.settle();
      await waitFor(`the reflex armed before ${c.name}`, () => pmut.reconciler.reflexArmed);
      topo.client.ipSync(...c.args);
      const last = await pmut.settle();
      assert.deepEqual(fired, [], `${c.name}: the reflex did not act`);
      assert.deepEqual(last.errors, [], c.name);
    }
    const addresses = ipEndpoints(topo.client).map((e) => e.address).sort();
    assert.deepEqual(addresses, ['10.142.7.50', '10.42.1.1'], 'only the site-scope address became an endpoint, by the fast path');
  } finally {
    pmut.close();
    topo.close();
  }
});

test('address reflex: arming checks what it is given', (t) => {
  if (!requireNetns(t)) return;
  const events = NetlinkSocket.open(NETLINK_ROUTE);
  const target = NetlinkSocket.openQuiet(NETLINK_GENERIC);
  const entry = { ifindex: 2, family: 4 as const, refuseFlags: 0, request: Buffer.alloc(40), addressOffset: 36 };
  try {
    const handle = (events as unknown as { handle: { armReflex(...a: unknown[]): void } }).handle;
    assert.throws(() => handle.armReflex({}, [entry], [], []), /armReflex\(target: NetlinkSocketHandle/, 'a target that is not a netlink socket');
    assert.throws(() => events.armReflex({ target, entries: [{ ...entry, addressOffset: 37 }], refuse: [], known: [] }), /outside the request/, 'an address that would not fit');
    assert.throws(() => events.armReflex({ target, entries: [{ ...entry, addressOffset: 4 }], refuse: [], known: [] }), /outside the request/, 'an address over the netlink header');
    assert.throws(() => events.armReflex({ target, entries: [], refuse: [{ family: 4, prefix: Buffer.alloc(16), len: 8 }], known: [] }), /prefix needs/, 'a prefix of the wrong size');
    assert.throws(() => events.armReflex({ target, entries: [], refuse: [{ family: 6, prefix: Buffer.alloc(16), len: 129 }], known: [] }), /prefix needs/, 'a prefix longer than its address');
    events.armReflex({ target, entries: [entry], refuse: [], known: [] });
    events.armReflex(null);
  } finally {
    events.close();
    target.close();
  }
});
