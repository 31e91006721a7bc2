/**
 * Generic netlink: the 4-byte genl header, family resolution through the
 * nlctrl family, and the nlctrl notifications that tell a family (a loadable
 * module) appeared or went away. Numbers are from
 * include/uapi/linux/genetlink.h (stable since Linux 2.6.x; the multicast
 * group notifications since 2.6.23). Decoders throw NetlinkParseError and
 * never read past their buffer.
 */
import { NetlinkError, NetlinkParseError } from './errors.js';
import { attrString, encodeAttr, parseAttrs, type NlAttr, type NlMessage } from './nlmsg.js';

/** Netlink protocol of generic netlink (include/uapi/linux/netlink.h). */
export const NETLINK_GENERIC = 16;
/** Message type of the nlctrl family, fixed (GENL_ID_CTRL = NLMSG_MIN_TYPE). */
export const GENL_ID_CTRL = 0x10;
export const GENL_CTRL_NAME = 'nlctrl';
export const GENL_CTRL_VERSION = 2;
/** nlctrl's multicast group of family and group notifications. */
export const GENL_CTRL_NOTIFY_GROUP = 'notify';
/** struct genlmsghdr: cmd u8, version u8, reserved u16. */
export const GENL_HDRLEN = 4;

/** nlctrl commands (CTRL_CMD_*). */
export const CTRL_CMD = {
  NEWFAMILY: 1,
  DELFAMILY: 2,
  GETFAMILY: 3,
  NEWMCAST_GRP: 7,
  DELMCAST_GRP: 8,
} as const;

/** nlctrl attributes (CTRL_ATTR_*). */
export const CTRL_ATTR = {
  FAMILY_ID: 1, // u16
  FAMILY_NAME: 2, // string
  VERSION: 3, // u32
  HDRSIZE: 4, // u32
  MAXATTR: 5, // u32
  OPS: 6,
  MCAST_GROUPS: 7, // nest of nests
} as const;

/** Attributes of one multicast group (CTRL_ATTR_MCAST_GRP_*). */
export const CTRL_ATTR_MCAST_GRP = { NAME: 1, ID: 2 } as const;

/** A resolved generic netlink family. */
export interface GenlFamily {
  /** Message type of the family's requests, replies and events. */
  id: number;
  name: string;
  version: number;
  hdrSize: number;
  maxAttr: number;
  /** Multicast group ids by name. */
  groups: Record<string, number>;
}

/** The part of a netlink socket that genl requests need. */
export interface GenlRequester {
  request(type: number, flags: number, payload: Buffer, opts?: { timeoutMs?: number; name?: string; offThread?: boolean }): Promise<NlMessage[]>;
}

/** Builds a genl payload: header, then the attributes as given. */
export function encodeGenl(cmd: number, version: number, attrs: Buffer[] = []): Buffer {
  const hdr = Buffer.alloc(GENL_HDRLEN);
  hdr.writeUInt8(cmd, 0);
  hdr.writeUInt8(version, 1);
  return Buffer.concat([hdr, ...attrs]);
}

/** A parsed genl payload: header fields and the attribute bytes after it. */
export interface GenlPayload {
  cmd: number;
  version: number;
  attrs: Buffer;
}

/** Splits a genl payload into header and attribute bytes. */
export function parseGenl(payload: Buffer): GenlPayload {
  if (payload.length < GENL_HDRLEN) {
    throw new NetlinkParseError('short-payload', `genl: payload of ${payload.length} bytes, less than the ${GENL_HDRLEN}-byte header`);
  }
  return { cmd: payload.readUInt8(0), version: payload.readUInt8(1), attrs: payload.subarray(GENL_HDRLEN) };
}

