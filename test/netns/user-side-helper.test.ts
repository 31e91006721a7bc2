/**
 * The user-side helper driven directly through its TypeScript client, as a
 * throwaway account: programs with and without a terminal, what they see of
 * themselves (ids, argv[0], descriptors, terminal owner and mode), exits,
 * signals and hangups, sockets the kernel checks as the user's, the agent
 * directory, broken requests, and the clean-up when the worker's end closes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import type { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { waitFor } from '../../tools/netns.js';
import { fileSkip } from '../../tools/require-netns.js';
import { createTestUser, type TestUser } from '../../tools/test-user.js';
import { socketPair } from '../../src/mptcp/fdpass.js';
import { native } from '../../src/mptcp/native.js';
import { USER_HELPER_PATH } from '../../src/native/user-helper.js';
import { setWindowSize } from '../../src/native/terminal.js';
import { connectErrorText } from '../../src/ssh/forward/local.js';
import { connectUserSide, spawnUserHelper, UserSideError, type PtyProgram, type UserSide } from '../../src/ssh/user-side/index.js';
import { encodeRequest, MessageReader, type HelperMessage } from '../../src/ssh/user-side/protocol.js';
import { silentLogger } from '../../src/util/logger.js';

const skip = fileSkip({ programs: ['unshare', 'mount', 'stty', 'nohup', 'bash'] });

let user: TestUser;
const log = silentLogger();

before(() => {
  if (skip) return;
  user = createTestUser();
});

after(() => {
  user?.remove();
});

function account() {
  return { name: user.name, uid: user.uid, gid: user.gid };
}

/** A helper for the test user and its client; closed by the caller. */
function helperFor(): { side: UserSide; pid: number } {
  const h = spawnUserHelper(account(), log);
  return { side: connectUserSide(h.controlFd, h.fdChannelFd, log), pid: h.pid };
}

/**
 * A helper in a mount namespace of its own with a devpts mounted as
 * Debian's systemd mounts it (gid=5,mode=620): the terminal's group and
 * mode come from those options, since the helper cannot chown as the user.
 */
function helperWithDevpts(): { side: UserSide; pid: number } {
  const [control, helperControl] = socketPair();
  const [fds, helperFds] = socketPair();
  const script = 'mount -t devpts -o newinstance,gid=5,mode=620,ptmxmode=0666 devpts /dev/pts && exec "$@"';
  const proc = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', USER_HELPER_PATH, user.name, String(user.uid), String(user.gid)], {
    stdio: ['ignore', 'ignore', 'inherit', helperControl, helperFds],
  });
  native().closeFd(helperControl);
  native().closeFd(helperFds);
  return { side: connectUserSide(control, fds, log), pid: proc.pid ?? 0 };
}

function collect(s: Readable): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString()));
    s.on('close', () => resolve(out));
    s.on('error', () => {});
  });
}

