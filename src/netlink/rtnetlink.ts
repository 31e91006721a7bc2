/**
 * The rtnetlink NetMonitor: one socket subscribed to link, address and
 * route notifications, and a second, unsubscribed one for dumps, so a storm
 * of notifications can neither overrun a dump's socket nor be mistaken for
 * dump parts. Notifications are only hints (`change`); consumers re-read
 * with snapshot(). An overrun of the notification socket means some were
 * lost, which the `overrun` event tells so that consumers re-read anyway.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../util/logger.js';
import { NLM_F_DUMP, type NlMessage } from './nlmsg.js';
import type { AddressReflexArm, NetChange, NetMonitor, NetMonitorEvents } from './clients.js';
import { addressBytes, formatAddress } from './mptcp-pm-codec.js';
import * as c from './rt-consts.js';
import { addressDumpRequest, changeKind, decodeAddress, decodeChange, decodeLink, decodeRoute, linkDumpRequest, routeDumpRequest } from './rt-decode.js';
import { NETLINK_GENERIC, NETLINK_ROUTE, NetlinkSocket, type NativeHandle } from './socket.js';
import type { NetSnapshot } from './types.js';

export interface RtnlMonitorOptions {
  /** `ip netns` name or path to watch instead of the daemon's own namespace. */
  netns?: string;
  /** Receive buffer of the notification socket; default 4 MiB. */
  rcvbuf?: number;
  /** Datagrams read per wakeup on the notification socket; default 64. */
  maxReadsPerWakeup?: number;
  /** Inactivity timeout of each dump; default 5000 ms. */
  dumpTimeoutMs?: number;
}

const GROUPS = [c.RTNLGRP_LINK, c.RTNLGRP_IPV4_IFADDR, c.RTNLGRP_IPV6_IFADDR, c.RTNLGRP_IPV4_ROUTE, c.RTNLGRP_IPV6_ROUTE];

/** Watches links, addresses and routes over rtnetlink and dumps them on request. */
export class RtnlMonitor extends EventEmitter<NetMonitorEvents> implements NetMonitor {
  private readonly log: Logger;
  private events: NetlinkSocket | undefined;
  private dumps: NetlinkSocket | undefined;
  /** Where the address reflex sends its requests: opened when first armed. */
  private reflexTarget: NativeHandle | undefined;
  private closed = false;

  constructor(
    log: Logger,
    private readonly opts: RtnlMonitorOptions = {},
  ) {
    super();
    this.log = log.child({ mod: 'rtnl', ...(opts.netns !== undefined ? { netns: opts.netns } : {}) });
  }

  /** Opens both sockets and joins the link, IPv4/IPv6 address and route groups; safe to call twice. */
  async start(): Promise<void> {
    if (this.closed) throw new Error('RtnlMonitor was closed');
    if (this.events !== undefined) return;
    const base = { log: this.log, typeName: c.rtmTypeName, ...(this.opts.netns !== undefined ? { netns: this.opts.netns } : {}) };
    const events = NetlinkSocket.open(NETLINK_ROUTE, {
      ...base,
      groups: GROUPS,
      ...(this.opts.rcvbuf !== undefined ? { rcvbuf: this.opts.rcvbuf } : {}),
      ...(this.opts.maxReadsPerWakeup !== undefined ? { maxReadsPerWakeup: this.opts.maxReadsPerWakeup } : {}),
    });
    let dumps: NetlinkSocket;
    try {
      dumps = NetlinkSocket.open(NETLINK_ROUTE, base);
    } catch (err) {
      events.close();
      throw err;
    }
    // A monitor exists to wait for changes: like a listening server, it holds
    // the process open until close().
    events.ref();
    events.on('notification', (msg) => this.onNotification(msg));
    events.on('overrun', () => this.emit('overrun'));
    events.on('reflex', (f) => this.emit('reflex', { ifindex: f.ifindex, family: f.family, address: formatAddress(f.address), errno: f.errno }));
    for (const s of [events, dumps]) s.on('error', (err) => this.onError(err));
    this.events = events;
    this.dumps = dumps;
    this.log.debug({ rcvbuf: events.rcvbuf }, 'rtnetlink monitor started');
  }

