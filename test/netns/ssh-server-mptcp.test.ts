/**
 * mpsshd serving OpenSSH (through mpssh) over MPTCP with two paths: two
 * subflows, the session outliving its primary path and a restart of the
 * daemon, and keepalive ending a frozen client.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { waitFor } from '../../tools/netns.js';
import { fileSkip } from '../../tools/require-netns.js';
import http from 'node:http';
import { api, startMpsshdSsh, type MpsshdSsh } from '../../tools/mpsshd-ssh.js';
import { ssSubflows, twoPaths, type TwoPaths } from '../../tools/topology.js';

const skip = fileSkip({ programs: ['ssh', 'ssh-keygen'] });
const MPSSH = path.resolve(__dirname, '../../../bin/mpssh.js');

let topo: TwoPaths;
let srv: MpsshdSsh;

before(async () => {
  if (skip) return;
  topo = twoPaths({ subnet: 31 });
  topo.client.ipSync('mptcp', 'endpoint', 'add', topo.clientAddrs[1], 'dev', 'eth1', 'subflow');
  topo.client.ipSync('mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2');
  srv = await startMpsshdSsh(topo.server, { port: 22, sshYaml: ['ClientAliveInterval: 1', 'ClientAliveCountMax: 2'] });
});

after(async () => {
  if (skip) return;
  await srv?.stop();
  topo?.close();
});

/** ssh through mpssh from the client namespace; lines of stdout are time-stamped as they arrive. */
function session(command: string, extra: string[] = []): { child: ChildProcess; lines: { at: number; text: string }[]; done: Promise<{ code: number | null; stderr: string }> } {
  const child = topo.client.spawn(process.execPath, [MPSSH, ...srv.clientOptions, ...extra, `root@${topo.serverAddrs[0]}`, command]);
  const lines: { at: number; text: string }[] = [];
  let buf = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    buf += c;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push({ at: Date.now(), text: buf.slice(0, nl) });
      buf = buf.slice(nl + 1);
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
  return { child, lines, done };
}

function largestGap(lines: { at: number }[]): number {
  let gap = 0;
  for (let i = 1; i < lines.length; i++) gap = Math.max(gap, (lines[i]?.at ?? 0) - (lines[i - 1]?.at ?? 0));
  return gap;
}

const TICKER = 'for i in $(seq 1 40); do echo $i; sleep 0.1; done; exit 0';

test('a session over MPTCP uses both paths and returns the exit status', { skip }, async () => {
  const s = session('echo started; sleep 2; echo done; exit 4');
  await waitFor('first line', () => s.lines.length > 0, 10_000);
  const subflows = await waitFor('two subflows on the client', () => ssSubflows(topo.client).find((n) => n >= 1), 5000);
  assert.ok(subflows >= 1, 'one additional subflow besides the initial one');
  const r = await s.done;
  assert.equal(r.code, 4, r.stderr);
  assert.deepEqual(s.lines.map((l) => l.text), ['started', 'done']);
  const accepted = srv.daemon.logs.find((l) => l.event === 'auth-accepted');
  assert.ok(accepted, 'login logged');
  const conn = srv.daemon.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('Connection from') && l.transport === 'mptcp');
  assert.ok(conn, 'the server saw an MPTCP connection');
});

test('the session lives on when its primary path goes down', { skip }, async () => {
  const s = session(TICKER);
  await waitFor('ticking', () => s.lines.length >= 5, 10_000);
  await waitFor('second subflow', () => ssSubflows(topo.client).some((n) => n >= 1), 5000);
  topo.client.ipSync('link', 'set', 'eth0', 'down');
  try {
    const r = await s.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(s.lines.length, 40);
    const gap = largestGap(s.lines);
    assert.ok(gap < 1500, `largest gap ${gap} ms`);
  } finally {
    topo.client.ipSync('link', 'set', 'eth0', 'up');
    topo.client.ipSync('route', 'replace', 'default', 'via', topo.serverAddrs[0], 'dev', 'eth0');
  }
});

test('the session survives a restart of mpsshd, and the new daemon knows it', { skip }, async () => {
  const s = session(TICKER);
  await waitFor('ticking', () => s.lines.length >= 5, 10_000);
  await srv.restart();
  await srv.daemon.waitForLog('session found again', (l) => typeof l.msg === 'string' && l.msg.startsWith('found 1 SSH session'), 5000);
  const r = await s.done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(s.lines.length, 40, 'every line arrived');
  // The restarted daemon also serves new logins.
  const again = session('echo again');
  assert.equal((await again.done).code, 0);
  assert.deepEqual(again.lines.map((l) => l.text), ['again']);
});

test('a session found again after a restart can still rekey: the new daemon signs for it', { skip }, async () => {
  // 40 lines of 2.7 KB, 0.1 s apart; the client rekeys every 64 KiB, so several times after the restart.
  const s = session('for i in $(seq 1 40); do head -c 2000 /dev/urandom | base64 -w0; echo; sleep 0.1; done; exit 0', ['-o', 'RekeyLimit=64K']);
  await waitFor('data flowing', () => s.lines.length >= 5, 10_000);
  await srv.restart();
  // The restarted daemon's log starts afresh.
  await srv.daemon.waitForLog('signing taken over', (l) => typeof l.msg === 'string' && l.msg.includes('took over signing'), 5000);
  const r = await s.done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(s.lines.length, 40, 'every line arrived across rekeys after the restart');
});

