/**
 * ssh.Server: openssh — the system's sshd (`sshd -i`) behind mpsshd's MPTCP
 * listener, reached by the stock OpenSSH client through mpssh over two paths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor, type Netns } from '../../tools/netns.js';
import { requireNetns } from '../../tools/require-netns.js';
import { api, run, startMpsshdSsh, type MpsshdSsh } from '../../tools/mpsshd-ssh.js';
import { createTestUser } from '../../tools/test-user.js';
import { twoPaths, type TwoPaths } from '../../tools/topology.js';

const MPSSH = path.resolve(__dirname, '../../../bin/mpssh.js');
const MPSSHD = path.resolve(__dirname, '../../../bin/mpsshd.js');
const PORT = 2200;

/** sshd's own configuration for the test: its host key, the client key for root, an Include to follow. */
function writeSshdConfig(dir: string, authorizedKeys: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'sshd_host_key')]);
  fs.mkdirSync(path.join(dir, 'sshd.d'));
  fs.writeFileSync(path.join(dir, 'sshd.d', '10-test.conf'), 'AllowAgentForwarding yes\nAllowTcpForwarding yes\n');
  const file = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    file,
    [
      `Include ${dir}/sshd.d/*.conf`,
      `HostKey ${dir}/sshd_host_key`,
      `AuthorizedKeysFile ${authorizedKeys} .ssh/authorized_keys`,
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      // On, so that a client can sit at a password prompt after naming its user (no account here has a password).
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'Subsystem sftp internal-sftp',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  return file;
}


interface Lab {
  topo: TwoPaths;
  srv: MpsshdSsh;
  sshdConfig: string;
  ssh(args: string[], opts?: { input?: string; timeoutMs?: number }): ReturnType<typeof run>;
  close(): Promise<void>;
}

