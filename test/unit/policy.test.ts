import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/loader.js';
import { desiredCloseTimeout, desiredLimits, fitToSlots, policy, type PolicyClock } from '../../src/daemon/policy.js';
import { globMatch } from '../../src/daemon/glob.js';
import { addr, defaultRoute, link, prefixRoute, snapshot } from '../helpers/snapshots.js';

const cfg = (yaml: string) => parseConfig(yaml, 'test.yaml').config.pathManager;
const NOW: PolicyClock = { now: 1000, downSince: new Map() };

test('globMatch follows fnmatch for interface names', () => {
  const cases: [string, string, boolean][] = [
    ['wlan*', 'wlan0', true],
    ['wlan*', 'wlan', true],
    ['wlan*', 'xwlan0', false],
    ['eth?', 'eth0', true],
    ['eth?', 'eth10', false],
    ['en[ps]*', 'enp3s0', true],
    ['en[!ps]*', 'enp3s0', false],
    ['en[!ps]*', 'eno1', true],
    ['wwan[0-3]', 'wwan2', true],
    ['wwan[0-3]', 'wwan7', false],
    ['br-*', 'br-1a2b', true],
    ['[', '[', true],
    ['*', '', true],
  ];
  for (const [p, s, want] of cases) assert.equal(globMatch(p, s), want, `${p} vs ${s}`);
});

