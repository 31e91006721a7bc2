/**
 * The two-path topology of the path manager and client tests: a client and a
 * server namespace joined by two veth pairs, each its own subnet, with policy
 * routing on the client so that each source address leaves by its own link.
 *
 *   client eth0 10.11.1.1/24  <->  server eth0 10.11.1.2/24
 *   client eth1 10.11.2.1/24  <->  server eth1 10.11.2.2/24
 */
import { Netns, vethPair } from './netns.js';

/** Namespaces and addresses of a two-path topology. */
export interface TwoPaths {
  client: Netns;
  server: Netns;
  clientAddrs: [string, string];
  serverAddrs: [string, string];
  close(): void;
}

/** Builds the topology; `withAddresses: false` leaves the client's addresses to the test. */
export function twoPaths(opts: { withAddresses?: boolean; subnet?: number } = {}): TwoPaths {
  const n = opts.subnet ?? 11;
  const client = Netns.create('cli');
  const server = Netns.create('srv');
  try {
    vethPair(client, 'eth0', server, 'eth0');
    vethPair(client, 'eth1', server, 'eth1');
    server.ipSync('addr', 'add', `10.${n}.1.2/24`, 'dev', 'eth0');
    server.ipSync('addr', 'add', `10.${n}.2.2/24`, 'dev', 'eth1');
    server.ipSync('mptcp', 'limits', 'set', 'subflows', '8', 'add_addr_accepted', '8');
    if (opts.withAddresses !== false) addClientRouting(client, n);
  } catch (err) {
    client.close();
    server.close();
    throw err;
  }
  return {
    client,
    server,
    clientAddrs: [`10.${n}.1.1`, `10.${n}.2.1`],
    serverAddrs: [`10.${n}.1.2`, `10.${n}.2.2`],
    close() {
      client.close();
      server.close();
    },
  };
}

/** Client addresses, a default route per link and a rule per source address. */
export function addClientRouting(client: Netns, n = 11): void {
  client.ipSync('addr', 'add', `10.${n}.1.1/24`, 'dev', 'eth0');
  client.ipSync('addr', 'add', `10.${n}.2.1/24`, 'dev', 'eth1');
  client.ipSync('route', 'add', 'default', 'via', `10.${n}.1.2`, 'dev', 'eth0');
  client.ipSync('route', 'add', 'default', 'via', `10.${n}.2.2`, 'dev', 'eth1', 'table', '102');
  client.ipSync('rule', 'add', 'from', `10.${n}.2.1`, 'table', '102');
}

/** Endpoints as `ip -j mptcp endpoint show` reports them. */
export interface IpEndpoint {
  address: string;
  id: number;
  dev?: string;
  signal?: boolean;
  subflow?: boolean;
  backup?: boolean;
  fullmesh?: boolean;
}

/** The kernel's endpoints in `ns`, read with iproute2 (not with the code under test). */
export function ipEndpoints(ns: Netns): IpEndpoint[] {
  const out = ns.ipSync('-j', 'mptcp', 'endpoint', 'show').trim();
  return out === '' ? [] : (JSON.parse(out) as IpEndpoint[]);
}

/** The kernel's limits in `ns`, read with iproute2. */
export function ipLimits(ns: Netns): { subflows: number; addAddrAccepted: number } {
  const out = ns.ipSync('mptcp', 'limits', 'show');
  return { subflows: Number(/subflows (\d+)/.exec(out)?.[1]), addAddrAccepted: Number(/add_addr_accepted (\d+)/.exec(out)?.[1]) };
}

/**
 * Additional-subflow counts (mptcpi_subflows: the initial subflow is not
 * counted) of the established MPTCP connections in `ns`, read with `ss -Mi`,
 * which leaves the field out when it is 0.
 */
export function ssSubflows(ns: Netns): number[] {
  const out = ns.execSync('ss', ['-HMni', 'state', 'established']);
  return out
    .split('\n')
    .filter((l) => l.includes('token:'))
    .map((l) => Number(/(?:^|\s)subflows:(\d+)/.exec(l)?.[1] ?? 0));
}
