import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeAttr } from '../../src/netlink/nlmsg.js';
import {
  decodeInetDiagMsg,
  decodeMptcpInfoStruct,
  decodeSubflowUlp,
  decodeTcpInfo,
  inetDiagDumpRequest,
  INET_DIAG_INFO,
  INET_DIAG_ULP_INFO,
  INET_ULP_INFO_MPTCP,
  INET_ULP_INFO_NAME,
  IPPROTO_MPTCP,
  IPPROTO_TCP,
  MPTCP_SUBFLOW_ATTR_FLAGS,
  MPTCP_SUBFLOW_ATTR_ID_LOC,
  MPTCP_SUBFLOW_ATTR_ID_REM,
  MPTCP_SUBFLOW_ATTR_TOKEN_LOC,
  MPTCP_SUBFLOW_ATTR_TOKEN_REM,
} from '../../src/netlink/sock-diag-codec.js';
import { isIncoming, joinConnections } from '../../src/mptcp/connections.js';

/** struct inet_diag_msg as the kernel lays it out, with attributes after it. */
function diagMsg(o: { family: 4 | 6; state: number; src: number[]; dst: number[]; sport: number; dport: number; ifindex?: number; cookie?: bigint; uid?: number; inode?: number }, ...attrs: Buffer[]): Buffer {
  const b = Buffer.alloc(72);
  b.writeUInt8(o.family === 4 ? 2 : 10, 0);
  b.writeUInt8(o.state, 1);
  b.writeUInt16BE(o.sport, 4);
  b.writeUInt16BE(o.dport, 6);
  Buffer.from(o.src).copy(b, 8);
  Buffer.from(o.dst).copy(b, 24);
  b.writeUInt32LE(o.ifindex ?? 0, 40);
  const cookie = o.cookie ?? 0n;
  b.writeUInt32LE(Number(cookie & 0xffffffffn), 44);
  b.writeUInt32LE(Number(cookie >> 32n), 48);
  b.writeUInt32LE(o.uid ?? 0, 64);
  b.writeUInt32LE(o.inode ?? 0, 68);
  return Buffer.concat([b, ...attrs]);
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v, 0);
  return b;
}

function mptcpInfo(token: number, flags = 2, len = 96): Buffer {
  const b = Buffer.alloc(len);
  b.writeUInt8(1, 0); // one extra subflow
  b.writeUInt8(2, 3);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(token, 12);
  b.writeBigUInt64LE(7n, 16);
  if (len >= 64) b.writeBigUInt64LE(1000n, 56);
  if (len >= 81) b.writeUInt8(2, 80);
  return b;
}

function tcpInfo(state: number, rtt: number, bytesSent?: bigint): Buffer {
  const b = Buffer.alloc(bytesSent === undefined ? 104 : 240);
  b.writeUInt8(state, 0);
  b.writeUInt32LE(rtt, 68);
  b.writeUInt32LE(10, 80);
  if (bytesSent !== undefined) b.writeBigUInt64LE(bytesSent, 200);
  return b;
}

function ulp(token: number, flags: number, idLoc: number, idRem: number): Buffer {
  const mp = Buffer.concat([
    encodeAttr(MPTCP_SUBFLOW_ATTR_TOKEN_REM, u32(0x1111)),
    encodeAttr(MPTCP_SUBFLOW_ATTR_TOKEN_LOC, u32(token)),
    encodeAttr(MPTCP_SUBFLOW_ATTR_FLAGS, u32(flags)),
    encodeAttr(MPTCP_SUBFLOW_ATTR_ID_REM, Buffer.from([idRem])),
    encodeAttr(MPTCP_SUBFLOW_ATTR_ID_LOC, Buffer.from([idLoc])),
  ]);
  return Buffer.concat([encodeAttr(INET_ULP_INFO_NAME, Buffer.from('mptcp\0')), encodeAttr(INET_ULP_INFO_MPTCP, mp, true)]);
}

const V4A = [10, 0, 1, 2];
const V4B = [10, 0, 2, 2];
const SRV = [10, 0, 9, 1];

test('a dump request asks for INET_DIAG_INFO, and names MPTCP in an attribute (262 does not fit a byte)', () => {
  const tcp = inetDiagDumpRequest(2, IPPROTO_TCP);
  assert.equal(tcp.length, 56);
  assert.deepEqual([tcp[0], tcp[1], tcp[2]], [2, 6, 1 << (INET_DIAG_INFO - 1)]);
  assert.equal(tcp.readUInt32LE(4) & (1 << 10), 0, 'listeners are not asked for');
  const mp = inetDiagDumpRequest(10, IPPROTO_MPTCP, 0xffffffff);
  assert.equal(mp.length, 64);
  assert.equal(mp.readUInt32LE(4), 0xffffffff);
  assert.deepEqual([mp.readUInt16LE(56), mp.readUInt16LE(58), mp.readUInt32LE(60)], [8, 3, 262]);
});

test('inet_diag_msg: addresses, ports, bound device, 64-bit cookie, owner and inode', () => {
  const s = decodeInetDiagMsg(diagMsg({ family: 4, state: 1, src: V4A, dst: SRV, sport: 40000, dport: 22, ifindex: 3, cookie: 0x1_0000_0002n, uid: 1000, inode: 77 }));
  assert.ok(s);
  assert.deepEqual({ ...s, attrs: undefined }, { family: 4, state: 1, local: { address: '10.0.1.2', port: 40000 }, remote: { address: '10.0.9.1', port: 22 }, boundIfindex: 3, cookie: String(0x1_0000_0002n), uid: 1000, inode: 77, attrs: undefined });
  const v6 = decodeInetDiagMsg(diagMsg({ family: 6, state: 1, src: [0xfd, 0, ...Array(13).fill(0), 1], dst: [...Array(10).fill(0), 0xff, 0xff, ...SRV], sport: 22, dport: 5 }));
  assert.equal(v6?.local.address, 'fd00::1');
  assert.equal(v6?.remote.address, '::ffff:10.0.9.1');
});

