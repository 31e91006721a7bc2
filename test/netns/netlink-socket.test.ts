import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Netns, vethPair, waitFor } from '../../tools/netns.js';
import { requireNetns } from '../../tools/require-netns.js';
import { NetlinkSocket, NETLINK_ROUTE, type NativeHandle, type NlMessage } from '../../src/netlink/socket.js';
import { NetlinkError } from '../../src/netlink/errors.js';
import { addon } from '../../src/native/load.js';
import { inNetns } from '../../src/native/netns.js';
import { NLM_F_CREATE, NLM_F_DUMP, attrMap, attrString, encodeAttr, encodeMessage, parseAttrs } from '../../src/netlink/nlmsg.js';

// Numbers from include/uapi/linux/rtnetlink.h and if_addr.h.
const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_NEWNEXTHOP = 104;
const RTNLGRP_LINK = 1;
const RTNLGRP_NEXTHOP = 32;
const IFLA_IFNAME = 3;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;

function linkName(msg: NlMessage): string {
  return attrString(attrMap(parseAttrs(msg.payload.subarray(16))).get(IFLA_IFNAME)!);
}

function ifaddrmsg(family: number, prefixLen: number, index: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(family, 0);
  b.writeUInt8(prefixLen, 1);
  b.writeUInt32LE(index, 4);
  return b;
}

test('a socket opened inside a namespace dumps that namespace, and reports port id and buffer size', async (t) => {
  if (!requireNetns(t)) return;
  const ns = Netns.create('nls');
  const peer = Netns.create('nlp');
  const sock = NetlinkSocket.open(NETLINK_ROUTE, { netns: ns.name, rcvbuf: 1 << 20 });
  try {
    vethPair(ns, 'eth0', peer, 'eth0');
    assert.ok(sock.portId > 0);
    assert.ok(sock.rcvbuf >= 1 << 20, `rcvbuf ${sock.rcvbuf}`);
    const links = await sock.request(RTM_GETLINK, NLM_F_DUMP, Buffer.alloc(16));
    assert.deepEqual(links.map(linkName).sort(), ['eth0', 'lo']);
    assert.ok(links.every((m) => m.type === RTM_NEWLINK));
  } finally {
    sock.close();
    sock.close();
    ns.close();
    peer.close();
  }
});

test('a refused request keeps errno, code and the kernel extack text', async (t) => {
  if (!requireNetns(t)) return;
  const ns = Netns.create('nle');
  const sock = NetlinkSocket.open(NETLINK_ROUTE, { netns: ns.name, typeName: (ty) => (ty === RTM_DELADDR ? 'RTM_DELADDR' : undefined) });
  try {
    const ip = Buffer.from([10, 1, 2, 3]);
    const payload = Buffer.concat([ifaddrmsg(2, 24, 1), encodeAttr(IFA_LOCAL, ip), encodeAttr(IFA_ADDRESS, ip)]);
    await assert.rejects(sock.request(RTM_DELADDR, 0, payload), (e: unknown) => {
      assert.ok(e instanceof NetlinkError, String(e));
      assert.equal(e.code, 'EADDRNOTAVAIL');
      assert.equal(e.errno, 99);
      assert.equal(e.requestType, RTM_DELADDR);
      assert.match(e.extack ?? '', /Address not found/);
      assert.match(e.message, /^RTM_DELADDR failed: EADDRNOTAVAIL \(.*\): ipv4: Address not found$/);
      return true;
    });
    // An IFA_LOCAL of 2 bytes fails the kernel's attribute policy, which names the attribute's offset.
    const bad = Buffer.concat([ifaddrmsg(2, 24, 1), encodeAttr(IFA_LOCAL, Buffer.from([10, 1]))]);
    await assert.rejects(sock.request(RTM_NEWADDR, NLM_F_CREATE, bad), (e: unknown) => {
      assert.ok(e instanceof NetlinkError, String(e));
      assert.equal(e.code, 'ERANGE');
      assert.equal(e.extack, 'Attribute failed policy validation');
      assert.equal(e.extackOffset, 24);
      return true;
    });
  } finally {
    sock.close();
    ns.close();
  }
});

test('notifications arrive for groups above 31 and for link changes', async (t) => {
  if (!requireNetns(t)) return;
  const ns = Netns.create('nlg');
  const sock = NetlinkSocket.open(NETLINK_ROUTE, { netns: ns.name, groups: [RTNLGRP_LINK] });
  const got: NlMessage[] = [];
  sock.on('notification', (m) => got.push(m));
  try {
    sock.addMembership(RTNLGRP_NEXTHOP);
    ns.ipSync('nexthop', 'add', 'id', '7', 'blackhole');
    await waitFor('RTM_NEWNEXTHOP', () => got.some((m) => m.type === RTM_NEWNEXTHOP), 2000);
    ns.ipSync('link', 'set', 'lo', 'mtu', '1500');
    await waitFor('RTM_NEWLINK', () => got.some((m) => m.type === RTM_NEWLINK && linkName(m) === 'lo'), 2000);
    sock.dropMembership(RTNLGRP_NEXTHOP);
    const before = got.length;
    ns.ipSync('nexthop', 'add', 'id', '8', 'blackhole');
    // A round trip through the kernel orders us after the nexthop change.
    await sock.request(RTM_GETLINK, NLM_F_DUMP, Buffer.alloc(16));
    assert.equal(got.slice(before).filter((m) => m.type === RTM_NEWNEXTHOP).length, 0);
  } finally {
    sock.close();
    ns.close();
  }
});

test('datagrams from another process are dropped, not taken for replies', async (t) => {
  if (!requireNetns(t)) return;
  const ns = Netns.create('nlf');
  const sock = NetlinkSocket.open(NETLINK_ROUTE, { netns: ns.name });
  const native = addon<{ NetlinkSocketHandle: new (p: number, r: number) => NativeHandle }>();
  const hostile = inNetns(ns.name, () => new native.NetlinkSocketHandle(NETLINK_ROUTE, 0));
  const got: NlMessage[] = [];
  sock.on('notification', (m) => got.push(m));
  try {
    hostile.send(encodeMessage({ type: RTM_NEWLINK, flags: 0, seq: 0, portId: hostile.portId, payload: Buffer.alloc(16) }), sock.portId);
    await waitFor('foreign datagram counted', () => sock.foreignDropped === 1, 2000);
    assert.deepEqual(got, []);
  } finally {
    hostile.close();
    sock.close();
    ns.close();
  }
});