async function lab(subnet: number, sshYaml: string[] = []): Promise<Lab> {
  const topo = twoPaths({ subnet });
  topo.client.ipSync('mptcp', 'endpoint', 'add', topo.clientAddrs[1], 'dev', 'eth1', 'subflow');
  topo.client.ipSync('mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2');
  const dir = fs.mkdtempSync('/tmp/mpssh-openssh-');
  // sshd's config is written before mpsshd starts; its path is known from the directory.
  let srv: MpsshdSsh | undefined;
  try {
    const authorizedKeys = path.join(dir, 'authorized_keys');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'id')]);
    fs.copyFileSync(path.join(dir, 'id.pub'), authorizedKeys);
    const sshdConfig = writeSshdConfig(dir, authorizedKeys);
    srv = await startMpsshdSsh(topo.server, { port: PORT, sshYaml: ['Server: openssh', `OpenSSH: {Config: ${sshdConfig}}`, ...sshYaml] });
    const opts = ['-F', '/dev/null', '-i', path.join(dir, 'id'), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-p', String(PORT)];
    const s = srv;
    return {
      topo,
      srv: s,
      sshdConfig,
      ssh: (args, o = {}) => run(topo.client, process.execPath, [MPSSH, ...opts, ...args], o),
      async close() {
        await s.stop();
        topo.server.killAll();
        topo.client.killAll();
        topo.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await srv?.stop();
    topo.server.killAll();
    topo.close();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

test('OpenSSH behind mpsshd: login, exit status, sftp, -L, agent, /sessions with two subflows, a path lost, a restart', async (t) => {
  if (!requireNetns(t, { programs: ['/usr/sbin/sshd', 'ssh', 'sftp', 'ssh-agent', 'ssh-add'] })) return;
  const l = await lab(71);
  try {
    const dest = `root@${l.topo.serverAddrs[0]}`;
    const hello = await l.ssh([dest, 'echo served by $(cat /proc/$PPID/comm); exit 7']);
    assert.equal(hello.code, 7, hello.stderr);
    assert.equal(hello.stdout, 'served by sshd\n');

    // sftp: a 3 MB file up and back, byte for byte.
    const data = crypto.randomBytes(3 * 1024 * 1024);
    const local = path.join(l.srv.dir, 'up.bin');
    fs.writeFileSync(local, data);
    const back = path.join(l.srv.dir, 'back.bin');
    const sftp = await run(l.topo.client, 'sftp', ['-F', '/dev/null', '-i', path.join(path.dirname(l.sshdConfig), 'id'), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', `ProxyCommand=${process.execPath} ${MPSSH} proxy %h %p`, '-P', String(PORT), '-b', '-', dest], { input: `put ${local} /tmp/mpssh-openssh-up.bin\nget /tmp/mpssh-openssh-up.bin ${back}\nrm /tmp/mpssh-openssh-up.bin\n` });
    assert.equal(sftp.code, 0, sftp.stderr);
    assert.equal(crypto.createHash('sha256').update(fs.readFileSync(back)).digest('hex'), crypto.createHash('sha256').update(data).digest('hex'));

    // -L to a TCP service in the server's namespace.
    const echo = l.topo.server.spawn('/usr/bin/python3', ['-c', 'import socket\ns=socket.create_server(("127.0.0.1",7007))\nprint("up",flush=True)\nwhile True:\n c,_=s.accept(); c.sendall(b"echo:"+c.recv(100)); c.close()']);
    await new Promise((resolve) => echo.stdout?.once('data', resolve));
    const fwd = l.ssh(['-N', '-o', 'ExitOnForwardFailure=yes', '-L', '17007:127.0.0.1:7007', dest], { timeoutMs: 30_000 });
    const got = await waitFor('a reply through -L', async () => {
      const r = await run(l.topo.client, '/usr/bin/python3', ['-c', 'import socket\nc=socket.create_connection(("127.0.0.1",17007))\nc.sendall(b"hi")\nprint(c.recv(100).decode())']);
      return r.code === 0 ? r.stdout : undefined;
    }, 10_000, 200);
    assert.equal(got, 'echo:hi\n');
    echo.kill();
    l.topo.client.killAll();
    await fwd;
    await waitFor('the -L session to end', async () => ((await api(l.srv, 'GET', '/sessions')).json?.sessions ?? []).length === 0, 8000, 200);

    // Agent forwarding: the key held by the client's agent is listed on the server.
    const agent = await run(l.topo.client, 'sh', ['-c', `eval $(ssh-agent -s) >/dev/null; ssh-add -q ${path.join(path.dirname(l.sshdConfig), 'id')}; ${process.execPath} ${MPSSH} -A -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -p ${PORT} ${dest} 'ssh-add -l'; s=$?; ssh-agent -k >/dev/null; exit $s`]);
    assert.equal(agent.code, 0, agent.stderr);
    assert.match(agent.stdout, /ED25519/);

    // A long session: listed with two subflows, survives the primary path going down and mpsshd restarting.
    const long = l.ssh([dest, 'for i in $(seq 1 60); do echo line $i; sleep 0.25; done; exit 3'], { timeoutMs: 60_000 });
    let seen = '';
    const listed = await waitFor('the session in /sessions with two subflows', async () => {
      const r = await api(l.srv, 'GET', '/sessions');
      seen = JSON.stringify(r.json);
      const open = (r.json?.sessions ?? []).find((x: { user: string; subflowsByInterface: Record<string, number> }) => x.user === 'root' && Object.values(x.subflowsByInterface).reduce((a, b) => a + b, 0) === 2);
      if (open === undefined) return undefined;
      const one = await api(l.srv, 'GET', `/sessions/${open.id as string}`);
      seen = JSON.stringify(one.json);
      return one.json as { id: string; pid: number; subflows: { local: { address: string }; remote: { address: string }; ifname?: string }[] } | undefined;
    }, 10_000, 200).catch((err: Error) => {
      throw new Error(`${err.message}; last /sessions: ${seen.slice(0, 1500)}`);
    });
    assert.deepEqual(listed.subflows.map((s) => s.remote.address).sort(), [...l.topo.clientAddrs].sort());
    assert.deepEqual(listed.subflows.map((s) => s.ifname).sort(), ['eth0', 'eth1']);
    // A root login goes on in sshd's monitor itself: the process mpsshd started.
    // sshd sets that title a moment after the session starts.
    await waitFor('sshd to name the session in its title', () => /^sshd: root/.test(fs.readFileSync(`/proc/${listed.pid}/cmdline`, 'latin1')));
    assert.equal(fs.readlinkSync(`/proc/${listed.pid}/exe`), '/usr/sbin/sshd');

    // sshd holds the connection and nothing else of ours: no listener, so a restart can bind again.
    assert.doesNotMatch(l.topo.server.execSync('ss', ['-Hltnp']), /sshd/);
    l.topo.client.ipSync('link', 'set', 'eth0', 'down');
    await l.srv.restart();
    const after = await waitFor('the session found again after the restart', async () => {
      const r = await api(l.srv, 'GET', '/sessions');
      return (r.json?.sessions ?? []).find((x: { id: string }) => x.id === listed.id) as { subflows: unknown[] } | undefined;
    }, 10_000, 200);
    assert.ok(after);
    const res = await long;
    assert.equal(res.code, 3, res.stderr);
    assert.equal(res.stdout.split('\n').filter((x) => x.startsWith('line ')).length, 60);
  } finally {
    await l.close();
  }
});

test('OpenSSH behind mpsshd: a user is listed once logged in, not when it has only named itself', async (t) => {
  if (!requireNetns(t, { programs: ['/usr/sbin/sshd', 'ssh'] })) return;
  const l = await lab(74);
  const user = createTestUser();
  try {
    user.authorize(fs.readFileSync(path.join(path.dirname(l.sshdConfig), 'id.pub'), 'utf8'));
    const sessionsOf = async (name: string): Promise<number> => ((await api(l.srv, 'GET', '/sessions')).json?.sessions ?? []).filter((x: { user: string }) => x.user === name).length;
    // A client at sshd's password prompt: the monitor is titled "<user> [priv]" already.
    const askpass = path.join(path.dirname(l.sshdConfig), 'askpass');
    fs.writeFileSync(askpass, '#!/bin/sh\nsleep 4; echo wrong\n', { mode: 0o755 });
    const prompt = run(l.topo.client, 'env', ['SSH_ASKPASS=' + askpass, 'SSH_ASKPASS_REQUIRE=force', 'DISPLAY=:0', process.execPath, MPSSH, '-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'PreferredAuthentications=password', '-o', 'NumberOfPasswordPrompts=1', '-p', String(PORT), `${user.name}@${l.topo.serverAddrs[0]}`, 'true']);
    await waitFor('sshd to ask for the password', () => execFileSync('ip', ['netns', 'pids', l.topo.server.name], { encoding: 'utf8' }).split('\n').some((p) => readTitle(p).startsWith(`sshd: ${user.name} [priv]`)), 10_000, 100);
    // A fixed wait on purpose: it proves the user is still not listed while sshd waits for the password.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await sessionsOf(user.name), 0, 'a user who only named itself is not a session');
    const refused = await prompt;
    assert.equal(refused.code, 255);
    const inSession = l.ssh([`${user.name}@${l.topo.serverAddrs[0]}`, 'sleep 3; id -un'], { timeoutMs: 20_000 });
    await waitFor('the logged-in user in /sessions', async () => (await sessionsOf(user.name)) === 1, 8000, 200);
    const done = await inSession;
    assert.equal(done.stdout, `${user.name}\n`, done.stderr);
  } finally {
    await l.close();
    user.remove();
  }
});

test('OpenSSH behind mpsshd: a broken sshd_config at reload is refused and logins go on with the checked one', async (t) => {
  if (!requireNetns(t, { programs: ['/usr/sbin/sshd', 'ssh'] })) return;
  const l = await lab(72);
  try {
    const dest = `root@${l.topo.serverAddrs[0]}`;
    fs.appendFileSync(l.sshdConfig, 'NoSuchKeyword yes\n');
    l.srv.daemon.proc.kill('SIGHUP');
    const refused = await l.srv.daemon.waitForLog('reload refused', (x) => typeof x.msg === 'string' && x.msg.startsWith('reload refused for the SSH server'));
    assert.match(String(refused.msg), /NoSuchKeyword/);
    const r = await l.ssh([dest, 'echo still here']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'still here\n');
  } finally {
    await l.close();
  }
});

test('OpenSSH behind mpsshd: 200 silent connections from one source are held back, a login from another gets through', async (t) => {
  if (!requireNetns(t, { programs: ['/usr/sbin/sshd', 'ssh'] })) return;
  const l = await lab(73, ['PerSourceMaxStartups: 5']);
  try {
    const flood = l.topo.client.spawn('/usr/bin/python3', ['-c', [
      'import socket, sys, time',
      'socks = []',
      'for i in range(200):',
      '    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)',
      `    s.bind(("${l.topo.clientAddrs[1]}", 0))`,
      '    try:',
      `        s.connect(("${l.topo.serverAddrs[1]}", ${PORT}))`,
      '    except OSError:',
      '        pass',
      '    socks.append(s)',
      'print("flooding", flush=True)',
      'time.sleep(60)',
    ].join('\n')]);
    await new Promise((resolve) => flood.stdout?.once('data', resolve));
    const sshds = (): number => execFileSync('ip', ['netns', 'pids', l.topo.server.name], { encoding: 'utf8' }).split('\n').filter((p) => p !== '' && /^sshd: \[accepted\]/.test(readTitle(p))).length;
    await waitFor('the flood to be sorted', () => l.srv.daemon.logs.some((x) => x.event === 'per-source-startups'), 5000);
    assert.ok(sshds() <= 5, `at most 5 pre-auth sshd for the flooding source, saw ${sshds()}`);
    const started = Date.now();
    const r = await l.ssh([`root@${l.topo.serverAddrs[0]}`, 'echo in']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'in\n');
    t.diagnostic(`login during the flood took ${Date.now() - started} ms`);
    flood.kill('SIGKILL');
  } finally {
    await l.close();
  }
});

test('mpsshd -T names the server and the sshd command line; -t refuses a broken sshd_config with sshd\'s words', (t) => {
  if (!requireNetns(t, { programs: ['/usr/sbin/sshd'] })) return;
  const dir = fs.mkdtempSync('/tmp/mpssh-openssh-t-');
  try {
    const sshdConfig = writeSshdConfig(dir, path.join(dir, 'authorized_keys'));
    const cfg = path.join(dir, 'mpsshd.yaml');
    fs.writeFileSync(cfg, `ssh:\n  Server: openssh\n  OpenSSH: {Config: ${sshdConfig}, Options: [LogLevel=VERBOSE]}\n`, { mode: 0o600 });
    const out = execFileSync(process.execPath, [MPSSHD, '-T', '-f', cfg], { encoding: 'utf8' });
    assert.match(out, /^server openssh$/m);
    assert.match(out, new RegExp(`^sshd-command /usr/sbin/sshd -i -f <copy of ${sshdConfig}> -o LogLevel=VERBOSE -o ClientAliveInterval=60 -o ClientAliveCountMax=60$`, 'm'));
    fs.appendFileSync(sshdConfig, 'NoSuchKeyword yes\n');
    let err = '';
    try {
      execFileSync(process.execPath, [MPSSHD, '-t', '-f', cfg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      assert.fail('mpsshd -t accepted a broken sshd_config');
    } catch (e) {
      err = String((e as { stderr?: string }).stderr);
      assert.equal((e as { status?: number }).status, 1);
    }
    assert.match(err, /^mpsshd: ssh\.Server openssh: \/usr\/sbin\/sshd -t -f .*Bad configuration option: NoSuchKeyword/);
    assert.equal(err.split('\n').filter((x) => x !== '').length, 1, err);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function readTitle(pid: string): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return '';
  }
}
