/**
 * The status API over real sockets on loopback: the event stream (order,
 * Last-Event-ID resume, heartbeats, clean-up, slow clients dropped), the
 * control socket (mode 0600, stale socket replaced, changes accepted), and a
 * taken port (reported as degraded, nothing thrown).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { buildApp } from '../../src/api/app.js';
import { startApi } from '../../src/api/index.js';
import { MAX_CONNECTIONS, parseListen } from '../../src/api/listen.js';
import { silentLogger } from '../../src/util/logger.js';
import { FakeSource } from '../../tools/api-fixture.js';

interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/** A minimal SSE reader over node:http. */
function openStream(url: string, headers: Record<string, string> = {}) {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let buf = '';
  let wake: (() => void) | undefined;
  let ended = false;
  const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } });
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev: SseEvent = { data: '' };
          let isEvent = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            const m = /^(id|event|data): ?(.*)$/.exec(line);
            if (m) {
              isEvent = true;
              ev[m[1] as 'id' | 'event' | 'data'] = m[2] as string;
            }
          }
          if (isEvent) events.push(ev);
        }
        wake?.();
      });
      res.on('close', () => {
        ended = true;
        wake?.();
      });
      resolve(res);
    });
    req.on('error', reject);
  });
  const until = async (what: string, cond: () => boolean, ms = 3000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; events so far: ${JSON.stringify(events)}`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
  };
  return { events, comments, response, until, ended: () => ended, close: () => req.destroy() };
}

async function listening(source: FakeSource, sse?: { heartbeatMs?: number; maxBufferedBytes?: number; maxStreams?: number }) {
  const app = buildApp({ source, log: silentLogger(), control: false, ...(sse ? { sse } : {}) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as net.AddressInfo).port;
  return { app, base: `http://127.0.0.1:${port}` };
}

