import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Netns, vethPair, waitFor } from '../../tools/netns.js';
import { requireNetns } from '../../tools/require-netns.js';
import { startPathManager } from '../helpers/path-manager.js';
import { ipEndpoints, ipLimits, ssSubflows, twoPaths } from '../../tools/topology.js';

const ETH = 'pathManager:\n  interfaces:\n    - { match: "eth*" }\n';
const PEER = path.resolve(__dirname, '../../../test/helpers/mptcp_peer.py');

test('address added -> endpoint; address removed -> endpoint gone', async (t) => {
  if (!requireNetns(t)) return;
  const topo = twoPaths({ subnet: 21 });
  const pmut = await startPathManager(topo.client, ETH);
  try {
    await waitFor('both client addresses as subflow endpoints', () => ipEndpoints(topo.client).length === 2);
    for (const ep of ipEndpoints(topo.client)) {
      assert.equal(ep.subflow, true);
      assert.match(ep.dev ?? '', /^eth[01]$/);
    }
    topo.client.ipSync('addr', 'add', '10.21.1.7/24', 'dev', 'eth0');
    await waitFor('new address as endpoint', () => ipEndpoints(topo.client).some((e) => e.address === '10.21.1.7'));
    topo.client.ipSync('addr', 'del', '10.21.1.7/24', 'dev', 'eth0');
    await waitFor('endpoint removed with its address', () => !ipEndpoints(topo.client).some((e) => e.address === '10.21.1.7'));
    const last = await pmut.settle();
    assert.deepEqual(last.errors, []);
    assert.ok(last.endpoints.every((e) => e.owner === 'mpsshd'));
  } finally {
    pmut.close();
    topo.close();
  }
});

test('carrier loss or link down removes the endpoint and the subflow at once; recovery brings both back', async (t) => {
  if (!requireNetns(t, { programs: ['python3'] })) return;
  const topo = twoPaths({ subnet: 22 });
  const pmut = await startPathManager(topo.client, ETH);
  const server = topo.server.spawn('python3', [PEER, 'server', '0.0.0.0', '5201']);
  let client: ReturnType<Netns['spawn']> | undefined;
  try {
    await waitFor('peer server listening', () => topo.server.execSync('ss', ['-Hln', 'sport = :5201']).includes('5201'));
    client = topo.client.spawn('python3', [PEER, 'client', topo.serverAddrs[0], '5201']);
    await waitFor('connection with its second subflow', () => ssSubflows(topo.client)[0] === 1);

    // Carrier loss: the far end goes away (an access point out of reach); routes stay.
    topo.server.ipSync('link', 'set', 'eth1', 'down');
    await waitFor('eth1 endpoint removed on carrier loss', () => !ipEndpoints(topo.client).some((e) => e.dev === 'eth1'), 2000);
    await waitFor('dead subflow closed at once', () => ssSubflows(topo.client)[0] === 0, 2000);
    topo.server.ipSync('link', 'set', 'eth1', 'up');
    await waitFor('eth1 endpoint back with the carrier', () => ipEndpoints(topo.client).some((e) => e.dev === 'eth1'), 5000);
    await waitFor('open connection gains a subflow again', () => ssSubflows(topo.client)[0] === 1, 5000);

    // Administratively down: the kernel flushes the link's routes, and the
    // endpoint returns once a route does (as a DHCP client would add it).
    topo.client.ipSync('link', 'set', 'eth1', 'down');
    await waitFor('eth1 endpoint removed on link down', () => !ipEndpoints(topo.client).some((e) => e.dev === 'eth1'), 2000);
    await waitFor('subflow closed again', () => ssSubflows(topo.client)[0] === 0, 2000);
    topo.client.ipSync('link', 'set', 'eth1', 'up');
    topo.client.ipSync('route', 'replace', 'default', 'via', topo.serverAddrs[1], 'dev', 'eth1', 'table', '102');
    await waitFor('eth1 endpoint back', () => ipEndpoints(topo.client).some((e) => e.dev === 'eth1'), 5000);
    await waitFor('and a subflow again', () => ssSubflows(topo.client)[0] === 1, 5000);
  } finally {
    client?.kill('SIGKILL');
    server.kill('SIGKILL');
    pmut.close();
    topo.close();
  }
});

