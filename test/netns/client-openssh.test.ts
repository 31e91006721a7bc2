import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from '../../tools/netns.js';
import { requireNetns } from '../../tools/require-netns.js';
import { startSshd, type TestSshd } from '../../tools/sshd.js';
import { ssSubflows, twoPaths, type TwoPaths } from '../../tools/topology.js';
import { startPathManager } from '../helpers/path-manager.js';

const MPSSH = path.resolve(__dirname, '../../../bin/mpssh.js');
const RELAY = path.resolve(__dirname, '../helpers/mptcp-relay.js');

interface Lab {
  topo: TwoPaths;
  sshd: TestSshd;
  relay: ChildProcess;
  close(): void;
}

/**
 * Two paths; sshd behind an MPTCP relay on port 22. Unless `managed`, the
 * client's second address gets a subflow endpoint by hand (`ip mptcp`);
 * managed, the test runs mpsshd's path manager on the client instead.
 */
async function lab(subnet: number, managed = false): Promise<Lab> {
  const topo = twoPaths({ subnet });
  if (!managed) {
    topo.client.ipSync('mptcp', 'endpoint', 'add', topo.clientAddrs[1], 'dev', 'eth1', 'subflow');
    topo.client.ipSync('mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2');
  }
  const sshd = await startSshd(topo.server, 2222);
  const relay = topo.server.spawn(process.execPath, [RELAY, '22', '127.0.0.1', '2222']);
  await new Promise<void>((resolve, reject) => {
    relay.stdout?.once('data', (d: Buffer) => (d.toString().startsWith('listening mptcp') ? resolve() : reject(new Error(d.toString()))));
    relay.once('exit', (code) => reject(new Error(`relay exited ${code}`)));
  });
  return {
    topo,
    sshd,
    relay,
    close() {
      relay.kill('SIGKILL');
      sshd.stop();
      topo.close();
    },
  };
}

/** Runs a command in the client namespace; resolves with status, stdout and stderr. */
function run(l: Lab, cmd: string, args: string[]): { child: ChildProcess; done: Promise<{ status: number | null; out: string; err: string }> } {
  const child = l.topo.client.spawn(cmd, args);
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const done = new Promise<{ status: number | null; out: string; err: string }>((resolve) => child.on('exit', (status) => resolve({ status, out, err })));
  return { child, done };
}

for (const mode of ['fdpass', 'relay'] as const) {
  test(`OpenSSH through mpssh (${mode}): command output, exit status and two subflows`, async (t) => {
    if (!requireNetns(t, { programs: ['/usr/sbin/sshd', 'ssh', 'scp', 'sftp'] })) return;
    const l = await lab(mode === 'fdpass' ? 51 : 52);
    try {
      const dest = `${l.sshd.user}@${l.topo.serverAddrs[0]}`;
      const remote = 'echo hello from $(hostname -s 2>/dev/null || echo server); sleep 2; exit 7';
      const args =
        mode === 'fdpass'
          ? [MPSSH, ...l.sshd.clientOptions, dest, remote]
          : [MPSSH, '-o', `ProxyCommand=${process.execPath} ${MPSSH} proxy %h %p`, ...l.sshd.clientOptions, dest, remote];
      // In relay mode the user's own ProxyCommand is given: mpssh must step aside, and the
      // command line above makes ssh run our proxy without fd passing.
      let report = '';
      l.relay.stdout?.on('data', (d: Buffer) => (report += d.toString()));
      const r = run(l, process.execPath, args);
      await waitFor('an MPTCP connection with its second subflow (ss -M)', () => ssSubflows(l.topo.client)[0] === 1, 8000);
      // The server side's view through the project's introspection API.
      const line = await waitFor('subflow report from the server side', () => report.split('\n').find((x) => x.startsWith('{"subflows"')), 5000);
      const flows = (JSON.parse(line) as { subflows: { local: string; remote: string }[] }).subflows;
      assert.deepEqual(flows.map((f) => f.remote).sort(), [...l.topo.clientAddrs].sort(), line);
      const res = await r.done;
      assert.equal(res.status, 7, res.err);
      assert.match(res.out, /^hello from /);
      assert.equal(res.err, '');
    } finally {
      l.close();
    }
  });
}

