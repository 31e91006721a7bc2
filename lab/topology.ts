/**
 * The lab's network: a client and a server namespace joined by independent
 * paths through a router namespace.
 *
 *   client ethK 10.N.(K+1).x/24 <-> router cK 10.N.(K+1).1   (tbf: download rate)
 *   router sK 10.N.(K+101).1/24 <-> server ethK 10.N.(K+101).2 (tbf: upload rate)
 *
 * The server answers on a service address on its loopback (10.N.255.1), so no
 * path is the server's "own": the router sends what comes in on cK out of sK
 * (a rule per input interface), and the server routes each client subnet back
 * over its own path. The rate caps sit on the router's egress interfaces, so a
 * client link that goes down is silent to the server, as a lost Wi-Fi is.
 * The client has a route table and a rule per source address, as a laptop
 * with NetworkManager has, and a default route per link in the main table
 * (metric by path number) for plain TCP.
 */
import { Netns, vethPair } from '../tools/netns.js';
import { parseRate, tbfBurstBytes } from './rate.js';

/** One path and its current state. */
export interface LabPath {
  index: number;
  /** What the scenario calls it (`4g`, `wifi-home`); `path K` unless given. */
  name: string;
  /** The client's interface: ethK. */
  ifname: string;
  /** The client's current address, or null while the path is gone. */
  address: string | null;
  up: boolean;
  downRate: string;
  upRate: string;
}

/** Builds, changes and removes the lab network. */
export class LabTopology {
  readonly client: Netns;
  readonly router: Netns;
  readonly server: Netns;
  readonly paths: LabPath[] = [];
  private generation = 0;
  private closed = false;

  constructor(readonly subnet: number) {
    this.client = Netns.create('labc');
    this.router = Netns.create('labr');
    this.server = Netns.create('labs');
    try {
      this.router.sysctl('net.ipv4.ip_forward', '1');
      // Replies from the service address come in on sK but the router's own route to it is per
      // input interface only: strict reverse-path filtering would drop them.
      for (const k of ['all', 'default']) this.router.sysctl(`net.ipv4.conf.${k}.rp_filter`, '0');
      this.server.ipSync('addr', 'add', `${this.serviceAddress}/32`, 'dev', 'lo');
      this.server.ipSync('mptcp', 'limits', 'set', 'subflows', '8', 'add_addr_accepted', '8');
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** The server's address that every client connects to. */
  get serviceAddress(): string {
    return `10.${this.subnet}.255.1`;
  }

  /** Adds path K (the next index) with its links, routes and rate caps; the client side is brought up unless `up: false`. */
  addPath(opts: { downRate: string; upRate?: string; up?: boolean; name?: string }): LabPath {
    const k = this.paths.length;
    const p: LabPath = { index: k, name: opts.name ?? `path ${k}`, ifname: `eth${k}`, address: null, up: false, downRate: opts.downRate, upRate: opts.upRate ?? opts.downRate };
    const n = this.subnet;
    vethPair(this.client, p.ifname, this.router, `c${k}`);
    vethPair(this.router, `s${k}`, this.server, p.ifname);
    this.router.ipSync('addr', 'add', `10.${n}.${k + 1}.1/24`, 'dev', `c${k}`);
    this.router.ipSync('addr', 'add', `10.${n}.${k + 101}.1/24`, 'dev', `s${k}`);
    this.server.ipSync('addr', 'add', `10.${n}.${k + 101}.2/24`, 'dev', p.ifname);
    this.router.ipSync('route', 'add', `${this.serviceAddress}/32`, 'via', `10.${n}.${k + 101}.2`, 'dev', `s${k}`, 'table', String(100 + k));
    this.router.ipSync('rule', 'add', 'iif', `c${k}`, 'table', String(100 + k), 'priority', String(100 + k));
    this.server.ipSync('route', 'add', `10.${n}.${k + 1}.0/24`, 'via', `10.${n}.${k + 101}.1`, 'dev', p.ifname);
    this.paths.push(p);
    this.setRate(k, p.downRate, p.upRate);
    // Until the path "appears" the client end is down, as an interface without a network is.
    this.client.ipSync('link', 'set', p.ifname, 'down');
    if (opts.up !== false) this.pathUp(k);
    return p;
  }

  /** Caps path K at `down` towards the client and `up` towards the server. */
  setRate(k: number, down: string, up: string = down): void {
    const p = this.path(k);
    p.downRate = down;
    p.upRate = up;
    for (const [dev, rate] of [[`c${k}`, down], [`s${k}`, up]] as const) {
      const bps = parseRate(rate);
      this.router.execSync('tc', ['qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${bps}bit`, 'burst', String(tbfBurstBytes(bps)), 'latency', '20ms']);
    }
  }

  /**
   * The client's end of path K comes up with a fresh address (a new DHCP
   * lease each time, as when Wi-Fi returns), its route table, rule and main
   * default route. `sameAddress` keeps the previous address (a cable plugged back in).
   */
  pathUp(k: number, opts: { sameAddress?: boolean } = {}): string {
    const p = this.path(k);
    const n = this.subnet;
    const addr = opts.sameAddress && p.address ? p.address : `10.${n}.${k + 1}.${10 + (this.generation++ % 240)}`;
    const gw = `10.${n}.${k + 1}.1`;
    const table = String(100 + k);
    this.client.ipSync('link', 'set', p.ifname, 'up');
    this.client.ipSync('addr', 'replace', `${addr}/24`, 'dev', p.ifname);
    this.client.ipSync('route', 'replace', 'default', 'via', gw, 'dev', p.ifname, 'metric', String(100 + k));
    this.client.ipSync('route', 'replace', 'default', 'via', gw, 'dev', p.ifname, 'table', table);
    this.dropRule(p);
    this.client.ipSync('rule', 'add', 'from', addr, 'table', table, 'priority', String(1000 + k));
    p.address = addr;
    p.up = true;
    return addr;
  }

  /**
   * Path K goes away on the client: the link goes down, and unless
   * `keepAddress` its address and rule go too (the lease is gone).
   */
  pathDown(k: number, opts: { keepAddress?: boolean } = {}): void {
    const p = this.path(k);
    this.client.ipSync('link', 'set', p.ifname, 'down');
    p.up = false;
    if (opts.keepAddress || !p.address) return;
    this.dropRule(p);
    this.client.ipSync('addr', 'flush', 'dev', p.ifname);
    p.address = null;
  }

  private dropRule(p: LabPath): void {
    if (!p.address) return;
    try {
      this.client.ipSync('rule', 'del', 'from', p.address, 'table', String(100 + p.index));
    } catch {
      // no rule: nothing to remove
    }
  }

  /** The path with index K, or an error naming the paths there are. */
  path(k: number): LabPath {
    const p = this.paths[k];
    if (!p) throw new Error(`no path ${k} (paths: 0..${this.paths.length - 1})`);
    return p;
  }

  /** Removes the three namespaces. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
    this.router.close();
    this.server.close();
  }
}
