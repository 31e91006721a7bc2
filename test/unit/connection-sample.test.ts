import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConnections, connectionEvents, type SampleContext } from '../../src/status/connection-sample.js';
import type { MptcpConnection } from '../../src/mptcp/connections.js';
import type { SubflowInfo } from '../../src/mptcp/info.js';
import { sshDestination } from '../../src/mptcp/owners.js';

function sf(local: string, lport: number, ifindex: number | undefined, sent: number, recv: number, extra: Partial<SubflowInfo> = {}): SubflowInfo {
  return {
    local: { family: 4, address: local, port: lport },
    remote: { family: 4, address: '198.51.100.7', port: 22 },
    ...(ifindex !== undefined ? { ifindex } : {}),
    state: 'established',
    rttUs: 1000,
    rttVarUs: 100,
    rtoUs: 200_000,
    sndCwnd: 10,
    pmtu: 1500,
    totalRetrans: 0,
    lost: 0,
    bytesSent: sent,
    bytesReceived: recv,
    ...extra,
  };
}

function conn(cookie: string, subflows: SubflowInfo[], over: Partial<MptcpConnection> = {}): MptcpConnection {
  return {
    token: Number(cookie),
    family: 4,
    state: 1,
    local: { address: '10.0.1.1', port: 40000 },
    remote: { address: '198.51.100.7', port: 22 },
    uid: 1000,
    inode: 77,
    cookie,
    fallback: false,
    info: { token: Number(cookie), extraSubflows: 1, subflowsMax: 2, addAddrSignal: 0, addAddrAccepted: 0, addAddrSignalMax: 0, addAddrAcceptedMax: 0, remoteKeyReceived: true, flags: 2, writeSeq: '0', sndUna: '0', rcvNxt: '0', bytesSent: subflows.reduce((a, s) => a + (s.bytesSent ?? 0), 0), bytesReceived: subflows.reduce((a, s) => a + (s.bytesReceived ?? 0), 0) },
    subflows,
    ...over,
  };
}

function ctx(at: number, over: Partial<SampleContext> = {}): SampleContext {
  return {
    at,
    listeners: [{ address: '0.0.0.0', port: 22 }],
    ifname: (i) => ({ 2: 'wifi', 3: '4g' })[i],
    owner: (inode) => (inode === 77 ? { pid: 500, command: 'ssh', uid: 1000, destination: 'alice@server' } : undefined),
    userName: (uid) => (uid === 1000 ? 'alice' : undefined),
    session: () => undefined,
    staleLossCnt: 4,
    ...over,
  };
}

test('a sample: direction, owner, interfaces, stale subflows; fallen-back sockets left out', () => {
  const got = buildConnections(
    [
      conn('11', [sf('10.0.1.1', 40000, 2, 100, 1000), sf('10.0.2.1', 41000, 3, 50, 500, { rtoInARow: 4 })]),
      conn('12', [], { fallback: true }),
      conn('13', [sf('10.0.9.1', 22, 2, 1, 1)], { local: { address: '::ffff:10.0.9.1', port: 22 }, remote: { address: '::ffff:10.0.5.5', port: 5000 }, inode: 0 }),
    ],
    ctx(1000),
    undefined,
  );
  assert.deepEqual(got.map((c) => [c.id, c.direction, c.process?.user, c.process?.destination, c.local.address]), [
    ['11', 'outgoing', 'alice', 'alice@server', '10.0.1.1'],
    ['13', 'incoming', undefined, undefined, '10.0.9.1'],
  ]);
  assert.deepEqual(got[0]!.subflows.map((s) => [s.ifname, s.stale, s.sendBps]), [['wifi', false, undefined], ['4g', true, undefined]]);
  assert.equal(got[0]!.openedAt, 1000);
});

test('rates come from the previous sample, per subflow; a counter that went back gives none', () => {
  const first = buildConnections([conn('11', [sf('10.0.1.1', 40000, 2, 1000, 10_000), sf('10.0.2.1', 41000, 3, 0, 0)])], ctx(1000), undefined);
  const prev = { at: 1000, connections: new Map(first.map((c) => [c.id, c])) };
  const second = buildConnections([conn('11', [sf('10.0.1.1', 40000, 2, 1000, 135_000), sf('10.0.2.1', 41000, 3, 0, 0), sf('10.0.3.1', 42000, 3, 5, 5)])], ctx(1500), prev);
  const c = second[0]!;
  assert.deepEqual(c.subflows.map((s) => [s.local.address, s.recvBps]), [['10.0.1.1', 2_000_000], ['10.0.2.1', 0], ['10.0.3.1', undefined]]);
  assert.equal(c.recvBps, 2_000_080, 'the connection counts the new subflow too');
  assert.equal(c.openedAt, 1000);
  const back = buildConnections([conn('11', [sf('10.0.1.1', 40000, 2, 1000, 5)])], ctx(2000), { at: 1500, connections: new Map(second.map((x) => [x.id, x])) });
  assert.equal(back[0]!.subflows[0]!.recvBps, undefined);
});

