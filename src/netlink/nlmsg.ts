/**
 * Netlink message framing: the 16-byte nlmsghdr, attributes (TLVs) and the
 * NLMSG_ERROR / NLMSG_DONE payloads with their extended-ack TLVs. Layouts
 * and numbers are from include/uapi/linux/netlink.h (extended ack since
 * Linux 4.12, NLMSGERR_ATTR_MISS_* since 6.0). Everything is host byte
 * order, as netlink is. Parsers throw NetlinkParseError and never read
 * past the buffer.
 */
import { NetlinkParseError } from './errors.js';

/** A netlink message with its header fields split out. */
export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  portId: number;
  payload: Buffer;
}

export const NLMSG_HDRLEN = 16;
export const NLA_HDRLEN = 4;

// Control message types (netlink.h).
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;
/** Types below this are netlink's own control messages. */
export const NLMSG_MIN_TYPE = 0x10;

// nlmsg_flags (netlink.h).
export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP_FILTERED = 0x20;
// Modifiers of GET requests.
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_ATOMIC = 0x400;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
// Modifiers of NEW requests.
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
// Flags of NLMSG_ERROR acks: the echoed request was cut to its header; TLVs follow.
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

// enum nlmsgerr_attrs (netlink.h).
export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;
export const NLMSGERR_ATTR_COOKIE = 3;
export const NLMSGERR_ATTR_POLICY = 4;
export const NLMSGERR_ATTR_MISS_TYPE = 5;
export const NLMSGERR_ATTR_MISS_NEST = 6;

// nla_type bits (netlink.h).
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

/** Rounds up to netlink's 4-byte alignment (NLMSG_ALIGN / NLA_ALIGN). */
export function nlAlign(n: number): number {
  return (n + 3) & ~3;
}

/** Encodes one message; `payload` follows the header unchanged. */
export function encodeMessage(msg: NlMessage): Buffer {
  const len = NLMSG_HDRLEN + msg.payload.length;
  const buf = Buffer.alloc(nlAlign(len));
  buf.writeUInt32LE(len, 0);
  buf.writeUInt16LE(msg.type, 4);
  buf.writeUInt16LE(msg.flags, 6);
  buf.writeUInt32LE(msg.seq >>> 0, 8);
  buf.writeUInt32LE(msg.portId >>> 0, 12);
  msg.payload.copy(buf, NLMSG_HDRLEN);
  return buf;
}

/** The messages of one datagram; `error` tells why parsing stopped early, if it did. */
export interface ParsedDatagram {
  messages: NlMessage[];
  error?: NetlinkParseError;
}

/**
 * Splits a datagram into messages. Stops at the first malformed header and
 * returns the messages before it with the reason, so one bad message does
 * not cost the good ones in front of it.
 */
export function parseDatagram(buf: Buffer): ParsedDatagram {
  const messages: NlMessage[] = [];
  let off = 0;
  while (off < buf.length) {
    const left = buf.length - off;
    if (left < NLMSG_HDRLEN) {
      return { messages, error: new NetlinkParseError('short-header', `netlink: ${left} bytes left, less than a ${NLMSG_HDRLEN}-byte header`) };
    }
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || len > left) {
      return { messages, error: new NetlinkParseError('bad-length', `netlink: nlmsg_len ${len} at offset ${off} outside 16..${left}`) };
    }
    messages.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      portId: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += nlAlign(len);
  }
  return { messages };
}

/** One attribute; `type` has the NESTED / NET_BYTEORDER bits removed. */
export interface NlAttr {
  type: number;
  nested: boolean;
  data: Buffer;
}

/** Parses a run of attributes; throws NetlinkParseError('bad-attribute') on a length that does not fit. */
export function parseAttrs(buf: Buffer): NlAttr[] {
  const out: NlAttr[] = [];
  let off = 0;
  while (off + NLA_HDRLEN <= buf.length) {
    const len = buf.readUInt16LE(off);
    const rawType = buf.readUInt16LE(off + 2);
    if (len < NLA_HDRLEN || off + len > buf.length) {
      throw new NetlinkParseError('bad-attribute', `netlink: attribute type ${rawType & NLA_TYPE_MASK} at offset ${off} has length ${len}, ${buf.length - off} bytes left`);
    }
    out.push({ type: rawType & NLA_TYPE_MASK, nested: (rawType & NLA_F_NESTED) !== 0, data: buf.subarray(off + NLA_HDRLEN, off + len) });
    off += nlAlign(len);
  }
  // Fewer than 4 bytes left over can only be padding; anything else is a cut attribute.
  if (off < buf.length && buf.subarray(off).some((b) => b !== 0)) {
    throw new NetlinkParseError('bad-attribute', `netlink: ${buf.length - off} stray bytes after the attributes`);
  }
  return out;
}