test('IPv6: a tentative address becomes an endpoint only after DAD', async (t) => {
  if (!requireNetns(t)) return;
  const a = Netns.create('dad');
  const b = Netns.create('dadpeer');
  const pmut = await startPathManager(a, `${ETH}  requireRoute: none\n`);
  try {
    vethPair(a, 'eth0', b, 'eth0');
    a.ipSync('addr', 'add', '2001:db8:5::1/64', 'dev', 'eth0');
    const first = await pmut.settle();
    const verdict = first.excluded.find((e) => e.address === '2001:db8:5::1');
    assert.equal(verdict?.reason, 'tentative', 'not an endpoint while DAD runs');
    assert.ok(!ipEndpoints(a).some((e) => e.address === '2001:db8:5::1'));
    await waitFor('endpoint after DAD', () => ipEndpoints(a).some((e) => e.address === '2001:db8:5::1'), 6000);
  } finally {
    pmut.close();
    a.close();
    b.close();
  }
});

test('requireRoute default: the endpoint appears when the default route does', async (t) => {
  if (!requireNetns(t)) return;
  const topo = twoPaths({ subnet: 23, withAddresses: false });
  const c = topo.client;
  const pmut = await startPathManager(c, ETH);
  try {
    c.ipSync('addr', 'add', '10.23.1.1/24', 'dev', 'eth0');
    const pass = await pmut.settle();
    assert.equal(pass.excluded.find((e) => e.address === '10.23.1.1')?.reason, 'no-route');
    assert.deepEqual(ipEndpoints(c), []);
    c.ipSync('route', 'add', 'default', 'via', '10.23.1.2', 'dev', 'eth0');
    await waitFor('endpoint once the default route exists', () => ipEndpoints(c).some((e) => e.address === '10.23.1.1'));
    c.ipSync('route', 'del', 'default');
    await waitFor('endpoint gone with the route', () => ipEndpoints(c).length === 0);
  } finally {
    pmut.close();
    topo.close();
  }
});

test('nine qualifying addresses: eight endpoints, the ninth reported with its reason', async (t) => {
  if (!requireNetns(t)) return;
  const a = Netns.create('nine');
  const b = Netns.create('ninepeer');
  try {
    vethPair(a, 'eth0', b, 'eth0');
    for (let i = 1; i <= 9; i++) a.ipSync('addr', 'add', `10.24.0.${i}/24`, 'dev', 'eth0');
    const pmut = await startPathManager(a, `${ETH}  requireRoute: none\n`);
    try {
      const pass = await pmut.settle();
      assert.equal(ipEndpoints(a).length, 8);
      const left = pass.excluded.filter((e) => e.reason === 'endpoint-limit');
      assert.deepEqual(left.map((e) => e.address), ['10.24.0.9']);
      assert.deepEqual(pass.errors, []);
      assert.ok(pass.warnings.some((w) => w.code === 'endpoint-limit'));
    } finally {
      pmut.close();
    }
  } finally {
    a.close();
    b.close();
  }
});

test('a foreign endpoint is left alone, takes a slot, and its changes raise a warning', async (t) => {
  if (!requireNetns(t)) return;
  const topo = twoPaths({ subnet: 25 });
  const c = topo.client;
  c.ipSync('mptcp', 'endpoint', 'add', '10.25.1.1', 'dev', 'eth0', 'signal');
  const pmut = await startPathManager(c, ETH);
  try {
    let pass = await pmut.settle();
    const foreign = ipEndpoints(c).find((e) => e.address === '10.25.1.1');
    assert.equal(foreign?.signal, true, 'foreign endpoint kept as it was');
    assert.equal(pass.endpoints.find((e) => e.address === '10.25.1.1')?.owner, 'foreign');
    assert.equal(pass.excluded.find((e) => e.address === '10.25.1.1')?.reason, 'foreign-endpoint', 'a wanted address held by another manager says so');
    assert.ok(ipEndpoints(c).some((e) => e.address === '10.25.2.1' && e.subflow));
    c.ipSync('mptcp', 'endpoint', 'add', '10.25.9.9', 'signal');
    pmut.reconciler.schedule('timer');
    pass = await pmut.settle();
    assert.ok(pass.warnings.some((w) => w.code === 'foreign-activity'), JSON.stringify(pass.warnings));
    assert.ok(ipEndpoints(c).some((e) => e.address === '10.25.9.9'));
  } finally {
    pmut.close();
    topo.close();
  }
});

