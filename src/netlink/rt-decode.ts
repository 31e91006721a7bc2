/**
 * Pure conversion of rtnetlink message payloads (RTM_NEWLINK, RTM_NEWADDR,
 * RTM_NEWROUTE) into the plain types of types.ts, and the payloads of the
 * dump requests. Layouts: include/uapi/linux/rtnetlink.h, if_link.h,
 * if_addr.h. Every decoder throws NetlinkParseError on bytes that do not
 * fit the layout and never reads past its buffer.
 */
import { NetlinkParseError } from './errors.js';
import { attrMap, attrString, encodeAttr, parseAttrs } from './nlmsg.js';
import * as c from './rt-consts.js';
import type { Address, AddressFlags, Link, OperState, Route } from './types.js';
import type { NetChange, NetChangeKind } from './clients.js';

/** Textual form of an IPv4 or IPv6 address; IPv6 as inet_ntop(3) prints it (RFC 5952 compressed). */
export function formatIp(family: 4 | 6, b: Buffer): string {
  if (family === 4) {
    if (b.length !== 4) throw new NetlinkParseError('bad-value', `IPv4 address of ${b.length} bytes`);
    return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  }
  if (b.length !== 16) throw new NetlinkParseError('bad-value', `IPv6 address of ${b.length} bytes`);
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i));
  // Longest run of two or more zero words, the first one on a tie.
  let best = { base: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.len && j - i >= 2) best = { base: i, len: j - i };
    i = j;
  }
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) keep the dotted tail, as inet_ntop does.
  if (best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff))) {
    return `::${best.len === 5 ? 'ffff:' : ''}${formatIp(4, b.subarray(12))}`;
  }
  const hex = words.map((w) => w.toString(16));
  if (best.base < 0) return hex.join(':');
  return `${hex.slice(0, best.base).join(':')}::${hex.slice(best.base + best.len).join(':')}`;
}

function familyOf(af: number): 4 | 6 | null {
  return af === c.AF_INET ? 4 : af === c.AF_INET6 ? 6 : null;
}

function need(payload: Buffer, len: number, what: string): void {
  if (payload.length < len) throw new NetlinkParseError('short-payload', `${what}: payload of ${payload.length} bytes, header needs ${len}`);
}

function u32(attrs: Map<number, Buffer>, type: number): number | undefined {
  const b = attrs.get(type);
  return b !== undefined && b.length >= 4 ? b.readUInt32LE(0) : undefined;
}

/** Converts an RTM_NEWLINK payload (struct ifinfomsg + IFLA_* attributes). */
export function decodeLink(payload: Buffer): Link {
  need(payload, c.IFINFOMSG_LEN, 'RTM_NEWLINK');
  const index = payload.readInt32LE(4);
  const flags = payload.readUInt32LE(8);
  const attrs = attrMap(parseAttrs(payload.subarray(c.IFINFOMSG_LEN)));
  const name = attrs.get(c.IFLA_IFNAME);
  if (name === undefined) throw new NetlinkParseError('bad-value', `RTM_NEWLINK for ifindex ${index} has no IFLA_IFNAME`);
  const oper = attrs.get(c.IFLA_OPERSTATE)?.[0] ?? 0;
  const link: Link = {
    index,
    name: attrString(name),
    up: (flags & c.IFF_UP) !== 0,
    lowerUp: (flags & c.IFF_LOWER_UP) !== 0,
    operstate: (c.OPERSTATES[oper] ?? 'unknown') as OperState,
    loopback: (flags & c.IFF_LOOPBACK) !== 0,
  };
  const info = attrs.get(c.IFLA_LINKINFO);
  const kind = info !== undefined ? attrMap(parseAttrs(info)).get(c.IFLA_INFO_KIND) : undefined;
  if (kind !== undefined) link.kind = attrString(kind);
  const mtu = u32(attrs, c.IFLA_MTU);
  if (mtu !== undefined) link.mtu = mtu;
  return link;
}

