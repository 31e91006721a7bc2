/**
 * Which interface a flow really leaves through: the kernel's own route
 * lookup (`ip route get DST from SRC ipproto tcp sport S dport D`), policy
 * rules included. The interface holding a subflow's local address is not
 * the answer: a server with one address sends every subflow from it, out of
 * whichever link reaches the client's address.
 */
import type { Logger } from '../util/logger.js';
import { addressBytes } from './mptcp-pm-codec.js';
import { attrMap, encodeAttr, parseAttrs } from './nlmsg.js';
import * as c from './rt-consts.js';
import { NETLINK_ROUTE, NetlinkSocket } from './socket.js';

/** RTA_* attributes of a route query (include/uapi/linux/rtnetlink.h). */
const RTA_SRC = 2;
const RTA_IP_PROTO = 27;
const RTA_SPORT = 28;
const RTA_DPORT = 29;
const IPPROTO_TCP = 6;

/** A flow to look up. */
export interface FlowKey {
  family: 4 | 6;
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

/** The RTM_GETROUTE payload for one flow (pure). */
export function routeQuery(f: FlowKey): Buffer {
  const bits = f.family === 4 ? 32 : 128;
  const rtm = Buffer.alloc(c.RTMSG_LEN);
  rtm[0] = f.family === 4 ? 2 : 10;
  rtm[1] = bits;
  rtm[2] = bits;
  const be16 = (n: number): Buffer => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(n);
    return b;
  };
  return Buffer.concat([
    rtm,
    encodeAttr(c.RTA_DST, addressBytes(f.family, f.dst)),
    encodeAttr(RTA_SRC, addressBytes(f.family, f.src)),
    encodeAttr(RTA_IP_PROTO, Buffer.from([IPPROTO_TCP])),
    encodeAttr(RTA_SPORT, be16(f.sport)),
    encodeAttr(RTA_DPORT, be16(f.dport)),
  ]);
}

/** The output interface of a route reply, or undefined (pure). */
export function replyOif(payload: Buffer): number | undefined {
  if (payload.length < c.RTMSG_LEN) return undefined;
  try {
    const oif = attrMap(parseAttrs(payload.subarray(c.RTMSG_LEN))).get(c.RTA_OIF);
    return oif !== undefined && oif.length >= 4 ? oif.readUInt32LE(0) : undefined;
  } catch {
    return undefined;
  }
}

/** Route lookups over one rtnetlink socket, opened on first use. */
export class RouteLookup {
  private sock: NetlinkSocket | undefined;

  constructor(private readonly opts: { log?: Logger; netns?: string } = {}) {}

  /** The interface index `f` leaves through; undefined when there is no route (or the query failed). */
  async oif(f: FlowKey): Promise<number | undefined> {
    let payload: Buffer;
    try {
      payload = routeQuery(f);
    } catch {
      return undefined;
    }
    try {
      const replies = await this.socket().request(c.RTM_GETROUTE, 0, payload, { timeoutMs: 2000 });
      const reply = replies.find((m) => m.type === c.RTM_NEWROUTE);
      return reply === undefined ? undefined : replyOif(reply.payload);
    } catch {
      return undefined;
    }
  }

  /** Safe to call twice. */
  close(): void {
    this.sock?.close();
    this.sock = undefined;
  }

  private socket(): NetlinkSocket {
    this.sock ??= NetlinkSocket.open(NETLINK_ROUTE, { rcvbuf: 256 * 1024, typeName: c.rtmTypeName, ...(this.opts.log !== undefined ? { log: this.opts.log } : {}), ...(this.opts.netns !== undefined ? { netns: this.opts.netns } : {}) });
    return this.sock;
  }
}