// Length-checked readers. Shorter than the type is an error; longer is
// accepted and the extra ignored, as the kernel's own attribute policy does.
function need(a: NlAttr, n: number, what: string): Buffer {
  if (a.data.length < n) {
    throw new NetlinkParseError('bad-attribute', `${what}: attribute ${a.type} has ${a.data.length} bytes, needs ${n}`);
  }
  return a.data;
}
/** Reads a u8 attribute, throwing when it is too short. */
export const attrU8 = (a: NlAttr, what: string): number => need(a, 1, what).readUInt8(0);
/** Reads a host-order u16 attribute. */
export const attrU16 = (a: NlAttr, what: string): number => need(a, 2, what).readUInt16LE(0);
/** Reads a network-order u16 attribute. */
export const attrBe16 = (a: NlAttr, what: string): number => need(a, 2, what).readUInt16BE(0);
/** Reads a host-order u32 attribute. */
export const attrU32 = (a: NlAttr, what: string): number => need(a, 4, what).readUInt32LE(0);
/** Reads a host-order s32 attribute. */
export const attrS32 = (a: NlAttr, what: string): number => need(a, 4, what).readInt32LE(0);
/** Returns the first `n` bytes of an attribute, throwing when it has fewer. */
export const attrBytes = (a: NlAttr, n: number, what: string): Buffer => need(a, n, what).subarray(0, n);

/** Encodes a u8 attribute. */
export const nlaU8 = (type: number, v: number): Buffer => encodeAttr(type, Buffer.from([v & 0xff]));
/** Encodes a host-order u16 attribute. */
export function nlaU16(type: number, v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return encodeAttr(type, b);
}
/** Encodes a host-order u32 attribute. */
export function nlaU32(type: number, v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return encodeAttr(type, b);
}
/** Encodes a host-order s32 attribute. */
export function nlaS32(type: number, v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v | 0);
  return encodeAttr(type, b);
}
/** Encodes a NUL-terminated string attribute. */
export const nlaString = (type: number, s: string): Buffer => encodeAttr(type, Buffer.from(`${s}\0`, 'utf8'));

/** Payload of CTRL_CMD_GETFAMILY for one family by name. */
export function encodeGetFamily(name: string): Buffer {
  return encodeGenl(CTRL_CMD.GETFAMILY, GENL_CTRL_VERSION, [nlaString(CTRL_ATTR.FAMILY_NAME, name)]);
}

/** Group ids by name from CTRL_ATTR_MCAST_GROUPS. */
function parseGroups(data: Buffer): Record<string, number> {
  const groups: Record<string, number> = {};
  for (const entry of parseAttrs(data)) {
    let name: string | undefined;
    let id: number | undefined;
    for (const a of parseAttrs(entry.data)) {
      if (a.type === CTRL_ATTR_MCAST_GRP.NAME) name = attrString(a.data);
      else if (a.type === CTRL_ATTR_MCAST_GRP.ID) id = attrU32(a, 'nlctrl group id');
    }
    if (name !== undefined && id !== undefined) groups[name] = id;
  }
  return groups;
}

/**
 * Decodes the attributes nlctrl sends about a family: the GETFAMILY reply,
 * NEWFAMILY/DELFAMILY, and NEWMCAST_GRP/DELMCAST_GRP (which carry only name,
 * id and the one group). Throws when name or id is missing.
 */
export function parseFamilyAttrs(attrs: Buffer): GenlFamily {
  const f: Partial<GenlFamily> & { groups: Record<string, number> } = { groups: {} };
  for (const a of parseAttrs(attrs)) {
    switch (a.type) {
      case CTRL_ATTR.FAMILY_ID: f.id = attrU16(a, 'nlctrl family id'); break;
      case CTRL_ATTR.FAMILY_NAME: f.name = attrString(a.data); break;
      case CTRL_ATTR.VERSION: f.version = attrU32(a, 'nlctrl version'); break;
      case CTRL_ATTR.HDRSIZE: f.hdrSize = attrU32(a, 'nlctrl hdrsize'); break;
      case CTRL_ATTR.MAXATTR: f.maxAttr = attrU32(a, 'nlctrl maxattr'); break;
      case CTRL_ATTR.MCAST_GROUPS: f.groups = parseGroups(a.data); break;
      default: break; // ops and policies: not needed
    }
  }
  if (f.id === undefined || f.name === undefined) {
    throw new NetlinkParseError('bad-value', 'nlctrl: family message without CTRL_ATTR_FAMILY_ID or CTRL_ATTR_FAMILY_NAME');
  }
  return { id: f.id, name: f.name, version: f.version ?? 0, hdrSize: f.hdrSize ?? 0, maxAttr: f.maxAttr ?? 0, groups: f.groups };
}

