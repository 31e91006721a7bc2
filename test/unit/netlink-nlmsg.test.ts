import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_MULTI,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSGERR_ATTR_MISS_TYPE,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
  attrMap,
  attrString,
  encodeAttr,
  encodeMessage,
  parseAttrs,
  parseDatagram,
  parseDonePayload,
  parseErrorPayload,
} from '../../src/netlink/nlmsg.js';
import { NetlinkError, NetlinkParseError } from '../../src/netlink/errors.js';
import { errnoName } from '../../src/util/errno.js';

const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
const i32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
};
const str = (s: string): Buffer => Buffer.from(`${s}\0`);

test('messages round-trip through encodeMessage and parseDatagram, with padding between them', () => {
  const a = encodeMessage({ type: 20, flags: NLM_F_MULTI, seq: 7, portId: 99, payload: Buffer.from([1, 2, 3]) });
  const b = encodeMessage({ type: NLMSG_DONE, flags: NLM_F_MULTI, seq: 7, portId: 99, payload: i32(0) });
  assert.equal(a.length, 20, 'padded to 4 bytes');
  const { messages, error } = parseDatagram(Buffer.concat([a, b]));
  assert.equal(error, undefined);
  assert.equal(messages.length, 2);
  assert.deepEqual({ ...messages[0]!, payload: [...messages[0]!.payload] }, { type: 20, flags: NLM_F_MULTI, seq: 7, portId: 99, payload: [1, 2, 3] });
  assert.equal(messages[1]!.type, NLMSG_DONE);
});

test('parseDatagram keeps the good messages before a malformed one and says why it stopped', () => {
  const good = encodeMessage({ type: 16, flags: 0, seq: 1, portId: 0, payload: Buffer.alloc(4) });
  const cases: Array<[string, Buffer, string]> = [
    ['short header', Buffer.concat([good, Buffer.alloc(10)]), 'short-header'],
    ['nlmsg_len beyond the datagram', Buffer.concat([good, (() => { const h = encodeMessage({ type: 16, flags: 0, seq: 2, portId: 0, payload: Buffer.alloc(4) }); h.writeUInt32LE(4096, 0); return h; })()]), 'bad-length'],
    ['nlmsg_len below the header size', Buffer.concat([good, (() => { const h = Buffer.alloc(16); h.writeUInt32LE(8, 0); return h; })()]), 'bad-length'],
  ];
  for (const [what, buf, kind] of cases) {
    const { messages, error } = parseDatagram(buf);
    assert.equal(messages.length, 1, what);
    assert.ok(error instanceof NetlinkParseError, what);
    assert.equal(error.kind, kind, what);
  }
  assert.deepEqual(parseDatagram(Buffer.alloc(0)).messages, []);
});

test('attributes round-trip; nested and byte-order bits are split off the type', () => {
  const buf = Buffer.concat([encodeAttr(1, str('eth0')), encodeAttr(3, u32(1500)), encodeAttr(18, encodeAttr(1, str('veth')), true)]);
  const attrs = parseAttrs(buf);
  assert.deepEqual(attrs.map((a) => [a.type, a.nested]), [[1, false], [3, false], [18, true]]);
  const m = attrMap(attrs);
  assert.equal(attrString(m.get(1)!), 'eth0');
  assert.equal(m.get(3)!.readUInt32LE(0), 1500);
  assert.equal(attrString(attrMap(parseAttrs(m.get(18)!)).get(1)!), 'veth');
});

test('attributes whose length does not fit are rejected with a clear error', () => {
  const good = encodeAttr(1, u32(5));
  const long = Buffer.from(good);
  long.writeUInt16LE(200, 0);
  const short = Buffer.from(good);
  short.writeUInt16LE(2, 0);
  for (const [what, buf] of [['too long', long], ['below header', short], ['cut', Buffer.concat([good, Buffer.from([9, 9])])]] as const) {
    assert.throws(() => parseAttrs(buf), (e: unknown) => e instanceof NetlinkParseError && e.kind === 'bad-attribute', what);
  }
});