/** Last value of each attribute type (the kernel sends each once, except lists handled by callers). */
export function attrMap(attrs: NlAttr[]): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  for (const a of attrs) m.set(a.type, a.data);
  return m;
}

/** Encodes one attribute with its padding. */
export function encodeAttr(type: number, data: Buffer, nested = false): Buffer {
  const len = NLA_HDRLEN + data.length;
  const buf = Buffer.alloc(nlAlign(len));
  buf.writeUInt16LE(len, 0);
  buf.writeUInt16LE(type | (nested ? NLA_F_NESTED : 0), 2);
  data.copy(buf, NLA_HDRLEN);
  return buf;
}

/** Decodes a NUL-terminated (or unterminated) attribute string. */
export function attrString(data: Buffer): string {
  const nul = data.indexOf(0);
  return data.toString('utf8', 0, nul < 0 ? data.length : nul);
}

/** An NLMSG_ERROR or NLMSG_DONE payload: errno (0 for an ACK) and the extended ack, if any. */
export interface NlAck {
  /** Positive errno, 0 for success. */
  errno: number;
  /** Type of the request being answered (NLMSG_ERROR only). */
  requestType?: number;
  requestSeq?: number;
  extack?: string;
  extackOffset?: number;
  /** NLMSGERR_ATTR_MISS_TYPE: the attribute the kernel wanted and did not get. */
  missingType?: number;
}

/**
 * Parses the payload of NLMSG_ERROR (struct nlmsgerr, then the echoed request
 * unless NLM_F_CAPPED, then TLVs if NLM_F_ACK_TLVS). A payload too short for
 * the error code throws; bad TLVs throw too, so callers can still log them.
 */
export function parseErrorPayload(payload: Buffer, flags: number): NlAck {
  if (payload.length < 4) throw new NetlinkParseError('short-payload', `NLMSG_ERROR payload of ${payload.length} bytes`);
  const ack: NlAck = { errno: Math.abs(payload.readInt32LE(0)) };
  if (payload.length < 4 + NLMSG_HDRLEN) return ack;
  const echoedLen = payload.readUInt32LE(4);
  ack.requestType = payload.readUInt16LE(8);
  ack.requestSeq = payload.readUInt32LE(12);
  if (!(flags & NLM_F_ACK_TLVS)) return ack;
  // The kernel echoes the whole request unless capped: struct nlmsgerr's
  // int, then nlmsg_len bytes of the request, padded.
  const tlvOff = flags & NLM_F_CAPPED ? 4 + NLMSG_HDRLEN : nlAlign(4 + echoedLen);
  if (tlvOff > payload.length) throw new NetlinkParseError('short-payload', `NLMSG_ERROR echoes ${echoedLen} bytes but has ${payload.length - 4}`);
  readExtack(payload.subarray(tlvOff), ack);
  return ack;
}

/** Parses the payload of a dump's NLMSG_DONE: an int error, then TLVs if NLM_F_ACK_TLVS. */
export function parseDonePayload(payload: Buffer, flags: number): NlAck {
  // Some families end a dump with an empty NLMSG_DONE; that is success.
  if (payload.length < 4) return { errno: 0 };
  const ack: NlAck = { errno: Math.abs(payload.readInt32LE(0)) };
  if (flags & NLM_F_ACK_TLVS) readExtack(payload.subarray(4), ack);
  return ack;
}

function readExtack(tlvs: Buffer, ack: NlAck): void {
  for (const a of parseAttrs(tlvs)) {
    if (a.type === NLMSGERR_ATTR_MSG) ack.extack = attrString(a.data);
    else if (a.type === NLMSGERR_ATTR_OFFS && a.data.length >= 4) ack.extackOffset = a.data.readUInt32LE(0);
    else if (a.type === NLMSGERR_ATTR_MISS_TYPE && a.data.length >= 4) ack.missingType = a.data.readUInt32LE(0);
  }
}
