/**
 * The shapes the netlink layer hands to the rest of the daemon. They are
 * plain data (no Buffers, no classes) so that policy and diff stay pure and
 * the status API can serialise them as they are.
 */

/** Operational state, as IFLA_OPERSTATE (RFC 2863 names, include/uapi/linux/if.h). */
export type OperState = 'unknown' | 'notpresent' | 'down' | 'lowerlayerdown' | 'testing' | 'dormant' | 'up';

/** One network interface (RTM_NEWLINK). */
export interface Link {
  index: number;
  name: string;
  /** IFF_UP: administratively up. */
  up: boolean;
  /** IFF_LOWER_UP: the driver reports carrier. */
  lowerUp: boolean;
  operstate: OperState;
  /** IFF_LOOPBACK. */
  loopback: boolean;
  /** IFLA_INFO_KIND ("veth", "bridge", "wireguard", ...) when the link has one. */
  kind?: string;
  mtu?: number;
}

/** Address flags that decide whether an address may be used (IFA_F_*, include/uapi/linux/if_addr.h). */
export interface AddressFlags {
  tentative: boolean;
  deprecated: boolean;
  temporary: boolean;
  dadfailed: boolean;
  nodad: boolean;
  optimistic: boolean;
  permanent: boolean;
}

/** One IPv4 or IPv6 address (RTM_NEWADDR). */
export interface Address {
  family: 4 | 6;
  /** Textual address, IPv6 in canonical compressed form. */
  address: string;
  prefixLen: number;
  ifindex: number;
  /** rtm scope: 0 universe, 200 site, 253 link, 254 host, 255 nowhere. */
  scope: number;
  flags: AddressFlags;
  /** Seconds; undefined means forever. */
  preferredLft?: number;
  validLft?: number;
}

/** One route (RTM_NEWROUTE), any table; multipath routes list every next hop's interface. */
export interface Route {
  family: 4 | 6;
  /** Destination; null for a default route. */
  dst: string | null;
  dstLen: number;
  table: number;
  /** RTN_* type name: "unicast", "local", "broadcast", "unreachable", ... */
  type: string;
  /** Output interfaces: RTA_OIF, or every RTA_MULTIPATH next hop's ifindex. */
  oifs: number[];
  gateway?: string;
  prefsrc?: string;
}

/** The host's network state at one instant, as dumped from the kernel. */
export interface NetSnapshot {
  links: Link[];
  addresses: Address[];
  routes: Route[];
}

/** MPTCP endpoint flags (MPTCP_PM_ADDR_FLAG_*, include/uapi/linux/mptcp.h). */
export type EndpointFlag = 'signal' | 'subflow' | 'backup' | 'fullmesh' | 'implicit' | 'laminar';

/** One MPTCP endpoint as the kernel reports it (MPTCP_PM_CMD_GET_ADDR dump). */
export interface KernelEndpoint {
  id: number;
  family: 4 | 6;
  address: string;
  port?: number;
  /** Bound device (MPTCP_PM_ADDR_ATTR_IF_IDX); undefined or 0 when none. */
  ifindex?: number;
  flags: EndpointFlag[];
}

/** An endpoint to add: the kernel picks the id when `id` is omitted. */
export interface EndpointSpec {
  id?: number;
  family: 4 | 6;
  address: string;
  port?: number;
  ifindex?: number;
  flags: EndpointFlag[];
}

/** The in-kernel path manager's limits (MPTCP_PM_CMD_GET_LIMITS). */
export interface Limits {
  subflows: number;
  addAddrAccepted: number;
}