test('scp and sftp through mpssh keep every byte', async (t) => {
  if (!requireNetns(t, { programs: ['/usr/sbin/sshd', 'ssh', 'scp', 'sftp'] })) return;
  const l = await lab(53);
  try {
    const fs = await import('node:fs');
    const crypto = await import('node:crypto');
    const src = path.join(l.sshd.dir, 'payload.bin');
    fs.writeFileSync(src, crypto.randomBytes(3 * 1024 * 1024));
    const want = crypto.createHash('sha256').update(fs.readFileSync(src)).digest('hex');
    const proxy = ['-o', `ProxyCommand=${process.execPath} ${MPSSH} proxy %h %p --fdpass`, '-o', 'ProxyUseFdpass=yes'];
    const dest = `${l.sshd.user}@${l.topo.serverAddrs[0]}`;
    const scp = await run(l, 'scp', [...proxy, ...l.sshd.clientOptions, src, `${dest}:${l.sshd.dir}/via-scp.bin`]).done;
    assert.equal(scp.status, 0, scp.err);
    const batch = path.join(l.sshd.dir, 'sftp.batch');
    fs.writeFileSync(batch, `get ${l.sshd.dir}/via-scp.bin ${l.sshd.dir}/via-sftp.bin\n`);
    const sftp = await run(l, 'sftp', [...proxy, ...l.sshd.clientOptions, '-b', batch, dest]).done;
    assert.equal(sftp.status, 0, sftp.err);
    for (const f of ['via-scp.bin', 'via-sftp.bin']) {
      assert.equal(crypto.createHash('sha256').update(fs.readFileSync(path.join(l.sshd.dir, f))).digest('hex'), want, f);
    }
  } finally {
    l.close();
  }
});

test('mpssh errors: one line from mpssh, exit status 255, no stack trace', async (t) => {
  if (!requireNetns(t, { programs: ['/usr/sbin/sshd', 'ssh', 'scp', 'sftp'] })) return;
  const l = await lab(54);
  try {
    const refused = await run(l, process.execPath, [MPSSH, 'proxy', l.topo.serverAddrs[0], '2']).done;
    assert.equal(refused.status, 255);
    assert.equal(refused.err, `mpssh: connect to host ${l.topo.serverAddrs[0]} port 2: Connection refused\n`);
    const unknown = await run(l, process.execPath, [MPSSH, 'proxy', 'no-such-host.invalid', '22']).done;
    assert.equal(unknown.status, 255);
    assert.match(unknown.err, /^mpssh: Could not resolve hostname no-such-host\.invalid: .+\n$/);
    const noRoute = await run(l, process.execPath, [MPSSH, 'proxy', '2001:db8::1', '22']).done;
    assert.equal(noRoute.status, 255);
    assert.match(noRoute.err, /^mpssh: connect to host 2001:db8::1 port 22: (Network is unreachable|No route to host)\n$/);
    // The wrapper connects before ssh starts, so ssh adds nothing to the one line.
    const viaSsh = await run(l, process.execPath, [MPSSH, ...l.sshd.clientOptions, '-p', '2', l.topo.serverAddrs[0], 'true']).done;
    assert.equal(viaSsh.status, 255);
    assert.equal(viaSsh.err, `mpssh: connect to host ${l.topo.serverAddrs[0]} port 2: Connection refused\n`);
    const viaSshUnknown = await run(l, process.execPath, [MPSSH, ...l.sshd.clientOptions, 'no-such-host.invalid', 'true']).done;
    assert.equal(viaSshUnknown.status, 255);
    assert.match(viaSshUnknown.err, /^mpssh: Could not resolve hostname no-such-host\.invalid: [^\n]+\n$/);
    assert.doesNotMatch(viaSsh.err + refused.err + unknown.err, /\n\s+at /);
  } finally {
    l.close();
  }
});

test('with mpsshd managing the client: an ssh session survives its primary path going away', async (t) => {
  if (!requireNetns(t, { programs: ['/usr/sbin/sshd', 'ssh'] })) return;
  const l = await lab(55, true);
  const pm = await startPathManager(l.topo.client, 'pathManager:\n  interfaces:\n    - { match: "eth*" }\n');
  try {
    const dest = `${l.sshd.user}@${l.topo.serverAddrs[0]}`;
    // A line every 100 ms for 6 s, like an interactive session.
    const r = run(l, process.execPath, [MPSSH, ...l.sshd.clientOptions, dest, 'for i in $(seq 1 60); do echo $i; sleep 0.1; done']);
    const stamps: number[] = [];
    r.child.stdout?.on('data', (d: Buffer) => {
      for (const _ of d.toString().split('\n').filter((x) => x !== '')) stamps.push(Date.now());
    });
    await waitFor('second subflow from the managed endpoint', () => ssSubflows(l.topo.client)[0] === 1, 8000);
    await waitFor('output flowing', () => stamps.length >= 10, 5000);
    // The primary path goes away (make-before-break: eth1 is up).
    l.topo.client.ipSync('link', 'set', 'eth0', 'down');
    const res = await r.done;
    assert.equal(res.status, 0, res.err);
    assert.deepEqual(res.out.trim().split('\n'), Array.from({ length: 60 }, (_, i) => String(i + 1)));
    const gaps = stamps.slice(1).map((x, i) => x - (stamps[i] as number));
    t.diagnostic(`largest gap between lines: ${Math.max(...gaps)} ms`);
  } finally {
    pm.close();
    l.close();
  }
});
