/** The warnings /status derives from the snapshot, as a table. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { derivedWarnings } from '../../src/api/views.js';
import { hostPort } from '../../src/util/address.js';
import type { StatusSnapshot } from '../../src/status/snapshot.js';
import { sampleSnapshot } from '../../tools/api-fixture.js';

test('derivedWarnings: MPTCP off or missing, TCP fallback of listeners and sessions, API degraded', () => {
  const cases: [string, (s: StatusSnapshot) => void, { address: string; ok: boolean; error?: string }[], string[]][] = [
    ['healthy', () => undefined, [{ address: '127.0.0.1:80', ok: true }], []],
    ['sysctl off', (s) => (s.mptcp.enabled = false), [], ['mptcp-disabled']],
    ['no MPTCP in kernel', (s) => (s.mptcp.available = false), [], ['mptcp-unavailable']],
    ['off wins over unavailable', (s) => Object.assign(s.mptcp, { enabled: false, available: false }), [], ['mptcp-disabled']],
    ['listener fell back', (s) => (s.ssh.listeners[0]!.state = 'tcp-fallback'), [], ['ssh-tcp-fallback']],
    ['listener down is not fallback', (s) => (s.ssh.listeners[0]!.state = 'down'), [], []],
    ['session fell back', (s) => (s.sessions[0]!.transport = 'tcp-fallback'), [], ['session-tcp-fallback']],
    ['port taken', () => undefined, [{ address: '[::1]:80', ok: false, error: 'EADDRINUSE' }], ['api-degraded']],
  ];
  for (const [name, change, listeners, codes] of cases) {
    const snap = sampleSnapshot();
    change(snap);
    assert.deepEqual(derivedWarnings(snap, { listeners }).map((w) => w.code), codes, name);
  }
});

test('hostPort brackets IPv6', () => {
  assert.equal(hostPort('::', 22), '[::]:22');
  assert.equal(hostPort('192.0.2.1', 22), '192.0.2.1:22');
});

test('splitHostPort: the one reading of listen addresses', async () => {
  const { splitHostPort } = await import('../../src/util/address.js');
  const rows: [string, ReturnType<typeof splitHostPort>][] = [
    ['127.0.0.1:80', { host: '127.0.0.1', port: 80, bracketed: false }],
    ['[::1]:8080', { host: '::1', port: 8080, bracketed: true }],
    ['[2001:db8::1]', { host: '2001:db8::1', bracketed: true }],
    ['localhost:80', { host: 'localhost', port: 80, bracketed: false }],
    ['10.0.0.1', { host: '10.0.0.1', bracketed: false }],
    ['127.0.0.1:65536', null],
    ['::1:22', null],
    ['[::1]x', null],
    ['', null],
  ];
  for (const [text, want] of rows) assert.deepEqual(splitHostPort(text), want, text);
});
