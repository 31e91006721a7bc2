import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { Netns } from '../../tools/netns.js';
import { requireNetns } from '../../tools/require-netns.js';
import { inNetns } from '../../src/native/netns.js';
import { connectMptcp, connectionTransport, listenMptcp, mptcpAvailable, mptcpInfo, subflows, type Transport } from '../../src/mptcp/index.js';
import { createLogger } from '../../src/util/logger.js';

test('with net.mptcp.enabled=0, listen and connect fall back to TCP, say so, and log once', async (t) => {
  if (!requireNetns(t)) return;
  const ns = Netns.create('mpfb');
  t.after(() => ns.close());
  ns.sysctl('net.mptcp.enabled', '0');
  const lines: Array<{ level: number; code?: string; msg: string }> = [];
  const stream = new PassThrough();
  stream.on('data', (b: Buffer) => {
    for (const l of b.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as { level: number; code?: string; msg: string });
  });
  const log = createLogger({ level: 'debug', stream });

  assert.equal(inNetns(ns.path, () => mptcpAvailable()), false);
  assert.equal(mptcpAvailable(), true, 'the availability cache is per namespace');

  const seen: Transport[] = [];
  const server = net.createServer((c) => {
    seen.push(connectionTransport(c));
    c.end('hi\n');
  });
  t.after(() => server.close());
  const listened = await inNetns(ns.path, () => listenMptcp(server, { port: 0, log }));
  assert.equal(listened.transport, 'tcp-fallback');
  assert.equal(listened.fallbackReason, 'ENOPROTOOPT');

  for (let i = 0; i < 2; i++) {
    const { socket, transport, fallbackReason } = await inNetns(ns.path, () => connectMptcp({ host: '::1', port: listened.address.port, log }));
    assert.equal(transport, 'tcp-fallback');
    assert.equal(fallbackReason, 'ENOPROTOOPT');
    assert.equal(connectionTransport(socket), 'tcp-fallback');
    assert.equal(mptcpInfo(socket), null);
    assert.deepEqual(subflows(socket), []);
    socket.setEncoding('utf8');
    let got = '';
    for await (const chunk of socket) got += chunk as string;
    assert.equal(got, 'hi\n');
  }
  assert.deepEqual(seen, ['tcp-fallback', 'tcp-fallback']);
  const warns = lines.filter((l) => l.level === 40);
  assert.equal(warns.length, 1, 'one warning per reason, then debug lines');
  assert.equal(warns[0]?.code, 'ENOPROTOOPT');
  assert.ok(lines.filter((l) => l.level === 20 && l.code === 'ENOPROTOOPT').length >= 2);

  await assert.rejects(inNetns(ns.path, () => connectMptcp({ host: '::1', port: listened.address.port, allowFallback: false })), {
    code: 'ENOPROTOOPT',
    syscall: 'socket',
  });
});

test('an MPTCP client reaching a TCP-only server runs plain TCP and reports the peer as the reason', async (t) => {
  if (!requireNetns(t)) return;
  const server = Netns.create('mpfbs');
  const client = Netns.create('mpfbc');
  t.after(() => {
    server.close();
    client.close();
  });
  const { vethPair } = await import('../../tools/netns.js');
  vethPair(client, 'eth0', server, 'eth0');
  client.ipSync('addr', 'add', '10.77.0.1/24', 'dev', 'eth0');
  server.ipSync('addr', 'add', '10.77.0.2/24', 'dev', 'eth0');
  // The server's namespace has MPTCP off: its listener is plain TCP.
  server.sysctl('net.mptcp.enabled', '0');
  const srv = net.createServer((c) => c.end('tcp\n'));
  t.after(() => srv.close());
  const listened = await inNetns(server.path, () => listenMptcp(srv, { host: '10.77.0.2', port: 0 }));
  assert.equal(listened.transport, 'tcp-fallback');
  const { socket, transport, fallbackReason } = await inNetns(client.path, () => connectMptcp({ host: '10.77.0.2', port: listened.address.port, timeoutMs: 3000 }));
  assert.equal(transport, 'tcp-fallback');
  assert.equal(fallbackReason, 'peer');
  socket.setEncoding('utf8');
  let got = '';
  for await (const chunk of socket) got += chunk as string;
  assert.equal(got, 'tcp\n');
});
