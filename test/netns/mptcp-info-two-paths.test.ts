import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Netns, vethPair, waitFor } from '../../tools/netns.js';
import { requireNetns } from '../../tools/require-netns.js';
import { inNetns } from '../../src/native/netns.js';
import { connectMptcp, connectionTransport, listenMptcp, mptcpInfo, mptcpStatus, socketFd, subflows, type SubflowInfo } from '../../src/mptcp/index.js';
import { native } from '../../src/mptcp/native.js';

/**
 * Client and server joined by two veth pairs, 10.1.1.0/24 on eth0 and
 * 10.1.2.0/24 on eth1. The client sends from 10.1.2.1 through table 102
 * (policy routing), has a `subflow` endpoint for that address, and both
 * sides allow extra subflows, so a connection to 10.1.1.2 grows a second
 * subflow 10.1.2.1 -> 10.1.1.2 over eth1.
 */
function twoPaths(): { client: Netns; server: Netns } {
  const client = Netns.create('mpc');
  const server = Netns.create('mps');
  try {
    vethPair(client, 'eth0', server, 'eth0');
    vethPair(client, 'eth1', server, 'eth1');
    client.ipSync('addr', 'add', '10.1.1.1/24', 'dev', 'eth0');
    client.ipSync('addr', 'add', '10.1.2.1/24', 'dev', 'eth1');
    server.ipSync('addr', 'add', '10.1.1.2/24', 'dev', 'eth0');
    server.ipSync('addr', 'add', '10.1.2.2/24', 'dev', 'eth1');
    client.ipSync('rule', 'add', 'from', '10.1.2.1', 'table', '102');
    client.ipSync('route', 'add', '10.1.2.0/24', 'dev', 'eth1', 'src', '10.1.2.1', 'table', '102');
    client.ipSync('route', 'add', 'default', 'via', '10.1.2.2', 'dev', 'eth1', 'table', '102');
    // Replies to 10.1.2.1 leave the server by eth1 while the address they
    // answer is on eth0: strict reverse-path filtering would drop the join.
    for (const ns of [client, server]) {
      ns.sysctl('net.ipv4.conf.all.rp_filter', '0');
      ns.sysctl('net.ipv4.conf.default.rp_filter', '0');
      ns.ipSync('mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2');
    }
    client.ipSync('mptcp', 'endpoint', 'add', '10.1.2.1', 'dev', 'eth1', 'subflow');
    // Slow the first path so the scheduler also has to use the second.
    client.execSync('tc', ['qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', '20mbit', 'burst', '32kb', 'latency', '50ms']);
    return { client, server };
  } catch (err) {
    client.close();
    server.close();
    throw err;
  }
}

function ifindex(ns: Netns, dev: string): number {
  return Number(/^(\d+):/.exec(ns.ipSync('-o', 'link', 'show', 'dev', dev))?.[1]);
}

function totalAcked(list: SubflowInfo[]): number {
  return list.reduce((sum, s) => sum + (s.bytesAcked ?? 0), 0);
}

