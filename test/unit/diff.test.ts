import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diff, ownershipKey, planIsEmpty, slotsForOwn, type Plan } from '../../src/daemon/diff.js';
import type { DesiredEndpoint } from '../../src/daemon/policy.js';
import type { Mode } from '../../src/config/schema.js';
import type { EndpointFlag, KernelEndpoint } from '../../src/netlink/types.js';

function want(address: string, flags: Mode[], ifindex = 2): DesiredEndpoint {
  return { family: address.includes(':') ? 6 : 4, address, ifindex, ifname: `eth${ifindex}`, flags, priority: 0, held: false };
}
function have(id: number, address: string, flags: EndpointFlag[], ifindex = 2): KernelEndpoint {
  return { id, family: address.includes(':') ? 6 : 4, address, ifindex, flags };
}
/** The plan as one line per step, for readable expectations. */
function text(p: Plan): string[] {
  return [
    ...p.add.map((d) => `add ${d.address} ${d.flags.join(',')}`),
    ...p.change.map((c) => `change ${c.endpoint.id} ${c.endpoint.address} -> ${c.to.flags.join(',')}`),
    ...p.replace.map((r) => `replace ${r.endpoint.id} ${r.endpoint.address} -> ${r.to.flags.join(',')} dev ${r.to.ifindex}`),
    ...p.remove.map((e) => `remove ${e.id} ${e.address}`),
    ...p.foreign.map((e) => `foreign ${e.id} ${e.address}`),
    ...p.blocked.map((b) => `blocked ${b.desired.address} by ${b.by.id}`),
  ];
}

const rows: { name: string; desired: DesiredEndpoint[]; actual: KernelEndpoint[]; owned: KernelEndpoint[]; want: string[] }[] = [
  { name: 'empty kernel: add all', desired: [want('10.0.0.1', ['subflow']), want('2001:db8::1', ['signal'])], actual: [], owned: [], want: ['add 10.0.0.1 subflow', 'add 2001:db8::1 signal'] },
  { name: 'in step: nothing', desired: [want('10.0.0.1', ['subflow'])], actual: [have(1, '10.0.0.1', ['subflow'])], owned: [have(1, '10.0.0.1', [])], want: [] },
  { name: 'backup toggled: change in place', desired: [want('10.0.0.1', ['subflow', 'backup'])], actual: [have(1, '10.0.0.1', ['subflow'])], owned: [have(1, '10.0.0.1', [])], want: ['change 1 10.0.0.1 -> subflow,backup'] },
  { name: 'subflow to signal: replace', desired: [want('10.0.0.1', ['signal'])], actual: [have(1, '10.0.0.1', ['subflow'])], owned: [have(1, '10.0.0.1', [])], want: ['replace 1 10.0.0.1 -> signal dev 2'] },
  { name: 'address moved to another interface: replace', desired: [want('10.0.0.1', ['subflow'], 3)], actual: [have(1, '10.0.0.1', ['subflow'], 2)], owned: [have(1, '10.0.0.1', [])], want: ['replace 1 10.0.0.1 -> subflow dev 3'] },
  { name: 'own endpoint no longer wanted: remove', desired: [], actual: [have(4, '10.0.0.9', ['subflow'])], owned: [have(4, '10.0.0.9', [])], want: ['remove 4 10.0.0.9'] },
  { name: 'foreign endpoints are left alone and reported', desired: [], actual: [have(7, '10.7.0.1', ['signal'])], owned: [], want: ['foreign 7 10.7.0.1'] },
  { name: 'a wanted address held by a foreign endpoint is blocked, not taken over', desired: [want('10.7.0.1', ['subflow'])], actual: [have(7, '10.7.0.1', ['signal'])], owned: [], want: ['foreign 7 10.7.0.1', 'blocked 10.7.0.1 by 7'] },
  { name: 'ownership needs id and address: a reused id is not ours', desired: [], actual: [have(3, '10.0.0.3', ['subflow'])], owned: [have(3, '10.0.0.99', [])], want: ['foreign 3 10.0.0.3'] },
  { name: 'implicit endpoints are neither ours nor in the way', desired: [want('10.0.0.5', ['subflow'])], actual: [have(9, '10.0.0.5', ['implicit']), have(10, '10.0.0.6', ['implicit'])], owned: [], want: ['add 10.0.0.5 subflow'] },
  { name: 'flags the daemon does not manage are ignored in comparisons', desired: [want('10.0.0.1', ['subflow'])], actual: [have(1, '10.0.0.1', ['subflow', 'laminar'])], owned: [have(1, '10.0.0.1', [])], want: [] },
];

for (const row of rows) {
  test(`diff: ${row.name}`, () => {
    const plan = diff(row.desired, row.actual, new Set(row.owned.map(ownershipKey)));
    assert.deepEqual(text(plan), row.want);
    assert.equal(planIsEmpty(plan), !row.want.some((l) => /^(add|change|replace|remove) /.test(l)));
  });
}

test('slotsForOwn leaves room for endpoints of others', () => {
  const actual = [have(1, '10.0.0.1', ['subflow']), have(2, '10.0.0.2', ['signal']), have(3, '10.0.0.3', ['implicit'])];
  assert.equal(slotsForOwn(actual, new Set([ownershipKey(actual[0]!)]), 8), 6);
});
