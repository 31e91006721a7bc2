/**
 * The laptop's view: mpsshd on the client, as path manager with its status
 * API, lists every MPTCP connection of its namespace from the kernel — an
 * outgoing mpssh session with its subflows on the right interfaces and its
 * rates per interface, a python MPTCP pair no SSH is involved in — and
 * leaves plain-TCP fallbacks out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, type DaemonProcess } from '../../tools/daemon-process.js';
import { run, startMpsshdSsh } from '../../tools/mpsshd-ssh.js';
import { waitFor, type Netns } from '../../tools/netns.js';
import { requireNetns } from '../../tools/require-netns.js';
import { twoPaths } from '../../tools/topology.js';

const MPSSH = path.resolve(__dirname, '../../../bin/mpssh.js');

interface Sub { ifname?: string; local: { address: string }; recvBps?: number }
interface Conn { id: string; direction: string; process?: { command: string; destination?: string }; remote: { address: string; port: number }; local: { port: number }; subflows: Sub[] }

function get(socketPath: string, route: string): Promise<any> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath, path: route }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve(JSON.parse(body)));
      })
      .on('error', reject);
  });
}

/** Server-sent events of the daemon, collected as they come. */
function events(socketPath: string): { list: { event: string; data: any }[]; close(): void } {
  const list: { event: string; data: any }[] = [];
  const req = http.get({ socketPath, path: '/events' }, (res) => {
    let buf = '';
    res.setEncoding('utf8').on('data', (c: string) => {
      buf += c;
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.+)$/m.exec(block)?.[1];
        const data = /^data: (.+)$/m.exec(block)?.[1];
        if (event !== undefined && data !== undefined) list.push({ event, data: JSON.parse(data) });
      }
    });
  });
  req.on('error', () => {});
  return { list, close: () => req.destroy() };
}


