import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Netns } from '../../tools/netns.js';
import { requireNetns } from '../../tools/require-netns.js';
import { inNetns } from '../../src/native/netns.js';
import { connectMptcp, connectionTransport, listenMptcp, mptcpAvailable, socketFd, type Transport } from '../../src/mptcp/index.js';
import { silentLogger } from '../../src/util/logger.js';

/** Sends `line`, expects it echoed back, ends. */
async function echoOnce(sock: net.Socket, line: string): Promise<string> {
  sock.setEncoding('utf8');
  sock.write(line);
  let got = '';
  for await (const chunk of sock) {
    got += chunk as string;
    if (got.length >= line.length) break;
  }
  sock.destroy();
  return got;
}

/** Echoes `line` through host:port with Node's own (protocol 0) TCP socket, from a process in `ns`. */
async function plainEcho(ns: Netns, host: string, port: number, line: string): Promise<string> {
  const code = `const s=require('net').connect(${port},${JSON.stringify(host)},()=>s.write(${JSON.stringify(line)}));let b='';s.setEncoding('utf8');s.on('data',d=>{b+=d;if(b.length>=${line.length}){process.stdout.write(b);s.destroy();}});`;
  const child = ns.spawn(process.execPath, ['-e', code]);
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  const [status] = (await once(child, 'exit')) as [number];
  assert.equal(status, 0);
  return out;
}

/** A server that echoes and records what each accepted connection runs. */
function echoServer(seen: Transport[]): net.Server {
  return net.createServer((c) => {
    seen.push(connectionTransport(c));
    c.pipe(c);
    c.on('error', () => c.destroy());
  });
}

test('MPTCP listener on "::" accepts MPTCP and plain TCP clients over IPv4 and IPv6 and tells them apart', async (t) => {
  if (!requireNetns(t)) return;
  const ns = Netns.create('mpsock');
  t.after(() => ns.close());
  const seen: Transport[] = [];
  const server = echoServer(seen);
  t.after(() => server.close());
  const log = silentLogger();

  const listened = await inNetns(ns.path, () => listenMptcp(server, { port: 0, log }));
  assert.equal(listened.transport, 'mptcp');
  assert.equal(listened.address.address, '::');
  const port = listened.address.port;
  assert.ok(port > 0);
  assert.equal(inNetns(ns.path, () => mptcpAvailable()), true);

  for (const host of ['127.0.0.1', '::1']) {
    const { socket, transport } = await inNetns(ns.path, () => connectMptcp({ host, port, log, timeoutMs: 3000 }));
    assert.equal(transport, 'mptcp', `MPTCP client to ${host}`);
    assert.equal(connectionTransport(socket), 'mptcp');
    assert.equal(socket.remoteAddress, host);
    assert.ok(socketFd(socket) >= 0);
    assert.equal(await echoOnce(socket, `hello ${host}\n`), `hello ${host}\n`);

    // A plain TCP client (Node's own socket, protocol 0). libuv creates its
    // socket only on the next tick, outside inNetns, so it runs in a child
    // process inside the namespace.
    assert.equal(await plainEcho(ns, host, port, 'plain\n'), 'plain\n');
  }
  assert.deepEqual(seen, ['mptcp', 'tcp-fallback', 'mptcp', 'tcp-fallback']);
});

test('ipv6Only listener refuses IPv4; IPv4 listener works with a bound local address', async (t) => {
  if (!requireNetns(t)) return;
  const ns = Netns.create('mpsock');
  t.after(() => ns.close());
  const server6 = echoServer([]);
  t.after(() => server6.close());
  const r6 = await inNetns(ns.path, () => listenMptcp(server6, { host: '::', port: 0, ipv6Only: true }));
  await assert.rejects(
    inNetns(ns.path, () => connectMptcp({ host: '127.0.0.1', port: r6.address.port })),
    (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED' && err.syscall === 'connect',
  );

  const server4 = echoServer([]);
  t.after(() => server4.close());
  ns.ipSync('addr', 'add', '127.0.0.2/8', 'dev', 'lo');
  const r4 = await inNetns(ns.path, () => listenMptcp(server4, { host: '127.0.0.1', port: 0 }));
  assert.equal(r4.address.family, 'IPv4');
  const { socket } = await inNetns(ns.path, () => connectMptcp({ host: '127.0.0.1', port: r4.address.port, localAddress: '127.0.0.2' }));
  assert.equal(socket.localAddress, '127.0.0.2');
  assert.equal(await echoOnce(socket, 'bound\n'), 'bound\n');
});

test('errors keep errno, code and syscall: EADDRINUSE, ECONNREFUSED, EHOSTUNREACH, abort, bad input', async (t) => {
  if (!requireNetns(t)) return;
  const ns = Netns.create('mpsock');
  t.after(() => ns.close());
  const a = echoServer([]);
  t.after(() => a.close());
  const { address } = await inNetns(ns.path, () => listenMptcp(a, { host: '127.0.0.1', port: 0 }));

  await assert.rejects(
    inNetns(ns.path, () => listenMptcp(net.createServer(), { host: '127.0.0.1', port: address.port })),
    (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE' && err.syscall === 'bind' && err.errno === 98,
  );
  // Nothing listens on port 1 in a fresh namespace.
  await assert.rejects(
    inNetns(ns.path, () => connectMptcp({ host: '127.0.0.1', port: 1 })),
    (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED' && err.syscall === 'connect' && typeof err.errno === 'number',
  );
  ns.ipSync('route', 'add', 'unreachable', '203.0.113.0/24');
  await assert.rejects(inNetns(ns.path, () => connectMptcp({ host: '203.0.113.1', port: 22 })), {
    code: 'EHOSTUNREACH',
    syscall: 'connect',
  });
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(connectMptcp({ host: '127.0.0.1', port: 1, signal: ac.signal }), { name: 'AbortError' });
  await assert.rejects(connectMptcp({ host: 'localhost', port: 1 }), { code: 'ERR_MPTCP_BAD_ADDRESS' });
  await assert.rejects(connectMptcp({ host: '127.0.0.1', port: 70000 }), { code: 'ERR_MPTCP_BAD_PORT' });
  await assert.rejects(connectMptcp({ host: '127.0.0.1', port: 1, localAddress: '::1' }), { code: 'ERR_MPTCP_BAD_ADDRESS' });
});

test('connect timeout and abort end an attempt on a peer that never answers', async (t) => {
  if (!requireNetns(t)) return;
  const ns = Netns.create('mpsock');
  t.after(() => ns.close());
  // SYNs to a static neighbour on a bridge without ports go nowhere, so
  // connect would wait for the kernel's SYN retries.
  ns.ipSync('link', 'add', 'br0', 'type', 'bridge');
  ns.ipSync('link', 'set', 'br0', 'up');
  ns.ipSync('addr', 'add', '192.0.2.1/24', 'dev', 'br0');
  ns.ipSync('neigh', 'add', '192.0.2.2', 'lladdr', '02:00:00:00:00:02', 'dev', 'br0');
  const started = Date.now();
  await assert.rejects(inNetns(ns.path, () => connectMptcp({ host: '192.0.2.2', port: 22, timeoutMs: 300 })), {
    code: 'ETIMEDOUT',
    syscall: 'connect',
  });
  assert.ok(Date.now() - started >= 250);

  // An abort while the SYN is unanswered ends the attempt with the signal's reason.
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(inNetns(ns.path, () => connectMptcp({ host: '192.0.2.2', port: 22, signal: ac.signal })), { name: 'AbortError' });
});