  /** Dumps links, addresses and routes (both families, all tables). */
  async snapshot(): Promise<NetSnapshot> {
    const s = this.dumps;
    if (s === undefined) throw new Error(this.closed ? 'RtnlMonitor was closed' : 'RtnlMonitor.snapshot() before start()');
    const opts = this.opts.dumpTimeoutMs !== undefined ? { timeoutMs: this.opts.dumpTimeoutMs } : {};
    // The socket runs these one after the other; asking for all at once saves the round trips between.
    const [links, addrs, routes4, routes6] = await Promise.all([
      s.request(c.RTM_GETLINK, NLM_F_DUMP, linkDumpRequest(), opts),
      s.request(c.RTM_GETADDR, NLM_F_DUMP, addressDumpRequest(c.AF_UNSPEC), opts),
      s.request(c.RTM_GETROUTE, NLM_F_DUMP, routeDumpRequest(c.AF_INET), opts),
      s.request(c.RTM_GETROUTE, NLM_F_DUMP, routeDumpRequest(c.AF_INET6), opts),
    ]);
    return {
      links: this.decodeAll(links, c.RTM_NEWLINK, decodeLink),
      addresses: this.decodeAll(addrs, c.RTM_NEWADDR, decodeAddress),
      routes: this.decodeAll([...routes4, ...routes6], c.RTM_NEWROUTE, decodeRoute),
    };
  }

  /** Arms the address reflex on the notification socket (native/src/address_reflex.h); null disarms. */
  armAddressReflex(arm: AddressReflexArm | null): void {
    const events = this.events;
    if (events === undefined) return;
    if (arm === null || arm.entries.length === 0) {
      events.armReflex(null);
      return;
    }
    this.reflexTarget ??= NetlinkSocket.openQuiet(NETLINK_GENERIC, this.opts.netns !== undefined ? { netns: this.opts.netns } : {});
    const prefix = (family: 4 | 6, address: string, len: number) => ({ family, prefix: addressBytes(family, address), len });
    events.armReflex({
      target: this.reflexTarget,
      entries: arm.entries,
      refuse: arm.refuse.map((r) => prefix(r.family, r.address, r.len)),
      known: arm.known.map((k) => prefix(k.family, k.address, k.family === 4 ? 32 : 128)),
    });
  }

  /** Closes the sockets; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reflexTarget?.close();
    this.reflexTarget = undefined;
    this.events?.close();
    this.dumps?.close();
    this.events = undefined;
    this.dumps = undefined;
  }

  /** Decodes the dump parts of `type`; an entry that does not decode is skipped and logged. */
  private decodeAll<T>(msgs: NlMessage[], type: number, decode: (payload: Buffer) => T | null): T[] {
    const out: T[] = [];
    let bad = 0;
    let first: unknown;
    for (const m of msgs) {
      if (m.type !== type) continue;
      try {
        const v = decode(m.payload);
        if (v !== null) out.push(v);
      } catch (err) {
        bad++;
        first ??= err;
      }
    }
    if (bad > 0) this.log.warn({ type: c.rtmTypeName(type), skipped: bad, err: first }, 'rtnetlink: dump entries that do not decode were skipped');
    return out;
  }

  private onNotification(msg: NlMessage): void {
    const kind = changeKind(msg.type);
    if (kind === null) return;
    let detail: NetChange | null = null;
    try {
      detail = decodeChange(msg.type, msg.payload);
    } catch (err) {
      // Still a valid hint: the next snapshot re-reads what this one was about.
      this.log.debug({ type: c.rtmTypeName(msg.type), err }, 'rtnetlink: notification does not decode, re-reading');
    }
    if (detail === null) this.emit('change', kind);
    else this.emit('change', kind, detail);
  }

  private onError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else this.log.warn({ err }, 'rtnetlink socket error');
  }
}
