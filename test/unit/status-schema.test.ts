/**
 * The status schemas are the one description of the status: the lower
 * layers' plain types describe the same objects (checked by the compiler
 * here), and what the publisher builds, the worker reports and the API's
 * fixture holds conforms to them with no field missing or extra.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { z } from 'zod';
import type { SubflowInfo } from '../../src/mptcp/info.js';
import type { Address, AddressFlags, KernelEndpoint, Limits, Link } from '../../src/netlink/types.js';
import { eventBody } from '../../src/status/events.js';
import * as K from '../../src/status/kernel.js';
import { passResult, type PassResult } from '../../src/status/path-manager.js';
import { StatusPublisher } from '../../src/status/publisher.js';
import { sessionReport, type SessionReport } from '../../src/status/session.js';
import { statusSnapshot } from '../../src/status/snapshot.js';
import { silentLogger } from '../../src/util/logger.js';
import { FakeSource, sampleSnapshot, subflow } from '../../tools/api-fixture.js';

/** True when A and B are assignable both ways. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

// A lower layer's type that drifts from its schema fails the build here.
const sameAsLowerLayers: [
  Same<z.infer<typeof K.link>, Link>,
  Same<z.infer<typeof K.addressFlags>, AddressFlags>,
  Same<z.infer<typeof K.address>, Address>,
  Same<z.infer<typeof K.kernelEndpoint>, KernelEndpoint>,
  Same<z.infer<typeof K.limits>, Limits>,
  Same<z.infer<typeof K.subflowInfo>, SubflowInfo>,
] = [true, true, true, true, true, true];

/** Parses `value` and checks that nothing was missing, wrong or extra (zod drops unknown keys). */
function conforms(schema: z.ZodType, value: unknown, what: string): void {
  const r = schema.safeParse(value);
  assert.ok(r.success, `${what}: ${r.success ? '' : JSON.stringify(r.error.issues)}`);
  assert.deepEqual(r.data, value, `${what}: no field outside the schema`);
}

test('the lower layers describe the same objects as the status schemas', () => {
  assert.deepEqual(sameAsLowerLayers, [true, true, true, true, true, true]);
});

test("the API fixture's snapshot and events conform to the status schemas", () => {
  conforms(statusSnapshot, sampleSnapshot(), 'snapshot');
  const source = new FakeSource();
  const events = [
    source.emit({ type: 'interface-up', ifindex: 2, ifname: 'wlan0' }),
    source.emit({ type: 'session-sample', session: 's-1', sampledAt: 1, subflows: [{ local: '192.0.2.10:40002', ifname: 'wlan0', bytesSent: 1 }] }),
    source.emit({ type: 'reconcile', pass: 1, durationMs: 1, changes: 0, errors: 0 }),
  ];
  for (const { seq: _, at: __, ...body } of events) conforms(eventBody, body, body.type);
});

const T = 1_700_000_000_000;

const pass: PassResult = {
  seq: 1,
  startedAt: T,
  durationMs: 2,
  triggers: ['start'],
  changes: [{ op: 'add', address: '192.0.2.10', ifname: 'wlan0', id: 1, ok: true }],
  errors: [],
  desired: [{ family: 4, address: '192.0.2.10', ifindex: 2, ifname: 'wlan0', flags: ['subflow'], priority: 0, held: false }],
  excluded: [],
  endpoints: [{ id: 1, family: 4, address: '192.0.2.10', ifindex: 2, ifname: 'wlan0', flags: ['subflow'], owner: 'mpsshd' }],
  limits: { subflows: 2, addAddrAccepted: 2 },
  closeTimeout: { seconds: 60, managed: true },
  warnings: [],
  mptcpAvailable: true,
  net: {
    links: [{ index: 2, name: 'wlan0', up: true, lowerUp: true, operstate: 'up', loopback: false }],
    addresses: [{ family: 4, address: '192.0.2.10', prefixLen: 24, ifindex: 2, scope: 0, flags: { tentative: false, deprecated: false, temporary: false, dadfailed: false, nodad: false, optimistic: false, permanent: true } }],
    routes: [],
  },
};

const report: SessionReport = {
  id: '0123456789abcdef',
  pid: 4242,
  user: 'alice',
  remote: { address: '198.51.100.7', port: 51514 },
  local: { address: '192.0.2.10', port: 22 },
  startedAt: T,
  transport: 'mptcp',
  channels: { session: 1 },
  subflows: [(({ ifname: _, ...s }) => s)(subflow('wlan0', 2, '192.0.2.10', 10, 20))],
  sampledAt: T + 1,
};

test("a worker's report, and the snapshot and events the publisher builds from it and a pass, conform", () => {
  conforms(passResult, pass, 'pass');
  conforms(sessionReport, report, 'report');
  const published: unknown[] = [];
  const pub = new StatusPublisher(silentLogger(), {
    reload: async () => ({ changed: false }),
    setEndpointBackup: async () => {
      throw new Error('unused');
    },
    closeSession: async () => false,
    ssh: () => ({ state: 'up', listeners: [{ address: '::', port: 22, state: 'mptcp' }] }),
    pathManagerEnabled: () => true,
    sessions: () => [report],
  });
  pub.subscribe(({ seq: _, at: __, ...body }) => published.push(body));
  pub.onPass(pass);
  pub.onSession({ type: 'session-opened', session: report.id, user: 'alice', remote: '198.51.100.7:51514' });
  pub.onSession({ type: 'subflow-established', session: report.id, local: '192.0.2.10:40002', remote: '198.51.100.7:22', ifindex: 2 });
  pub.onSession({ type: 'session-sample', session: report.id, report });
  const snap = pub.snapshot();
  conforms(statusSnapshot, JSON.parse(JSON.stringify(snap)), 'snapshot');
  assert.equal(snap.sessions[0]?.subflows[0]?.ifname, 'wlan0', 'the publisher names the interface');
  assert.ok(published.length >= 5);
  for (const e of published) conforms(eventBody, e, (e as { type: string }).type);
});

test('a report outside the bounds a worker must keep is refused', () => {
  const bad: [string, unknown][] = [
    ['id not 16 hex digits', { ...report, id: 's-1' }],
    ['user too long', { ...report, user: 'a'.repeat(257) }],
    ['port out of range', { ...report, remote: { address: '198.51.100.7', port: 70000 } }],
    ['address too long', { ...report, subflows: [{ ...report.subflows[0], local: { family: 4, address: 'x'.repeat(65), port: 1 } }] }],
    ['unknown TCP state', { ...report, subflows: [{ ...report.subflows[0], state: 'dancing' }] }],
    ['subflow without its counters', { ...report, subflows: [{ local: report.subflows[0]?.local, remote: report.subflows[0]?.remote, state: 'established', rttUs: 1 }] }],
    ['too many subflows', { ...report, subflows: Array(65).fill(report.subflows[0]) }],
  ];
  for (const [what, value] of bad) assert.equal(sessionReport.safeParse(value).success, false, what);
});