/** Decodes IFA_F_* bits into the flags the daemon cares about. */
export function addressFlags(bits: number): AddressFlags {
  return {
    tentative: (bits & c.IFA_F_TENTATIVE) !== 0,
    deprecated: (bits & c.IFA_F_DEPRECATED) !== 0,
    temporary: (bits & c.IFA_F_TEMPORARY) !== 0,
    dadfailed: (bits & c.IFA_F_DADFAILED) !== 0,
    nodad: (bits & c.IFA_F_NODAD) !== 0,
    optimistic: (bits & c.IFA_F_OPTIMISTIC) !== 0,
    permanent: (bits & c.IFA_F_PERMANENT) !== 0,
  };
}

/**
 * Converts an RTM_NEWADDR payload (struct ifaddrmsg + IFA_* attributes);
 * null for families other than IPv4/IPv6.
 */
export function decodeAddress(payload: Buffer): Address | null {
  need(payload, c.IFADDRMSG_LEN, 'RTM_NEWADDR');
  const family = familyOf(payload[0]!);
  if (family === null) return null;
  const attrs = attrMap(parseAttrs(payload.subarray(c.IFADDRMSG_LEN)));
  // IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on point-to-point links.
  const raw = attrs.get(c.IFA_LOCAL) ?? attrs.get(c.IFA_ADDRESS);
  const ifindex = payload.readUInt32LE(4);
  if (raw === undefined) throw new NetlinkParseError('bad-value', `RTM_NEWADDR on ifindex ${ifindex} has no IFA_LOCAL/IFA_ADDRESS`);
  const addr: Address = {
    family,
    address: formatIp(family, raw),
    prefixLen: payload[1]!,
    ifindex,
    scope: payload[3]!,
    flags: addressFlags(u32(attrs, c.IFA_FLAGS) ?? payload[2]!),
  };
  const ci = attrs.get(c.IFA_CACHEINFO);
  if (ci !== undefined && ci.length >= 8) {
    const preferred = ci.readUInt32LE(0);
    const valid = ci.readUInt32LE(4);
    if (preferred !== c.INFINITY_LIFE_TIME) addr.preferredLft = preferred;
    if (valid !== c.INFINITY_LIFE_TIME) addr.validLft = valid;
  }
  return addr;
}

/** Gateway of a route or next hop: RTA_GATEWAY, or RTA_VIA (which may be of the other family). */
function gatewayOf(attrs: Map<number, Buffer>, family: 4 | 6): string | undefined {
  const gw = attrs.get(c.RTA_GATEWAY);
  if (gw !== undefined) return formatIp(family, gw);
  const via = attrs.get(c.RTA_VIA);
  if (via === undefined || via.length < 2) return undefined;
  const viaFamily = familyOf(via.readUInt16LE(0));
  return viaFamily === null ? undefined : formatIp(viaFamily, via.subarray(2));
}

interface NextHop {
  ifindex: number;
  gateway?: string;
}

/** Splits RTA_MULTIPATH into its struct rtnexthop entries. */
export function decodeMultipath(data: Buffer, family: 4 | 6): NextHop[] {
  const hops: NextHop[] = [];
  let off = 0;
  while (off + c.RTNEXTHOP_LEN <= data.length) {
    const len = data.readUInt16LE(off);
    if (len < c.RTNEXTHOP_LEN || off + len > data.length) {
      throw new NetlinkParseError('bad-attribute', `RTA_MULTIPATH: next hop at offset ${off} has length ${len}, ${data.length - off} bytes left`);
    }
    const hop: NextHop = { ifindex: data.readInt32LE(off + 4) };
    const gw = gatewayOf(attrMap(parseAttrs(data.subarray(off + c.RTNEXTHOP_LEN, off + len))), family);
    if (gw !== undefined) hop.gateway = gw;
    hops.push(hop);
    off += (len + 3) & ~3;
  }
  return hops;
}

/**
 * Converts an RTM_NEWROUTE payload (struct rtmsg + RTA_* attributes); null
 * for families other than IPv4/IPv6 (multicast routing tables, MPLS).
 */