// Each row: a config, links/addresses/routes, and the expected verdict per address.
const rows: { name: string; yaml: string; snap: ReturnType<typeof snapshot>; clock?: PolicyClock; want: Record<string, string> }[] = [
  {
    name: 'defaults: subflow on a routed address; loopback and virtual links left out',
    yaml: '',
    snap: snapshot(
      [link(1, 'lo', { loopback: true, operstate: 'unknown' }), link(2, 'eth0'), link(3, 'docker0'), link(4, 'veth12ab')],
      [addr(1, '127.0.0.1', { scope: 254 }), addr(2, '192.0.2.10'), addr(3, '172.17.0.1'), addr(4, '198.51.100.1')],
      [defaultRoute(4, 2), defaultRoute(4, 3), defaultRoute(4, 4)],
    ),
    want: { '127.0.0.1': 'loopback', '192.0.2.10': 'subflow', '172.17.0.1': 'interface-ignored', '198.51.100.1': 'interface-ignored' },
  },
  {
    name: 'first matching rule wins; a rule can bring back a default-ignored interface',
    yaml: 'pathManager:\n  interfaces:\n    - { match: "wwan*", mode: [subflow, backup] }\n    - { match: "w*", mode: signal }\n    - { match: "veth*", mode: [subflow] }\n',
    snap: snapshot([link(2, 'wwan0'), link(3, 'wlan0'), link(4, 'veth0')], [addr(2, '10.0.2.5'), addr(3, '10.0.3.5'), addr(4, '10.0.4.5')], [defaultRoute(4, 2), defaultRoute(4, 3), defaultRoute(4, 4)]),
    want: { '10.0.2.5': 'subflow,backup', '10.0.3.5': 'signal', '10.0.4.5': 'subflow' },
  },
  {
    name: 'ignore rule',
    yaml: 'pathManager:\n  interfaces:\n    - { match: [tun*, wg*], ignore: true }\n',
    snap: snapshot([link(2, 'wg0'), link(3, 'eth0')], [addr(2, '10.9.0.1'), addr(3, '10.0.3.5')], [defaultRoute(4, 2), defaultRoute(4, 3)]),
    want: { '10.9.0.1': 'interface-ignored', '10.0.3.5': 'subflow' },
  },
  {
    name: 'link state: admin down, no carrier, dormant',
    yaml: '',
    snap: snapshot(
      [link(2, 'eth0', { up: false, lowerUp: false, operstate: 'down' }), link(3, 'eth1', { lowerUp: false, operstate: 'lowerlayerdown' }), link(4, 'wlan0', { operstate: 'dormant' })],
      [addr(2, '10.0.2.5'), addr(3, '10.0.3.5'), addr(4, '10.0.4.5')],
      [defaultRoute(4, 2), defaultRoute(4, 3), defaultRoute(4, 4)],
    ),
    want: { '10.0.2.5': 'link-down', '10.0.3.5': 'no-carrier', '10.0.4.5': 'no-carrier' },
  },
  {
    name: 'linkDownHoldMs keeps a freshly down link, not an old one',
    yaml: 'pathManager:\n  linkDownHoldMs: 500\n',
    snap: snapshot([link(2, 'eth0', { lowerUp: false, operstate: 'down' }), link(3, 'eth1', { lowerUp: false, operstate: 'down' })], [addr(2, '10.0.2.5'), addr(3, '10.0.3.5')], [defaultRoute(4, 2), defaultRoute(4, 3)]),
    clock: { now: 1000, downSince: new Map([[2, 800], [3, 400]]) },
    want: { '10.0.2.5': 'subflow', '10.0.3.5': 'no-carrier' },
  },
  {
    name: 'IPv6 address flags and kinds',
    yaml: 'pathManager:\n  requireRoute: none\n',
    snap: snapshot(
      [link(2, 'eth0')],
      [
        addr(2, '2001:db8::1'),
        addr(2, '2001:db8::2', { flags: { tentative: true } }),
        addr(2, '2001:db8::3', { flags: { dadfailed: true, tentative: true } }),
        addr(2, '2001:db8::4', { flags: { deprecated: true } }),
        addr(2, '2001:db8::5', { flags: { temporary: true } }),
        addr(2, 'fe80::1', { scope: 253 }),
        addr(2, 'fd00::1'),
        addr(2, '169.254.3.4'),
        addr(2, '10.1.1.1', { flags: { temporary: true } }),
      ],
    ),
    want: {
      '2001:db8::1': 'subflow',
      '2001:db8::2': 'tentative',
      '2001:db8::3': 'dadfailed',
      '2001:db8::4': 'deprecated',
      '2001:db8::5': 'temporary',
      'fe80::1': 'link-local',
      'fd00::1': 'unique-local',
      '169.254.3.4': 'link-local',
      '10.1.1.1': 'subflow', // IFA_F_SECONDARY on IPv4, not a privacy address
    },
  },
  {
    name: 'address kinds allowed by config; a family switched off',
    yaml: 'pathManager:\n  requireRoute: none\n  addresses: { linkLocal: true, uniqueLocal: true, temporary: true, ipv4: false }\n',
    snap: snapshot([link(2, 'eth0')], [addr(2, 'fe80::1', { scope: 253 }), addr(2, 'fd00::1'), addr(2, '2001:db8::5', { flags: { temporary: true } }), addr(2, '10.0.0.1')]),
    want: { 'fe80::1': 'subflow', 'fd00::1': 'subflow', '2001:db8::5': 'subflow', '10.0.0.1': 'family-disabled' },
  },
  {
    name: 'requireRoute default: a default route in any table, through the same interface and family',
    yaml: '',
    snap: snapshot(
      [link(2, 'eth0'), link(3, 'eth1'), link(4, 'eth2')],
      [addr(2, '10.0.2.5'), addr(3, '10.0.3.5'), addr(4, '10.0.4.5'), addr(4, '2001:db8::9')],
      [defaultRoute(4, 2), defaultRoute(4, 3, 101), prefixRoute(4, '10.0.4.0', 24, 4), defaultRoute(6, 2)],
    ),
    want: { '10.0.2.5': 'subflow', '10.0.3.5': 'subflow', '10.0.4.5': 'no-route', '2001:db8::9': 'no-route' },
  },
  {
    name: 'requireRoute any accepts a prefix route; none accepts nothing at all',
    yaml: 'pathManager:\n  interfaces:\n    - { match: eth0 }\n  requireRoute: any\n',
    snap: snapshot([link(2, 'eth0'), link(3, 'eth1')], [addr(2, '10.0.2.5'), addr(3, '10.0.3.5')], [prefixRoute(4, '10.0.2.0', 24, 2)]),
    want: { '10.0.2.5': 'subflow', '10.0.3.5': 'no-route' },
  },
];

for (const row of rows) {
  test(`policy: ${row.name}`, () => {
    const res = policy(cfg(row.yaml), row.snap, row.clock ?? NOW);
    const got: Record<string, string> = {};
    for (const d of res.desired) got[d.address] = d.flags.join(',');
    for (const e of res.excluded) got[e.address] = e.reason;
    assert.deepEqual(got, row.want);
  });
}

