/**
 * rtnetlink numbers the monitor uses, with the uapi header each comes from
 * (values stable since Linux 2.6 unless noted).
 */

// Message types (include/uapi/linux/rtnetlink.h).
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;

const RTM_NAMES: Record<number, string> = {
  [RTM_NEWLINK]: 'RTM_NEWLINK',
  [RTM_DELLINK]: 'RTM_DELLINK',
  [RTM_GETLINK]: 'RTM_GETLINK',
  [RTM_NEWADDR]: 'RTM_NEWADDR',
  [RTM_DELADDR]: 'RTM_DELADDR',
  [RTM_GETADDR]: 'RTM_GETADDR',
  [RTM_NEWROUTE]: 'RTM_NEWROUTE',
  [RTM_DELROUTE]: 'RTM_DELROUTE',
  [RTM_GETROUTE]: 'RTM_GETROUTE',
};

/** Name of an rtnetlink message type for errors and logs ("RTM_NEWADDR"). */
export function rtmTypeName(type: number): string | undefined {
  return RTM_NAMES[type];
}

// Multicast groups (enum rtnetlink_groups, rtnetlink.h).
export const RTNLGRP_LINK = 1;
export const RTNLGRP_IPV4_IFADDR = 5;
export const RTNLGRP_IPV4_ROUTE = 7;
export const RTNLGRP_IPV6_IFADDR = 9;
export const RTNLGRP_IPV6_ROUTE = 11;

// Address families (include/linux/socket.h).
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

// struct ifinfomsg is 16 bytes; struct ifaddrmsg 8; struct rtmsg 12 (rtnetlink.h, if_addr.h).
export const IFINFOMSG_LEN = 16;
export const IFADDRMSG_LEN = 8;
export const RTMSG_LEN = 12;

// Link attributes (include/uapi/linux/if_link.h).
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_OPERSTATE = 16;
export const IFLA_LINKINFO = 18;
export const IFLA_EXT_MASK = 29;
export const IFLA_INFO_KIND = 1;
/** IFLA_EXT_MASK bit: leave the large statistics out of link dumps (Linux 4.14). */
export const RTEXT_FILTER_SKIP_STATS = 1 << 3;

// net_device flags (include/uapi/linux/if.h).
export const IFF_UP = 0x1;
export const IFF_LOOPBACK = 0x8;
export const IFF_LOWER_UP = 0x10000;

// Address attributes and flags (include/uapi/linux/if_addr.h).
export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_CACHEINFO = 6;
/** u32 extension of ifa_flags (Linux 3.14); when present the 8-bit field is ignored. */
export const IFA_FLAGS = 8;
export const IFA_F_SECONDARY = 0x01;
/** Same bit as IFA_F_SECONDARY: IPv4 calls it secondary, IPv6 temporary (privacy). */
export const IFA_F_TEMPORARY = IFA_F_SECONDARY;
export const IFA_F_NODAD = 0x02;
export const IFA_F_OPTIMISTIC = 0x04;
export const IFA_F_DADFAILED = 0x08;
export const IFA_F_DEPRECATED = 0x20;
export const IFA_F_TENTATIVE = 0x40;
export const IFA_F_PERMANENT = 0x80;
/** ifa_cacheinfo lifetime meaning "forever". */
export const INFINITY_LIFE_TIME = 0xffffffff;

// Route attributes (rtnetlink.h).
export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PREFSRC = 7;
export const RTA_MULTIPATH = 9;
export const RTA_TABLE = 15;
/** struct rtvia: u16 family then the address (Linux 4.1; IPv4 routes via IPv6 next hops since 5.2). */
export const RTA_VIA = 18;
/** struct rtnexthop: u16 len, u8 flags, u8 hops, s32 ifindex, then attributes. */
export const RTNEXTHOP_LEN = 8;

/** enum rt_class_t: table id meaning "all tables" in a dump request. */
export const RT_TABLE_UNSPEC = 0;

/** RTN_* route types (rtnetlink.h), by value. */
export const RTN_NAMES = ['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve'] as const;

/** IF_OPER_* (include/uapi/linux/if.h), by value. */
export const OPERSTATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;
