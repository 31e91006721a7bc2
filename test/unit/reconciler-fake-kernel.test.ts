/**
 * The reconciler against a fake kernel, in the style of tailscale's router
 * tests: a sequence of network states and configurations goes in, the
 * operations the reconciler asked of the kernel come out as text. No root
 * needed; the namespace tests prove the same against the real kernel.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/loader.js';
import type { PathManagerConfig } from '../../src/config/schema.js';
import { OwnershipStore } from '../../src/daemon/ownership-store.js';
import { Reconciler } from '../../src/daemon/reconciler.js';
import type { MptcpPm, MptcpPmEvents, NetChange, NetMonitor, NetMonitorEvents } from '../../src/netlink/clients.js';
import type { Address, EndpointFlag, EndpointSpec, KernelEndpoint, Limits, Link, NetSnapshot, Route } from '../../src/netlink/types.js';
import { silentLogger } from '../../src/util/logger.js';

/** A kernel that keeps endpoints and limits in memory and writes down every change asked of it. */
class FakeKernel {
  readonly ops: string[] = [];
  net: NetSnapshot = { links: [], addresses: [], routes: [] };
  endpoints: KernelEndpoint[] = [];
  limits: Limits = { subflows: 2, addAddrAccepted: 0 };
  slowSnapshot = false;
  /** errno names the next deletes fail with, in order. */
  failDeletes: string[] = [];
  private nextId = 1;

  readonly monitor: NetMonitor = Object.assign(new EventEmitter<NetMonitorEvents>(), {
    start: async () => {},
    snapshot: async () => {
      // A re-read costs the kernel round trips: let what is queued behind it run first.
      if (this.slowSnapshot) await new Promise((r) => setTimeout(r, 5));
      return structuredClone(this.net);
    },
    close: () => {},
  });

  readonly pm: MptcpPm = Object.assign(new EventEmitter<MptcpPmEvents>(), {
    start: async () => {},
    available: true,
    dumpEndpoints: async () => structuredClone(this.endpoints),
    addEndpoint: async (spec: EndpointSpec) => {
      const id = spec.id ?? this.nextId++;
      this.endpoints.push({ id, family: spec.family, address: spec.address, flags: [...spec.flags], ...(spec.ifindex ? { ifindex: spec.ifindex } : {}) });
      this.ops.push(`add ${spec.address} ${spec.flags.join(',')}${spec.ifindex ? ` dev ${spec.ifindex}` : ''}`);
      return id;
    },
    deleteEndpoint: async (ep: Pick<KernelEndpoint, 'id' | 'family' | 'address'>) => {
      const fail = this.failDeletes.shift();
      if (fail !== undefined) {
        this.ops.push(`delete ${ep.address} failed ${fail}`);
        throw Object.assign(new Error(`delete: ${fail}`), { code: fail });
      }
      this.endpoints = this.endpoints.filter((e) => e.id !== ep.id);
      this.ops.push(`delete ${ep.address}`);
    },
    setEndpointFlags: async (ep: Pick<KernelEndpoint, 'id' | 'family' | 'address'>, flags: EndpointFlag[]) => {
      const e = this.endpoints.find((x) => x.id === ep.id);
      if (e) e.flags = [...e.flags.filter((f) => f !== 'backup' && f !== 'fullmesh'), ...flags];
      this.ops.push(`set ${ep.address} ${flags.join(',') || '-'}`);
    },
    flushEndpoints: async () => {
      this.endpoints = [];
      this.ops.push('flush');
    },
    getLimits: async () => ({ ...this.limits }),
    setLimits: async (l: Limits) => {
      this.limits = { ...l };
      this.ops.push(`limits subflows ${l.subflows} add_addr_accepted ${l.addAddrAccepted}`);
    },
    close: () => {},
  });

  /** The operations since the last call, as text. */
  take(): string[] {
    return this.ops.splice(0);
  }
}

/** The first pass over twoInterfaces(): both endpoints, then limits that make room for them. */
const UP = ['add 192.0.2.10 subflow dev 2', 'add 198.51.100.20 subflow dev 3', 'limits subflows 4 add_addr_accepted 2'];

