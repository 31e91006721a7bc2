/**
 * Builders for network snapshots in table-driven tests of the pure policy:
 * only the fields a case cares about need to be written.
 */
import type { Address, AddressFlags, Link, NetSnapshot, Route } from '../../src/netlink/types.js';

const NO_FLAGS: AddressFlags = { tentative: false, deprecated: false, temporary: false, dadfailed: false, nodad: false, optimistic: false, permanent: true };

/** A link that is up with carrier unless told otherwise. */
export function link(index: number, name: string, over: Partial<Link> = {}): Link {
  return { index, name, up: true, lowerUp: true, operstate: 'up', loopback: false, ...over };
}

/** An address of universe scope with no flags set unless told otherwise. */
export function addr(ifindex: number, address: string, over: Partial<Omit<Address, 'flags'>> & { flags?: Partial<AddressFlags> } = {}): Address {
  const family = address.includes(':') ? 6 : 4;
  const { flags, ...rest } = over;
  return { family, address, prefixLen: family === 4 ? 24 : 64, ifindex, scope: 0, ...rest, flags: { ...NO_FLAGS, ...flags } };
}

/** A default route (IPv4 or IPv6) through `ifindex` in `table`. */
export function defaultRoute(family: 4 | 6, ifindex: number, table = 254): Route {
  return { family, dst: null, dstLen: 0, table, type: 'unicast', oifs: [ifindex] };
}

/** A prefix route through `ifindex`. */
export function prefixRoute(family: 4 | 6, dst: string, dstLen: number, ifindex: number, table = 254): Route {
  return { family, dst, dstLen, table, type: 'unicast', oifs: [ifindex] };
}

/** Assembles a snapshot. */
export function snapshot(links: Link[], addresses: Address[], routes: Route[] = []): NetSnapshot {
  return { links, addresses, routes };
}