test('limits follow the config and are restored after someone changes them', async (t) => {
  if (!requireNetns(t)) return;
  const topo = twoPaths({ subnet: 26 });
  const pmut = await startPathManager(topo.client, `${ETH}  limits: { subflows: 5, addAddrAccepted: 3 }\n`);
  try {
    assert.deepEqual(ipLimits(topo.client), { subflows: 5, addAddrAccepted: 3 });
    topo.client.ipSync('mptcp', 'limits', 'set', 'subflows', '0', 'add_addr_accepted', '0');
    pmut.reconciler.schedule('timer');
    await pmut.settle();
    assert.deepEqual(ipLimits(topo.client), { subflows: 5, addAddrAccepted: 3 });
    pmut.setConfig(ETH);
    await pmut.settle();
    assert.deepEqual(ipLimits(topo.client), { subflows: 4, addAddrAccepted: 2 }, 'auto: two endpoints');
  } finally {
    pmut.close();
    topo.close();
  }
});

test('net.mptcp.close_timeout covers the ClientAlive budget, is restored after a change, and is left alone when disabled', async (t) => {
  if (!requireNetns(t)) return;
  const topo = twoPaths({ subnet: 36 });
  const c = topo.client;
  const closeTimeout = (): number => Number(c.execSync('sysctl', ['-n', 'net.mptcp.close_timeout']).toString().trim());
  const pmut = await startPathManager(c, ETH);
  try {
    assert.equal(closeTimeout(), 3660, 'auto: ClientAliveInterval 60 x (ClientAliveCountMax 60 + 1)');
    assert.deepEqual((await pmut.settle()).closeTimeout, { seconds: 3660, managed: true });
    c.sysctl('net.mptcp.close_timeout', '60');
    pmut.reconciler.schedule('timer');
    await pmut.settle();
    assert.equal(closeTimeout(), 3660, 'restored');
    pmut.setConfig(`${ETH}  closeTimeout: 7200\n`);
    await pmut.settle();
    assert.equal(closeTimeout(), 7200);
    pmut.setConfig(`${ETH}ssh:\n  ClientAliveInterval: 15\n  ClientAliveCountMax: 3\n`);
    await pmut.settle();
    assert.equal(closeTimeout(), 60);
    pmut.setConfig(`${ETH}  enabled: false\n`);
    c.sysctl('net.mptcp.close_timeout', '42');
    const pass = await pmut.settle();
    assert.equal(closeTimeout(), 42, 'a disabled path manager leaves it alone');
    assert.deepEqual(pass.closeTimeout, { seconds: 42, managed: false });
  } finally {
    pmut.close();
    topo.close();
  }
});

test('config changes: a mode change is applied in place or by replacing the endpoint', async (t) => {
  if (!requireNetns(t)) return;
  const topo = twoPaths({ subnet: 27 });
  const c = topo.client;
  const pmut = await startPathManager(c, ETH);
  try {
    const before = ipEndpoints(c).find((e) => e.dev === 'eth1');
    pmut.setConfig('pathManager:\n  interfaces:\n    - { match: eth1, mode: [subflow, backup] }\n    - { match: "eth*" }\n');
    await pmut.settle();
    const after = ipEndpoints(c).find((e) => e.dev === 'eth1');
    assert.equal(after?.backup, true);
    assert.equal(after?.id, before?.id, 'backup toggled in place, same id');
    pmut.setConfig('pathManager:\n  interfaces:\n    - { match: eth1, mode: signal }\n    - { match: "eth*" }\n');
    const pass = await pmut.settle();
    const sig = ipEndpoints(c).find((e) => e.dev === 'eth1');
    assert.equal(sig?.signal, true);
    assert.equal(sig?.subflow, undefined);
    assert.ok(pass.changes.some((ch) => ch.op === 'replace' && ch.ok));
    pmut.setConfig('pathManager:\n  interfaces:\n    - { match: "eth*", ignore: true }\n');
    await pmut.settle();
    assert.deepEqual(ipEndpoints(c), []);
  } finally {
    pmut.close();
    topo.close();
  }
});

