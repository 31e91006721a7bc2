/**
 * The rtnetlink decoders against messages captured from a real kernel
 * (test/fixtures/rtnl-messages.json, made by test/fixtures/rtnl-capture.ts),
 * checked against what iproute2 reported at the same moment, plus the
 * corner cases a capture cannot show and malformed input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSG_ERROR, parseDatagram, parseErrorPayload, encodeAttr, type NlMessage } from '../../src/netlink/nlmsg.js';
import { NetlinkParseError } from '../../src/netlink/errors.js';
import * as c from '../../src/netlink/rt-consts.js';
import { changeKind, decodeAddress, decodeLink, decodeMultipath, decodeRoute, formatIp } from '../../src/netlink/rt-decode.js';
import type { Address, Link, Route } from '../../src/netlink/types.js';
import { ipAddresses, ipLinks, ipRoutes, sortAddresses, sortRoutes, withoutLifetimes, type IpAddrLink, type IpLink, type IpRoute } from '../fixtures/rtnl-iproute.js';

interface Fixture {
  kernel: string;
  links: string[];
  addresses: string[];
  routes: string[];
  errors: string[];
  ip: { link: IpLink[]; addr: IpAddrLink[]; route4: IpRoute[]; route6: IpRoute[] };
}

// Compiled to dist/test/unit; the fixture stays in the source tree.
const fixture = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../test/fixtures/rtnl-messages.json'), 'utf8')) as Fixture;

function messages(hex: string[]): NlMessage[] {
  return hex.flatMap((h) => {
    const { messages: m, error } = parseDatagram(Buffer.from(h, 'hex'));
    assert.equal(error, undefined);
    return m;
  });
}

const links = messages(fixture.links).map((m) => decodeLink(m.payload));
const addresses = messages(fixture.addresses).map((m) => decodeAddress(m.payload)).filter((a): a is Address => a !== null);
const routes = messages(fixture.routes).map((m) => decodeRoute(m.payload)).filter((r): r is Route => r !== null);
const ifindex = (name: string): number => links.find((l) => l.name === name)!.index;

test('links decode as iproute2 shows them', () => {
  const want = ipLinks(fixture.ip.link);
  assert.deepEqual(links.map(({ kind: _k, ...rest }) => rest), want);
  const eth0: Link = { index: ifindex('eth0'), name: 'eth0', up: true, lowerUp: true, operstate: 'up', loopback: false, kind: 'veth', mtu: 1400 };
  assert.deepEqual(links.find((l) => l.name === 'eth0'), eth0);
  // eth2's peer is down: administratively up, no carrier (operstate follows a moment later, via linkwatch).
  assert.deepEqual((({ up, lowerUp }) => ({ up, lowerUp }))(links.find((l) => l.name === 'eth2')!), { up: true, lowerUp: false });
  assert.equal(links.find((l) => l.name === 'lo')!.kind, undefined);
});

test('addresses decode as iproute2 shows them, flags and lifetimes included', () => {
  const want = ipAddresses(fixture.ip.addr);
  const got = sortAddresses(addresses);
  assert.deepEqual(withoutLifetimes(got), withoutLifetimes(want));
  for (const [i, g] of got.entries()) {
    const w = want[i]!;
    // `ip` ran a moment after the dump: remaining lifetimes may be a second lower.
    for (const f of ['preferredLft', 'validLft'] as const) {
      assert.equal(g[f] === undefined, w[f] === undefined, `${g.address} ${f} forever`);
      if (g[f] !== undefined) assert.ok(g[f] - w[f]! <= 2 && g[f] >= w[f]!, `${g.address} ${f}`);
    }
  }
  const dep = addresses.find((a) => a.address === '10.20.0.9')!;
  assert.deepEqual([dep.flags.deprecated, dep.flags.temporary, dep.preferredLft], [true, true, 0]);
  assert.ok(addresses.find((a) => a.address === '2001:db8:21:0:1::1')!.flags.tentative, 'captured right after adding, before DAD finished');
});

test('routes of every table decode as iproute2 shows them', () => {
  const want = [...ipRoutes(4, fixture.ip.route4, ifindex), ...ipRoutes(6, fixture.ip.route6, ifindex)];
  assert.deepEqual(sortRoutes(routes), sortRoutes(want));
  // Table 1000 does not fit rtm_table (the kernel puts RT_TABLE_COMPAT, 252, there): RTA_TABLE wins.
  const raw = messages(fixture.routes).find((m) => decodeRoute(m.payload)?.table === 1000)!;
  assert.equal(raw.payload[4], 252);
  assert.deepEqual(routes.find((r) => r.dst === '10.30.0.0')!.oifs, [ifindex('eth0'), ifindex('eth1')]);
});

test('IFA_FLAGS (32 bits) overrides the 8-bit ifa_flags', () => {
  const hdr = Buffer.from([c.AF_INET6, 64, c.IFA_F_TENTATIVE, 0, 2, 0, 0, 0]);
  const addr = encodeAttr(c.IFA_ADDRESS, Buffer.from('20010db8000000000000000000000001', 'hex'));
  const flags = Buffer.alloc(4);
  flags.writeUInt32LE(c.IFA_F_NODAD | 0x200);
  const a = decodeAddress(Buffer.concat([hdr, addr, encodeAttr(c.IFA_FLAGS, flags)]))!;
  assert.equal(a.flags.tentative, false);
  assert.equal(a.flags.nodad, true);
  assert.equal(decodeAddress(Buffer.concat([hdr, addr]))!.flags.tentative, true);
  assert.equal(a.preferredLft, undefined, 'no IFA_CACHEINFO: forever');
});

test('IPv6 text is canonical and compressed, as inet_ntop prints it', () => {
  const cases: Array<[string, string]> = [
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000000000000001', '::1'],
    ['20010db8000000000000000000000001', '2001:db8::1'],
    ['20010db8000000010000000000000001', '2001:db8:0:1::1'],
    ['20010db8000000000001000000000000', '2001:db8:0:0:1::'],
    ['20010db8000100000000000100000000', '2001:db8:1::1:0:0'],
    ['20010db8000100010001000100010001', '2001:db8:1:1:1:1:1:1'],
    ['fe800000000000000000000000000001', 'fe80::1'],
    ['00000000000000000000ffffc0000201', '::ffff:192.0.2.1'],
    ['ff020000000000000000000000000001', 'ff02::1'],
  ];
  for (const [hex, text] of cases) assert.equal(formatIp(6, Buffer.from(hex, 'hex')), text);
  assert.equal(formatIp(4, Buffer.from([192, 0, 2, 1])), '192.0.2.1');
  assert.throws(() => formatIp(6, Buffer.alloc(4)), NetlinkParseError);
});

test('malformed payloads are rejected with a clear error, foreign families skipped', () => {
  const rejects = (fn: () => unknown, kind: string, what: string): void =>
    assert.throws(fn, (e: unknown) => e instanceof NetlinkParseError && e.kind === kind, what);
  rejects(() => decodeLink(Buffer.alloc(10)), 'short-payload', 'short ifinfomsg');
  rejects(() => decodeAddress(Buffer.alloc(4)), 'short-payload', 'short ifaddrmsg');
  rejects(() => decodeRoute(Buffer.alloc(11)), 'short-payload', 'short rtmsg');
  const cut = Buffer.concat([Buffer.alloc(16), encodeAttr(c.IFLA_IFNAME, Buffer.from('eth0\0'))]);
  cut.writeUInt16LE(60, 16);
  rejects(() => decodeLink(cut), 'bad-attribute', 'attribute longer than the message');
  rejects(() => decodeLink(Buffer.alloc(16)), 'bad-value', 'no name');
  const v4 = Buffer.from([c.AF_INET, 24, 0, 0, 1, 0, 0, 0]);
  rejects(() => decodeAddress(Buffer.concat([v4, encodeAttr(c.IFA_LOCAL, Buffer.alloc(16))])), 'bad-value', 'IPv4 address of 16 bytes');
  rejects(() => decodeAddress(v4), 'bad-value', 'no address');
  const hop = Buffer.alloc(8);
  hop.writeUInt16LE(40, 0);
  rejects(() => decodeMultipath(hop, 4), 'bad-attribute', 'next hop longer than RTA_MULTIPATH');
  // Multicast routing (RTNL_FAMILY_IPMR = 128) and other families are not IP routes to us.
  assert.equal(decodeRoute(Buffer.from([128, 32, 0, 0, 254, 0, 0, 1, 0, 0, 0, 0])), null);
  assert.equal(decodeAddress(Buffer.from([17, 0, 0, 0, 1, 0, 0, 0])), null);
});

test('real NLMSG_ERROR datagrams: errno, extack text and the offset of the blamed attribute', () => {
  const [policy, missing] = messages(fixture.errors);
  for (const m of [policy!, missing!]) {
    assert.equal(m.type, NLMSG_ERROR);
    // Refusals echo the whole request (not capped) and carry TLVs.
    assert.equal(m.flags & (NLM_F_ACK_TLVS | NLM_F_CAPPED), NLM_F_ACK_TLVS);
  }
  // The request's IFA_LOCAL was 2 bytes: it starts 24 bytes in (nlmsghdr 16 + ifaddrmsg 8).
  assert.deepEqual(parseErrorPayload(policy!.payload, policy!.flags), { errno: 34, requestType: c.RTM_NEWADDR, requestSeq: 1, extack: 'Attribute failed policy validation', extackOffset: 24 });
  assert.deepEqual(parseErrorPayload(missing!.payload, missing!.flags), { errno: 99, requestType: c.RTM_DELADDR, requestSeq: 2, extack: 'ipv4: Address not found' });
});

test('notification types map to change kinds', () => {
  assert.deepEqual(
    [c.RTM_NEWLINK, c.RTM_DELLINK, c.RTM_NEWADDR, c.RTM_DELADDR, c.RTM_NEWROUTE, c.RTM_DELROUTE, 28, 3].map(changeKind),
    ['link', 'link', 'address', 'address', 'route', 'route', null, null],
  );
  assert.match(fixture.kernel, /^\d+\.\d+/);
});