/** Reads a terminal master until `re` matches what came so far. */
function ptyUntil(p: PtyProgram, re: RegExp, sofar: { text: string }): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const m = re.exec(sofar.text);
      if (m) {
        p.master.off('data', onData);
        clearTimeout(timer);
        resolve(m);
      }
      return m !== null;
    };
    const onData = (d: Buffer): void => {
      sofar.text += d.toString();
      check();
    };
    const timer = setTimeout(() => reject(new Error(`no ${re} in ${JSON.stringify(sofar.text)}`)), 10_000);
    if (!check()) p.master.on('data', onData);
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether the process ignores SIGHUP: bit 0 of SigIgn in /proc/PID/status. */
function ignoresHangup(pid: number): boolean {
  try {
    const m = /^SigIgn:\s*([0-9a-f]+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m !== null && (BigInt(`0x${m[1]}`) & 1n) === 1n;
  } catch {
    return false;
  }
}

const ENV = { PATH: '/usr/bin:/bin', LANG: 'C' };

test('a program on pipes: output, stdin and its EOF, exit status, argv[0], the user\'s ids, descriptors 0-2 only, cwd fallback', { skip }, async () => {
  const { side } = helperFor();
  try {
    const p = await side.spawn({
      file: '/bin/sh',
      argv0: '-sh',
      args: ['-c', 'echo "argv0=$0"; echo "ids=$(id -u) $(id -g) $(id -G)"; echo fds-begin; ls /proc/$$/fd; echo fds-end; echo "cwd=$PWD"; echo oops >&2; cat; exit 3'],
      env: ENV,
      cwd: '/nonexistent',
    });
    assert.equal(p.kind, 'pipes');
    if (p.kind !== 'pipes') return;
    const out = collect(p.stdout);
    const err = collect(p.stderr);
    p.stdin.end('from stdin\n');
    assert.deepEqual(await p.exit, { code: 3, signal: null });
    const text = await out;
    assert.match(text, /^argv0=-sh$/m);
    assert.match(text, new RegExp(`^ids=${user.uid} ${user.gid} ${user.gid}$`, 'm'));
    // Listed straight to stdout: a command substitution would show the shell's own pipe.
    assert.match(text, /^fds-begin\n0\n1\n2\nfds-end$/m);
    assert.match(text, /^cwd=\/$/m);
    assert.match(text, /^from stdin$/m);
    assert.equal(await err, 'oops\n');
  } finally {
    side.close();
  }
});

test('exits by signal are reported as signals; a signal request reaches the program\'s group; a failed exec is an error', { skip }, async () => {
  const { side } = helperFor();
  try {
    const killed = await side.spawn({ file: '/bin/sh', argv0: 'sh', args: ['-c', 'kill -TERM $$'], env: ENV, cwd: user.home });
    assert.deepEqual(await killed.exit, { code: null, signal: 15 });
    const sleeper = await side.spawn({ file: '/bin/sh', argv0: 'sh', args: ['-c', 'sleep 30; exit 0'], env: ENV, cwd: user.home });
    await side.signal(sleeper.pid, 'INT');
    assert.deepEqual(await sleeper.exit, { code: null, signal: 2 });
    await assert.rejects(side.signal(sleeper.pid, 'STOP'), (e: UserSideError) => e.code === 'EINVAL');
    await assert.rejects(
      side.spawn({ file: '/nonexistent/shell', argv0: 'x', args: [], env: ENV, cwd: '/' }),
      (e: UserSideError) => e.code === 'ENOENT' && e.syscall === 'execve' && e.errno === 2,
    );
    await assert.rejects(side.spawn({ file: 'relative', argv0: 'x', args: [], env: ENV, cwd: '/' }), (e: UserSideError) => e.code === 'EINVAL');
  } finally {
    side.close();
  }
});

test('a program on a terminal: controlling tty, SSH_TTY, argv[0] -bash, owner user:tty mode 620, size and a window change', { skip }, async () => {
  const { side } = helperWithDevpts();
  try {
    const p = await side.spawn({
      file: '/bin/bash',
      argv0: '-bash',
      args: ['-c', 'echo "argv0=$0 tty=$(tty) ssh_tty=$SSH_TTY"; echo "stat=$(stat -c "%U %G %a" "$SSH_TTY")"; echo fds-begin; ls -1 /proc/$$/fd; echo fds-end; echo "size=$(stty size)"; read line; echo "size=$(stty size)"; exit 7'],
      env: { ...ENV, TERM: 'xterm' },
      cwd: user.home,
      pty: { cols: 90, rows: 25 },
    });
    assert.equal(p.kind, 'pty');
    if (p.kind !== 'pty') return;
    assert.match(p.tty, /^\/dev\/pts\/\d+$/);
    p.master.on('error', () => {});
    const seen = { text: '' };
    await ptyUntil(p, /size=25 90/, seen);
    assert.match(seen.text, new RegExp(`argv0=-bash tty=${p.tty} ssh_tty=${p.tty}`));
    assert.match(seen.text, new RegExp(`stat=${user.name} tty 620`));
    // bash keeps its own copy of the terminal at 255 for line editing only when interactive; this one is not.
    assert.match(seen.text, /fds-begin\r\n0\r\n1\r\n2\r\nfds-end/);
    setWindowSize(p.masterFd, 132, 43);
    p.master.write('\n');
    await ptyUntil(p, /size=43 132/, seen);
    assert.deepEqual(await p.exit, { code: 7, signal: null });
  } finally {
    side.close();
  }
});

test('a hangup ends the group but not what was started with nohup; a leader ignoring SIGHUP is killed after 2 s', { skip }, async () => {
  const { side } = helperFor();
  const started: number[] = [];
  try {
    const p = await side.spawn({
      file: '/bin/sh',
      argv0: 'sh',
      args: ['-c', 'nohup sleep 60 >/dev/null 2>&1 & echo $!; sleep 61 & echo $!; wait'],
      env: ENV,
      cwd: user.home,
    });
    if (p.kind !== 'pipes') return assert.fail('pipes expected');
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const [nohupPid, plainPid] = await waitFor('both pids', () => {
      const pids = out.trim().split('\n').map(Number).filter((n) => n > 0);
      return pids.length === 2 ? pids : undefined;
    });
    started.push(nohupPid as number, plainPid as number);
    // `$!` is the forked shell: it ignores SIGHUP only once nohup has run in it.
    await waitFor('nohup to ignore SIGHUP', () => ignoresHangup(nohupPid as number));
    await side.hangup(p.pid);
    assert.equal((await p.exit).signal, 1);
    await waitFor('the plain background job to go', () => !alive(plainPid as number));
    assert.ok(alive(nohupPid as number), 'the nohup job lives on');

    const stubborn = await side.spawn({ file: '/bin/sh', argv0: 'sh', args: ['-c', 'trap "" HUP; while :; do sleep 1; done'], env: ENV, cwd: user.home });
    await waitFor('the trap to ignore SIGHUP', () => ignoresHangup(stubborn.pid));
    const t0 = Date.now();
    await side.hangup(stubborn.pid);
    const took = Date.now() - t0;
    assert.deepEqual(await stubborn.exit, { code: null, signal: 9 });
    assert.ok(took >= 1900 && took < 4000, `SIGKILL after the 2 s grace, took ${took} ms`);
  } finally {
    side.close();
    for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
});

test('TCP as the user: connect to a loopback listener and to a refused port, listen on port 0, no privileged port', { skip }, async () => {
  const { side } = helperFor();
  const server = net.createServer((s) => s.end('hello from the server\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const sock = await side.connectTcp('localhost', port);
    assert.equal(await collect(sock), 'hello from the server\n');

    // A port nobody listens on: the one just closed.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const refused = await side.connectTcp('127.0.0.1', closedPort).then(() => undefined, (e: unknown) => e as UserSideError);
    assert.equal(refused?.code, 'ECONNREFUSED');
    assert.equal(connectErrorText(refused as NodeJS.ErrnoException), 'Connection refused');
    const unknown = await side.connectTcp('no-such-host.invalid', 22).then(() => undefined, (e: unknown) => e as UserSideError);
    assert.equal(unknown?.code, 'ENOTFOUND');
    assert.equal(connectErrorText(unknown as NodeJS.ErrnoException), 'Name or service not known');

    const l = await side.listenTcp('127.0.0.1', 0);
    assert.ok(l.port > 0);
    const srv = net.createServer((s) => s.end('accepted by the worker\n'));
    await new Promise<void>((r) => srv.listen({ fd: l.fd }, r));
    assert.equal((srv.address() as net.AddressInfo).port, l.port);
    const client = net.connect(l.port, '127.0.0.1');
    assert.equal(await collect(client), 'accepted by the worker\n');
    await new Promise<void>((r) => srv.close(() => r()));

    await assert.rejects(side.listenTcp('127.0.0.1', 1023), (e: UserSideError) => e.code === 'EACCES' && e.syscall === 'bind');
  } finally {
    side.close();
    server.close();
  }
});

test('Unix sockets as the user: listen with a mode and replacing a stale socket, connect, refused where the user may not write', { skip }, async () => {
  const { side } = helperFor();
  try {
    const file = `${user.home}/fwd.sock`;
    const fd = await side.listenUnix(file, { mode: 0o600, unlinkFirst: true });
    const st = fs.statSync(file);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, user.uid);
    const srv = net.createServer((s) => s.end('unix ok\n'));
    await new Promise<void>((r) => srv.listen({ fd }, r));
    assert.equal(await collect(await side.connectUnix(file)), 'unix ok\n');
    await new Promise<void>((r) => srv.close(() => r()));
    // Still there (nothing unlinks it but the flag): listening again replaces it.
    const again = await side.listenUnix(file, { mode: 0o660, unlinkFirst: true });
    native().closeFd(again);
    assert.equal(fs.statSync(file).mode & 0o777, 0o660);
    await assert.rejects(side.listenUnix('/root/not-yours.sock', { mode: 0o600, unlinkFirst: false }), (e: UserSideError) => e.code === 'EACCES');
    await assert.rejects(side.connectUnix(`${user.home}/absent.sock`), (e: UserSideError) => e.code === 'ENOENT');
  } finally {
    side.close();
  }
});

test('the agent socket: a private directory and socket of the user\'s, removed when the helper exits', { skip }, async () => {
  const h = helperFor();
  const agent = await h.side.listenAgent();
  native().closeFd(agent.fd);
  const m = /^\/tmp\/ssh-[A-Za-z0-9]{10}\/agent\.(\d+)$/.exec(agent.path);
  assert.ok(m, agent.path);
  assert.equal(Number(m[1]), h.pid);
  const dir = fs.statSync(agent.path.replace(/\/agent\.\d+$/, ''));
  assert.equal(dir.mode & 0o777, 0o700);
  assert.equal(dir.uid, user.uid);
  const sock = fs.statSync(agent.path);
  assert.equal(sock.mode & 0o777, 0o600);
  assert.equal(sock.uid, user.uid);
  h.side.close();
  await waitFor('the helper to exit', () => !alive(h.pid));
  assert.equal(fs.existsSync(agent.path.replace(/\/agent\.\d+$/, '')), false);
});

test('end of file on the request socket: running programs are hung up, the helper exits', { skip }, async () => {
  const h = helperFor();
  const p = await h.side.spawn({ file: '/bin/sh', argv0: 'sh', args: ['-c', 'sleep 60'], env: ENV, cwd: user.home });
  assert.ok(alive(p.pid));
  h.side.close();
  await waitFor('the program to go', () => !alive(p.pid));
  await waitFor('the helper to exit', () => !alive(h.pid));
  // The client settles what it can no longer learn.
  assert.deepEqual(await p.exit, { code: null, signal: null });
  await assert.rejects(h.side.spawn({ file: '/bin/true', argv0: 'true', args: [], env: {}, cwd: '/' }), (e: UserSideError) => e.code === 'ERR_USER_SIDE_CLOSED');
});

/** Speaks the wire format raw, as a broken or hostile worker might. */
async function rawExchange(sock: net.Socket, frames: Buffer[]): Promise<HelperMessage[]> {
  const reader = new MessageReader();
  const got: HelperMessage[] = [];
  return new Promise((resolve) => {
    const done = (): void => resolve(got);
    sock.on('data', (d: Buffer) => {
      got.push(...reader.push(d));
      if (got.length >= frames.length) done();
    });
    sock.on('close', done);
    for (const f of frames) sock.write(f);
  });
}

test('malformed requests are answered with errors and the helper goes on; a broken frame ends only the helper', { skip }, async () => {
  const h = spawnUserHelper(account(), log);
  const sock = new net.Socket({ fd: h.controlFd, readable: true, writable: true });
  try {
    const lengthOnly = (body: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, body.length]), body]);
    const replies = await rawExchange(sock, [
      encodeRequest(1, 'no-such-op', []),
      encodeRequest(2, 'spawn', ['/bin/sh', 'sh', '99999']),
      encodeRequest(3, 'spawn', ['/bin/sh', 'sh', '0', '1', 'NOEQUALS', '/', 'pipes']),
      encodeRequest(4, 'tcp-connect', ['127.0.0.1', '70000']),
      encodeRequest(5, 'hangup', ['1']),
      encodeRequest(6, 'unix-listen', ['relative.sock', '600', '0']),
      encodeRequest(7, 'signal', ['-1', 'HUP']),
      lengthOnly(Buffer.from('8\0spawn')),
      encodeRequest(9, 'tcp-listen', ['127.0.0.1', '0', '0']),
    ]);
    const byId = new Map(replies.map((r) => [r.kind === 'exit' ? -1 : r.id, r]));
    for (const id of [1, 2, 3, 4, 6, 7]) assert.equal(byId.get(id)?.kind === 'error' && (byId.get(id) as { error: UserSideError }).error.code, 'EINVAL', `request ${id}`);
    // pid 1 is not this helper's program.
    assert.equal((byId.get(5) as { error?: UserSideError }).error?.code, 'ESRCH');
    // The unterminated frame has no id the helper trusts: answered under 0.
    assert.equal((byId.get(0) as { error?: UserSideError }).error?.code, 'EINVAL');
    const listened = byId.get(9);
    assert.equal(listened?.kind, 'ok');
    assert.equal(listened?.kind === 'ok' && listened.fds, 1);

    // A length beyond the limit: the framing is lost, the helper leaves.
    sock.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    await waitFor('the helper to exit', () => !alive(h.pid));
  } finally {
    sock.destroy();
    native().closeFd(h.fdChannelFd);
  }
});

test('the client drops a helper that breaks the format without throwing into the event loop', { skip }, async () => {
  const [worker, fake] = socketPair();
  const [fdw, fdf] = socketPair();
  const side = connectUserSide(worker, fdw, log);
  const fakeSock = new net.Socket({ fd: fake, readable: true, writable: true });
  const closed = new Promise<void>((r) => side.onClose(r));
  const pending = side.listenAgent();
  fakeSock.write(Buffer.from([0, 0x10, 0, 0]));
  await assert.rejects(pending, (e: UserSideError) => e.code === 'ERR_USER_SIDE_CLOSED');
  await closed;
  assert.equal(side.closed, true);
  fakeSock.destroy();
  native().closeFd(fdf);
});