test('a connection over two paths gets two subflows, seen by subflows() and by ss', async (t) => {
  if (!requireNetns(t)) return;
  const { client, server } = twoPaths();
  t.after(() => {
    client.close();
    server.close();
  });
  let accepted: net.Socket | undefined;
  const srv = net.createServer((c) => {
    accepted = c;
    c.on('error', () => c.destroy());
    c.resume();
  });
  t.after(() => srv.close());
  const { address } = await inNetns(server.path, () => listenMptcp(srv, { port: 0 }));
  const { socket, transport } = await inNetns(client.path, () => connectMptcp({ host: '10.1.1.2', port: address.port, timeoutMs: 3000 }));
  t.after(() => socket.destroy());
  assert.equal(transport, 'mptcp');
  socket.on('error', () => {});
  // The path manager adds subflows once the connection is fully established,
  // which for the client takes a first exchange of data.
  socket.write('hello');

  const two = await waitFor('a second subflow', () => {
    const list = inNetns(client.path, () => subflows(socket));
    return list.length === 2 ? list : null;
  });
  const eth0 = ifindex(client, 'eth0');
  const eth1 = ifindex(client, 'eth1');
  const byLocal = new Map(two.map((s) => [s.local.address, s]));
  assert.deepEqual([...byLocal.keys()].sort(), ['10.1.1.1', '10.1.2.1']);
  assert.equal(byLocal.get('10.1.1.1')?.ifindex, eth0);
  assert.equal(byLocal.get('10.1.2.1')?.ifindex, eth1);
  for (const s of two) {
    assert.equal(s.remote.address, '10.1.1.2');
    assert.equal(s.remote.port, address.port);
    assert.equal(s.state, 'established');
    assert.ok(s.rttUs > 0, 'rtt measured');
    assert.equal(typeof s.id, 'number');
  }

  // Push 8 MB and watch the counters grow on both subflows.
  const before = totalAcked(two);
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  for (let i = 0; i < 128; i++) if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
  await waitFor('the server to receive 8 MB', () => (accepted?.bytesRead ?? 0) >= 128 * chunk.length, 20000);
  const after = inNetns(client.path, () => subflows(socket));
  assert.equal(after.length, 2);
  assert.ok(totalAcked(after) >= before + 128 * chunk.length, 'subflow byte counters cover the data sent');
  for (const s of after) assert.ok((s.bytesAcked ?? 0) > 0 && (s.bytesSent ?? 0) > 0, `data went over ${s.local.address}`);

  const info = mptcpInfo(socket);
  assert.ok(info);
  assert.equal(info.extraSubflows, 1);
  if (info.subflowsTotal !== undefined) assert.equal(info.subflowsTotal, 2);
  assert.ok((info.bytesSent ?? 0) >= 128 * chunk.length);

  // The server sees the same two subflows from its side.
  assert.ok(accepted);
  assert.equal(connectionTransport(accepted), 'mptcp');
  const serverSide = inNetns(server.path, () => mptcpStatus(accepted as net.Socket));
  assert.deepEqual(serverSide.subflows.map((s) => s.remote.address).sort(), ['10.1.1.1', '10.1.2.1']);
  assert.equal(serverSide.info?.token === info.token, false, 'each side has its own token');

  // The pre-6.5 path (MPTCP_SUBFLOW_ADDRS + MPTCP_TCPINFO) agrees on the 4-tuples.
  const legacy = inNetns(client.path, () => native().mptcpSubflows(socketFd(socket), { max: 8, legacyOnly: true }));
  assert.ok(legacy);
  assert.equal(legacy.source, 'subflow-addrs');
  const tuple = (s: { local?: { address: string; port: number }; remote?: { address: string; port: number } }): string =>
    `${s.local?.address}:${s.local?.port}>${s.remote?.address}:${s.remote?.port}`;
  assert.deepEqual(legacy.subflows.map(tuple).sort(), after.map(tuple).sort());

  // sock_diag adds address ids and backup flags: nothing is backup yet.
  const initial = byLocal.get('10.1.1.1');
  const joined = after.find((s) => s.local.address === '10.1.2.1');
  assert.equal(initial?.localId, 0);
  const endpointId = Number(/10\.1\.2\.1 id (\d+)/.exec(client.ipSync('mptcp', 'endpoint', 'show'))?.[1]);
  assert.equal(joined?.localId, endpointId);
  assert.equal(joined?.remoteId, 0, 'the server announced nothing: its address has id 0');
  for (const s of after) assert.equal(s.backup, false);
  assert.deepEqual(
    inNetns(client.path, () => subflows(socket, { diag: false })).map((s) => s.backup),
    [undefined, undefined],
  );

  // Marking the endpoint backup sends MP_PRIO on the live subflow.
  client.ipSync('mptcp', 'endpoint', 'change', 'id', String(endpointId), 'backup');
  const marked = await waitFor('the joined subflow to become backup', () =>
    inNetns(client.path, () => subflows(socket)).find((s) => s.local.address === '10.1.2.1' && s.backupLocal === true),
  );
  assert.equal(marked.backup, true);
  const peerView = await waitFor('the server to see the backup request', () =>
    inNetns(server.path, () => subflows(accepted as net.Socket)).find((s) => s.remote.address === '10.1.2.1' && s.backupRemote === true),
  );
  assert.equal(peerView.backup, true);
  assert.equal(inNetns(client.path, () => subflows(socket)).find((s) => s.local.address === '10.1.1.1')?.backup, false);

  // iproute2 shows the MPTCP socket and both TCP subflows.
  const ssM = client.execSync('ss', ['-HMn', 'state', 'established']);
  assert.match(ssM, new RegExp(`10\\.1\\.1\\.2:${address.port}`));
  const ssT = client.execSync('ss', ['-Htin', 'state', 'established', 'dport', `= :${address.port}`]);
  assert.match(ssT, /10\.1\.1\.1:\d+\s+10\.1\.1\.2/);
  // The join subflow is bound to the endpoint's device, which ss shows as %eth1.
  assert.match(ssT, /10\.1\.2\.1(%eth1)?:\d+\s+10\.1\.1\.2/);
  assert.equal((ssT.match(/tcp-ulp-mptcp/g) ?? []).length, 2);
});