function request(opts: http.RequestOptions & { body?: unknown }): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = http.request({ ...opts, headers: { ...(opts.headers as Record<string, string>), ...(body ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('SSE: events in order with ids, heartbeats, and the subscription dropped on disconnect', async (t) => {
  const source = new FakeSource();
  const { app, base } = await listening(source, { heartbeatMs: 40 });
  t.after(() => app.close());
  const s = openStream(`${base}/events`);
  const res = await s.response;
  assert.match(String(res.headers['content-type']), /^text\/event-stream/);
  await s.until('subscription', () => source.subscribers === 2); // the app's metrics hold one
  source.emit({ type: 'interface-down', ifindex: 2, ifname: 'wlan0' });
  source.emit({ type: 'session-sample', session: 's-1', at: 1, sampledAt: 1, subflows: [{ ifname: 'wwan0', local: '203.0.113.5', bytesSent: 10 }] });
  source.emit({ type: 'interface-up', ifindex: 2, ifname: 'wlan0' });
  await s.until('3 events', () => s.events.length === 3);
  assert.deepEqual(s.events.map((e) => [e.id, e.event]), [['1', 'interface-down'], ['2', 'session-sample'], ['3', 'interface-up']]);
  assert.equal(JSON.parse(s.events[1]!.data).subflows[0].ifname, 'wwan0');
  await s.until('heartbeats', () => s.comments.filter((c) => c === 'heartbeat').length >= 2);
  s.close();
  await s.until('unsubscribe', () => source.subscribers === 1);
});

test('SSE: Last-Event-ID resumes from the backlog without duplicates; a gap is announced; a bad id is 400', async (t) => {
  const source = new FakeSource(undefined, 5);
  const { app, base } = await listening(source);
  t.after(() => app.close());
  for (let i = 0; i < 4; i++) source.emit({ type: 'endpoint-added', id: i + 1, address: `192.0.2.${i + 1}` });
  const s = openStream(`${base}/events`, { 'last-event-id': '2' });
  await s.until('backlog', () => s.events.length === 2);
  source.emit({ type: 'endpoint-removed', id: 1, address: '192.0.2.1' });
  await s.until('live event', () => s.events.length === 3);
  assert.deepEqual(s.events.map((e) => e.id), ['3', '4', '5']);
  s.close();

  // The query form, for clients that cannot set headers.
  const q = openStream(`${base}/events?lastEventId=4`);
  await q.until('backlog', () => q.events.length === 1);
  assert.equal(q.events[0]!.id, '5');
  q.close();

  for (let i = 0; i < 6; i++) source.emit({ type: 'endpoint-added', id: 9, address: '192.0.2.9' }); // seq 6..11, backlog keeps 7..11
  const g = openStream(`${base}/events`, { 'last-event-id': '3' });
  await g.until('gap and backlog', () => g.events.length === 6);
  assert.equal(g.events[0]!.event, 'gap');
  assert.deepEqual(JSON.parse(g.events[0]!.data), { after: 3, next: 7 });
  assert.deepEqual(g.events.slice(1).map((e) => e.id), ['7', '8', '9', '10', '11']);
  g.close();

  // An id from before a daemon restart: the stream says so and delivers what comes next.
  const r = openStream(`${base}/events`, { 'last-event-id': '500' });
  await r.until('restart notice', () => r.events.length === 1);
  assert.deepEqual(JSON.parse(r.events[0]!.data), { after: 500, next: null, reason: 'restarted' });
  source.emit({ type: 'endpoint-removed', id: 9, address: '192.0.2.9' });
  await r.until('next event', () => r.events.length === 2);
  assert.equal(r.events[1]!.id, '12');
  r.close();

  const bad = await request({ host: '127.0.0.1', port: Number(new URL(base).port), path: '/events', headers: { 'last-event-id': 'x' } } as http.RequestOptions);
  assert.equal(bad.status, 400);
});

test('SSE: a client that stops reading is dropped once its buffer passes the bound', async (t) => {
  const source = new FakeSource();
  const { app, base } = await listening(source, { maxBufferedBytes: 256 * 1024 });
  t.after(() => app.close());
  const port = Number(new URL(base).port);
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.write('GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n');
  sock.pause(); // never read: the kernel's buffers fill, then the server's
  const closed = new Promise((r) => sock.once('close', r));
  sock.on('error', () => undefined);
  // A client that keeps reading gets the same burst in full.
  const fast = openStream(`${base}/events`);
  while (source.subscribers < 3) await new Promise((r) => setTimeout(r, 10));
  const subflows = Array.from({ length: 64 }, (_, i) => ({ ifname: `if${i}`, local: `10.0.${i}.1`, bytesSent: i * 1e9, bytesReceived: i }));
  const rss0 = process.memoryUsage().rss;
  let sent = 0;
  while (source.subscribers > 2 && sent < 200_000) {
    for (let i = 0; i < 5; i++, sent++) source.emit({ type: 'session-sample', session: 's-1', at: sent, sampledAt: sent, subflows });
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(source.subscribers, 2, `still subscribed after ${sent} events`);
  sock.resume();
  await closed;
  await fast.until('every event', () => fast.events.length === sent, 10_000);
  assert.equal(fast.ended(), false);
  assert.equal(fast.events.at(-1)!.id, String(sent));
  fast.close();
  assert.ok(process.memoryUsage().rss - rss0 < 200 * 1024 * 1024);
});

test('SSE: past maxStreams open streams a new one is refused (503), and accepted again once one closes', async (t) => {
  const source = new FakeSource();
  const { app, base } = await listening(source, { maxStreams: 3 });
  t.after(() => app.close());
  const open = [openStream(`${base}/events`), openStream(`${base}/events`), openStream(`${base}/events`)];
  for (const s of open) await s.response;
  const refused = await request({ host: '127.0.0.1', port: Number(new URL(base).port), path: '/events' });
  assert.equal(refused.status, 503);
  assert.equal(refused.json.error.code, 'unavailable');
  open[0]!.close();
  await open[0]!.until('closed', () => open[0]!.ended());
  while (source.subscribers > 3) await new Promise((r) => setTimeout(r, 10));
  const again = openStream(`${base}/events`);
  assert.equal((await again.response).statusCode, 200);
  for (const s of [...open, again]) s.close();
});

test('startApi: a listener holds at most MAX_CONNECTIONS connections; the ones past it are closed, the daemon answers the rest', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-api-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const source = new FakeSource();
  const config = { enabled: true, listen: ['127.0.0.1:0'], allowedHosts: [], controlSocket: path.join(dir, 'api.sock'), connectionSampleMs: 0 };
  const api = await startApi({ source, config, log: silentLogger() });
  t.after(() => api.close());
  const port = Number(/:(\d+)$/.exec(api.state().listeners[0]!.address)![1]);
  const held: net.Socket[] = [];
  t.after(() => held.forEach((c) => c.destroy()));
  let closedByServer = 0;
  for (let i = 0; i <= MAX_CONNECTIONS; i++) {
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => undefined);
    c.on('close', () => closedByServer++);
    await new Promise((r) => c.once('connect', r));
    held.push(c);
  }
  // Which one is closed depends on the order the server accepts them in.
  while (closedByServer === 0) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(closedByServer, 1);
  held.forEach((c) => c.destroy());
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await request({ host: '127.0.0.1', port, path: '/healthz' })).status, 200);
});

test('startApi: control socket 0600 in a 0755 directory it creates, changes only there, a live socket not stolen', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-api-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sockPath = path.join(dir, 'run', 'mpssh', 'api.sock');
  // The directory does not exist yet: startApi creates it.
  const source = new FakeSource();
  const config = { enabled: true, listen: ['127.0.0.1:0'], allowedHosts: [], controlSocket: sockPath, connectionSampleMs: 0 };
  const api = await startApi({ source, config, log: silentLogger() });
  t.after(() => api.close());
  assert.equal(fs.statSync(path.dirname(sockPath)).mode & 0o777, 0o755);
  assert.equal(fs.statSync(sockPath).mode & 0o777, 0o600);
  assert.deepEqual(api.state().listeners.map((l) => l.ok), [true, true]);
  const tcpPort = Number(/:(\d+)$/.exec(api.state().listeners[0]!.address)![1]);

  const patch = await request({ socketPath: sockPath, method: 'PATCH', path: '/endpoints/1', body: { backup: true } });
  assert.equal(patch.status, 200);
  assert.deepEqual(patch.json.flags, ['subflow', 'backup']);
  assert.deepEqual((await request({ socketPath: sockPath, method: 'DELETE', path: '/sessions/s-1' })).json, { id: 's-1', closed: true });
  assert.equal((await request({ socketPath: sockPath, method: 'POST', path: '/reload' })).status, 200);
  const denied = await request({ host: '127.0.0.1', port: tcpPort, method: 'PATCH', path: '/endpoints/1', body: { backup: true } });
  assert.equal(denied.status, 403);
  assert.equal(denied.json.error.code, 'forbidden');
  assert.equal((await request({ host: '127.0.0.1', port: tcpPort, path: '/status' })).json.api.state, 'up');

  // A second daemon must not steal a live socket.
  const second = await startApi({ source, config: { ...config, listen: [] }, log: silentLogger() });
  assert.match(second.state().listeners[0]!.error ?? '', /in use/);
  await second.close();
  assert.equal((await request({ socketPath: sockPath, path: '/healthz' })).status, 200);

  // Closing ends open event streams instead of waiting for them.
  const stream = openStream(`http://127.0.0.1:${tcpPort}/events`);
  await stream.response;
  await api.close();
  await api.close();
  await stream.until('stream ended', () => stream.ended());
  assert.equal(fs.existsSync(sockPath), false);
});