test('events: connections and subflows coming and going, then the rates per interface', () => {
  const a = buildConnections([conn('11', [sf('10.0.1.1', 40000, 2, 0, 0)])], ctx(1000), undefined);
  const open = connectionEvents(new Map(), a, 1000);
  assert.deepEqual(open.map((e) => e.type), ['connection-opened', 'connection-subflow-added', 'connection-rates']);
  assert.deepEqual(open[0], { type: 'connection-opened', connection: '11', direction: 'outgoing', local: '10.0.1.1:40000', remote: '198.51.100.7:22', command: 'ssh', destination: 'alice@server' });
  const prev = new Map(a.map((c) => [c.id, c]));
  const b = buildConnections([conn('11', [sf('10.0.2.1', 41000, 3, 0, 8000)])], ctx(2000), { at: 1000, connections: prev });
  const moved = connectionEvents(prev, b, 2000);
  assert.deepEqual(moved.map((e) => [e.type, 'ifname' in e ? e.ifname : undefined]), [['connection-subflow-added', '4g'], ['connection-subflow-removed', 'wifi'], ['connection-rates', undefined]]);
  const closed = connectionEvents(new Map(b.map((c) => [c.id, c])), [], 3000);
  assert.deepEqual(closed.map((e) => e.type), ['connection-subflow-removed', 'connection-closed', 'connection-rates']);
  const rates = connectionEvents(new Map(), [{ ...b[0]!, subflows: b[0]!.subflows.map((s) => ({ ...s, sendBps: 10, recvBps: 20 })) }], 4000).at(-1);
  assert.deepEqual(rates, { type: 'connection-rates', sampledAt: 4000, interfaces: { '4g': { sendBps: 10, recvBps: 20, subflows: 1 } }, connections: { '11': { '4g': { sendBps: 10, recvBps: 20 } } } });
});

test('the destination of ssh and mpssh command lines, as typed', () => {
  const cases: [string[], string | undefined][] = [
    [['ssh', 'server'], 'server'],
    [['/usr/bin/ssh', '-p', '2222', '-i', 'key', 'alice@server', 'uptime'], 'alice@server'],
    [['ssh', '-vA', '-oBatchMode=yes', '-lalice', 'server'], 'server'],
    [['ssh', '-vp2222', 'server'], 'server'],
    [['ssh', '-D', '1080', '-N', 'server'], 'server'],
    [['ssh', '-W', 'h:22', 'jump'], 'jump'],
    [['ssh', '--', 'server'], 'server'],
    [['ssh', '-G'], undefined],
    [['/usr/bin/node', '/usr/lib/mpssh/bin/mpssh.js', '-p', '22', 'laptop-to-server'], 'laptop-to-server'],
    [['node', 'bin/mpssh.js', 'proxy', 'server.example', '22'], 'server.example'],
    [['scp', 'a', 'b:'], undefined],
    [[], undefined],
  ];
  for (const [argv, want] of cases) assert.equal(sshDestination(argv), want, argv.join(' '));
});

test('a quiet sample leaves the connections as they were, with every rate at zero', async () => {
  const events: string[] = [];
  const pub = await publisher(() => []);
  pub.subscribe((e) => events.push(e.type));
  const raw = (at: number, recv: number, quiet: boolean) => ({ at, connections: [conn('11', [sf('10.0.1.1', 40000, 2, 0, recv)])], listeners: [], owners: new Map(), staleLossCnt: 4, quiet });
  pub.onConnections(raw(1000, 0, false));
  pub.onConnections(raw(2000, 125_000, false));
  assert.equal(pub.snapshot().connections.connections[0]!.recvBps, 1_000_000);
  pub.onConnections(raw(3000, 125_000, true));
  const c = pub.snapshot().connections.connections[0]!;
  assert.deepEqual([c.recvBps, c.subflows[0]!.recvBps, c.openedAt], [0, 0, 1000]);
  assert.deepEqual(events, ['connection-opened', 'connection-subflow-added', 'connection-rates', 'connection-rates', 'connection-rates']);
});

test('the status snapshot is built once per change and shared, frozen, between reads', async () => {
  let sessionsRead = 0;
  const pub = await publisher(() => {
    sessionsRead++;
    return [];
  });
  const before = sessionsRead;
  const first = pub.snapshot();
  for (let i = 0; i < 16; i++) assert.equal(pub.snapshot(), first, 'a read without a change gets the same snapshot');
  assert.equal(sessionsRead - before, 1, 'built once for 17 reads');
  assert.ok(Object.isFrozen(first));
  pub.onConnections({ at: 5000, connections: [], listeners: [], owners: new Map(), staleLossCnt: 4, quiet: false });
  assert.notEqual(pub.snapshot(), first, 'a change makes the next read build anew');
});

/** A status publisher with a daemon that has nothing to say but `sessions`. */
async function publisher(sessions: () => []) {
  const { StatusPublisher } = await import('../../src/status/publisher.js');
  const { silentLogger } = await import('../../src/util/logger.js');
  return new StatusPublisher(silentLogger(), {
    reload: async () => ({ changed: false }),
    setEndpointBackup: async () => {
      throw new Error('unused');
    },
    closeSession: async () => false,
    ssh: () => ({ state: 'disabled', listeners: [] }),
    pathManagerEnabled: () => true,
    sessions,
  });
}
