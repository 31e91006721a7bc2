import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import {
  connectMptcp,
  connectionTransport,
  decodeMptcpInfo,
  decodeSubflow,
  listenMptcp,
  mptcpInfo,
  receiveFd,
  sendFd,
  socketFd,
  socketPair,
  subflows,
} from '../../src/mptcp/index.js';
import { native, type RawMptcpInfo, type RawSubflow, type RawTcpInfo } from '../../src/mptcp/native.js';

const OLD_INFO: RawMptcpInfo = {
  size: 40,
  subflows: 1,
  addAddrSignal: 0,
  addAddrAccepted: 1,
  subflowsMax: 2,
  addAddrSignalMax: 0,
  addAddrAcceptedMax: 2,
  flags: 2,
  token: 0xdeadbeef,
  writeSeq: 18446744073709551615n,
  sndUna: 1n,
  rcvNxt: 2n,
};

test('decodeMptcpInfo: only what the kernel returned, 64-bit sequence numbers exact as strings', () => {
  const cases: Array<{ name: string; raw: RawMptcpInfo; expect: Record<string, unknown>; absent: string[] }> = [
    {
      name: 'pre-5.13 layout (40 bytes)',
      raw: OLD_INFO,
      expect: { token: 0xdeadbeef, extraSubflows: 1, subflowsMax: 2, remoteKeyReceived: true, writeSeq: '18446744073709551615' },
      absent: ['bytesSent', 'subflowsTotal', 'checksum', 'localAddrUsed'],
    },
    {
      name: 'Linux 6.10+ layout (96 bytes)',
      raw: {
        ...OLD_INFO,
        size: 96,
        flags: 0,
        localAddrUsed: 1,
        localAddrMax: 1,
        csumEnabled: 1,
        retransmits: 3,
        bytesRetrans: 10n,
        bytesSent: 1000n,
        bytesReceived: 2000n,
        bytesAcked: 999n,
        subflowsTotal: 2,
        lastDataSent: 5,
        lastDataRecv: 6,
        lastAckRecv: 7,
      },
      expect: { remoteKeyReceived: false, checksum: true, bytesSent: 1000, bytesReceived: 2000, bytesAcked: 999, subflowsTotal: 2, lastAckRecvMs: 7 },
      absent: [],
    },
  ];
  for (const c of cases) {
    const got = decodeMptcpInfo(c.raw) as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(c.expect)) assert.deepEqual(got[k], v, `${c.name}: ${k}`);
    for (const k of c.absent) assert.equal(k in got, false, `${c.name}: ${k} absent`);
    assert.doesNotThrow(() => JSON.stringify(got), `${c.name}: JSON-safe`);
  }
});

const TCP: RawTcpInfo = {
  size: 248,
  state: 1,
  caState: 0,
  rto: 204000,
  sndMss: 1448,
  rcvMss: 536,
  unacked: 0,
  lost: 0,
  retrans: 0,
  pmtu: 1500,
  rtt: 120,
  rttvar: 40,
  sndCwnd: 10,
  totalRetrans: 0,
  bytesAcked: 100n,
  bytesReceived: 200n,
  bytesSent: 101n,
  minRtt: 20,
};

test('decodeSubflow: endpoints, state names, counters; incomplete entries are dropped', () => {
  const ok: RawSubflow = {
    id: 2,
    local: { family: 4, address: '10.1.2.1', port: 40000, ifindex: 3 },
    remote: { family: 4, address: '10.1.1.2', port: 22 },
    tcp: TCP,
  };
  assert.deepEqual(decodeSubflow(ok), {
    id: 2,
    local: { family: 4, address: '10.1.2.1', port: 40000 },
    remote: { family: 4, address: '10.1.1.2', port: 22 },
    ifindex: 3,
    state: 'established',
    rttUs: 120,
    rttVarUs: 40,
    minRttUs: 20,
    rtoUs: 204000,
    sndCwnd: 10,
    pmtu: 1500,
    totalRetrans: 0,
    lost: 0,
    bytesSent: 101,
    bytesReceived: 200,
    bytesAcked: 100,
  });
  const table: Array<[string, RawSubflow, boolean]> = [
    ['no addresses (short element)', { tcp: TCP }, false],
    ['no remote', { local: ok.local, tcp: TCP }, false],
    ['no tcp_info', { local: ok.local, remote: ok.remote }, false],
    ['tcp_info shorter than its first block', { local: ok.local, remote: ok.remote, tcp: { size: 8 } as RawTcpInfo }, false],
    ['unknown TCP state number', { ...ok, tcp: { ...TCP, state: 99 } }, true],
  ];
  for (const [name, raw, present] of table) assert.equal(decodeSubflow(raw) !== undefined, present, name);
  assert.equal(decodeSubflow({ ...ok, tcp: { ...TCP, state: 99 } })?.state, 'unknown');
  // sock_diag flags: "Jjecv" (join, established) vs backup requested by us (b) or by the peer (B).
  const flagTable: Array<[string, number | undefined, Record<string, unknown>]> = [
    ['no sock_diag answer', undefined, { backup: undefined, backupLocal: undefined, backupRemote: undefined }],
    ['join, not backup', 0b111001100, { backup: false, backupLocal: false, backupRemote: false }],
    ['local backup endpoint', 0b011101100, { backup: true, backupLocal: true, backupRemote: false }],
    ['peer asked for backup', 0b011011100, { backup: true, backupLocal: false, backupRemote: true }],
  ];
  for (const [name, flags, want] of flagTable) {
    const got = decodeSubflow(flags === undefined ? ok : { ...ok, diag: { flags, localId: 1, remoteId: 0 } }) as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(want)) assert.equal(got[k], v, `${name}: ${k}`);
    if (flags !== undefined) assert.deepEqual([got.localId, got.remoteId, got.flags], [1, 0, flags], name);
  }
  assert.equal(decodeSubflow({ ...ok, tcp: { ...TCP, state: 10 } })?.state, 'listen');
});