test('garbage is refused, not thrown: short messages, unknown families, short structs, a foreign ULP', () => {
  for (const bad of [Buffer.alloc(0), Buffer.alloc(71), Buffer.concat([Buffer.from([7]), Buffer.alloc(71)])]) assert.equal(decodeInetDiagMsg(bad), null);
  assert.equal(decodeTcpInfo(Buffer.alloc(103)), null);
  assert.equal(decodeMptcpInfoStruct(Buffer.alloc(39)), null);
  assert.equal(decodeSubflowUlp(encodeAttr(INET_ULP_INFO_NAME, Buffer.from('tls\0'))), null);
  assert.equal(decodeSubflowUlp(Buffer.from([1, 2, 3])), null);
  // An attribute longer than the message makes the whole message unreadable.
  assert.equal(decodeInetDiagMsg(Buffer.concat([diagMsg({ family: 4, state: 1, src: V4A, dst: SRV, sport: 1, dport: 2 }), Buffer.from([200, 0, 2, 0])])), null);
});

test('struct fields are read only when the kernel sent them', () => {
  const old = decodeMptcpInfoStruct(mptcpInfo(5, 2, 40));
  assert.equal(old?.bytesSent, undefined);
  assert.equal(old?.token, 5);
  const now = decodeMptcpInfoStruct(mptcpInfo(5));
  assert.equal(now?.bytesSent, 1000n);
  assert.equal(now?.subflowsTotal, 2);
  assert.equal(decodeTcpInfo(tcpInfo(1, 300))?.bytesSent, undefined);
  assert.equal(decodeTcpInfo(tcpInfo(1, 300, 5n))?.bytesSent, 5n);
});

test('subflows join their connection by token; plain TCP, listeners and strangers stay out', () => {
  const conn = diagMsg({ family: 4, state: 1, src: V4A, dst: SRV, sport: 40000, dport: 22, inode: 9, uid: 1000 }, encodeAttr(INET_DIAG_INFO, mptcpInfo(0xabc)));
  const fallback = diagMsg({ family: 4, state: 1, src: V4A, dst: SRV, sport: 40001, dport: 22 }, encodeAttr(INET_DIAG_INFO, mptcpInfo(0xdef, 3)));
  const listener = diagMsg({ family: 4, state: 10, src: [0, 0, 0, 0], dst: [0, 0, 0, 0], sport: 22, dport: 0 }, encodeAttr(INET_DIAG_INFO, mptcpInfo(0)));
  const join = diagMsg({ family: 4, state: 1, src: V4B, dst: SRV, sport: 41000, dport: 22, ifindex: 4 }, encodeAttr(INET_DIAG_INFO, tcpInfo(1, 900, 20n)), encodeAttr(INET_DIAG_ULP_INFO, ulp(0xabc, 0x10 | 0xc0, 1, 0), true));
  const first = diagMsg({ family: 4, state: 1, src: V4A, dst: SRV, sport: 40000, dport: 22 }, encodeAttr(INET_DIAG_INFO, tcpInfo(1, 300, 10n)), encodeAttr(INET_DIAG_ULP_INFO, ulp(0xabc, 0xc3, 0, 0), true));
  const plain = diagMsg({ family: 4, state: 1, src: V4A, dst: SRV, sport: 50000, dport: 80 }, encodeAttr(INET_DIAG_INFO, tcpInfo(1, 100)));
  const orphan = diagMsg({ family: 4, state: 1, src: V4A, dst: SRV, sport: 50001, dport: 80 }, encodeAttr(INET_DIAG_INFO, tcpInfo(1, 100)), encodeAttr(INET_DIAG_ULP_INFO, ulp(0x999, 0, 0, 0), true));
  const dec = (bufs: Buffer[]) => bufs.map((b) => decodeInetDiagMsg(b)).filter((x) => x !== null);
  const got = joinConnections(dec([conn, fallback, listener]), dec([join, first, plain, orphan]));
  assert.deepEqual(got.map((c) => [c.token.toString(16), c.fallback, c.subflows.length]), [['abc', false, 2], ['def', true, 0]]);
  const [c] = got;
  assert.deepEqual(c!.subflows.map((s) => [s.local.address, s.localId, s.backupLocal, s.ifindex, s.rttUs, s.bytesSent]), [
    ['10.0.1.2', 0, false, undefined, 300, 10],
    ['10.0.2.2', 1, false, 4, 900, 20],
  ]);
  assert.equal(c!.subflows[1]!.backupRemote, true);
  assert.equal(c!.uid, 1000);
  assert.equal(c!.inode, 9);
});

test('incoming means accepted on a listener: same port, same or wildcard address', () => {
  const cases: [string, number, boolean][] = [
    ['10.0.9.1', 22, true],
    ['10.0.9.2', 22, true],
    ['10.0.9.1', 2222, false],
    ['10.0.1.2', 40000, false],
  ];
  const listeners = [{ address: '10.0.9.1', port: 22 }, { address: '::', port: 22 }, { address: '10.0.7.7', port: 2222 }];
  for (const [address, port, want] of cases) assert.equal(isIncoming({ local: { address, port } }, listeners), want, `${address}:${port}`);
});
