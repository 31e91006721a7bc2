import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyBackupOverrides } from '../../src/daemon/daemon.js';
import type { DesiredEndpoint } from '../../src/daemon/policy.js';
import type { PassResult } from '../../src/daemon/reconciler.js';
import { passEvents } from '../../src/status/pass-events.js';
import type { Link } from '../../src/netlink/types.js';

const link = (index: number, name: string, up: boolean): Link => ({ index, name, up, lowerUp: up, operstate: up ? 'up' : 'down', loopback: false });
const pass = (seq: number, links: Link[], eps: [number, string][]): PassResult => ({
  seq, startedAt: 0, durationMs: 1.5, triggers: ['link'], changes: [], errors: [], desired: [], excluded: [], limits: null, warnings: [], mptcpAvailable: true,
  endpoints: eps.map(([id, address]) => ({ id, address, family: 4, flags: ['subflow'], owner: 'mpsshd' as const })),
  net: { links, addresses: [], routes: [] },
});

test('status events between passes: interfaces, endpoints, the pass', () => {
  const p1 = pass(1, [link(2, 'eth0', true), link(3, 'wlan0', true)], [[1, '10.0.0.1'], [2, '10.0.1.1']]);
  assert.deepEqual(passEvents(null, p1).map((e) => e.type), ['endpoint-added', 'endpoint-added', 'reconcile']);
  const p2 = pass(2, [link(2, 'eth0', true), link(3, 'wlan0', false), link(4, 'wwan0', true)], [[1, '10.0.0.1'], [3, '10.0.2.1']]);
  assert.deepEqual(passEvents(p1, p2), [
    { type: 'interface-down', ifindex: 3, ifname: 'wlan0' },
    { type: 'interface-up', ifindex: 4, ifname: 'wwan0' },
    { type: 'endpoint-added', id: 3, address: '10.0.2.1' },
    { type: 'endpoint-removed', id: 2, address: '10.0.1.1' },
    { type: 'reconcile', pass: 2, durationMs: 1.5, changes: 0, errors: 0 },
  ]);
});

test('runtime backup overrides change only the addresses they name', () => {
  const d = (address: string, flags: DesiredEndpoint['flags']): DesiredEndpoint => ({ family: 4, address, ifindex: 2, ifname: 'eth0', flags, priority: 0, held: false });
  const desired = [d('10.0.0.1', ['subflow']), d('10.0.0.2', ['subflow', 'backup']), d('10.0.0.3', ['backup'])];
  const out = applyBackupOverrides(desired, new Map([['10.0.0.1', true], ['10.0.0.2', false], ['10.0.0.3', false]]));
  assert.deepEqual(out.map((x) => x.flags), [['subflow', 'backup'], ['subflow'], ['subflow']]);
  assert.equal(applyBackupOverrides(desired, new Map()), desired);
});
