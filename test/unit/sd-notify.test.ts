import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { notifyMessage, statusText, systemdNotifier, type Notification } from '../../src/daemon/sd-notify.js';
import type { PassResult } from '../../src/daemon/reconciler.js';
import type { ListenerStatus } from '../../src/status/snapshot.js';
import { notifySocket } from '../helpers/notify-socket.js';

const quiet = pino({ level: 'silent' });

test('sd_notify messages: one VAR=VALUE per line, RELOADING with MONOTONIC_USEC, STATUS on one line', () => {
  const table: [Notification, string][] = [
    [{ ready: true }, 'READY=1'],
    [{ ready: true, status: '2 endpoints managed' }, 'READY=1\nSTATUS=2 endpoints managed'],
    [{ reloading: true, monotonicUsec: 123456789n, status: 'reloading' }, 'RELOADING=1\nMONOTONIC_USEC=123456789\nSTATUS=reloading'],
    [{ stopping: true }, 'STOPPING=1'],
    [{ status: 'first\n  second\n' }, 'STATUS=first; second; '],
    [{}, ''],
  ];
  for (const [n, want] of table) assert.equal(notifyMessage(n), want, JSON.stringify(n, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
});

const pass = (own: number, foreign: number, extra: Partial<PassResult> = {}): PassResult => ({
  seq: 1, startedAt: 0, durationMs: 1, triggers: ['start'], changes: [], errors: [], desired: [], excluded: [], limits: null, warnings: [], mptcpAvailable: true,
  endpoints: [
    ...Array.from({ length: own }, (_, i) => ({ id: i + 1, address: `10.0.${i}.1`, family: 4 as const, flags: ['subflow' as const], owner: 'mpsshd' as const })),
    ...Array.from({ length: foreign }, (_, i) => ({ id: 50 + i, address: `10.9.${i}.1`, family: 4 as const, flags: ['signal' as const], owner: 'foreign' as const })),
  ],
  ...extra,
});
const listener = (address: string, port: number, state: ListenerStatus['state'], error?: string): ListenerStatus => ({ address, port, state, ...(error ? { error } : {}) });

test('STATUS text: own endpoints, pass errors, SSH listeners up and down', () => {
  const table: [Parameters<typeof statusText>, string][] = [
    [[null, undefined], ''],
    [[pass(1, 3), undefined], '1 endpoint managed'],
    [[pass(2, 0), { state: 'disabled', listeners: [] }], '2 endpoints managed'],
    [[pass(0, 0, { mptcpAvailable: false }), undefined], 'MPTCP unavailable'],
    [[pass(0, 0, { errors: ['EPERM'] }), undefined], '0 endpoints managed; last pass failed: EPERM'],
    [[pass(2, 0), { state: 'up', listeners: [listener('::', 22, 'mptcp'), listener('0.0.0.0', 22, 'tcp-fallback')] }], '2 endpoints managed; SSH on [::]:22, 0.0.0.0:22'],
    [[pass(2, 0), { state: 'degraded', listeners: [listener('*', 22, 'down', "*:22 is in use by another program (OpenSSH's sshd?)")] }], "2 endpoints managed; SSH cannot listen: *:22 is in use by another program (OpenSSH's sshd?)"],
  ];
  for (const [args, want] of table) assert.equal(statusText(...args), want);
});

test('without NOTIFY_SOCKET the notifier sends nothing', () => {
  const sent: string[] = [];
  const n = systemdNotifier(quiet, {}, (_p, m) => sent.push(m));
  n.ready('x');
  n.reloading('y');
  n.status('z');
  n.stopping('w');
  assert.equal(n.enabled, false);
  assert.deepEqual(sent, []);
});

test('the notifier takes NOTIFY_SOCKET out of the environment, repeats no STATUS and survives a failing socket', () => {
  const sent: [string, string][] = [];
  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/run/systemd/notify', PATH: '/bin' };
  const n = systemdNotifier(quiet, env, (p, m) => sent.push([p, m]));
  assert.deepEqual(env, { PATH: '/bin' }, 'children must not inherit it');
  assert.equal(n.enabled, true);
  n.ready('2 endpoints managed');
  n.status('2 endpoints managed');
  n.status('3 endpoints managed');
  n.reloading('reloading');
  assert.deepEqual(sent.map(([p]) => p), ['/run/systemd/notify', '/run/systemd/notify', '/run/systemd/notify']);
  assert.equal(sent[1]?.[1], 'STATUS=3 endpoints managed');
  assert.match(sent[2]?.[1] ?? '', /^RELOADING=1\nMONOTONIC_USEC=\d+\nSTATUS=reloading$/);
  let warnings = 0;
  const log = pino({ level: 'warn' }, { write: () => warnings++ });
  const failing = systemdNotifier(log, { NOTIFY_SOCKET: '/nonexistent' }, () => {
    throw Object.assign(new Error('sendto ENOENT'), { code: 'ENOENT' });
  });
  failing.ready('a');
  failing.stopping('b');
  assert.equal(warnings, 1, 'logged once');
});

test('MONOTONIC_USEC is on the clock systemd reads (CLOCK_MONOTONIC, as /proc/uptime counts it roughly)', () => {
  const sent: string[] = [];
  systemdNotifier(quiet, { NOTIFY_SOCKET: '@x' }, (_p, m) => sent.push(m)).reloading('r');
  const usec = Number(/MONOTONIC_USEC=(\d+)/.exec(sent[0] ?? '')?.[1]);
  const uptimeUsec = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1e6;
  // CLOCK_MONOTONIC stops during suspend and /proc/uptime (CLOCK_BOOTTIME) does not, so only an upper bound holds exactly.
  assert.ok(usec > 0 && usec <= uptimeUsec + 20_000, `${usec} vs uptime ${uptimeUsec}`);
});

test('the native sender delivers to a path socket and to an abstract one', async (t) => {
  if (!(process.env.PATH ?? '').split(':').some((d) => d !== '' && fs.existsSync(path.join(d, 'python3')))) {
    t.skip('python3 is not installed (Debian: python3)');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-notify-'));
  const byPath = await notifySocket(path.join(dir, 'notify'));
  const abstract = await notifySocket(`@mpssh-notify-test-${process.pid}`);
  try {
    for (const sock of [byPath, abstract]) {
      const n = systemdNotifier(quiet, { NOTIFY_SOCKET: sock.address });
      n.ready('up');
      n.stopping('down');
      await sock.waitForMessage('READY', (m) => m === 'READY=1\nSTATUS=up');
      await sock.waitForMessage('STOPPING', (m) => m === 'STOPPING=1\nSTATUS=down');
    }
    let warned = '';
    const log = pino({ level: 'warn' }, { write: (s: string) => (warned += s) });
    systemdNotifier(log, { NOTIFY_SOCKET: path.join(dir, 'nobody-here') }).ready('x');
    assert.match(warned, /sendto ENOENT/);
  } finally {
    await byPath.close();
    await abstract.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
