/**
 * Pure encoders and decoders of `mptcp_pm` messages (genl payloads: the
 * 4-byte genl header and the attributes). Layouts are those of
 * mptcp-constants.ts (Linux 6.18). Requests carry their attributes in the
 * order iproute2 (`ip mptcp`) sends them, so both produce the same bytes.
 * Decoders length-check every attribute, throw NetlinkParseError on bytes
 * that do not fit, and report attributes they do not know so that callers
 * can log them instead of failing on a newer kernel.
 */
import net from 'node:net';
import { NetlinkParseError } from './errors.js';
import { formatIp } from './rt-decode.js';
import { attrBe16, attrBytes, attrS32, attrU16, attrU32, attrU8, encodeGenl, nlaS32, nlaU16, nlaU32, nlaU8, parseGenl } from './genl.js';
import {
  AF_INET,
  AF_INET6,
  MPTCP_ATTR,
  MPTCP_EVENT,
  MPTCP_PM_ADDR_ATTR,
  MPTCP_PM_ADDR_FLAG,
  MPTCP_PM_ATTR,
  MPTCP_PM_CHANGEABLE_FLAGS,
  MPTCP_PM_CMD,
  MPTCP_PM_EV_FLAG,
  MPTCP_PM_MAX_ADDR_ID,
  MPTCP_PM_VER,
} from './mptcp-constants.js';
import { MpsshError } from '../util/errors.js';
import { encodeAttr, parseAttrs, type NlAttr } from './nlmsg.js';
import type { MptcpPmEvent } from './clients.js';
import type { EndpointFlag, EndpointSpec, KernelEndpoint, Limits } from './types.js';

// ---- addresses ----

/** The 4 or 16 bytes of a textual address of the given family; throws MpsshError bad-request. */
export function addressBytes(family: 4 | 6, text: string): Buffer {
  const b = family === 4 ? parseIPv4(text) : parseIPv6(text);
  if (!b) throw new MpsshError('bad-request', `not an IPv${family} address: ${JSON.stringify(text)}`);
  return b;
}

function parseIPv4(text: string): Buffer | null {
  if (!net.isIPv4(text)) return null;
  return Buffer.from(text.split('.').map(Number));
}

function parseIPv6(text: string): Buffer | null {
  if (text.includes('%') || !net.isIPv6(text)) return null;
  let s = text;
  const tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (!v4) return null;
    tail.push(v4.readUInt16BE(0), v4.readUInt16BE(2));
    s = s.slice(0, lastColon + 1);
    if (!s.endsWith('::')) s = s.slice(0, -1);
  }
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const dbl = s.indexOf('::');
  let words: number[];
  if (dbl >= 0) {
    const head = groups(s.slice(0, dbl));
    const rest = groups(s.slice(dbl + 2));
    const fill = 8 - tail.length - head.length - rest.length;
    words = [...head, ...new Array<number>(fill).fill(0), ...rest, ...tail];
  } else {
    words = [...groups(s), ...tail];
  }
  if (words.length !== 8 || words.some((w) => !(w >= 0 && w <= 0xffff))) return null;
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}

/**
 * Text of a 4- or 16-byte address. The same function as the rtnetlink
 * decoder's, so that endpoint and interface addresses compare as strings.
 */
export function formatAddress(b: Buffer): string {
  return formatIp(b.length === 4 ? 4 : 6, b);
}

/** Canonical text of an address, for comparing what a caller wrote with what the kernel dumps. */
export function canonicalAddress(family: 4 | 6, text: string): string {
  return formatAddress(addressBytes(family, text));
}

// ---- flags ----

const FLAG_NAMES = Object.keys(MPTCP_PM_ADDR_FLAG) as EndpointFlag[];
const KNOWN_FLAG_BITS = FLAG_NAMES.reduce((m, f) => m | MPTCP_PM_ADDR_FLAG[f], 0);

/** MPTCP_PM_ADDR_FLAG_* bits of a list of flag names; throws MpsshError bad-request on an unknown name. */
export function flagsToBits(flags: readonly EndpointFlag[]): number {
  let bits = 0;
  for (const f of flags) {
    const bit = (MPTCP_PM_ADDR_FLAG as Record<string, number>)[f];
    if (bit === undefined) throw new MpsshError('bad-request', `unknown endpoint flag ${JSON.stringify(f)}`);
    bits |= bit;
  }
  return bits;
}

/** Flag names of MPTCP_PM_ADDR_FLAG_* bits, and the bits no name covers. */
export function bitsToFlags(bits: number): { flags: EndpointFlag[]; unknownBits: number } {
  return { flags: FLAG_NAMES.filter((f) => bits & MPTCP_PM_ADDR_FLAG[f]), unknownBits: (bits & ~KNOWN_FLAG_BITS) >>> 0 };
}

// ---- requests ----