test('policy orders desired endpoints by rule, then interface index', () => {
  const c = cfg('pathManager:\n  requireRoute: none\n  interfaces:\n    - { match: wlan0 }\n    - { match: eth* }\n');
  const res = policy(c, snapshot([link(2, 'eth0'), link(3, 'wlan0'), link(4, 'usb0'), link(5, 'eth1')], [addr(4, '10.4.0.1'), addr(5, '10.5.0.1'), addr(2, '10.2.0.1'), addr(3, '10.3.0.1')]), NOW);
  assert.deepEqual(res.desired.map((d) => d.ifname), ['wlan0', 'eth0', 'eth1', 'usb0']);
});

test('one address on two interfaces is one endpoint, on the interface that comes first', () => {
  const c = cfg('pathManager:\n  requireRoute: none\n  interfaces:\n    - { match: wlan0 }\n    - { match: eth0 }\n');
  const res = policy(c, snapshot([link(2, 'eth0'), link(3, 'wlan0')], [addr(2, '10.9.0.1'), addr(3, '10.9.0.1')]), NOW);
  assert.deepEqual(res.desired.map((d) => d.ifname), ['wlan0']);
  assert.deepEqual(res.excluded.map((e) => [e.ifname, e.reason]), [['eth0', 'duplicate-address']]);
});

test('fitToSlots keeps the first N and explains the rest', () => {
  const c = cfg('pathManager:\n  requireRoute: none\n');
  const addrs = Array.from({ length: 9 }, (_, i) => addr(2, `10.0.0.${i + 1}`));
  const { desired } = policy(c, snapshot([link(2, 'eth0')], addrs), NOW);
  const { kept, leftOut } = fitToSlots(desired, 8);
  assert.equal(kept.length, 8);
  assert.deepEqual(leftOut.map((e) => [e.address, e.reason]), [['10.0.0.9', 'endpoint-limit']]);
  assert.match(leftOut[0]?.detail ?? '', /at most 8 endpoints/);
  assert.equal(fitToSlots(desired, -2).kept.length, 0);
});

test('desiredLimits: explicit values, or auto from the endpoint count within the kernel maximum', () => {
  assert.deepEqual(desiredLimits(cfg('pathManager:\n  limits: { subflows: 3, addAddrAccepted: 1 }\n'), 5), { subflows: 3, addAddrAccepted: 1 });
  const auto = cfg('');
  assert.deepEqual(desiredLimits(auto, 0), { subflows: 2, addAddrAccepted: 2 });
  assert.deepEqual(desiredLimits(auto, 3), { subflows: 6, addAddrAccepted: 3 });
  assert.deepEqual(desiredLimits(auto, 8), { subflows: 8, addAddrAccepted: 8 });
});

test('desiredCloseTimeout: the ClientAlive budget and one interval more, an explicit value, or the kernel left alone', () => {
  // [pathManager yaml, ClientAliveInterval, ClientAliveCountMax, expected seconds or null]
  const table: [string, number, number, number | null][] = [
    ['', 60, 60, 3660],
    ['', 15, 3, 60],
    ['', 0, 60, null],
    ['', 60, 0, null],
    ['', 86_400 * 24, 100_000, 2_147_483],
    ['pathManager:\n  closeTimeout: 7200\n', 60, 60, 7200],
    ['pathManager:\n  closeTimeout: 90\n', 0, 0, 90],
    ['pathManager:\n  enabled: false\n', 60, 60, null],
    ['pathManager:\n  enabled: false\n  closeTimeout: 7200\n', 60, 60, null],
  ];
  for (const [yaml, interval, countMax, want] of table) {
    assert.equal(desiredCloseTimeout(cfg(yaml), { interval, countMax }), want, `${JSON.stringify(yaml)} ${interval} x ${countMax}`);
  }
  for (const bad of ['0', '-1', '2147484', '"1h"']) {
    assert.throws(() => cfg(`pathManager:\n  closeTimeout: ${bad}\n`), /closeTimeout/, bad);
  }
});
