/**
 * Every route of the status API through fastify's inject, against a fake
 * daemon: answers match the published schemas, errors carry stable codes,
 * changes are refused off the control socket.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withoutOwner } from '../../src/api/sse.js';
import { buildApp, procHidesProcesses } from '../../src/api/app.js';
import { hostAllowed } from '../../src/api/host-check.js';
import * as S from '../../src/api/schemas.js';
import { silentLogger } from '../../src/util/logger.js';
import { MpsshError } from '../../src/util/errors.js';
import { FakeSource, sampleSnapshot } from '../../tools/api-fixture.js';
import { parsePrometheus } from './api-prom-parse.js';

const NOW = sampleSnapshot().startedAt + 90_500;

async function app(control: boolean, source = new FakeSource(), apiState?: () => { listeners: { address: string; ok: boolean; error?: string }[] }, processesHidden = false): Promise<{ app: FastifyInstance; source: FakeSource }> {
  const a = buildApp({ source, log: silentLogger(), control, now: () => NOW, processesHidden, ...(apiState ? { apiState } : {}) });
  await a.ready();
  return { app: a, source };
}

/** Parses the body against `schema`, failing the test with zod's message. */
function conforms<T extends z.ZodType>(schema: T, body: string): z.output<T> {
  const r = schema.safeParse(JSON.parse(body));
  assert.ok(r.success, r.success ? '' : JSON.stringify(r.error.issues));
  return r.data;
}

function assertError(res: { statusCode: number; body: string; headers: Record<string, unknown> }, status: number, code: string): string {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /application\/json/);
  return conforms(S.errorBody, res.body).error.message;
}

test('GET /status: schema, counts, last reconcile, daemon and derived warnings, API state', async (t) => {
  const source = new FakeSource();
  source.snap.ssh.listeners.push({ address: '::', port: 22, state: 'tcp-fallback', error: 'EPROTONOSUPPORT' });
  source.snap.sessions[0]!.transport = 'tcp-fallback';
  const { app: a } = await app(false, source, () => ({ listeners: [{ address: '127.0.0.1:80', ok: false, error: 'EADDRINUSE: address already in use' }, { address: '[::1]:80', ok: true }] }));
  t.after(() => a.close());
  const res = await a.inject('/status');
  assert.equal(res.statusCode, 200);
  const s = conforms(S.status, res.body);
  assert.equal(s.version, '0.1.0-test');
  assert.equal(s.uptimeSeconds, 90);
  assert.equal(s.startedAt, '2025-01-02T03:04:05.000Z');
  assert.deepEqual(s.counts, { interfaces: 3, interfacesUp: 2, endpoints: 3, endpointsOwned: 2, addressesUnused: 2, sessions: 1, subflows: 2 });
  assert.deepEqual(s.lastReconcile, { pass: 7, at: '2025-01-02T03:04:08.000Z', durationMs: 1.5, triggers: ['address'], changes: 1, failedChanges: 0, errors: [] });
  assert.equal(s.api.state, 'degraded');
  assert.deepEqual(
    s.warnings.map((w) => w.code),
    ['foreign-endpoints', 'ssh-tcp-fallback', 'session-tcp-fallback', 'api-degraded'],
  );
  assert.match(s.warnings[1]!.message, /\[::\]:22 \(EPROTONOSUPPORT\)/);
});

test('GET /status: MPTCP disabled is a warning; no listeners state means up', async (t) => {
  const source = new FakeSource();
  source.snap.mptcp.enabled = false;
  source.snap.warnings = [];
  const { app: a } = await app(false, source);
  t.after(() => a.close());
  const s = conforms(S.status, (await a.inject('/status')).body);
  assert.equal(s.api.state, 'up');
  assert.deepEqual(s.warnings.map((w) => w.code), ['mptcp-disabled']);
});