const FLAGS = { tentative: false, deprecated: false, temporary: false, dadfailed: false, nodad: false, optimistic: false, permanent: true };
const link = (index: number, name: string, up = true): Link => ({ index, name, up, lowerUp: up, operstate: up ? 'up' : 'down', loopback: false });
const addr = (ifindex: number, address: string): Address => ({ family: 4, address, prefixLen: 24, ifindex, scope: 0, flags: FLAGS });
const defaultRoute = (ifindex: number): Route => ({ family: 4, dst: null, dstLen: 0, table: 254, type: 'unicast', oifs: [ifindex], gateway: '192.0.2.254' });

/** Two interfaces with an address each and a default route on the first. */
function twoInterfaces(wlanUp = true): NetSnapshot {
  return {
    links: [link(2, 'eth0'), link(3, 'wlan0', wlanUp)],
    addresses: [addr(2, '192.0.2.10'), addr(3, '198.51.100.20')],
    routes: [defaultRoute(2), defaultRoute(3)],
  };
}

function config(yaml: string): PathManagerConfig {
  return parseConfig(yaml, 'test.yaml').config.pathManager;
}

interface Step {
  /** What changes before the pass. */
  net?: NetSnapshot;
  yaml?: string;
  failDeletes?: string[];
  /** Endpoints someone else added to the kernel. */
  foreign?: KernelEndpoint[];
  /** Someone else deletes the endpoint with this id and adds theirs under the same id. */
  swapOwned?: KernelEndpoint;
  /**
   * Notifications the monitor delivers instead of a pass asked for; the
   * operations then show where the full pass starts (`pass`).
   */
  notify?: NetChange[];
  /** The monitor reports lost notifications before `notify`. */
  overrun?: boolean;
  /** The kernel operations the pass must ask for, in order. */
  want: string[];
}