/**
 * Asks nlctrl for a family; resolves null when the kernel does not know it
 * (ENOENT: not built, module not loaded), rejects on any other failure.
 */
export async function resolveFamily(sock: GenlRequester, name: string, timeoutMs?: number): Promise<GenlFamily | null> {
  let replies: NlMessage[];
  try {
    replies = await sock.request(GENL_ID_CTRL, 0, encodeGetFamily(name), { timeoutMs, name: `nlctrl GETFAMILY ${name}` });
  } catch (err) {
    if (err instanceof NetlinkError && err.code === 'ENOENT') return null;
    throw err;
  }
  const reply = replies.find((m) => m.type === GENL_ID_CTRL);
  if (!reply) throw new NetlinkParseError('short-payload', `nlctrl: no reply to GETFAMILY ${name}`);
  const family = parseFamilyAttrs(parseGenl(reply.payload).attrs);
  if (family.name !== name) throw new NetlinkParseError('bad-value', `nlctrl: asked for ${name}, got ${family.name}`);
  return family;
}

/** What an nlctrl notification says about one family. */
export interface CtrlNotification {
  kind: 'newFamily' | 'delFamily' | 'newGroup' | 'delGroup';
  family: GenlFamily;
}

/** Decodes an nlctrl notification; null for commands that are not about families or groups. */
export function parseCtrlNotification(payload: Buffer): CtrlNotification | null {
  const { cmd, attrs } = parseGenl(payload);
  const kind =
    cmd === CTRL_CMD.NEWFAMILY ? 'newFamily'
    : cmd === CTRL_CMD.DELFAMILY ? 'delFamily'
    : cmd === CTRL_CMD.NEWMCAST_GRP ? 'newGroup'
    : cmd === CTRL_CMD.DELMCAST_GRP ? 'delGroup'
    : null;
  if (kind === null) return null;
  return { kind, family: parseFamilyAttrs(attrs) };
}

/** How a notification changed what is known of the watched family. */
export type FamilyChange = 'up' | 'down' | 'replaced' | 'groups' | null;

/**
 * Applies one nlctrl notification to the known state of family `name`
 * (null: absent). 'replaced' is a NEWFAMILY with another id while the old one
 * was still known: a reload whose DELFAMILY was lost.
 */
export function applyCtrlNotification(
  current: GenlFamily | null,
  name: string,
  n: CtrlNotification,
): { next: GenlFamily | null; change: FamilyChange } {
  if (n.family.name !== name) return { next: current, change: null };
  switch (n.kind) {
    case 'newFamily':
      if (current === null) return { next: n.family, change: 'up' };
      if (current.id !== n.family.id) return { next: n.family, change: 'replaced' };
      return sameGroups(current.groups, n.family.groups) ? { next: current, change: null } : { next: n.family, change: 'groups' };
    case 'delFamily':
      if (current === null || current.id !== n.family.id) return { next: current, change: null };
      return { next: null, change: 'down' };
    case 'newGroup':
    case 'delGroup': {
      if (current === null || current.id !== n.family.id) return { next: current, change: null };
      const groups = { ...current.groups };
      for (const [g, id] of Object.entries(n.family.groups)) {
        if (n.kind === 'newGroup') groups[g] = id;
        else delete groups[g];
      }
      if (sameGroups(current.groups, groups)) return { next: current, change: null };
      return { next: { ...current, groups }, change: 'groups' };
    }
  }
}

function sameGroups(a: Record<string, number>, b: Record<string, number>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/**
 * What a fresh GETFAMILY answer (`resolved`, null when absent) changes
 * compared with what was known: used after notifications may have been lost.
 */
export function compareFamily(current: GenlFamily | null, resolved: GenlFamily | null): FamilyChange {
  if (current === null) return resolved === null ? null : 'up';
  if (resolved === null) return 'down';
  if (current.id !== resolved.id) return 'replaced';
  return sameGroups(current.groups, resolved.groups) ? null : 'groups';
}
