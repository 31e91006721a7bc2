/**
 * A StatusSource for the status API's tests and bench: it stands for
 * mpsshd's own daemon (not for the machine), holding a snapshot the test
 * shapes and events the test emits.
 */
import type { SubflowInfo } from '../src/mptcp/info.js';
import type { Address, AddressFlags } from '../src/netlink/types.js';
import type { EventBody, StatusEvent } from '../src/status/events.js';
import type { EndpointView } from '../src/status/path-manager.js';
import type { SessionStatus } from '../src/status/session.js';
import type { StatusSnapshot, StatusSource } from '../src/status/snapshot.js';
import { MpsshError } from '../src/util/errors.js';

const NO_FLAGS: AddressFlags = { tentative: false, deprecated: false, temporary: false, dadfailed: false, nodad: false, optimistic: false, permanent: true };
const T0 = Date.UTC(2025, 0, 2, 3, 4, 5);

function addr(address: string, ifindex: number, prefixLen = 24): Address {
  return { family: address.includes(':') ? 6 : 4, address, prefixLen, ifindex, scope: 0, flags: NO_FLAGS };
}

/** A subflow through `ifname`, with the given byte counters. */
export function subflow(ifname: string, ifindex: number, local: string, sent: number, received: number, extra: Partial<SubflowInfo> = {}): SubflowInfo & { ifname: string } {
  return {
    local: { family: 4, address: local, port: 40000 + ifindex },
    remote: { family: 4, address: '198.51.100.7', port: 22 },
    ifindex,
    ifname,
    state: 'established',
    rttUs: 12000 * ifindex,
    rttVarUs: 3000,
    rtoUs: 204000,
    sndCwnd: 10,
    pmtu: 1500,
    totalRetrans: 0,
    lost: 0,
    bytesSent: sent,
    bytesReceived: received,
    ...extra,
  };
}

/** A session with a Wi-Fi and a 4G subflow. */
export function session(id: string, user = 'alice'): SessionStatus {
  return {
    id,
    pid: 4242,
    user,
    remote: { address: '198.51.100.7', port: 51514 },
    local: { address: '192.0.2.10', port: 22 },
    startedAt: T0 + 1000,
    authenticatedAt: T0 + 1200,
    transport: 'mptcp',
    channels: { session: 1 },
    bytesSent: 3000,
    bytesReceived: 700,
    subflows: [subflow('wlan0', 2, '192.0.2.10', 2000, 500, { backup: false }), subflow('wwan0', 3, '203.0.113.5', 1000, 200, { backup: true })],
    sampledAt: T0 + 5000,
  };
}