test('GET /interfaces and /endpoints: addresses with their endpoint or the reason they are unused', async (t) => {
  const { app: a } = await app(false);
  t.after(() => a.close());
  const ifs = conforms(S.interfaces, (await a.inject('/interfaces')).body).interfaces;
  assert.deepEqual(ifs.map((i) => [i.name, i.subflows, i.mode]), [['wlan0', 1, ['subflow']], ['wwan0', 1, ['subflow', 'backup']], ['docker0', 0, null]]);
  assert.deepEqual(ifs[0]!.addresses[0]!.endpoint, { id: 1, flags: ['subflow'] });
  assert.deepEqual(ifs[0]!.addresses[1]!.unused, { reason: 'link-local' });
  assert.deepEqual(ifs[0]!.addresses[0]!.flags, ['permanent']);
  assert.equal(ifs[2]!.kind, 'bridge');
  const eps = conforms(S.endpoints, (await a.inject('/endpoints')).body);
  assert.deepEqual(eps.endpoints.map((e) => [e.id, e.owner, e.backup, e.ifname]), [[1, 'mpsshd', false, 'wlan0'], [2, 'mpsshd', true, 'wwan0'], [9, 'foreign', false, undefined]]);
  assert.deepEqual(eps.unused, [
    { address: 'fe80::1', family: 6, ifindex: 2, ifname: 'wlan0', reason: 'link-local' },
    { address: '172.17.0.1', family: 4, ifindex: 4, ifname: 'docker0', reason: 'interface-ignored', detail: 'matches docker*' },
  ]);
});

test('GET /sessions and /sessions/:id: subflows with interface, backup, RTT and bytes', async (t) => {
  const { app: a } = await app(false);
  t.after(() => a.close());
  const list = conforms(S.sessions, (await a.inject('/sessions')).body).sessions;
  assert.equal(list.length, 1);
  assert.deepEqual(list[0]!.subflowsByInterface, { wlan0: 1, wwan0: 1 });
  assert.deepEqual(list[0]!.client, { address: '198.51.100.7', port: 51514 });
  const one = conforms(S.session, (await a.inject('/sessions/s-1')).body);
  assert.equal(one.user, 'alice');
  assert.equal(one.transport, 'mptcp');
  assert.deepEqual(
    one.subflows.map((sf) => [sf.ifname, sf.local.address, sf.backup, sf.rttUs, sf.bytesSent, sf.bytesReceived]),
    [
      ['wlan0', '192.0.2.10', false, 24000, 2000, 500],
      ['wwan0', '203.0.113.5', true, 36000, 1000, 200],
    ],
  );
  assertError(await a.inject('/sessions/nope'), 404, 'not-found');
  assert.match(assertError(await a.inject('/sessions/a%20b'), 400, 'bad-request'), /session id/);
});

test('GET /connections and /connections/:id: every MPTCP connection with its owner, subflows per interface and rates', async (t) => {
  const { app: a } = await app(false);
  t.after(() => a.close());
  const all = conforms(S.connections, (await a.inject('/connections')).body);
  assert.equal(all.periodMs, 1000);
  assert.equal(all.connections.length, 1);
  const c = all.connections[0]!;
  assert.deepEqual([c.id, c.direction, c.process?.command, c.process?.destination, c.recvBps], ['4242', 'outgoing', 'ssh', 'alice@server', 4_000_000]);
  assert.deepEqual(c.subflows.map((s) => [s.ifname, s.stale, s.recvBps]), [['wlan0', false, 3_000_000], ['wwan0', false, 1_000_000]]);
  assert.deepEqual(conforms(S.connection, (await a.inject('/connections/4242')).body), c);
  assertError(await a.inject('/connections/99'), 404, 'not-found');
  assert.match(assertError(await a.inject('/connections/abc'), 400, 'bad-request'), /connection id/);
  // Where /proc hides other users' processes, so does the API, except on the root-only control socket.
  const { app: hidden } = await app(false, new FakeSource(), undefined, true);
  t.after(() => hidden.close());
  assert.equal(conforms(S.connections, (await hidden.inject('/connections')).body).connections[0]!.process, undefined);
  const { app: control } = await app(true, new FakeSource(), undefined, true);
  t.after(() => control.close());
  assert.equal(conforms(S.connections, (await control.inject('/connections')).body).connections[0]!.process?.pid, 4321);
});

