/**
 * Events of real MPTCP connections between python3 peers in two namespaces
 * joined by two veth pairs (test/netns/mptcp-pm-peer.ts), as MptcpPmClient
 * decodes them, while the same client drives the endpoints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Netns, waitFor } from '../../tools/netns.js';
import { requireNetns } from '../../tools/require-netns.js';
import { MptcpPmClient } from '../../src/netlink/mptcp-pm.js';
import { NETLINK_GENERIC } from '../../src/netlink/genl.js';
import { NetlinkSocket } from '../../src/netlink/socket.js';
import type { MptcpPmEvent } from '../../src/netlink/clients.js';
import { silentLogger } from '../../src/util/logger.js';
import { PyPeer, twoPathLab } from '../../tools/mptcp-pm-peer.js';

function ifindex(ns: Netns, name: string): number {
  return (JSON.parse(ns.ipSync('-j', 'link', 'show', name)) as { ifindex: number }[])[0]!.ifindex;
}

/** A started client of `ns` and the events it has emitted so far. */
async function watch(ns: Netns): Promise<{ pm: MptcpPmClient; events: MptcpPmEvent[]; find: (type: string, pred?: (e: MptcpPmEvent) => boolean) => Promise<MptcpPmEvent> }> {
  const pm = new MptcpPmClient(silentLogger(), { netns: ns.name });
  const events: MptcpPmEvent[] = [];
  pm.on('pmEvent', (e) => events.push(e));
  await pm.start();
  const find = (type: string, pred: (e: MptcpPmEvent) => boolean = () => true): Promise<MptcpPmEvent> =>
    waitFor(`${type} event in ${ns.name} (have ${JSON.stringify(events)})`, () => events.find((e) => e.type === type && pred(e)), 5000);
  return { pm, events, find };
}

test('events of a two-path connection: created, established, announced, subflows, priority, removal, close', async (t) => {
  if (!requireNetns(t)) return;
  const lab = twoPathLab('pmv');
  const peers: PyPeer[] = [];
  const clients: MptcpPmClient[] = [];
  try {
    const a = await watch(lab.a);
    const b = await watch(lab.b);
    clients.push(a.pm, b.pm);
    await a.pm.setLimits({ subflows: 4, addAddrAccepted: 4 });
    await b.pm.setLimits({ subflows: 4, addAddrAccepted: 4 });
    const eth1 = ifindex(lab.a, 'eth1');
    await a.pm.addEndpoint({ id: 3, family: 4, address: '10.0.2.1', ifindex: eth1, flags: ['subflow'] });
    await b.pm.addEndpoint({ id: 4, family: 4, address: '10.0.2.2', port: 7001, flags: ['signal'] });
    assert.deepEqual(await b.find('listener_created', (e) => e.sport === 7001), { type: 'listener_created', family: 4, saddr: '10.0.2.2', sport: 7001 });

    const server = await PyPeer.server(lab.b, '0.0.0.0', 7000);
    peers.push(server);
    const { peer: client, localPort } = await PyPeer.client(lab.a, '10.0.1.2', 7000);
    peers.push(client);

    const created = await a.find('created');
    const token = created.token!;
    assert.deepEqual(created, { type: 'created', token, family: 4, saddr: '10.0.1.1', daddr: '10.0.1.2', sport: localPort, dport: 7000, locId: 0, remId: 0 });
    assert.deepEqual(await a.find('established'), { ...created, type: 'established' });
    const sCreated = await b.find('created');
    assert.equal(sCreated.serverSide, true);
    assert.deepEqual([sCreated.saddr, sCreated.sport, sCreated.daddr, sCreated.dport], ['10.0.1.2', 7000, '10.0.1.1', localPort]);
    const sToken = sCreated.token!;

    assert.deepEqual(await a.find('announced'), { type: 'announced', token, remId: 4, daddr: '10.0.2.2', dport: 7001 });
    // The subflow endpoint's subflow, bound to eth1, towards the server's first address...
    const sf1 = await a.find('sub_established', (e) => e.locId === 3 && e.remId === 0);
    assert.deepEqual({ ...sf1, sport: 0 }, { type: 'sub_established', token, family: 4, saddr: '10.0.2.1', daddr: '10.0.1.2', sport: 0, dport: 7000, locId: 3, remId: 0, backup: false, ifindex: eth1 });
    // ...and the one to the announced address.
    const sf2 = await a.find('sub_established', (e) => e.remId === 4);
    assert.deepEqual([sf2.daddr, sf2.dport], ['10.0.2.2', 7001]);
    const bSub = await b.find('sub_established', (e) => e.sport === 7001);
    assert.deepEqual([bSub.token, bSub.saddr, bSub.daddr, bSub.locId], [sToken, '10.0.2.2', sf2.saddr, 4]);

    // Marking the endpoint backup sends MP_PRIO on its subflows: the server reports the new priority.
    await a.pm.setEndpointFlags({ id: 3, family: 4, address: '10.0.2.1' }, ['backup']);
    const prio = await b.find('sub_priority');
    assert.equal(prio.token, sToken);
    assert.equal(prio.backup, true);
    assert.equal(prio.daddr, '10.0.2.1');

    client.send('ping');
    await client.waitLine('pong');

    // Deleting the endpoint closes its subflows and tells the peer (RM_ADDR).
    await a.pm.deleteEndpoint({ id: 3, family: 4, address: '10.0.2.1' });
    assert.equal((await a.find('sub_closed', (e) => e.locId === 3 && e.remId === 0)).token, token);
    assert.deepEqual(await b.find('removed'), { type: 'removed', token: sToken, remId: 3 });

    await client.close();
    assert.deepEqual(await a.find('closed'), { type: 'closed', token });
    assert.deepEqual(await b.find('closed'), { type: 'closed', token: sToken });
    assert.ok(a.events.every((e) => e.type.startsWith('listener') || e.token === token), 'one connection, one token');
  } finally {
    for (const p of peers) await p.close();
    for (const c of clients) c.close();
    lab.close();
  }
});