/** The fields of a nested MPTCP_PM_ATTR_ADDR; each is sent only when set (flags only when non-zero). */
export interface AddrAttrs {
  id?: number;
  flags?: number;
  ifindex?: number;
  port?: number;
  family?: 4 | 6;
  address?: string;
}

function checkInt(v: number | undefined, min: number, max: number, what: string): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= min && v <= max)) {
    throw new MpsshError('bad-request', `${what} must be an integer in ${min}..${max}, not ${v}`);
  }
}

/** Encodes MPTCP_PM_ATTR_ADDR (nested), attributes in iproute2's order. */
export function encodeAddrNest(a: AddrAttrs): Buffer {
  checkInt(a.id, 0, MPTCP_PM_MAX_ADDR_ID, 'endpoint id');
  checkInt(a.port, 0, 0xffff, 'port');
  checkInt(a.ifindex, 0, 0x7fffffff, 'ifindex');
  const parts: Buffer[] = [];
  if (a.id !== undefined) parts.push(nlaU8(MPTCP_PM_ADDR_ATTR.ID, a.id));
  if (a.flags) parts.push(nlaU32(MPTCP_PM_ADDR_ATTR.FLAGS, a.flags));
  if (a.ifindex) parts.push(nlaS32(MPTCP_PM_ADDR_ATTR.IF_IDX, a.ifindex));
  if (a.port) parts.push(nlaU16(MPTCP_PM_ADDR_ATTR.PORT, a.port));
  if (a.family !== undefined) {
    if (a.address === undefined) throw new MpsshError('bad-request', 'an address family needs an address');
    parts.push(nlaU16(MPTCP_PM_ADDR_ATTR.FAMILY, a.family === 4 ? AF_INET : AF_INET6));
    const type = a.family === 4 ? MPTCP_PM_ADDR_ATTR.ADDR4 : MPTCP_PM_ADDR_ATTR.ADDR6;
    parts.push(encodeAttr(type, addressBytes(a.family, a.address)));
  }
  return encodeAttr(MPTCP_PM_ATTR.ADDR, Buffer.concat(parts), true);
}

const genl = (cmd: number, attrs: Buffer[] = []): Buffer => encodeGenl(cmd, MPTCP_PM_VER, attrs);

/** MPTCP_PM_CMD_ADD_ADDR for an endpoint; without `id` the kernel picks one. */
export function encodeAddEndpoint(spec: EndpointSpec): Buffer {
  if (spec.id === 0) throw new MpsshError('bad-request', 'endpoint id 0 is the initial subflow\'s and cannot be added; omit the id to let the kernel pick');
  const nest = encodeAddrNest({
    id: spec.id,
    flags: flagsToBits(spec.flags),
    ifindex: spec.ifindex,
    port: spec.port,
    family: spec.family,
    address: spec.address,
  });
  return genl(MPTCP_PM_CMD.ADD_ADDR, [nest]);
}

/** Reference to an endpoint: by id, or for id 0 by address. */
export type EndpointRef = Pick<KernelEndpoint, 'id' | 'family' | 'address'>;

/**
 * MPTCP_PM_CMD_DEL_ADDR. The kernel finds an endpoint by id; id 0 stands for
 * the address of each connection's initial subflow, so it needs the address
 * (mptcp_pm_nl_del_addr_doit() hands id 0 to mptcp_nl_remove_id_zero_address(),
 * which matches connections by local address; net/mptcp/pm_kernel.c, as of
 * torvalds/linux 1a9239bb4253).
 */
export function encodeDelEndpoint(ep: EndpointRef): Buffer {
  const nest = ep.id === 0 ? encodeAddrNest({ id: 0, family: ep.family, address: ep.address }) : encodeAddrNest({ id: ep.id });
  return genl(MPTCP_PM_CMD.DEL_ADDR, [nest]);
}

/**
 * MPTCP_PM_CMD_SET_FLAGS with only the changeable flags (backup, fullmesh);
 * others in `flags` are left out, as the kernel would ignore them. Since
 * Linux 5.19 the kernel looks the endpoint up by id when the request has no
 * address family, and by address otherwise; 6.18 is the former for id > 0.
 * By id, id 0 is refused with EOPNOTSUPP, "missing address ID", hence the
 * address for it (mptcp_pm_nl_set_flags() in net/mptcp/pm_kernel.c, as of
 * torvalds/linux 1a9239bb4253).
 */
export function encodeSetFlags(ep: EndpointRef, flags: readonly EndpointFlag[]): Buffer {
  const bits = flagsToBits(flags) & MPTCP_PM_CHANGEABLE_FLAGS;
  const nest = ep.id === 0 ? encodeAddrNest({ flags: bits, family: ep.family, address: ep.address }) : encodeAddrNest({ id: ep.id, flags: bits });
  return genl(MPTCP_PM_CMD.SET_FLAGS, [nest]);
}

