import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { waitFor } from '../../tools/netns.js';
import { requireNetns } from '../../tools/require-netns.js';
import { MPSSHD, startDaemon } from '../../tools/daemon-process.js';
import { ipEndpoints, twoPaths } from '../../tools/topology.js';

// Path manager only: these tests are about endpoints, not SSH.
const ETH = 'ssh:\n  Enabled: no\napi:\n  enabled: false\npathManager:\n  interfaces:\n    - { match: "eth*" }\n';

test('mpsshd -t accepts the shipped example and reports a broken file with line and key', () => {
  const example = path.resolve(__dirname, '../../../etc/mpsshd.yaml');
  fs.chmodSync(example, 0o644);
  const good = spawnSync(process.execPath, [MPSSHD, '-t', '-f', example], { encoding: 'utf8' });
  assert.equal(good.status, 0, good.stderr);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-t-'));
  try {
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(bad, 'pathManager:\n  requireRoute: always\n', { mode: 0o600 });
    const res = spawnSync(process.execPath, [MPSSHD, '-t', '-f', bad], { encoding: 'utf8' });
    assert.equal(res.status, 1);
    assert.match(res.stderr, new RegExp(`^mpsshd: ${bad}:2:17: pathManager\\.requireRoute: `));
    assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace');
    // A named host key that does not exist fails the check, as with sshd -t.
    const nokey = path.join(dir, 'nokey.yaml');
    fs.writeFileSync(nokey, `ssh:\n  HostKey: [${dir}/missing_key]\n`, { mode: 0o600 });
    const keyRes = spawnSync(process.execPath, [MPSSHD, '-t', '-f', nokey], { encoding: 'utf8' });
    assert.equal(keyRes.status, 1);
    assert.equal(keyRes.stderr, `mpsshd: HostKey ${dir}/missing_key: cannot read: ENOENT\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const usage = spawnSync(process.execPath, [MPSSHD, '-q'], { encoding: 'utf8' });
  assert.equal(usage.status, 2);
  assert.equal(usage.stderr, 'mpsshd: unknown option -q (see mpsshd --help)\n');
});

test('without CAP_NET_ADMIN mpsshd exits with a one-line explanation', (t) => {
  if (!requireNetns(t)) return;
  const res = spawnSync('setpriv', ['--bounding-set', '-net_admin', '--inh-caps', '-net_admin', process.execPath, MPSSHD, '-o', 'stateDir=/nonexistent'], { encoding: 'utf8' });
  assert.equal(res.status, 1);
  assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
  assert.match(res.stderr, /^mpsshd: managing MPTCP endpoints needs CAP_NET_ADMIN/);
});

test('kill -9 and restart: own stale endpoints swept, a foreign one kept', async (t) => {
  if (!requireNetns(t)) return;
  const topo = twoPaths({ subnet: 41 });
  const c = topo.client;
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-restart-'));
  try {
    c.ipSync('mptcp', 'endpoint', 'add', '10.41.7.7', 'signal');
    const first = startDaemon(c, ETH, { stateDir });
    // Generous: a daemon starting on a loaded machine (CI) may take seconds; this tests the sweep, not speed.
    await waitFor('endpoints of both links', () => ipEndpoints(c).filter((e) => e.subflow).length === 2, 15_000);
    first.proc.kill('SIGKILL');
    await first.exited();
    // While no daemon runs, eth1's address goes away: the kernel keeps the endpoint.
    c.ipSync('addr', 'del', `${topo.clientAddrs[1]}/24`, 'dev', 'eth1');
    assert.ok(ipEndpoints(c).some((e) => e.address === topo.clientAddrs[1]), 'the kernel does not remove it by itself');
    const second = startDaemon(c, ETH, { stateDir });
    try {
      await waitFor('stale own endpoint swept', () => !ipEndpoints(c).some((e) => e.address === topo.clientAddrs[1]), 15_000);
      const eps = ipEndpoints(c);
      assert.ok(eps.some((e) => e.address === '10.41.7.7' && e.signal), 'foreign endpoint kept');
      assert.ok(eps.some((e) => e.address === topo.clientAddrs[0] && e.subflow), 'own live endpoint kept');
      await second.waitForLog('a sweep logged as a state change', (l) => typeof l.msg === 'string' && l.msg.includes(`${topo.clientAddrs[1]}: subflow -> absent`));
    } finally {
      await second.stop();
      await first.stop();
    }
  } finally {
    topo.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});

test('SIGHUP with a broken config keeps running on the old one; a good one is applied', async (t) => {
  if (!requireNetns(t)) return;
  const topo = twoPaths({ subnet: 42 });
  const d = startDaemon(topo.client, ETH);
  try {
    await d.waitForLog('ready', (l) => l.msg === 'mpsshd ready');
    fs.writeFileSync(d.configFile, 'pathManager:\n  interfaces: [\n', { mode: 0o600 });
    d.proc.kill('SIGHUP');
    await d.waitForLog('reload refused', (l) => typeof l.msg === 'string' && l.msg.startsWith('reload refused'));
    topo.client.ipSync('addr', 'add', '10.42.1.9/24', 'dev', 'eth0');
    await waitFor('still managing endpoints', () => ipEndpoints(topo.client).some((e) => e.address === '10.42.1.9'));
    fs.writeFileSync(d.configFile, `pathManager:\n  interfaces:\n    - { match: "eth*", mode: signal }\nstateDir: ${d.stateDir}\n`, { mode: 0o600 });
    d.proc.kill('SIGHUP');
    await waitFor('new mode applied', () => ipEndpoints(topo.client).every((e) => e.signal === true));
    assert.equal(d.proc.exitCode, null);
  } finally {
    await d.stop();
    topo.close();
  }
});