test('a storm of 500 address flaps with a tiny receive buffer ends in step with the kernel', async (t) => {
  if (!requireNetns(t)) return;
  const a = Netns.create('storm');
  const b = Netns.create('stormpeer');
  try {
    vethPair(a, 'eth0', b, 'eth0');
    const pmut = await startPathManager(a, `${ETH}  requireRoute: none\n`, { rcvbuf: 4096 });
    let overruns = 0;
    pmut.net.on('overrun', () => overruns++);
    try {
      const lines: string[] = [];
      for (let i = 0; i < 250; i++) {
        lines.push(`addr add 10.30.${i >> 6}.${(i % 64) + 1}/16 dev eth0`);
        lines.push(`addr del 10.30.${i >> 6}.${(i % 64) + 1}/16 dev eth0`);
      }
      // Five survivors: what the endpoints must equal at the end.
      for (let i = 1; i <= 5; i++) lines.push(`addr add 10.31.0.${i}/16 dev eth0`);
      const batch = path.join(pmut.stateDir, 'storm.batch');
      fs.writeFileSync(batch, lines.join('\n') + '\n');
      a.ipSync('-batch', batch);
      const want = ['10.31.0.1', '10.31.0.2', '10.31.0.3', '10.31.0.4', '10.31.0.5'];
      await waitFor('endpoints equal to the surviving addresses', () => {
        const got = ipEndpoints(a).map((e) => e.address).sort();
        return JSON.stringify(got) === JSON.stringify(want);
      }, 10000);
      t.diagnostic(`overruns seen: ${overruns}`);
      assert.ok(overruns > 0, 'the tiny buffer overflowed (otherwise this test proves nothing)');
    } finally {
      pmut.close();
    }
  } finally {
    a.close();
    b.close();
  }
});

test('one pass at a time: triggers during a pass cause exactly one more', async (t) => {
  if (!requireNetns(t)) return;
  const a = Netns.create('coalesce');
  const pmut = await startPathManager(a, ETH);
  try {
    await pmut.settle();
    const seen: string[][] = [];
    pmut.reconciler.on('pass', (p) => seen.push(p.triggers));
    pmut.reconciler.schedule('timer');
    await new Promise((r) => setImmediate(r)); // the pass has started
    for (let i = 0; i < 10; i++) pmut.reconciler.schedule(i % 2 ? 'route' : 'address');
    await pmut.reconciler.whenIdle();
    assert.deepEqual(seen[0], ['timer']);
    assert.equal(seen.length, 2);
    assert.deepEqual([...(seen[1] ?? [])].sort(), ['address', 'route']);
  } finally {
    pmut.close();
    a.close();
  }
});

test('a change asked for while a pass runs waits for a pass that starts after it; a stopped path manager refuses at once', async (t) => {
  if (!requireNetns(t)) return;
  const topo = twoPaths({ subnet: 29 });
  const pmut = await startPathManager(topo.client, ETH);
  try {
    await pmut.settle();
    // A pass is under way (it started before the request) when the API asks for its own.
    const running = new Promise<number>((resolve) => pmut.reconciler.once('passStart', resolve));
    pmut.reconciler.schedule('timer');
    const runningSeq = await running;
    const mine = await pmut.reconciler.requestPass('api');
    assert.ok(mine.seq > runningSeq, `got pass ${mine.seq}, the one running at the request was ${runningSeq}`);
    assert.ok(mine.triggers.includes('api'), `the pass answering the request was asked for by it: ${mine.triggers.join(',')}`);
    pmut.reconciler.close();
    await assert.rejects(pmut.reconciler.requestPass('api'), (err: Error & { code?: string }) => err.code === 'unavailable');
  } finally {
    pmut.close();
    topo.close();
  }
});