/** A snapshot of a laptop with Wi-Fi and 4G, one foreign endpoint and one SSH session. */
export function sampleSnapshot(): StatusSnapshot {
  const endpoints: EndpointView[] = [
    { id: 1, family: 4, address: '192.0.2.10', ifindex: 2, ifname: 'wlan0', flags: ['subflow'], owner: 'mpsshd' },
    { id: 2, family: 4, address: '203.0.113.5', ifindex: 3, ifname: 'wwan0', flags: ['subflow', 'backup'], owner: 'mpsshd' },
    { id: 9, family: 4, address: '10.9.9.9', flags: ['signal'], owner: 'foreign' },
  ];
  return {
    version: '0.1.0-test',
    startedAt: T0,
    mptcp: { enabled: true, available: true },
    pathManager: { enabled: true, kind: 'in-kernel' },
    limits: { subflows: 2, addAddrAccepted: 2 },
    interfaces: [
      {
        link: { index: 2, name: 'wlan0', up: true, lowerUp: true, operstate: 'up', loopback: false, mtu: 1500 },
        addresses: [addr('192.0.2.10', 2), { ...addr('fe80::1', 2, 64), scope: 253 }],
        excluded: [{ family: 6, address: 'fe80::1', ifindex: 2, ifname: 'wlan0', reason: 'link-local' }],
        mode: ['subflow'],
      },
      {
        link: { index: 3, name: 'wwan0', up: true, lowerUp: true, operstate: 'up', loopback: false, mtu: 1400 },
        addresses: [addr('203.0.113.5', 3)],
        excluded: [],
        mode: ['subflow', 'backup'],
      },
      {
        link: { index: 4, name: 'docker0', up: true, lowerUp: false, operstate: 'down', loopback: false, kind: 'bridge' },
        addresses: [addr('172.17.0.1', 4, 16)],
        excluded: [{ family: 4, address: '172.17.0.1', ifindex: 4, ifname: 'docker0', reason: 'interface-ignored', detail: 'matches docker*' }],
      },
    ],
    endpoints,
    lastReconcile: {
      seq: 7,
      startedAt: T0 + 3000,
      durationMs: 1.5,
      triggers: ['address'],
      changes: [{ op: 'add', address: '203.0.113.5', ifname: 'wwan0', id: 2, ok: true }],
      errors: [],
      desired: [],
      excluded: [],
      endpoints,
      limits: { subflows: 2, addAddrAccepted: 2 },
      warnings: [],
      mptcpAvailable: true,
    },
    reconcileCount: 7,
    warnings: [{ code: 'foreign-endpoints', message: 'endpoint 9 (10.9.9.9) belongs to another manager', since: T0 + 2000 }],
    ssh: { state: 'up', listeners: [{ address: '0.0.0.0', port: 22, state: 'mptcp' }] },
    sessions: [session('s-1')],
    connections: {
      periodMs: 1000,
      sampledAt: T0 + 6000,
      connections: [
        {
          id: '4242',
          token: 0xabcdef01,
          direction: 'outgoing',
          local: { address: '192.0.2.10', port: 40022 },
          remote: { address: '198.51.100.7', port: 22 },
          state: 'established',
          process: { pid: 4321, command: 'ssh', uid: 1000, user: 'alice', destination: 'alice@server' },
          bytesSent: 3000,
          bytesReceived: 900_000,
          sendBps: 8000,
          recvBps: 4_000_000,
          subflows: [
            { ...subflow('wlan0', 2, '192.0.2.10', 2000, 500_000, { backup: false }), remote: { family: 4, address: '198.51.100.7', port: 22 }, stale: false, sendBps: 6000, recvBps: 3_000_000 },
            { ...subflow('wwan0', 3, '203.0.113.5', 1000, 400_000, { backup: false }), remote: { family: 4, address: '198.51.100.7', port: 22 }, stale: false, sendBps: 2000, recvBps: 1_000_000 },
          ],
          openedAt: T0 + 1000,
        },
      ],
    },
  };
}

/** The fake daemon. */
export class FakeSource implements StatusSource {
  snap: StatusSnapshot;
  private seq = 0;
  private readonly backlog: StatusEvent[] = [];
  private readonly listeners = new Set<(e: StatusEvent) => void>();
  readonly calls: string[] = [];
  reloadResult: Error | { changed: boolean } = { changed: true };

  constructor(
    snap: StatusSnapshot = sampleSnapshot(),
    private readonly backlogSize = 1000,
  ) {
    this.snap = snap;
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  snapshot(): StatusSnapshot {
    return this.snap;
  }

  subscribe(listener: (e: StatusEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  eventsSince(after: number): StatusEvent[] {
    return this.backlog.filter((e) => e.seq > after);
  }

  /** Publishes an event, numbering it. */
  emit(body: EventBody & { at?: number }): StatusEvent {
    const e: StatusEvent = { at: Date.now(), ...body, seq: ++this.seq };
    this.backlog.push(e);
    if (this.backlog.length > this.backlogSize) this.backlog.shift();
    for (const l of this.listeners) l(e);
    return e;
  }

  async reload(): Promise<{ changed: boolean }> {
    this.calls.push('reload');
    if (this.reloadResult instanceof Error) throw this.reloadResult;
    return this.reloadResult;
  }

  async setEndpointBackup(id: number, backup: boolean): Promise<EndpointView> {
    this.calls.push(`backup ${id} ${backup}`);
    const ep = this.snap.endpoints.find((e) => e.id === id);
    if (!ep) throw new MpsshError('not-found', `no endpoint ${id}`);
    if (ep.owner !== 'mpsshd') throw new MpsshError('conflict', 'foreign endpoint');
    if (ep.address === '203.0.113.99') throw new MpsshError('kernel', 'EINVAL: secret kernel detail');
    const flags: EndpointView['flags'] = ep.flags.filter((f) => f !== 'backup');
    if (backup) flags.push('backup');
    return { ...ep, flags };
  }

  async closeSession(id: string): Promise<boolean> {
    this.calls.push(`close ${id}`);
    return this.snap.sessions.some((s) => s.id === id);
  }
}
