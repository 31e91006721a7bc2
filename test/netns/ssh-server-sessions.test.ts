/**
 * Everyday work through mpsshd as an ordinary user, over MPTCP with two
 * paths, with the real OpenSSH tools going through mpssh: a pty shell driven
 * from tmux, scp and sftp with checksums, -L and -R forwarding, and agent
 * forwarding. The worker has dropped to the user, so this also checks that
 * everything the user starts works without root.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { waitFor } from '../../tools/netns.js';
import { fileSkip } from '../../tools/require-netns.js';
import { run, startMpsshdSsh, type MpsshdSsh } from '../../tools/mpsshd-ssh.js';
import { createTestUser, type TestUser } from '../../tools/test-user.js';
import { ssSubflows, twoPaths, type TwoPaths } from '../../tools/topology.js';

const skip = fileSkip({ programs: ['ssh', 'ssh-keygen', 'sftp', 'scp'] });
const MPSSH = path.resolve(__dirname, '../../../bin/mpssh.js');

let topo: TwoPaths;
let srv: MpsshdSsh;
let user: TestUser;
let proxy: string[];

before(async () => {
  if (skip) return;
  topo = twoPaths({ subnet: 33 });
  topo.client.ipSync('mptcp', 'endpoint', 'add', topo.clientAddrs[1], 'dev', 'eth1', 'subflow');
  topo.client.ipSync('mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2');
  srv = await startMpsshdSsh(topo.server, { port: 22, extraYaml: 'pathManager:\n  enabled: false' });
  user = createTestUser();
  user.authorize(srv.clientPub);
  proxy = ['-o', `ProxyCommand=${process.execPath} ${MPSSH} proxy %h %p --fdpass`, '-o', 'ProxyUseFdpass=yes'];
});

after(async () => {
  if (skip) return;
  await srv?.stop();
  user?.remove();
  topo?.close();
});

const dest = () => `${user.name}@${topo.serverAddrs[0]}`;
const sshArgs = (...rest: string[]) => [...proxy, ...srv.clientOptions, ...rest];

test('scp and sftp put and get 3 MiB as the user, over two subflows, with equal checksums', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(srv.dir, 'xfer-'));
  const local = path.join(dir, 'payload');
  const data = crypto.randomBytes(3 << 20);
  fs.writeFileSync(local, data);
  const scpPort = ['-P', String(srv.port)];
  const opts = [...proxy, ...srv.clientOptions.filter((o, i, a) => o !== '-p' && a[i - 1] !== '-p'), ...scpPort];
  const put = await run(topo.client, 'scp', ['-q', ...opts, local, `${dest()}:payload.scp`]);
  assert.equal(put.code, 0, put.stderr);
  assert.ok(fs.readFileSync(path.join(user.home, 'payload.scp')).equals(data), 'scp put landed in the home directory');
  assert.equal(fs.statSync(path.join(user.home, 'payload.scp')).uid, user.uid, 'written as the user');
  const get = await run(topo.client, 'scp', ['-q', ...opts, `${dest()}:payload.scp`, path.join(dir, 'back.scp')]);
  assert.equal(get.code, 0, get.stderr);
  assert.ok(fs.readFileSync(path.join(dir, 'back.scp')).equals(data));

  const batch = path.join(dir, 'batch');
  fs.writeFileSync(batch, `put ${local} payload.sftp\nget payload.sftp ${path.join(dir, 'back.sftp')}\nls -l payload.sftp\n`);
  const sftp = await run(topo.client, 'sftp', [...opts, '-b', batch, dest()]);
  assert.equal(sftp.code, 0, sftp.stderr);
  assert.ok(fs.readFileSync(path.join(dir, 'back.sftp')).equals(data));

  // A long command keeps the connection while we look at its subflows.
  const holder = topo.client.spawn('ssh', sshArgs(dest(), 'sleep 5'));
  try {
    await waitFor('a second subflow', () => ssSubflows(topo.client).some((n) => n >= 1), 10_000, 100);
  } finally {
    holder.kill();
  }
});

test('a pty login shell as the user, driven from tmux', { skip }, async () => {
  const sock = path.join(srv.dir, 'tmux.sock');
  const ssh = ['ssh', ...sshArgs('-tt', dest())].map((w) => `'${w}'`).join(' ');
  const tmux = (...a: string[]) => topo.client.execSync('tmux', ['-S', sock, ...a]);
  try {
    tmux('new-session', '-d', '-s', 't', '-x', '90', '-y', '25', `TERM=xterm ${ssh}; echo SSH-EXIT=$?; sleep 30`);
    tmux('send-keys', '-t', 't', '-l', 'echo "who=$(id -un) tty=$SSH_TTY size=$(stty size) cwd=$PWD"');
    tmux('send-keys', '-t', 't', 'Enter');
    const m = await waitFor('shell answers', () => /who=(\S+) tty=\/dev\/pts\/\d+ size=25 90 cwd=(\S+)/.exec(tmux('capture-pane', '-p', '-J', '-t', 't')), 15_000, 100);
    assert.equal(m[1], user.name);
    assert.equal(m[2], user.home);
    tmux('send-keys', '-t', 't', '-l', 'exit 4');
    tmux('send-keys', '-t', 't', 'Enter');
    await waitFor('exit status', () => /SSH-EXIT=4/.test(tmux('capture-pane', '-p', '-J', '-t', 't')), 10_000, 100);
  } finally {
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
  }
});

test('-L and -R to Unix sockets (streamlocal), made and reached as the user', { skip }, async () => {
  // Unix sockets in the filesystem are reachable from every namespace: both ends live in one directory tree.
  const dir = fs.mkdtempSync('/tmp/mpssh-streamlocal-');
  fs.chmodSync(dir, 0o755);
  const userDir = path.join(dir, 'user');
  fs.mkdirSync(userDir, { mode: 0o700 });
  fs.chownSync(userDir, user.uid, user.gid);
  const serverApp = path.join(userDir, 'app.sock');
  const clientApp = path.join(dir, 'client-app.sock');
  const serve = (ns: TwoPaths['client'], sockPath: string, name: string) =>
    ns.spawn('/usr/bin/python3', ['-c', `import os,socket\ns=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(sockPath)}); os.chmod(${JSON.stringify(sockPath)}, 0o777); s.listen()\nwhile True:\n  c,_=s.accept(); d=c.recv(100); c.sendall(b"${name}:"+d); c.close()`]);
  const ask = (sockPath: string) =>
    topo.client.exec('/usr/bin/python3', ['-c', `import socket\nc=socket.socket(socket.AF_UNIX); c.settimeout(5); c.connect(${JSON.stringify(sockPath)}); c.sendall(b"hi"); print(c.recv(100).decode())`]);
  const onServer = serve(topo.server, serverApp, 'server');
  const onClient = serve(topo.client, clientApp, 'client');
  const localEnd = path.join(dir, 'local.sock');
  const remoteEnd = path.join(userDir, 'fwd.sock');
  try {
    await waitFor('the two socket servers', () => fs.existsSync(serverApp) && fs.existsSync(clientApp), 5000);
    const session = topo.client.spawn('ssh', sshArgs('-o', 'ExitOnForwardFailure=yes', '-L', `${localEnd}:${serverApp}`, '-R', `${remoteEnd}:${clientApp}`, dest(), 'echo ready; sleep 20'));
    let out = '';
    session.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('session ready', () => out.includes('ready'), 15_000);
    assert.equal((await ask(localEnd)).trim(), 'server:hi', '-L to a Unix socket reaches the server side');
    assert.equal((await ask(remoteEnd)).trim(), 'client:hi', '-R from a Unix socket reaches the client side');
    // Made by the user, with 0666 & ~StreamLocalBindMask (0177).
    const st = fs.statSync(remoteEnd);
    assert.deepEqual([st.uid, st.mode & 0o777], [user.uid, 0o600]);
    session.kill();
    // A path the user cannot reach is refused, as the kernel decides for the user.
    const denied = await run(topo.client, 'ssh', sshArgs('-o', 'ExitOnForwardFailure=yes', '-R', '/root/mpssh-denied.sock:/tmp/none.sock', dest(), 'echo opened'));
    assert.notEqual(denied.code, 0, denied.stdout);
    assert.match(denied.stderr, /remote port forwarding failed/i);
  } finally {
    onServer.kill();
    onClient.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('-L and -R forwarding and agent forwarding as the user', { skip }, async () => {
  // A line server in each namespace, answering with where it runs.
  const serve = (ns: TwoPaths['client'], port: number, name: string) =>
    ns.spawn('python3', ['-c', `import socket\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1",${port})); s.listen()\nwhile True:\n  c,_=s.accept(); d=c.recv(100); c.sendall(b"${name}:"+d); c.close()`]);
  const onServer = serve(topo.server, 7001, 'server');
  const onClient = serve(topo.client, 7002, 'client');
  const ask = (ns: TwoPaths['client'], port: number) =>
    ns.exec('python3', ['-c', `import socket\nc=socket.create_connection(("127.0.0.1",${port}),timeout=5); c.sendall(b"hi"); print(c.recv(100).decode())`]);
  const agentSock = path.join(srv.dir, 'agent.sock');
  const agent = topo.client.spawn('ssh-agent', ['-D', '-a', agentSock]);
  try {
    await waitFor('agent', () => fs.existsSync(agentSock), 5000);
    topo.client.execSync('env', [`SSH_AUTH_SOCK=${agentSock}`, 'ssh-add', '-q', srv.clientKey]);
    const fp = topo.client.execSync('ssh-keygen', ['-lf', `${srv.clientKey}.pub`]).split(' ')[1]!;
    const session = topo.client.spawn('env', [`SSH_AUTH_SOCK=${agentSock}`, 'ssh', ...sshArgs('-A', '-o', 'ExitOnForwardFailure=yes', '-L', '7011:127.0.0.1:7001', '-R', '7012:127.0.0.1:7002', dest(), 'ssh-add -l; echo ready; sleep 20')]);
    let out = '';
    session.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('session ready', () => out.includes('ready'), 15_000);
    assert.ok(out.includes(fp), `the forwarded agent lists the client key: ${out}`);
    assert.equal((await ask(topo.client, 7011)).trim(), 'server:hi', '-L reaches the server side');
    assert.equal((await ask(topo.server, 7012)).trim(), 'client:hi', '-R reaches the client side');
    session.kill();
  } finally {
    onServer.kill();
    onClient.kill();
    agent.kill();
  }
});

test('~/.ssh/rc runs before the command, with the session\'s environment, unless the key says no-user-rc', { skip }, async () => {
  const sshDir = path.join(user.home, '.ssh');
  const rc = path.join(sshDir, 'rc');
  const marker = path.join(user.home, 'rc-ran');
  fs.writeFileSync(rc, `echo "rc for $USER" > ${marker}\n`);
  fs.chownSync(rc, user.uid, user.gid);
  try {
    const r = await run(topo.client, 'ssh', sshArgs(dest(), `cat ${marker}; rm -f ${marker}`));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `rc for ${user.name}\n`);
    // The same key with no-user-rc: the file is not run.
    const keys = path.join(sshDir, 'authorized_keys');
    const before = fs.readFileSync(keys, 'utf8');
    fs.writeFileSync(keys, before.split('\n').map((l) => (l.trim() === '' ? l : `no-user-rc ${l}`)).join('\n'));
    try {
      const again = await run(topo.client, 'ssh', sshArgs(dest(), `test -e ${marker} && echo ran || echo not-run`));
      assert.equal(again.stdout, 'not-run\n', again.stderr);
    } finally {
      fs.writeFileSync(keys, before);
    }
  } finally {
    fs.rmSync(rc, { force: true });
    fs.rmSync(marker, { force: true });
  }
});
