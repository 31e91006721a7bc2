/**
 * The reconciler's bookkeeping of what the address reflex did: an endpoint it
 * added becomes the daemon's own from the first dump that shows it, and only
 * an endpoint that is really the one it asked for.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/loader.js';
import { OwnershipStore } from '../../src/daemon/ownership-store.js';
import { ReflexKeeper } from '../../src/daemon/reflex-keeper.js';
import type { AddressReflexArm, MptcpPm, NetMonitor } from '../../src/netlink/clients.js';
import type { KernelEndpoint } from '../../src/netlink/types.js';
import { silentLogger } from '../../src/util/logger.js';
import { addr, defaultRoute, link, snapshot } from '../helpers/snapshots.js';

function setup() {
  const arms: (AddressReflexArm | null)[] = [];
  const net = Object.assign(new EventEmitter(), { armAddressReflex: (a: AddressReflexArm | null) => arms.push(a) }) as unknown as NetMonitor;
  const pm = { prepareAdd: () => ({ request: Buffer.alloc(48), addressOffset: 40 }) } as unknown as MptcpPm;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-reflex-'));
  const store = new OwnershipStore(dir, silentLogger());
  const keeper = new ReflexKeeper(net, pm, store, silentLogger());
  const cfg = parseConfig('pathManager:\n  linkDownHoldMs: 0\n', 'test.yaml').config.pathManager;
  const snap = snapshot([link(2, 'eth0')], [addr(2, '10.1.0.2')], [defaultRoute(4, 2)]);
  keeper.arm({ cfg, snap, actual: [], owned: new Set(), now: 0, downSince: new Map() }, []);
  return { keeper, store, arms, done: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

const ep = (id: number, address: string, ifindex = 2, flags: KernelEndpoint['flags'] = ['subflow']): KernelEndpoint => ({ id, family: 4, address, ifindex, flags });

test('reflex keeper: claims what it added from the first dump asked for after the request', () => {
  const { keeper, store, arms, done } = setup();
  try {
    assert.equal(arms.at(-1)?.entries.length, 1, 'armed for eth0, IPv4 only: IPv6 has no default route');
    const before = keeper.mark();
    keeper.onFired({ ifindex: 2, family: 4, address: '10.1.0.9', errno: 0 });
    assert.deepEqual(keeper.claim([], before), [], 'a dump asked for before the request cannot show it...');
    assert.ok(keeper.pending, '...so the record waits for the next one');
    const changes = keeper.claim([ep(5, '10.1.0.9')], keeper.mark());
    assert.deepEqual(changes.map((c) => `${c.op} ${c.address} id ${c.id} ${c.to}`), ['add 10.1.0.9 id 5 subflow']);
    assert.ok(store.keys().has('5|10.1.0.9'), 'owned');
    assert.equal(keeper.pending, false);
  } finally {
    done();
  }
});

test('reflex keeper: an endpoint of that address on another link or with other flags is not the one it asked for', () => {
  const { keeper, store, done } = setup();
  try {
    keeper.onFired({ ifindex: 2, family: 4, address: '10.1.0.9', errno: os.constants.errno.EINPROGRESS });
    assert.deepEqual(keeper.claim([ep(6, '10.1.0.9', 3)], keeper.mark()), [], 'another link');
    keeper.onFired({ ifindex: 2, family: 4, address: '10.1.0.8', errno: 0 });
    assert.deepEqual(keeper.claim([ep(7, '10.1.0.8', 2, ['signal'])], keeper.mark()), [], 'other flags');
    assert.equal(store.keys().size, 0);
    assert.equal(keeper.pending, false, 'a request older than the dump that does not show it is given up');
  } finally {
    done();
  }
});

test('reflex keeper: a report that comes after a disarm (an overrun in the same read) is still recorded', () => {
  const { keeper, store, done } = setup();
  try {
    keeper.disarm();
    keeper.onFired({ ifindex: 2, family: 4, address: '10.1.0.9', errno: 0 });
    keeper.claim([ep(5, '10.1.0.9')], keeper.mark());
    assert.ok(store.keys().has('5|10.1.0.9'));
  } finally {
    done();
  }
});

test('reflex keeper: a request the kernel refused is not recorded', () => {
  const { keeper, done } = setup();
  try {
    keeper.onFired({ ifindex: 2, family: 4, address: '10.1.0.9', errno: os.constants.errno.ERANGE });
    assert.equal(keeper.pending, false);
  } finally {
    done();
  }
});
