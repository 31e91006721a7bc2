import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_PENALTIES, parsePenalties, penalise, penalised, penaltyEventFor, sourceKey, type PenaltyState } from '../../src/ssh/auth/penalties.js';

test('parsePenalties: sshd 9.8 defaults, yes/no, and its name:time list', () => {
  assert.deepEqual(parsePenalties('yes'), DEFAULT_PENALTIES);
  assert.equal((parsePenalties('no') as { enabled: boolean }).enabled, false);
  const p = parsePenalties('authfail:30s noauth:0 min:1m max:1h max-sources6:1000 overflow:permissive');
  assert.ok(typeof p !== 'string');
  assert.deepEqual([p.authfail, p.noauth, p.min, p.max, p.maxSources, p.crash], [30, 0, 60, 3600, 1000, 90]);
  for (const [bad, re] of [['authfail', /expected name:value/], ['nosuch:5s', /unknown penalty/], ['authfail:soon', /invalid time/], ['max-sources4:-1', /positive count/]] as const) {
    assert.match(parsePenalties(bad) as string, re, bad);
  }
});

test('sourceKey: IPv4 per address, IPv4-mapped as IPv4, IPv6 per /64', () => {
  const rows: [string, string][] = [
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:DB8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['::1', '0:0:0:0::/64'],
  ];
  for (const [a, k] of rows) assert.equal(sourceKey(a), k, a);
});

test('penalties accumulate per source, refuse past min, stop at max, expire, and forget the oldest past maxSources', () => {
  const cfg = { ...DEFAULT_PENALTIES, maxSources: 3 };
  const s: PenaltyState = new Map();
  let now = 1_000_000;
  for (let i = 0; i < 15; i++) penalise(s, cfg, 'a', 'noauth', now);
  assert.equal(penalised(s, cfg, 'a', now), false, '15 s owed is not past min (15 s)');
  penalise(s, cfg, 'a', 'noauth', now);
  assert.equal(penalised(s, cfg, 'a', now), true, '16 s owed: refused');
  assert.equal(penalised(s, cfg, 'b', now), false, 'another source is not');
  for (let i = 0; i < 100; i++) penalise(s, cfg, 'a', 'crash', now);
  assert.equal(s.get('a'), now + 600_000, 'never more than max');
  now += 600_000 - 15_000;
  assert.equal(penalised(s, cfg, 'a', now), false, 'once what is owed drops to min, the source is served again');
  now += 16_000;
  assert.equal(penalised(s, cfg, 'a', now), false);
  assert.equal(s.has('a'), false, 'expired entries go');
  for (const k of ['w', 'x', 'y', 'z']) penalise(s, cfg, k, 'authfail', now);
  assert.deepEqual([...s.keys()], ['x', 'y', 'z'], 'the oldest forgotten first');
  assert.equal(penalise(s, { ...cfg, enabled: false }, 'q', 'crash', now), 0);
  assert.equal(s.has('q'), false, 'disabled: nothing recorded');
});

test('penaltyEventFor: how a connection without a login ended', () => {
  const rows: [Parameters<typeof penaltyEventFor>[0], string | undefined][] = [
    [{ authenticated: true, reason: 'connection closed', authFailures: 3, clean: true }, undefined],
    [{ authenticated: false, reason: 'connection closed', authFailures: 0, clean: true }, 'noauth'],
    [{ authenticated: false, reason: 'Too many authentication failures', authFailures: 6, clean: true }, 'authfail'],
    [{ authenticated: false, reason: 'connection ended', authFailures: 1, clean: true }, 'authfail'],
    [{ authenticated: false, reason: 'login grace time over', authFailures: 0, clean: true }, 'grace-exceeded'],
    [{ authenticated: false, reason: 'worker ended', authFailures: 0, clean: false }, 'crash'],
  ];
  for (const [end, want] of rows) assert.equal(penaltyEventFor(end), want, JSON.stringify(end));
});
