/**
 * Numbers of the `mptcp_pm` generic netlink family, defined here rather than
 * taken from installed headers, which lag the kernels this runs on.
 *
 * Sources: include/uapi/linux/mptcp_pm.h (generated from
 * Documentation/netlink/specs/mptcp_pm.yaml) and include/uapi/linux/mptcp.h,
 * as of Linux 6.18; every value below was also checked against a running
 * 6.18 kernel (family, group and command ids from CTRL_CMD_GETFAMILY, the
 * attribute layouts from real replies and events, see
 * test/fixtures/mptcp-pm-kernel-6.18.json). Attribute and command ids only
 * ever get appended, so older kernels lack the newest ones and nothing else.
 */

/** Generic netlink family name (MPTCP_PM_NAME). */
export const MPTCP_PM_NAME = 'mptcp_pm';
/** Family version the kernel announces and expects in the genl header (MPTCP_PM_VER). */
export const MPTCP_PM_VER = 1;
/** Multicast group of command echoes (MPTCP_PM_CMD_GRP_NAME); unused here. */
export const MPTCP_PM_CMD_GRP_NAME = 'mptcp_pm_cmds';
/** Multicast group of connection and subflow events (MPTCP_PM_EV_GRP_NAME). */
export const MPTCP_PM_EV_GRP_NAME = 'mptcp_pm_events';

/** Commands (enum in mptcp_pm.h). The last four serve the userspace path manager. */
export const MPTCP_PM_CMD = {
  ADD_ADDR: 1,
  DEL_ADDR: 2,
  GET_ADDR: 3,
  FLUSH_ADDRS: 4,
  SET_LIMITS: 5,
  GET_LIMITS: 6,
  SET_FLAGS: 7,
  ANNOUNCE: 8,
  REMOVE: 9,
  SUBFLOW_CREATE: 10,
  SUBFLOW_DESTROY: 11,
} as const;

/**
 * Top-level attributes of requests and replies (MPTCP_PM_ATTR_*; the
 * endpoint commands call id 1 MPTCP_PM_ENDPOINT_ADDR, same number).
 */
export const MPTCP_PM_ATTR = {
  ADDR: 1,
  RCV_ADD_ADDRS: 2,
  SUBFLOWS: 3,
  TOKEN: 4,
  LOC_ID: 5,
  ADDR_REMOTE: 6,
} as const;

/**
 * Attributes inside the nested address (MPTCP_PM_ADDR_ATTR_*). PORT is in
 * host byte order here, although the spec marks it big-endian: the kernel
 * reads it with nla_get_u16() and htons() and dumps ntohs(port); iproute2
 * and a 6.18 kernel agree.
 */
export const MPTCP_PM_ADDR_ATTR = {
  FAMILY: 1, // u16, AF_INET / AF_INET6
  ID: 2, // u8
  ADDR4: 3, // 4 bytes, network order
  ADDR6: 4, // 16 bytes
  PORT: 5, // u16, host order
  FLAGS: 6, // u32, MPTCP_PM_ADDR_FLAG_*
  IF_IDX: 7, // s32
} as const;

/** Endpoint flags (MPTCP_PM_ADDR_FLAG_*, mptcp.h). LAMINAR appeared in Linux 6.18. */
export const MPTCP_PM_ADDR_FLAG = {
  signal: 1 << 0,
  subflow: 1 << 1,
  backup: 1 << 2,
  fullmesh: 1 << 3,
  implicit: 1 << 4,
  laminar: 1 << 5,
} as const;

/** The flags MPTCP_PM_CMD_SET_FLAGS changes on an in-kernel endpoint (net/mptcp/pm_netlink.c); the kernel ignores the others. */
export const CHANGEABLE_FLAGS = ['backup', 'fullmesh'] as const;
export const MPTCP_PM_CHANGEABLE_FLAGS = CHANGEABLE_FLAGS.reduce((m, f) => m | MPTCP_PM_ADDR_FLAG[f], 0);

/** Highest endpoint id (MPTCP_PM_MAX_ADDR_ID, net/mptcp/protocol.h). */
export const MPTCP_PM_MAX_ADDR_ID = 255;
/** Endpoints the in-kernel path manager keeps per namespace, and the ceiling of each limit (MPTCP_PM_ADDR_MAX, net/mptcp/pm_kernel.c). */
export const MPTCP_PM_ADDR_MAX = 8;

/** Event types, the genl command of each multicast event (enum mptcp_event_type). */
export const MPTCP_EVENT = {
  created: 1,
  established: 2,
  closed: 3,
  announced: 6,
  removed: 7,
  sub_established: 10,
  sub_closed: 11,
  sub_priority: 13,
  listener_created: 15,
  listener_closed: 16,
} as const;

/** Attributes of events (enum mptcp_event_attr). Ports and IPv4 addresses are network order. */
export const MPTCP_ATTR = {
  TOKEN: 1, // u32
  FAMILY: 2, // u16
  LOC_ID: 3, // u8
  REM_ID: 4, // u8
  SADDR4: 5, // 4 bytes
  SADDR6: 6, // 16 bytes
  DADDR4: 7, // 4 bytes
  DADDR6: 8, // 16 bytes
  SPORT: 9, // u16, network order
  DPORT: 10, // u16, network order
  BACKUP: 11, // u8
  ERROR: 12, // u8, the subflow's sk_err
  FLAGS: 13, // u16, MPTCP_PM_EV_FLAG_*
  TIMEOUT: 14, // u32
  IF_IDX: 15, // s32
  RESET_REASON: 16, // u32
  RESET_FLAGS: 17, // u32
  SERVER_SIDE: 18, // u8; kept by 6.18 next to MPTCP_PM_EV_FLAG_SERVER_SIDE
} as const;

/** Bits of MPTCP_ATTR_FLAGS (MPTCP_PM_EV_FLAG_*, mptcp.h). */
export const MPTCP_PM_EV_FLAG = {
  DENY_JOIN_ID0: 1 << 0,
  SERVER_SIDE: 1 << 1,
} as const;

/** Address families as the kernel numbers them (include/linux/socket.h). */
export const AF_INET = 2;
export const AF_INET6 = 10;
