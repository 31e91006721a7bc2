/**
 * Client of the kernel's in-kernel MPTCP path manager, the generic netlink
 * family `mptcp_pm`: endpoints, limits and the `mptcp_pm_events` multicast
 * group.
 *
 * Two sockets: one for requests, one that only listens (nlctrl's `notify`
 * group and `mptcp_pm_events`), so a burst of events cannot delay or drop
 * the acks of requests. nlctrl notifications tell when the family goes away
 * (module unloaded) and comes back, possibly with another id and group id;
 * after an overrun, which may have swallowed such a notification, the
 * family is resolved again.
 */
import { EventEmitter } from 'node:events';
import { MpsshError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import {
  GENL_CTRL_NAME,
  GENL_CTRL_NOTIFY_GROUP,
  GENL_ID_CTRL,
  NETLINK_GENERIC,
  applyCtrlNotification,
  compareFamily,
  parseCtrlNotification,
  resolveFamily,
  type FamilyChange,
  type GenlFamily,
  type GenlRequester,
} from './genl.js';
import { MPTCP_PM_CMD, MPTCP_PM_EV_GRP_NAME, MPTCP_PM_NAME } from './mptcp-constants.js';
import {
  addressBytes,
  canonicalAddress,
  decodeEndpoint,
  decodeEvent,
  decodeLimits,
  encodeAddEndpoint,
  encodeDelEndpoint,
  encodeDumpEndpoints,
  encodeFlushEndpoints,
  encodeGetLimits,
  encodeSetFlags,
  encodeSetLimits,
  type EndpointRef,
} from './mptcp-pm-codec.js';
import { encodeMessage, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, type NlMessage } from './nlmsg.js';
import type { MptcpPm, MptcpPmEvents, PreparedAdd } from './clients.js';
import { NetlinkSocket, type NetlinkSocketEvents } from './socket.js';
import type { EndpointFlag, EndpointSpec, KernelEndpoint, Limits } from './types.js';

/** The part of NetlinkSocket this client uses; tests may hand in another. */
export interface GenlSocket extends GenlRequester, EventEmitter<NetlinkSocketEvents> {
  addMembership(group: number): void;
  dropMembership(group: number): void;
  close(): void;
}

export interface MptcpPmClientOptions {
  /** `ip netns` name or path: talk to the path manager of that namespace. */
  netns?: string;
  /** Per-request inactivity limit in ms (the socket's default when unset). */
  timeoutMs?: number;
  /** Opens a NETLINK_GENERIC socket; defaults to NetlinkSocket.open. */
  openSocket?: (opts: { netns?: string; log?: Logger }) => GenlSocket;
}

const COMMAND_NAMES = new Map<number, string>(Object.entries(MPTCP_PM_CMD).map(([k, v]) => [v, k]));

/** Client of the in-kernel MPTCP path manager (`mptcp_pm`), in one network namespace. */
export class MptcpPmClient extends EventEmitter<MptcpPmEvents> implements MptcpPm {
  private readonly log: Logger;
  private family: GenlFamily | null = null;
  private cmdSock: GenlSocket | null = null;
  private evSock: GenlSocket | null = null;
  private joinedGroup: number | null = null;
  private starting: Promise<void> | null = null;
  private refreshing = false;
  private closed = false;

  constructor(
    log: Logger,
    private readonly opts: MptcpPmClientOptions = {},
  ) {
    super();
    this.log = log.child({ mod: 'mptcp-pm', ...(opts.netns !== undefined ? { netns: opts.netns } : {}) });
  }

  /** Whether the `mptcp_pm` family is currently resolved. */
  get available(): boolean {
    return this.family !== null && !this.closed;
  }

  /** The resolved family (id, version, groups), or null while it is absent. */
  get familyInfo(): GenlFamily | null {
    return this.family;
  }

  /**
   * Opens the sockets, follows nlctrl, resolves the family and joins its
   * events; safe to call twice. Resolves when the family is absent; rejects
   * when the sockets cannot be opened or nlctrl does not answer.
   */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new MpsshError('closed', 'mptcp_pm client is closed'));
    this.starting ??= this.doStart().catch((err: unknown) => {
      this.closeSockets();
      this.starting = null;
      // close() during start() makes the pending requests fail: not an error of start().
      if (!this.closed) throw err;
    });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const open = this.opts.openSocket ?? ((o) => NetlinkSocket.open(NETLINK_GENERIC, o));
    const sockOpts = { netns: this.opts.netns, log: this.log };
    const cmd = (this.cmdSock = open(sockOpts));
    const ev = (this.evSock = open(sockOpts));
    cmd.on('error', (err) => this.reportError(err));
    ev.on('error', (err) => this.reportError(err));
    ev.on('notification', (msg) => this.onNotification(msg));
    ev.on('overrun', () => this.onOverrun());
    // Listen to nlctrl before asking, so that a family registered in between is not missed.
    const ctrl = await resolveFamily(cmd, GENL_CTRL_NAME, this.opts.timeoutMs);
    if (this.closed) return;
    ev.addMembership(ctrl?.groups[GENL_CTRL_NOTIFY_GROUP] ?? GENL_ID_CTRL);
    const family = await resolveFamily(cmd, MPTCP_PM_NAME, this.opts.timeoutMs);
    if (this.closed) return;
    if (family === null) {
      this.log.warn('generic netlink family mptcp_pm is absent (kernel without MPTCP, or module not loaded); waiting for it');
    }
    this.applyChange(compareFamily(this.family, family), family);
  }

  /** Dumps the endpoints (MPTCP_PM_CMD_GET_ADDR). */
  async dumpEndpoints(): Promise<KernelEndpoint[]> {
    const replies = await this.call(MPTCP_PM_CMD.GET_ADDR, encodeDumpEndpoints(), true);
    return replies.map((m) => {
      const d = decodeEndpoint(m.payload);
      if (d.unknownAttrs.length || d.unknownFlags) {
        this.log.debug({ id: d.endpoint.id, unknownAttrs: d.unknownAttrs, unknownFlags: d.unknownFlags }, 'endpoint has attributes or flags this version does not know');
      }
      return d.endpoint;
    });
  }

  /**
   * Adds an endpoint and returns its id: `spec.id`, or when the kernel
   * picked it, the id of the endpoint with that address in a dump right
   * after (the kernel's ack does not carry it).
   */
  async addEndpoint(spec: EndpointSpec): Promise<number> {
    await this.call(MPTCP_PM_CMD.ADD_ADDR, encodeAddEndpoint(spec));
    if (spec.id !== undefined) return spec.id;
    const address = canonicalAddress(spec.family, spec.address);
    const same = (await this.dumpEndpoints()).filter((e) => e.family === spec.family && e.address === address);
    // The kernel keeps the port only of signal-only endpoints, so match on it when it is there.
    const ep = same.find((e) => (e.port ?? 0) === (spec.port ?? 0)) ?? same[0];
    if (!ep) throw new MpsshError('kernel', `endpoint ${address} was added but a dump right after does not show it`);
    return ep.id;
  }

  /**
   * The ADD_ADDR request for `spec`, with the offset of its address: the
   * address reflex writes another one there and sends it. Null while the
   * family is unknown (its id is in the request).
   */
  prepareAdd(spec: EndpointSpec): PreparedAdd | null {
    if (this.family === null) return null;
    const payload = encodeAddEndpoint(spec);
    const request = encodeMessage({ type: this.family.id, flags: NLM_F_REQUEST | NLM_F_ACK, seq: 0, portId: 0, payload });
    const address = addressBytes(spec.family, spec.address);
    const addressOffset = request.indexOf(address);
    if (addressOffset < 0 || request.indexOf(address, addressOffset + 1) >= 0) {
      throw new MpsshError('bad-request', `the address ${spec.address} is not once in its own ADD_ADDR request`);
    }
    return { request, addressOffset };
  }

  /** Deletes an endpoint by id; id 0 (the initial subflows' address) needs `address`. */
  async deleteEndpoint(ep: EndpointRef): Promise<void> {
    await this.call(MPTCP_PM_CMD.DEL_ADDR, encodeDelEndpoint(ep));
  }

  /** Sets the backup and fullmesh flags of an endpoint to those in `flags` (others are ignored). */
  async setEndpointFlags(ep: EndpointRef, flags: EndpointFlag[]): Promise<void> {
    await this.call(MPTCP_PM_CMD.SET_FLAGS, encodeSetFlags(ep, flags));
  }

  /** Deletes every endpoint (MPTCP_PM_CMD_FLUSH_ADDRS); also resets the kernel's endpoint counters. */
  async flushEndpoints(): Promise<void> {
    await this.call(MPTCP_PM_CMD.FLUSH_ADDRS, encodeFlushEndpoints());
  }

  /** Reads the limits (MPTCP_PM_CMD_GET_LIMITS). */
  async getLimits(): Promise<Limits> {
    const [reply] = await this.call(MPTCP_PM_CMD.GET_LIMITS, encodeGetLimits());
    if (!reply) throw new MpsshError('kernel', 'mptcp_pm GET_LIMITS: the kernel acked without a reply');
    const { limits, unknownAttrs } = decodeLimits(reply.payload);
    if (unknownAttrs.length) this.log.debug({ unknownAttrs }, 'limits reply has attributes this version does not know');
    return limits;
  }

  /** Sets both limits (MPTCP_PM_CMD_SET_LIMITS); each at most 8 on Linux 6.18. */
  async setLimits(limits: Limits): Promise<void> {
    await this.call(MPTCP_PM_CMD.SET_LIMITS, encodeSetLimits(limits));
  }

  /** Closes both sockets; pending requests reject. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.family = null;
    this.closeSockets();
  }

  private closeSockets(): void {
    this.cmdSock?.close();
    this.evSock?.close();
    this.cmdSock = null;
    this.evSock = null;
    this.joinedGroup = null;
  }

  /** Sends one command to the family; resolves with its replies of the family's type. */
  private async call(cmd: number, payload: Buffer, dump = false): Promise<NlMessage[]> {
    // Deleting and flushing wait for an RCU grace period inside sendto (the
    // kernel's mptcp_pm_nl_del_addr_doit and flush handler call synchronize_rcu()
    // before freeing the entries): those go from a pool thread.
    const offThread = cmd === MPTCP_PM_CMD.DEL_ADDR || cmd === MPTCP_PM_CMD.FLUSH_ADDRS;
    if (this.closed) throw new MpsshError('closed', 'mptcp_pm client is closed');
    const family = this.family;
    const sock = this.cmdSock;
    if (family === null || sock === null) {
      const why = sock === null ? 'the client is not started' : 'the kernel has no generic netlink family mptcp_pm (MPTCP not built, or its module not loaded)';
      throw new MpsshError('unavailable', `mptcp_pm ${COMMAND_NAMES.get(cmd)}: ${why}`);
    }
    const name = `mptcp_pm ${COMMAND_NAMES.get(cmd) ?? cmd}`;
    const replies = await sock.request(family.id, dump ? NLM_F_DUMP : 0, payload, { timeoutMs: this.opts.timeoutMs, name, offThread });
    return replies.filter((m) => m.type === family.id);
  }

  private onNotification(msg: NlMessage): void {
    try {
      if (msg.type === GENL_ID_CTRL) {
        const n = parseCtrlNotification(msg.payload);
        if (n === null) return;
        const { next, change } = applyCtrlNotification(this.family, MPTCP_PM_NAME, n);
        this.applyChange(change, next);
      } else if (this.family !== null && msg.type === this.family.id) {
        this.onEvent(msg);
      } else {
        this.log.debug({ type: msg.type }, 'notification of another family ignored');
      }
    } catch (err) {
      this.reportError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private onEvent(msg: NlMessage): void {
    const d = decodeEvent(msg.payload);
    if (d.event === null) {
      this.log.debug({ eventType: d.type }, 'mptcp_pm event of a type this version does not know');
      return;
    }
    if (d.unknownAttrs.length) this.log.debug({ event: d.event.type, unknownAttrs: d.unknownAttrs }, 'mptcp_pm event has attributes this version does not know');
    this.emit('pmEvent', d.event);
  }

  private onOverrun(): void {
    this.log.warn('mptcp_pm event socket overran: events were lost');
    this.emit('overrun');
    void this.refreshFamily();
  }

  /** Resolves the family again, for when nlctrl notifications may have been lost. */
  private async refreshFamily(): Promise<void> {
    if (this.refreshing || this.closed || this.cmdSock === null) return;
    this.refreshing = true;
    try {
      const family = await resolveFamily(this.cmdSock, MPTCP_PM_NAME, this.opts.timeoutMs);
      if (!this.closed) this.applyChange(compareFamily(this.family, family), family);
    } catch (err) {
      this.reportError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.refreshing = false;
    }
  }

  private applyChange(change: FamilyChange, next: GenlFamily | null): void {
    if (change === null) return;
    if (change === 'down' || change === 'replaced') {
      this.family = null;
      // The kernel drops every member of a family's groups when it unregisters.
      this.joinedGroup = null;
      this.log.warn('generic netlink family mptcp_pm went away');
      this.emit('familyDown');
    }
    if (next === null || change === 'down') return;
    this.family = next;
    this.joinEvents(next);
    if (change !== 'groups') {
      this.log.info({ id: next.id, version: next.version, eventsGroup: this.joinedGroup }, 'generic netlink family mptcp_pm is available');
      this.emit('familyUp');
    }
  }

  private joinEvents(family: GenlFamily): void {
    const group = family.groups[MPTCP_PM_EV_GRP_NAME];
    if (group === this.joinedGroup || this.evSock === null) return;
    try {
      if (this.joinedGroup !== null) this.evSock.dropMembership(this.joinedGroup);
      this.joinedGroup = null;
      if (group !== undefined) {
        this.evSock.addMembership(group);
        this.joinedGroup = group;
      } else {
        this.log.warn('mptcp_pm has no mptcp_pm_events group: no events');
      }
    } catch (err) {
      this.reportError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Logs a non-fatal error and emits it only when someone listens (an unheard 'error' would throw). */
  private reportError(err: Error): void {
    this.log.warn({ err }, 'mptcp_pm client error');
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}