test('bad input is refused before any socket is made', async () => {
  await assert.rejects(connectMptcp({ host: 'example.org', port: 22 }), { code: 'ERR_MPTCP_BAD_ADDRESS' });
  await assert.rejects(connectMptcp({ host: '10.0.0.1', port: -1 }), { code: 'ERR_MPTCP_BAD_PORT' });
  await assert.rejects(connectMptcp({ host: '10.0.0.1', port: 1.5 }), { code: 'ERR_MPTCP_BAD_PORT' });
  await assert.rejects(connectMptcp({ host: '10.0.0.1', port: 22, localAddress: 'fe80::1' }), { code: 'ERR_MPTCP_BAD_ADDRESS' });
  await assert.rejects(listenMptcp(net.createServer(), { host: 'localhost', port: 0 }), { code: 'ERR_MPTCP_BAD_ADDRESS' });
  assert.throws(() => socketFd(new net.Socket()), { code: 'ERR_MPTCP_NO_FD' });
  assert.throws(() => native().mptcpInfo('3' as unknown as number), TypeError);
  assert.throws(() => native().mptcpListen({ address: '1.2.3.4.5', port: 1, backlog: 1 }), /not a numeric IP address/);
});

test('introspection on descriptors that are not MPTCP connections', () => {
  const [a, b] = socketPair();
  try {
    // A Unix socket is simply not an MPTCP connection.
    assert.equal(mptcpInfo(a), null);
    assert.deepEqual(subflows(a), []);
    assert.equal(connectionTransport(a), 'tcp-fallback');
    assert.throws(() => mptcpInfo(-1), { code: 'EBADF', syscall: 'getsockopt' });
    assert.throws(() => subflows(-1), { code: 'EBADF', syscall: 'getsockopt' });
    assert.throws(() => connectionTransport(-1), { code: 'EBADF', syscall: 'getsockopt' });
    // A regular file is not a socket at all.
    const file = fs.openSync(process.execPath, 'r');
    try {
      assert.throws(() => mptcpInfo(file), { code: 'ENOTSOCK' });
    } finally {
      fs.closeSync(file);
    }
  } finally {
    native().closeFd(a);
    native().closeFd(b);
  }
});

test('fd passing: a descriptor crosses a socketpair; EOF, missing descriptor and timeout are typed errors', () => {
  const [a, b] = socketPair();
  const [c, d] = socketPair();
  try {
    sendFd(a, c);
    const got = receiveFd(b, { timeoutMs: 1000 });
    assert.notEqual(got, c);
    // The received descriptor is the same socket: what goes in at `got` comes out at `d`.
    fs.writeSync(got, 'x');
    const buf = Buffer.alloc(1);
    assert.equal(fs.readSync(d, buf), 1);
    assert.equal(buf.toString(), 'x');
    native().closeFd(got);

    assert.throws(() => receiveFd(b, { timeoutMs: 50 }), { code: 'ETIMEDOUT', syscall: 'poll' });
    fs.writeSync(a, 'y');
    assert.throws(() => receiveFd(b, { timeoutMs: 50 }), { code: 'ENOMSG', syscall: 'recvmsg' });
    assert.throws(() => receiveFd(b, { timeoutMs: 1.5 }), { code: 'ERR_MPTCP_BAD_TIMEOUT' });
    native().closeFd(a);
    assert.throws(() => receiveFd(b, { timeoutMs: 50 }), { code: 'EPIPE', syscall: 'recvmsg' });
    assert.throws(() => sendFd(b, c), { code: 'EPIPE', syscall: 'sendmsg' });
    assert.throws(() => sendFd(c, -1), { code: 'EBADF', syscall: 'sendmsg' });
  } finally {
    for (const fd of [b, c, d]) native().closeFd(fd);
  }
});