/** MPTCP_PM_CMD_GET_ADDR, to be sent as a dump. */
export const encodeDumpEndpoints = (): Buffer => genl(MPTCP_PM_CMD.GET_ADDR);
/** MPTCP_PM_CMD_FLUSH_ADDRS. */
export const encodeFlushEndpoints = (): Buffer => genl(MPTCP_PM_CMD.FLUSH_ADDRS);
/** MPTCP_PM_CMD_GET_LIMITS. */
export const encodeGetLimits = (): Buffer => genl(MPTCP_PM_CMD.GET_LIMITS);

/** MPTCP_PM_CMD_SET_LIMITS; the kernel refuses values above MPTCP_PM_ADDR_MAX with EINVAL (parse_limit() in net/mptcp/pm_kernel.c, as of torvalds/linux 1a9239bb4253). */
export function encodeSetLimits(l: Limits): Buffer {
  checkInt(l.addAddrAccepted, 0, 0xffffffff, 'addAddrAccepted');
  checkInt(l.subflows, 0, 0xffffffff, 'subflows');
  return genl(MPTCP_PM_CMD.SET_LIMITS, [nlaU32(MPTCP_PM_ATTR.RCV_ADD_ADDRS, l.addAddrAccepted), nlaU32(MPTCP_PM_ATTR.SUBFLOWS, l.subflows)]);
}

// ---- replies ----

/** A decoded endpoint with what the decoder did not recognise. */
export interface DecodedEndpoint {
  endpoint: KernelEndpoint;
  /** Attribute types inside the address nest this code does not know. */
  unknownAttrs: number[];
  /** Flag bits without a name here (a newer kernel's). */
  unknownFlags: number;
}

function familyOf(v: number, what: string): 4 | 6 {
  if (v === AF_INET) return 4;
  if (v === AF_INET6) return 6;
  throw new NetlinkParseError('bad-value', `${what}: address family ${v} is neither AF_INET nor AF_INET6`);
}

/** Decodes the nested address of a GET_ADDR reply or dump part. */
export function decodeEndpointAttrs(nest: Buffer): DecodedEndpoint {
  const what = 'mptcp_pm endpoint';
  let family: 4 | 6 | undefined;
  let id: number | undefined;
  let a4: Buffer | undefined;
  let a6: Buffer | undefined;
  let port = 0;
  let bits = 0;
  let ifindex = 0;
  const unknownAttrs: number[] = [];
  for (const a of parseAttrs(nest)) {
    switch (a.type) {
      case MPTCP_PM_ADDR_ATTR.FAMILY: family = familyOf(attrU16(a, what), what); break;
      case MPTCP_PM_ADDR_ATTR.ID: id = attrU8(a, what); break;
      case MPTCP_PM_ADDR_ATTR.ADDR4: a4 = attrBytes(a, 4, what); break;
      case MPTCP_PM_ADDR_ATTR.ADDR6: a6 = attrBytes(a, 16, what); break;
      case MPTCP_PM_ADDR_ATTR.PORT: port = attrU16(a, what); break;
      case MPTCP_PM_ADDR_ATTR.FLAGS: bits = attrU32(a, what); break;
      case MPTCP_PM_ADDR_ATTR.IF_IDX: ifindex = attrS32(a, what); break;
      default: unknownAttrs.push(a.type);
    }
  }
  if (family === undefined || id === undefined) throw new NetlinkParseError('bad-value', `${what}: no family or no id`);
  const addr = family === 4 ? a4 : a6;
  if (!addr) throw new NetlinkParseError('bad-value', `${what} ${id}: IPv${family} endpoint without its address`);
  const { flags, unknownBits } = bitsToFlags(bits);
  const endpoint: KernelEndpoint = { id, family, address: formatAddress(addr), flags };
  if (port) endpoint.port = port;
  if (ifindex > 0) endpoint.ifindex = ifindex;
  return { endpoint, unknownAttrs, unknownFlags: unknownBits };
}

/** Decodes one GET_ADDR reply message payload (genl header + MPTCP_PM_ATTR_ADDR). */
export function decodeEndpoint(payload: Buffer): DecodedEndpoint {
  const { attrs } = parseGenl(payload);
  const nest = parseAttrs(attrs).find((a) => a.type === MPTCP_PM_ATTR.ADDR);
  if (!nest) throw new NetlinkParseError('bad-value', 'mptcp_pm endpoint: reply without MPTCP_PM_ATTR_ADDR');
  return decodeEndpointAttrs(nest.data);
}