test('the client lists its outgoing mpssh session with a subflow per interface, follows a link going and a new address coming, and lists non-SSH MPTCP but not TCP fallback', async (t) => {
  if (!requireNetns(t, { programs: ['ssh', '/usr/bin/python3'] })) return;
  const topo = twoPaths({ subnet: 81 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-conn-'));
  let client: DaemonProcess | undefined;
  const srv = await startMpsshdSsh(topo.server, { port: 22, extraYaml: 'pathManager:\n  enabled: false' });
  const sock = path.join(dir, 'api.sock');
  try {
    client = startDaemon(topo.client, ['ssh:', '  Enabled: no', 'api:', '  listen: []', `  controlSocket: ${sock}`, '  connectionSampleMs: 250'].join('\n'));
    await waitFor('the client daemon API', () => fs.existsSync(sock), 10_000);
    await waitFor('endpoints for both client addresses', () => topo.client.execSync('ip', ['mptcp', 'endpoint', 'show']).split('\n').filter((l) => l.includes('10.81.')).length === 2, 10_000);
    const ev = events(sock);
    t.after(() => ev.close());

    const dest = `root@${topo.serverAddrs[0]}`;
    // A steady stream for 20 s (about 2 MB/s), so rates can be seen moving between interfaces.
    const session = run(topo.client, process.execPath, [MPSSH, ...srv.clientOptions, dest, 'for i in $(seq 1 400); do head -c 100000 /dev/zero; sleep 0.05; done'], { timeoutMs: 60_000 });
    // mpssh's proxy makes the socket and hands it to ssh: the owner shown is ssh once the proxy is gone.
    const listed = await waitFor('the session, owned by ssh, with two subflows on eth0 and eth1', async () => {
      const all = (await get(sock, '/connections')).connections as Conn[];
      const c = all.find((x) => x.remote.port === 22 && x.direction === 'outgoing');
      return c !== undefined && c.process?.command === 'ssh' && c.subflows.map((s) => s.ifname).sort().join() === 'eth0,eth1' ? c : undefined;
    }, 10_000, 100);
    assert.equal(listed.process?.command, 'ssh');
    assert.equal(listed.process?.destination, dest);
    assert.ok(ev.list.some((e) => e.event === 'connection-opened' && e.data.connection === listed.id), 'connection-opened event');
    // mpssh status: the user's own outgoing session with its interfaces (root's here).
    const st = await run(topo.client, process.execPath, [MPSSH, 'status', '--socket', sock]);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, new RegExp(`\\nYour MPTCP connections\\n.*\\n  ${dest.replace(/\./g, '\\.')} +ssh +\\S+ +\\S+ \\S+ +eth[01] `));
    assert.match(st.stdout, /eth0/);
    assert.match(st.stdout, /eth1/);
    await waitFor('traffic on both interfaces in the rates', () => ev.list.some((e) => e.event === 'connection-rates' && (e.data.connections[listed.id]?.eth0?.recvBps ?? 0) > 0 && (e.data.connections[listed.id]?.eth1?.recvBps ?? 0) > 0), 8000, 100);

    // eth1 goes down: its subflow goes, the rate follows to eth0 alone.
    topo.client.ipSync('link', 'set', 'eth1', 'down');
    await waitFor('the eth1 subflow removed', () => ev.list.some((e) => e.event === 'connection-subflow-removed' && e.data.connection === listed.id && e.data.ifname === 'eth1'), 10_000, 100).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${topo.client.execSync('ip', ['mptcp', 'endpoint', 'show'])}\n${topo.client.execSync('ss', ['-Mtin'])}\n${JSON.stringify(await get(sock, '/connections'))}\n${JSON.stringify(ev.list.filter((e) => e.event !== 'connection-rates'))}`);
    });
    const mark = ev.list.length;
    await waitFor('eth0 carrying the stream alone', () => ev.list.slice(mark).some((e) => e.event === 'connection-rates' && (e.data.connections[listed.id]?.eth0?.recvBps ?? 0) > 0 && e.data.connections[listed.id]?.eth1 === undefined), 8000, 100);

    // eth1 comes back with a new address: a new subflow from it.
    topo.client.ipSync('addr', 'flush', 'dev', 'eth1');
    topo.client.ipSync('link', 'set', 'eth1', 'up');
    topo.client.ipSync('addr', 'add', '10.81.2.77/24', 'dev', 'eth1');
    topo.client.ipSync('route', 'replace', 'default', 'via', '10.81.2.2', 'dev', 'eth1', 'table', '102');
    topo.client.ipSync('rule', 'add', 'from', '10.81.2.77', 'table', '102');
    await waitFor('a subflow from the new address on eth1', () => ev.list.some((e) => e.event === 'connection-subflow-added' && e.data.connection === listed.id && e.data.ifname === 'eth1' && String(e.data.local).startsWith('10.81.2.77:')), 15_000, 100);

    // An MPTCP pair without SSH, and a TCP client of an MPTCP server (fallback), in the client's namespace.
    const pair = topo.client.spawn('/usr/bin/python3', ['-c', [
      'import socket, time',
      'srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262); srv.bind(("127.0.0.1", 7100)); srv.listen()',
      'c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262); c.connect(("127.0.0.1", 7100)); a, _ = srv.accept()',
      'plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM); plain.connect(("127.0.0.1", 7100)); b, _ = srv.accept()',
      'print("ready", flush=True); time.sleep(30)',
    ].join('\n')]);
    await new Promise((resolve) => pair.stdout?.once('data', resolve));
    const both = await waitFor('both ends of the python MPTCP pair', async () => {
      const all = (await get(sock, '/connections')).connections as Conn[];
      const ends = all.filter((x) => x.local.port === 7100 || x.remote.port === 7100);
      return ends.length >= 2 ? ends : undefined;
    }, 5000, 100);
    assert.deepEqual(both.map((c) => c.direction).sort(), ['incoming', 'outgoing']);
    assert.ok(both.every((c) => c.process?.command === 'python3'), JSON.stringify(both.map((c) => c.process)));
    // A fixed wait on purpose: it proves the plain TCP pair is still not listed after the next samples.
    await new Promise((r) => setTimeout(r, 600));
    const again = ((await get(sock, '/connections')).connections as Conn[]).filter((x) => x.local.port === 7100 || x.remote.port === 7100);
    assert.equal(again.length, 2, 'the plain TCP client and its fallen-back server end are not MPTCP connections');
    pair.kill('SIGKILL');

    const res = await session;
    assert.equal(res.code, 0, res.stderr);
    await waitFor('the session closed', () => ev.list.some((e) => e.event === 'connection-closed' && e.data.connection === listed.id), 5000, 100);
  } finally {
    await client?.stop();
    await srv.stop();
    topo.client.killAll();
    topo.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