test('events of an IPv6 connection carry IPv6 addresses', async (t) => {
  if (!requireNetns(t)) return;
  const lab = twoPathLab('pm6');
  const peers: PyPeer[] = [];
  const clients: MptcpPmClient[] = [];
  try {
    const a = await watch(lab.a);
    const b = await watch(lab.b);
    clients.push(a.pm, b.pm);
    const server = await PyPeer.server(lab.b, '::', 7002);
    peers.push(server);
    assert.deepEqual(await b.find('listener_created'), { type: 'listener_created', family: 6, saddr: '::', sport: 7002 });
    const { peer: client, localPort } = await PyPeer.client(lab.a, 'fd00:1::2', 7002);
    peers.push(client);
    const created = await a.find('created');
    assert.deepEqual({ ...created, token: 0 }, { type: 'created', token: 0, family: 6, saddr: 'fd00:1::1', daddr: 'fd00:1::2', sport: localPort, dport: 7002, locId: 0, remId: 0 });
    const sCreated = await b.find('created');
    assert.deepEqual([sCreated.family, sCreated.saddr, sCreated.daddr, sCreated.serverSide], [6, 'fd00:1::2', 'fd00:1::1', true]);
    await client.close();
    await a.find('closed');
    await server.close();
    assert.deepEqual(await b.find('listener_closed'), { type: 'listener_closed', family: 6, saddr: '::', sport: 7002 });
  } finally {
    for (const p of peers) await p.close();
    for (const c of clients) c.close();
    lab.close();
  }
});

// Opens and closes many MPTCP connections over loopback, after a short delay.
const PY_BURST = `
import socket, threading, time, sys
n = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 7100)); s.listen(128)
def serve():
    for _ in range(n):
        c, _ = s.accept(); c.close()
threading.Thread(target=serve, daemon=True).start()
time.sleep(0.3)
for _ in range(n):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262); c.connect(('127.0.0.1', 7100)); c.close()
print('done', flush=True)
`;

test('an overrun of the event socket is reported, and events keep coming after it', async (t) => {
  if (!requireNetns(t)) return;
  const ns = Netns.create('pmo');
  let opened = 0;
  // The event socket (opened second) gets the smallest receive buffer, so a burst overruns it.
  const pm = new MptcpPmClient(silentLogger(), {
    netns: ns.name,
    openSocket: (o) => NetlinkSocket.open(NETLINK_GENERIC, { ...o, ...(opened++ === 1 ? { rcvbuf: 1 } : {}) }),
  });
  const events: MptcpPmEvent[] = [];
  let overruns = 0;
  pm.on('pmEvent', (e) => events.push(e));
  pm.on('overrun', () => overruns++);
  let burst: PyPeer | undefined;
  try {
    await pm.start();
    burst = PyPeer.spawn(ns, PY_BURST, ['200']);
    // Keep the event loop away from the socket while the burst fills its buffer.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
    await burst.waitLine('done', 10000);
    await waitFor('an overrun', () => overruns > 0, 3000);
    assert.ok(events.length < 200 * 6, `${events.length} events: some must have been lost`);
    assert.equal(pm.available, true);
    const seen = events.length;
    const server = await PyPeer.server(ns, '127.0.0.1', 7101);
    const { peer: client } = await PyPeer.client(ns, '127.0.0.1', 7101);
    await client.close();
    await server.close();
    await waitFor('events after the overrun', () => events.slice(seen).some((e) => e.type === 'created' && e.dport === 7101), 3000);
  } finally {
    await burst?.close();
    pm.close();
    ns.close();
  }
});