test('keepalive ends the connection of a frozen client and its command', { skip }, async () => {
  const s = session('echo up; exec sleep 60');
  await waitFor('session up', () => s.lines.length > 0, 10_000);
  const since = srv.daemon.logs.length;
  // mpssh runs ssh as its child: freeze them both.
  topo.client.execSync('pkill', ['-STOP', '-P', String(s.child.pid)]);
  s.child.kill('SIGSTOP');
  try {
    // ClientAliveInterval 1 × ClientAliveCountMax 2: gone after about 3 s.
    await srv.daemon.waitForLog('closed by keepalive', (l) => srv.daemon.logs.indexOf(l) >= since && typeof l.msg === 'string' && l.msg.includes('Connection closed by') && String(l.msg).includes('user root'), 8000);
    await waitFor('sleep gone', () => {
      const ps = topo.server.execSync('sh', ['-c', 'pgrep -f "^sleep 60$" || true']).trim();
      return ps === '' ? true : null;
    }, 5000);
  } finally {
    topo.client.execSync('sh', ['-c', `pkill -KILL -P ${s.child.pid} || true`]);
    s.child.kill('SIGKILL');
  }
});

/** Reads the status API's event stream from the start of its backlog for `ms`, over the control socket. */
function eventsFor(ms: number): Promise<{ event: string; data: Record<string, unknown> }[]> {
  return new Promise((resolve, reject) => {
    const out: { event: string; data: Record<string, unknown> }[] = [];
    const req = http.request({ socketPath: srv.apiSocket, path: '/events', headers: { 'last-event-id': '0' } }, (res) => {
      let buf = '';
      res.setEncoding('utf8').on('data', (c: string) => {
        buf += c;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) out.push({ event, data: JSON.parse(data) as Record<string, unknown> });
        }
      });
    });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
    req.end();
    setTimeout(() => {
      req.destroy();
      resolve(out);
    }, ms);
  });
}

test('the status API shows the session with its subflows and their bytes, and a path going away', { skip }, async () => {
  const s = session('for i in $(seq 1 80); do head -c 50000 /dev/zero | tr "\\0" x; echo; sleep 0.1; done');
  await waitFor('data flowing', () => s.lines.length >= 3, 10_000);
  const listed = await waitFor('session listed with two subflows', async () => {
    const r = await api(srv, 'GET', '/sessions');
    const mine = (r.json.sessions as { id: string; user: string; subflowsByInterface: Record<string, number> }[]).find((x) => x.user === 'root');
    return mine && Object.values(mine.subflowsByInterface).reduce((a, b) => a + b, 0) >= 2 ? mine : null;
  }, 8000);
  const first = await api(srv, 'GET', `/sessions/${listed.id}`);
  assert.equal(first.status, 200);
  assert.equal(first.json.transport, 'mptcp');
  // Seen from the server: one subflow from each client address, named by the server interface holding the local address.
  assert.deepEqual(first.json.subflows.map((f: { remote: { address: string } }) => f.remote.address).sort(), [...topo.clientAddrs].sort());
  assert.ok(first.json.subflows.every((f: { ifname?: string; rttUs: number }) => f.ifname !== undefined && f.rttUs > 0));
  const total = (j: { subflows: { bytesSent?: number }[] }) => j.subflows.reduce((a, f) => a + (f.bytesSent ?? 0), 0);
  const grown = await waitFor('bytes growing', async () => {
    const again = await api(srv, 'GET', `/sessions/${listed.id}`);
    return total(again.json) > total(first.json) ? again : null;
  }, 5000);
  assert.ok(total(grown.json) > total(first.json));
  // The client loses its second path: its path manager withdraws the endpoint, the kernel closes the subflow.
  const id = JSON.parse(topo.client.execSync('ip', ['-j', 'mptcp', 'endpoint', 'show']))[0].id as number;
  topo.client.ipSync('link', 'set', 'eth1', 'down');
  topo.client.ipSync('mptcp', 'endpoint', 'delete', 'id', String(id));
  try {
    await waitFor('one subflow left', async () => {
      const r = await api(srv, 'GET', `/sessions/${listed.id}`);
      return r.json.subflows.length === 1 ? r : null;
    }, 8000);
    const events = await eventsFor(1500);
    const mine = events.filter((e) => e.data.session === listed.id);
    assert.ok(mine.some((e) => e.event === 'session-opened'), 'session-opened');
    assert.ok(mine.filter((e) => e.event === 'subflow-established').length >= 2, 'subflows established');
    assert.ok(mine.some((e) => e.event === 'subflow-closed' && String(e.data.remote).startsWith(`${topo.clientAddrs[1]}:`)), 'the subflow from the lost path closed');
    assert.ok(mine.some((e) => e.event === 'session-sample'), 'samples');
    const r = await s.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(s.lines.length, 80);
  } finally {
    topo.client.ipSync('link', 'set', 'eth1', 'up');
    topo.client.ipSync('mptcp', 'endpoint', 'add', topo.clientAddrs[1], 'dev', 'eth1', 'subflow');
  }
});