test('where /proc hides other users\' processes, the read-only listeners leave out who owns a session: in /sessions, /connections, /metrics and session events', async (t) => {
  const { app: hidden, source } = await app(false, new FakeSource(), undefined, true);
  t.after(() => hidden.close());
  const list = conforms(S.sessions, (await hidden.inject('/sessions')).body).sessions[0]!;
  assert.deepEqual([list.user, list.pid, list.client.address], [undefined, undefined, '198.51.100.7']);
  const one = conforms(S.session, (await hidden.inject('/sessions/s-1')).body);
  assert.deepEqual([one.user, one.pid], [undefined, undefined]);
  const metrics = (await hidden.inject('/metrics')).body;
  assert.ok(!metrics.includes('alice'), 'no user label value');
  assert.match(metrics, /mpssh_session_bytes_sent_total\{session="s-1",user=""\} 3000/);
  const e = source.emit({ type: 'session-opened', session: 's-2', user: 'bob', remote: '203.0.113.5' });
  assert.deepEqual(withoutOwner(e), { seq: e.seq, at: e.at, type: 'session-opened', session: 's-2', remote: '203.0.113.5' });
  const c = source.emit({ type: 'connection-opened', connection: '7', direction: 'outgoing', local: '192.0.2.1:5', remote: '198.51.100.2:22', command: 'ssh', destination: 'bob@server' });
  assert.deepEqual(withoutOwner(c), { seq: c.seq, at: c.at, type: 'connection-opened', connection: '7', direction: 'outgoing', local: '192.0.2.1:5', remote: '198.51.100.2:22' });
  // The control socket (root only) shows everything.
  const { app: control } = await app(true, new FakeSource(), undefined, true);
  t.after(() => control.close());
  const full = conforms(S.sessions, (await control.inject('/sessions')).body).sessions[0]!;
  assert.deepEqual([full.user, full.pid], ['alice', 4242]);
});

test('hidepid is read from the /proc mount options', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-mounts-'));
  try {
    const cases: [string, boolean][] = [
      ['proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0', false],
      ['proc /proc proc rw,nosuid,nodev,noexec,relatime,hidepid=2 0 0', true],
      ['proc /proc proc rw,relatime,hidepid=invisible,gid=4 0 0', true],
      ['proc /proc proc rw,relatime,hidepid=0 0 0', false],
      ['proc /other proc rw,hidepid=2 0 0', false],
    ];
    for (const [line, want] of cases) {
      fs.writeFileSync(path.join(dir, 'mounts'), `sysfs /sys sysfs rw 0 0\n${line}\n`);
      assert.equal(procHidesProcesses(path.join(dir, 'mounts')), want, line);
    }
    assert.equal(procHidesProcesses(path.join(dir, 'missing')), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('unknown routes, methods and the internal error are JSON with stable codes; 5xx hides details', async (t) => {
  const source = new FakeSource();
  const { app: a } = await app(false, source);
  t.after(() => a.close());
  assert.match(assertError(await a.inject('/nothing?x=1'), 404, 'not-found'), /GET \/nothing$/);
  assertError(await a.inject({ method: 'PUT', url: '/status' }), 404, 'not-found');
  source.snapshot = () => {
    throw new Error('secret internal detail');
  };
  const msg = assertError(await a.inject('/status'), 500, 'internal');
  assert.doesNotMatch(msg, /secret/);
  assert.equal(JSON.parse((await a.inject('/status')).body).error.code, 'internal');
});

test('GET /healthz and /openapi.json: every route documented, every $ref resolves', async (t) => {
  const { app: a } = await app(false);
  t.after(() => a.close());
  assert.deepEqual(JSON.parse((await a.inject('/healthz')).body), { ok: true });
  const doc = JSON.parse((await a.inject('/openapi.json')).body) as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } };
  assert.equal(doc.openapi, '3.1.0');
  assert.deepEqual(Object.keys(doc.paths).sort(), ['/connections', '/connections/{id}', '/endpoints', '/endpoints/{id}', '/events', '/healthz', '/interfaces', '/metrics', '/openapi.json', '/reload', '/sessions', '/sessions/{id}', '/status']);
  assert.deepEqual(Object.keys(doc.paths['/endpoints/{id}']!).sort(), ['patch']);
  for (const ref of JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)) assert.ok(ref[1]! in doc.components.schemas, `missing ${ref[1]}`);
  assert.ok(JSON.stringify(doc.paths['/sessions/{id}']).includes('"in":"path"'));
  assert.ok(!JSON.stringify(doc).includes('$schema'));
});