/** An NLMSG_ERROR payload as the kernel builds it (net/netlink/af_netlink.c netlink_ack). */
function errPayload(errno: number, request: Buffer, capped: boolean, tlvs: Buffer[]): Buffer {
  const echoed = capped ? request.subarray(0, 16) : request;
  const body = Buffer.concat([i32(-errno), echoed]);
  const padded = Buffer.concat([body, Buffer.alloc(((body.length + 3) & ~3) - body.length)]);
  return Buffer.concat([padded, ...tlvs]);
}

test('NLMSG_ERROR: extended ack text, offset and missing type after a full or capped echo', () => {
  const request = encodeMessage({ type: 21, flags: 5, seq: 42, portId: 0, payload: Buffer.alloc(11, 1) });
  const tlvs = [encodeAttr(NLMSGERR_ATTR_MSG, str('ipv4: Address not found')), encodeAttr(NLMSGERR_ATTR_OFFS, u32(24)), encodeAttr(NLMSGERR_ATTR_MISS_TYPE, u32(2))];
  for (const capped of [false, true]) {
    const flags = NLM_F_ACK_TLVS | (capped ? NLM_F_CAPPED : 0);
    const ack = parseErrorPayload(errPayload(99, request, capped, tlvs), flags);
    assert.deepEqual(ack, { errno: 99, requestType: 21, requestSeq: 42, extack: 'ipv4: Address not found', extackOffset: 24, missingType: 2 }, `capped=${capped}`);
  }
  // Without NLM_F_ACK_TLVS the bytes after the echo are not looked at.
  assert.deepEqual(parseErrorPayload(errPayload(17, request, true, []), NLM_F_CAPPED), { errno: 17, requestType: 21, requestSeq: 42 });
  assert.deepEqual(parseErrorPayload(i32(0), 0), { errno: 0 });
});

test('NLMSG_ERROR: truncated payloads are rejected, not read past', () => {
  assert.throws(() => parseErrorPayload(Buffer.alloc(2), 0), (e: unknown) => e instanceof NetlinkParseError && e.kind === 'short-payload');
  const request = encodeMessage({ type: 21, flags: 5, seq: 1, portId: 0, payload: Buffer.alloc(64) });
  const cut = errPayload(22, request, false, []).subarray(0, 40);
  assert.throws(() => parseErrorPayload(cut, NLM_F_ACK_TLVS), (e: unknown) => e instanceof NetlinkParseError && e.kind === 'short-payload');
});

test('NLMSG_DONE may carry an error and extack text', () => {
  assert.deepEqual(parseDonePayload(i32(0), NLM_F_MULTI), { errno: 0 });
  assert.deepEqual(parseDonePayload(Buffer.alloc(0), NLM_F_MULTI), { errno: 0 });
  const done = Buffer.concat([i32(-22), encodeAttr(NLMSGERR_ATTR_MSG, str('Invalid header for route dump request'))]);
  assert.deepEqual(parseDonePayload(done, NLM_F_MULTI | NLM_F_ACK_TLVS), { errno: 22, extack: 'Invalid header for route dump request' });
  assert.equal(NLMSG_ERROR, 2);
});

test('NetlinkError names the request, the errno and the kernel text', () => {
  const e = new NetlinkError({ errno: 17, requestType: 20, requestName: 'RTM_NEWADDR', extack: 'ipv4: Address already assigned', extackOffset: 32 });
  assert.equal(e.message, 'RTM_NEWADDR failed: EEXIST (File exists): ipv4: Address already assigned');
  assert.equal(e.code, 'EEXIST');
  assert.equal(e.errno, 17);
  assert.equal(e.extackOffset, 32);
  assert.equal(new NetlinkError({ errno: -2, requestType: 5 }).message, 'netlink request type 5 failed: ENOENT (No such file or directory)');
  assert.equal(errnoName(105), 'ENOBUFS');
  assert.equal(errnoName(11), 'EAGAIN');
  assert.equal(errnoName(4000), 'E4000');
});