test('startApi: a stale socket file is replaced; a regular file is not', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-api-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sockPath = path.join(dir, 'api.sock');
  const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sockPath)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  assert.equal(r.signal, 'SIGKILL');
  assert.ok(fs.lstatSync(sockPath).isSocket());
  const api = await startApi({ source: new FakeSource(), config: { enabled: true, listen: [], allowedHosts: [], controlSocket: sockPath, connectionSampleMs: 0 }, log: silentLogger() });
  assert.deepEqual(api.state().listeners, [{ address: sockPath, ok: true }]);
  assert.equal((await request({ socketPath: sockPath, path: '/healthz' })).status, 200);
  await api.close();

  const file = path.join(dir, 'not-a-socket');
  fs.writeFileSync(file, 'keep me');
  const api2 = await startApi({ source: new FakeSource(), config: { enabled: true, listen: [], allowedHosts: [], controlSocket: file, connectionSampleMs: 0 }, log: silentLogger() });
  assert.match(api2.state().listeners[0]!.error ?? '', /not a socket/);
  await api2.close();
  assert.equal(fs.readFileSync(file, 'utf8'), 'keep me');
});

test('startApi: a taken port is logged once and reported as degraded over the control socket; nothing throws', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-api-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
  t.after(() => squatter.close());
  const taken = (squatter.address() as net.AddressInfo).port;
  const lines: { level: number; msg: string }[] = [];
  const { default: pino } = await import('pino');
  const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) });
  const sockPath = path.join(dir, 'api.sock');
  const api = await startApi({ source: new FakeSource(), config: { enabled: true, listen: [`127.0.0.1:${taken}`, '[::1]:0', 'no-port', '127.0.0.1:0'], allowedHosts: [], controlSocket: sockPath, connectionSampleMs: 0 }, log });
  t.after(() => api.close());
  const st = api.state().listeners;
  assert.equal(st[0]!.ok, false);
  assert.match(st[0]!.error!, /EADDRINUSE/);
  assert.equal(st[2]!.ok, false);
  assert.equal(st[3]!.ok, true);
  assert.equal(st[4]!.ok, true, 'control socket');
  const errors = lines.filter((l) => l.level >= 50);
  assert.equal(errors.filter((l) => l.msg.includes(`127.0.0.1:${taken}`)).length, 1);
  const status = await request({ socketPath: sockPath, path: '/status' });
  assert.equal(status.json.api.state, 'degraded');
  assert.ok(status.json.warnings.some((w: { code: string }) => w.code === 'api-degraded'));
});

test('parseListen: the config forms, and mistakes', () => {
  assert.deepEqual(parseListen('127.0.0.1:80'), { kind: 'tcp', host: '127.0.0.1', port: 80 });
  assert.deepEqual(parseListen('[::1]:8080'), { kind: 'tcp', host: '::1', port: 8080 });
  assert.deepEqual(parseListen('localhost:80'), { kind: 'tcp', host: 'localhost', port: 80 });
  assert.deepEqual(parseListen('/run/mpssh/status.sock'), { kind: 'unix', path: '/run/mpssh/status.sock' });
  for (const bad of ['::1:80', '127.0.0.1', '[zz]:80', '127.0.0.1:70000', 'relative.sock']) assert.throws(() => parseListen(bad), /bad listen address/, bad);
});