test('changing routes answer 403 off the control socket, before looking at the body', async (t) => {
  const { app: a, source } = await app(false);
  t.after(() => a.close());
  assertError(await a.inject({ method: 'POST', url: '/reload' }), 403, 'forbidden');
  assertError(await a.inject({ method: 'PATCH', url: '/endpoints/1', payload: { backup: true } }), 403, 'forbidden');
  assertError(await a.inject({ method: 'PATCH', url: '/endpoints/1', headers: { 'content-type': 'application/json' }, payload: '{bad' }), 403, 'forbidden');
  assertError(await a.inject({ method: 'DELETE', url: '/sessions/s-1' }), 403, 'forbidden');
  assert.deepEqual(source.calls, []);
});

test('changing routes on the control socket: reload, backup flag, session end, and their errors', async (t) => {
  const { app: a, source } = await app(true);
  t.after(() => a.close());
  assert.deepEqual(JSON.parse((await a.inject({ method: 'POST', url: '/reload' })).body), { changed: true });
  source.reloadResult = new MpsshError('config-invalid', 'pathManager.limits: expected object');
  assert.match(assertError(await a.inject({ method: 'POST', url: '/reload' }), 422, 'config-invalid'), /pathManager\.limits/);

  const ok = await a.inject({ method: 'PATCH', url: '/endpoints/2', payload: { backup: false } });
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(conforms(S.endpointView, ok.body).flags, ['subflow']);
  const cases: [string, unknown, number, string][] = [
    ['/endpoints/1', { backup: 'yes' }, 400, 'bad-request'],
    ['/endpoints/1', { backup: true, extra: 1 }, 400, 'bad-request'],
    ['/endpoints/1', undefined, 400, 'bad-request'],
    ['/endpoints/0', { backup: true }, 400, 'bad-request'],
    ['/endpoints/256', { backup: true }, 400, 'bad-request'],
    ['/endpoints/x', { backup: true }, 400, 'bad-request'],
    ['/endpoints/77', { backup: true }, 404, 'not-found'],
    ['/endpoints/9', { backup: true }, 409, 'conflict'],
  ];
  for (const [url, body, status, code] of cases) {
    const res = await a.inject({ method: 'PATCH', url, ...(body === undefined ? {} : { payload: body as object }) });
    assertError(res, status, code);
  }
  assertError(await a.inject({ method: 'PATCH', url: '/endpoints/1', headers: { 'content-type': 'application/json' }, payload: '{"backup":' }), 400, 'bad-request');
  assertError(await a.inject({ method: 'PATCH', url: '/endpoints/1', headers: { 'content-type': 'application/xml' }, payload: '<backup/>' }), 415, 'unsupported-media-type');
  assertError(await a.inject({ method: 'PATCH', url: '/endpoints/1', payload: { backup: true, pad: 'x'.repeat(20_000) } }), 413, 'payload-too-large');
  source.snap.endpoints.push({ id: 5, family: 4, address: '203.0.113.99', flags: ['subflow'], owner: 'mpsshd' });
  assert.doesNotMatch(assertError(await a.inject({ method: 'PATCH', url: '/endpoints/5', payload: { backup: true } }), 500, 'kernel'), /secret/);

  assert.deepEqual(JSON.parse((await a.inject({ method: 'DELETE', url: '/sessions/s-1' })).body), { id: 's-1', closed: true });
  assertError(await a.inject({ method: 'DELETE', url: '/sessions/s-2' }), 404, 'not-found');
  assert.deepEqual(source.calls.slice(-2), ['close s-1', 'close s-2']);
});