export function decodeRoute(payload: Buffer): Route | null {
  need(payload, c.RTMSG_LEN, 'RTM_NEWROUTE');
  const family = familyOf(payload[0]!);
  if (family === null) return null;
  const dstLen = payload[1]!;
  const attrs = attrMap(parseAttrs(payload.subarray(c.RTMSG_LEN)));
  const dst = attrs.get(c.RTA_DST);
  const route: Route = {
    family,
    dst: dst !== undefined ? formatIp(family, dst) : dstLen === 0 ? null : formatIp(family, Buffer.alloc(family === 4 ? 4 : 16)),
    dstLen,
    // rtm_table is 8 bits; tables above 255 exist only in RTA_TABLE.
    table: u32(attrs, c.RTA_TABLE) ?? payload[4]!,
    type: c.RTN_NAMES[payload[7]!] ?? `type${payload[7]}`,
    oifs: [],
  };
  const oif = u32(attrs, c.RTA_OIF);
  const mp = attrs.get(c.RTA_MULTIPATH);
  let gateway = gatewayOf(attrs, family);
  if (oif !== undefined) route.oifs.push(oif);
  else if (mp !== undefined) {
    const hops = decodeMultipath(mp, family);
    route.oifs = hops.map((h) => h.ifindex);
    gateway ??= hops.find((h) => h.gateway !== undefined)?.gateway;
  }
  if (gateway !== undefined) route.gateway = gateway;
  const prefsrc = attrs.get(c.RTA_PREFSRC);
  if (prefsrc !== undefined) route.prefsrc = formatIp(family, prefsrc);
  return route;
}

/** What a notification of message type `type` is about, or null for types the monitor ignores. */
export function changeKind(type: number): NetChangeKind | null {
  switch (type) {
    case c.RTM_NEWLINK:
    case c.RTM_DELLINK:
      return 'link';
    case c.RTM_NEWADDR:
    case c.RTM_DELADDR:
      return 'address';
    case c.RTM_NEWROUTE:
    case c.RTM_DELROUTE:
      return 'route';
    default:
      return null;
  }
}

/**
 * Decodes one notification into the object it carries, or null for types
 * the monitor ignores and objects the decoders skip. Throws on a payload
 * that does not decode; the caller treats that as a bare hint.
 */
export function decodeChange(type: number, payload: Buffer): NetChange | null {
  switch (type) {
    case c.RTM_NEWLINK:
    case c.RTM_DELLINK:
      return { kind: 'link', gone: type === c.RTM_DELLINK, link: decodeLink(payload) };
    case c.RTM_NEWADDR:
    case c.RTM_DELADDR: {
      const address = decodeAddress(payload);
      return address === null ? null : { kind: 'address', gone: type === c.RTM_DELADDR, address };
    }
    case c.RTM_NEWROUTE:
    case c.RTM_DELROUTE: {
      const route = decodeRoute(payload);
      return route === null ? null : { kind: 'route', gone: type === c.RTM_DELROUTE, route };
    }
    default:
      return null;
  }
}

/** RTM_GETLINK dump payload: any family, statistics left out. */
export function linkDumpRequest(): Buffer {
  const mask = Buffer.alloc(4);
  mask.writeUInt32LE(c.RTEXT_FILTER_SKIP_STATS);
  return Buffer.concat([Buffer.alloc(c.IFINFOMSG_LEN), encodeAttr(c.IFLA_EXT_MASK, mask)]);
}

/** RTM_GETADDR dump payload for `family` (AF_UNSPEC: both). */
export function addressDumpRequest(family = c.AF_UNSPEC): Buffer {
  const b = Buffer.alloc(c.IFADDRMSG_LEN);
  b[0] = family;
  return b;
}

/** RTM_GETROUTE dump payload for `family`, every table (rtm_table RT_TABLE_UNSPEC). */
export function routeDumpRequest(family: number): Buffer {
  const b = Buffer.alloc(c.RTMSG_LEN);
  b[0] = family;
  b[4] = c.RT_TABLE_UNSPEC;
  return b;
}