/** Decodes a GET_LIMITS reply payload. */
export function decodeLimits(payload: Buffer): { limits: Limits; unknownAttrs: number[] } {
  const what = 'mptcp_pm limits';
  let subflows: number | undefined;
  let addAddrAccepted: number | undefined;
  const unknownAttrs: number[] = [];
  for (const a of parseAttrs(parseGenl(payload).attrs)) {
    if (a.type === MPTCP_PM_ATTR.SUBFLOWS) subflows = attrU32(a, what);
    else if (a.type === MPTCP_PM_ATTR.RCV_ADD_ADDRS) addAddrAccepted = attrU32(a, what);
    else unknownAttrs.push(a.type);
  }
  if (subflows === undefined || addAddrAccepted === undefined) {
    throw new NetlinkParseError('bad-value', `${what}: reply without MPTCP_PM_ATTR_SUBFLOWS or MPTCP_PM_ATTR_RCV_ADD_ADDRS`);
  }
  return { limits: { subflows, addAddrAccepted }, unknownAttrs };
}

// ---- events ----

const EVENT_NAMES = new Map<number, string>(Object.entries(MPTCP_EVENT).map(([name, v]) => [v, name]));

/** Name of an event type ("sub_established"), or undefined for one this code does not know. */
export const eventName = (type: number): string | undefined => EVENT_NAMES.get(type);

/** A decoded multicast event; `event` is null for an event type this code does not know. */
export interface DecodedEvent {
  type: number;
  event: MptcpPmEvent | null;
  unknownAttrs: number[];
}

/** Decodes a `mptcp_pm_events` message payload (genl header: cmd is the event type). */
export function decodeEvent(payload: Buffer): DecodedEvent {
  const { cmd, attrs } = parseGenl(payload);
  const name = eventName(cmd);
  const parsed = parseAttrs(attrs);
  if (name === undefined) return { type: cmd, event: null, unknownAttrs: [] };
  const what = `mptcp_pm event ${name}`;
  const ev: MptcpPmEvent = { type: name };
  const unknownAttrs: number[] = [];
  let flags: number | undefined;
  let serverSide: boolean | undefined;
  let reason: number | undefined;
  let resetFlags: number | undefined;
  for (const a of parsed) {
    if (!applyEventAttr(ev, a, what)) {
      switch (a.type) {
        case MPTCP_ATTR.FLAGS: flags = attrU16(a, what); break;
        case MPTCP_ATTR.SERVER_SIDE: serverSide = attrU8(a, what) !== 0; break;
        case MPTCP_ATTR.RESET_REASON: reason = attrU32(a, what); break;
        case MPTCP_ATTR.RESET_FLAGS: resetFlags = attrU32(a, what); break;
        case MPTCP_ATTR.TIMEOUT: attrU32(a, what); break; // length-checked, not surfaced
        default: unknownAttrs.push(a.type);
      }
    }
  }
  if (flags !== undefined) {
    ev.flags = flags;
    // 6.18 says server side both ways; MPTCP_PM_EV_FLAG_SERVER_SIDE is the newer one.
    if (flags & MPTCP_PM_EV_FLAG.SERVER_SIDE) serverSide = true;
  }
  if (serverSide !== undefined) ev.serverSide = serverSide;
  if (reason !== undefined || resetFlags !== undefined) ev.reset = { reason: reason ?? 0, flags: resetFlags ?? 0 };
  return { type: cmd, event: ev, unknownAttrs };
}

/** Sets the event field an attribute carries; false when the attribute is not one of these. */
function applyEventAttr(ev: MptcpPmEvent, a: NlAttr, what: string): boolean {
  switch (a.type) {
    case MPTCP_ATTR.TOKEN: ev.token = attrU32(a, what); return true;
    case MPTCP_ATTR.FAMILY: ev.family = familyOf(attrU16(a, what), what); return true;
    case MPTCP_ATTR.LOC_ID: ev.locId = attrU8(a, what); return true;
    case MPTCP_ATTR.REM_ID: ev.remId = attrU8(a, what); return true;
    case MPTCP_ATTR.SADDR4: ev.saddr = formatAddress(attrBytes(a, 4, what)); return true;
    case MPTCP_ATTR.SADDR6: ev.saddr = formatAddress(attrBytes(a, 16, what)); return true;
    case MPTCP_ATTR.DADDR4: ev.daddr = formatAddress(attrBytes(a, 4, what)); return true;
    case MPTCP_ATTR.DADDR6: ev.daddr = formatAddress(attrBytes(a, 16, what)); return true;
    case MPTCP_ATTR.SPORT: ev.sport = attrBe16(a, what); return true;
    case MPTCP_ATTR.DPORT: ev.dport = attrBe16(a, what); return true;
    case MPTCP_ATTR.BACKUP: ev.backup = attrU8(a, what) !== 0; return true;
    case MPTCP_ATTR.ERROR: ev.error = attrU8(a, what); return true;
    case MPTCP_ATTR.IF_IDX: ev.ifindex = attrS32(a, what); return true;
    default: return false;
  }
}