test('GET /metrics: strict Prometheus text from a registry of its own', async (t) => {
  const source = new FakeSource();
  const { app: a } = await app(false, source);
  t.after(() => a.close());
  source.emit({ type: 'reconcile', pass: 8, durationMs: 3, changes: 2, errors: 1 });
  source.emit({ type: 'reconcile', pass: 9, durationMs: 40, changes: 0, errors: 0 });
  const res = await a.inject('/metrics');
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const fams = parsePrometheus(res.body);
  const value = (name: string, labels: Record<string, string> = {}): number | undefined =>
    [...fams.values()].flatMap((f) => f.samples).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
  assert.equal(value('mpssh_interface_session_bytes_sent', { ifname: 'wlan0' }), 2000);
  assert.equal(value('mpssh_interface_session_bytes_received', { ifname: 'wwan0' }), 200);
  assert.equal(value('mpssh_interface_subflows', { ifname: 'wwan0' }), 1);
  assert.equal(value('mpssh_session_bytes_sent_total', { session: 's-1', user: 'alice' }), 3000);
  assert.equal(value('mpssh_session_subflows', { session: 's-1', ifname: 'wlan0' }), 1);
  assert.equal(value('mpssh_reconcile_passes_total'), 7);
  assert.equal(value('mpssh_reconcile_errors_total'), 1);
  assert.equal(value('mpssh_reconcile_changes_total'), 2);
  assert.equal(value('mpssh_reconcile_duration_seconds_count'), 2);
  assert.equal(value('mpssh_reconcile_duration_seconds_bucket', { le: '0.005' }), 1);
  assert.equal(value('mpssh_endpoints', { owner: 'foreign' }), 1);
  assert.equal(value('mpssh_mptcp_connections', { direction: 'outgoing' }), 1);
  assert.equal(value('mpssh_mptcp_interface_throughput_bits_per_second', { ifname: 'wlan0', direction: 'receive' }), 3_000_000);
  assert.equal(value('mpssh_mptcp_interface_subflows', { ifname: 'wwan0' }), 1);
  assert.equal(value('mpssh_info', { version: '0.1.0-test', path_manager: 'in-kernel' }), 1);
  assert.equal(fams.get('mpssh_reconcile_duration_seconds')?.type, 'histogram');
  // Nothing from prom-client's global registry (process_* defaults) leaks in.
  assert.ok(![...fams.keys()].some((k) => k.startsWith('process_') || k.startsWith('nodejs_')));
  // A session that ended leaves no series behind.
  source.snap.sessions = [];
  assert.equal(parsePrometheus((await a.inject('/metrics')).body).get('mpssh_session_bytes_sent_total')?.samples.length, 0);
});

test('the Prometheus test parser rejects malformed text', () => {
  assert.throws(() => parsePrometheus('x 1\n'), /without HELP/);
  assert.throws(() => parsePrometheus('# TYPE x gauge\nx{a=1} 1\n'), /not quoted/);
  assert.throws(() => parsePrometheus('# TYPE x gauge\nx 1'), /newline/);
  assert.throws(() => parsePrometheus('# TYPE x counter\nx -1\n'), /counter/);
  assert.throws(() => parsePrometheus('# TYPE x gauge\nx one\n'), /bad value/);
});

test('GET / serves the dashboard and its assets locally, with a CSP that forbids other origins', async (t) => {
  const { app: a } = await app(false);
  t.after(() => a.close());
  const page = await a.inject('/');
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /text\/html/);
  assert.match(String(page.headers['content-security-policy']), /default-src 'none'.*connect-src 'self'/);
  const refs = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((r) => r !== 'data:,');
  assert.ok(refs.length >= 4, refs.join(' '));
  for (const ref of refs) {
    assert.ok(ref.startsWith('/'), `asset ${ref} must be local`);
    const res = await a.inject(ref);
    assert.equal(res.statusCode, 200, ref);
    assert.ok(res.body.length > 100, ref);
  }
  assert.match((await a.inject('/dashboard/uPlot.min.js')).body, /uPlot/);
});

test('DNS rebinding: the read-only app answers loopback names, IP literals and allowedHosts only; the control socket any', async () => {
  const rows: [string | undefined, boolean][] = [
    ['localhost', true], ['localhost:80', true], ['LOCALHOST.', true], ['mpssh.localhost:8080', true], ['127.0.0.1', true], ['127.0.0.1:80', true],
    ['[::1]', true], ['[::1]:80', true], ['192.0.2.5:8080', true], ['status.example.net', true], [undefined, true],
    ['evil.example', false], ['evil.example:80', false], ['localhost.evil.example', false], ['127.0.0.1.nip.io', false], ['[::1', false], ['a b', false], ['', false],
  ];
  for (const [host, want] of rows) assert.equal(hostAllowed(host, ['status.example.net']), want, String(host));
  const { app: readApp } = await app(false);
  const bad = await readApp.inject({ url: '/sessions', headers: { host: 'rebound.example' } });
  assert.equal(bad.statusCode, 403);
  assert.equal(JSON.parse(bad.body).error.code, 'forbidden');
  assert.equal((await readApp.inject({ url: '/sessions', headers: { host: 'localhost' } })).statusCode, 200);
  const { app: controlApp } = await app(true);
  assert.equal((await controlApp.inject({ url: '/sessions', headers: { host: 'rebound.example' } })).statusCode, 200);
});