async function runSteps(name: string, steps: Step[]): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-fake-kernel-'));
  const kernel = new FakeKernel();
  let cfg = config('pathManager:\n  linkDownHoldMs: 0\n  requireRoute: any\n');
  const store = new OwnershipStore(dir, silentLogger());
  store.load();
  const r = new Reconciler({ net: kernel.monitor, pm: kernel.pm, store, log: silentLogger(), config: () => cfg });
  let markPasses = false;
  r.on('passStart', () => {
    if (markPasses) kernel.ops.push('pass');
  });
  try {
    for (const [i, step] of steps.entries()) {
      if (step.net) kernel.net = step.net;
      if (step.yaml) cfg = config(step.yaml);
      if (step.failDeletes) kernel.failDeletes = [...step.failDeletes];
      if (step.foreign) kernel.endpoints.push(...step.foreign);
      const swap = step.swapOwned;
      if (swap) kernel.endpoints = [...kernel.endpoints.filter((e) => e.id !== swap.id), swap];
      markPasses = step.notify !== undefined;
      kernel.slowSnapshot = step.notify !== undefined;
      if (i === 0) await r.start();
      else if (step.notify) {
        if (step.overrun) kernel.monitor.emit('overrun');
        for (const ch of step.notify) kernel.monitor.emit('change', ch.kind, ch);
        await r.whenIdle();
      } else await r.requestPass('api');
      assert.deepEqual(kernel.take(), step.want, `${name}, step ${i + 1}`);
    }
  } finally {
    r.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('reconciler against a fake kernel: operations for each sequence of states (a pass asked for right after one ends is not lost)', async () => {
  const rows: [string, Step[]][] = [
    [
      'two interfaces come up, then nothing changes',
      [
        { net: twoInterfaces(), want: UP },
        { want: [] },
      ],
    ],
    [
      'a link goes down: its endpoint goes at once (linkDownHoldMs 0); it comes back',
      [
        { net: twoInterfaces(), want: UP },
        { net: twoInterfaces(false), want: ['delete 198.51.100.20', 'limits subflows 2 add_addr_accepted 2'] },
        { net: twoInterfaces(), want: ['add 198.51.100.20 subflow dev 3', 'limits subflows 4 add_addr_accepted 2'] },
      ],
    ],
    [
      'a mode change of a changeable flag is a set, of another flag a replace',
      [
        { net: twoInterfaces(), want: UP },
        { yaml: 'pathManager:\n  linkDownHoldMs: 0\n  requireRoute: any\n  interfaces:\n    - match: wlan0\n      mode: [subflow, backup]\n', want: ['set 198.51.100.20 subflow,backup'] },
        { yaml: 'pathManager:\n  linkDownHoldMs: 0\n  requireRoute: any\n  interfaces:\n    - match: wlan0\n      mode: signal\n', want: ['delete 198.51.100.20', 'add 198.51.100.20 signal dev 3'] },
      ],
    ],
    [
      'a foreign endpoint is left alone, and its address is not taken over',
      [
        { net: twoInterfaces(), foreign: [{ id: 50, family: 4, address: '198.51.100.20', flags: ['signal'] }], want: ['add 192.0.2.10 subflow dev 2', 'limits subflows 2 add_addr_accepted 2'] },
        { want: [] },
      ],
    ],
    [
      'a delete the kernel refuses keeps the endpoint owned and is retried on the next pass',
      [
        { net: twoInterfaces(), want: UP },
        { net: twoInterfaces(false), failDeletes: ['EBUSY'], want: ['delete 198.51.100.20 failed EBUSY'] },
        { want: ['delete 198.51.100.20', 'limits subflows 2 add_addr_accepted 2'] },
      ],
    ],
  ];
  for (const [name, steps] of rows) await runSteps(name, steps);
});

/** twoInterfaces() with one more address on eth0. */
function withAddress(a: Address): NetSnapshot {
  const net = twoInterfaces();
  return { ...net, addresses: [...net.addresses, a] };
}

test('fast path against a fake kernel: the endpoint before the re-read, and the full pass has the last word', async () => {
  const extra = addr(2, '192.0.2.11');
  const phantom = addr(2, '192.0.2.12');
  const added = (a: Address): NetChange => ({ kind: 'address', gone: false, address: a });
  const removed = (a: Address): NetChange => ({ kind: 'address', gone: true, address: a });
  const rows: [string, Step[]][] = [
    [
      'an address arrives: its endpoint comes first, the pass confirms it',
      [
        { net: twoInterfaces(), want: UP },
        { net: withAddress(extra), notify: [added(extra)], want: ['add 192.0.2.11 subflow dev 2', 'pass', 'limits subflows 6 add_addr_accepted 3'] },
        { net: twoInterfaces(), notify: [removed(extra)], want: ['delete 192.0.2.11', 'pass', 'limits subflows 4 add_addr_accepted 2'] },
      ],
    ],
    [
      'a notification the re-read does not confirm: the full pass undoes the guess',
      [
        { net: twoInterfaces(), want: UP },
        { notify: [added(phantom)], want: ['add 192.0.2.12 subflow dev 2', 'pass', 'delete 192.0.2.12'] },
      ],
    ],
    [
      'after lost notifications no guess: only the re-read acts',
      [
        { net: twoInterfaces(), want: UP },
        { overrun: true, notify: [added(phantom)], want: ['pass'] },
        { notify: [added(phantom)], want: ['add 192.0.2.12 subflow dev 2', 'pass', 'delete 192.0.2.12'] },
      ],
    ],
    [
      'a removal is checked against a fresh dump: an id the kernel gave to someone else is not deleted',
      [
        { net: twoInterfaces(), want: UP },
        // Someone deletes endpoint 1 (ours) and the kernel gives id 1 to their own endpoint.
        {
          net: { ...twoInterfaces(), addresses: [addr(3, '198.51.100.20')] },
          swapOwned: { id: 1, family: 4, address: '203.0.113.5', flags: ['signal'] },
          notify: [removed(addr(2, '192.0.2.10'))],
          want: ['pass', 'limits subflows 2 add_addr_accepted 2'],
        },
      ],
    ],
  ];
  for (const [name, steps] of rows) await runSteps(name, steps);
});
