/**
 * The two small interfaces the daemon needs from the kernel. The netlink
 * modules implement them over real sockets; tests of the reconciler may
 * implement them with fakes only for what a namespace cannot show.
 */
import type { EventEmitter } from 'node:events';
import type { Address, EndpointFlag, EndpointSpec, KernelEndpoint, Limits, Link, NetSnapshot, Route } from './types.js';

/** What changed, as far as one rtnetlink notification tells. Only a hint: consumers re-read. */
export type NetChangeKind = 'link' | 'address' | 'route';

/**
 * The object one notification carries, decoded: enough to predict the next
 * snapshot from the last one. `gone` is true for RTM_DEL* messages.
 */
export type NetChange =
  | { kind: 'link'; gone: boolean; link: Link }
  | { kind: 'address'; gone: boolean; address: Address }
  | { kind: 'route'; gone: boolean; route: Route };

/** Events of a NetMonitor. */
export interface NetMonitorEvents {
  /**
   * A notification arrived; re-read with snapshot(). `detail` is the decoded
   * object, absent when the message did not decode or is of no interest.
   */
  change: [kind: NetChangeKind, detail?: NetChange];
  /** The receive buffer overflowed (ENOBUFS): notifications were lost; re-read everything. */
  overrun: [];
  /** The armed address reflex sent an endpoint request; comes before the notification it acted on. */
  reflex: [fired: AddressReflexFired];
  /** A non-fatal socket error; the monitor keeps going. */
  error: [err: Error];
}

/** Watches links, addresses and routes (rtnetlink) and dumps them on request. */
export interface NetMonitor extends EventEmitter<NetMonitorEvents> {
  /** Opens the socket and joins the link, IPv4/IPv6 address and route groups. */
  start(): Promise<void>;
  /** Dumps links, addresses and routes (all tables) from the kernel. */
  snapshot(): Promise<NetSnapshot>;
  /** Closes the socket; safe to call twice. */
  close(): void;
  /**
   * Arms the address reflex (native/src/address_reflex.h) for the next
   * notification, or disarms it with null. Monitors without one leave it out.
   */
  armAddressReflex?(arm: AddressReflexArm | null): void;
}

/** An endpoint request made ahead of time, and where in it the address goes. */
export interface PreparedAdd {
  /** A whole ADD_ADDR netlink message. */
  request: Buffer;
  addressOffset: number;
}

/** What the address reflex sends for an address notification on one link (native/src/address_reflex.h). */
export interface ReflexEntry extends PreparedAdd {
  ifindex: number;
  family: 4 | 6;
  /** IFA_F_* bits that leave an address to the daemon. */
  refuseFlags: number;
}

/** What the address reflex may do on its own until the next notification. */
export interface AddressReflexArm {
  entries: ReflexEntry[];
  /** Prefixes whose addresses are left to the daemon. */
  refuse: Array<{ family: 4 | 6; address: string; len: number }>;
  /** Addresses that are not new. */
  known: Array<{ family: 4 | 6; address: string }>;
}

/** A request the reflex sent: errno 0 once the kernel acknowledged it, EINPROGRESS when no ack was read. */
export interface AddressReflexFired {
  ifindex: number;
  family: 4 | 6;
  address: string;
  errno: number;
}

/** A connection- or subflow-level event from the `mptcp_pm_events` multicast group. */
export interface MptcpPmEvent {
  /** MPTCP_EVENT_* name in lower case without prefix: "created", "established", "closed", "announced", "removed", "sub_established", "sub_closed", "sub_priority", "listener_created", "listener_closed". */
  type: string;
  token?: number;
  family?: 4 | 6;
  saddr?: string;
  daddr?: string;
  sport?: number;
  dport?: number;
  locId?: number;
  remId?: number;
  ifindex?: number;
  backup?: boolean;
  error?: number;
  flags?: number;
  serverSide?: boolean;
  reset?: { reason: number; flags: number };
}

/** Events of an MptcpPm client. */
export interface MptcpPmEvents {
  /** The `mptcp_pm` generic netlink family appeared (also at start when present). */
  familyUp: [];
  /** The family went away (module unloaded): requests fail until familyUp. */
  familyDown: [];
  /** A multicast event from `mptcp_pm_events`. */
  pmEvent: [event: MptcpPmEvent];
  /** Lost notifications (ENOBUFS) on the event socket. */
  overrun: [];
  error: [err: Error];
}

/** Client of the kernel's in-kernel MPTCP path manager (generic netlink family `mptcp_pm`). */
export interface MptcpPm extends EventEmitter<MptcpPmEvents> {
  /** Resolves the family, subscribes to its events; resolves even when the family is absent (see available). */
  start(): Promise<void>;
  /** Whether the family is currently resolved. */
  readonly available: boolean;
  dumpEndpoints(): Promise<KernelEndpoint[]>;
  /** Adds an endpoint and returns the id the kernel gave it. */
  addEndpoint(spec: EndpointSpec): Promise<number>;
  /** Deletes an endpoint by id (the address is needed for id 0). */
  deleteEndpoint(ep: Pick<KernelEndpoint, 'id' | 'family' | 'address'>): Promise<void>;
  /** Changes the changeable flags (backup, fullmesh) of an existing endpoint. */
  setEndpointFlags(ep: Pick<KernelEndpoint, 'id' | 'family' | 'address'>, flags: EndpointFlag[]): Promise<void>;
  flushEndpoints(): Promise<void>;
  getLimits(): Promise<Limits>;
  setLimits(limits: Limits): Promise<void>;
  close(): void;
  /** The ADD_ADDR request for `spec`, ready to send with another address of its family; null while the family is unknown. */
  prepareAdd?(spec: EndpointSpec): PreparedAdd | null;
}
