/**
 * What a logged-in user can reach of mpsshd, tried from inside a real
 * session as an ordinary account: Node's inspector (SIGUSR1 to the worker),
 * ptrace and /proc/PID/mem of the worker, descriptors of other sessions and
 * of the daemon's starter; and, as root, whether any host private key is in
 * the worker's memory at all (the daemon signs for it).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Netns, waitFor } from '../../tools/netns.js';
import { fileSkip } from '../../tools/require-netns.js';
import { startMpsshdSsh, run, type MpsshdSsh } from '../../tools/mpsshd-ssh.js';
import { createTestUser, type TestUser } from '../../tools/test-user.js';
import { findInMemory, keySecrets } from '../helpers/memory-scan.js';
import { MPSSHD } from '../../tools/daemon-process.js';

const skip = fileSkip({ programs: ['ssh', 'ssh-keygen'] });

let ns: Netns;
let srv: MpsshdSsh;
let user: TestUser;
let secrets: Buffer[];

function ssh(command: string, extra: string[] = []) {
  return run(ns, 'ssh', [...srv.clientOptions, ...extra, `${user.name}@127.0.0.1`, command]);
}

function listening(port: number): boolean {
  const out = execFileSync('ip', ['netns', 'exec', ns.name, 'ss', '-Hltn', `sport = :${port}`], { encoding: 'utf8' });
  return out.trim() !== '';
}

/** The worker serving `name`'s connection, from the daemon's root-only session records. */
/** The live workers whose session records name `name`. */
function workersOf(name: string): number[] {
  const dir = path.join(srv.stateDir, 'sessions');
  const out: number[] = [];
  for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    if (!f.endsWith('.json')) continue;
    try {
      const rec = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { user?: string; pid?: number };
      if (rec.user === name && typeof rec.pid === 'number' && fs.existsSync(`/proc/${rec.pid}`)) out.push(rec.pid);
    } catch {
      // a record being rewritten
    }
  }
  return out;
}

/**
 * The parent of the user's newest program `name`: the connection's user-side
 * helper. The newest, and only while that parent lives: an earlier test's
 * program may still be going away with its own helper.
 */
function helperOf(uid: number, name: string): number | undefined {
  try {
    const pid = execFileSync('pgrep', ['-n', '-u', String(uid), '-x', name], { encoding: 'utf8' }).trim();
    const parent = Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
    return parent > 1 && fs.existsSync(`/proc/${parent}/maps`) ? parent : undefined;
  } catch {
    return undefined;
  }
}

/** Fields of /proc/PID/status. */
function procStatus(pid: number): Record<string, string> {
  return Object.fromEntries(fs.readFileSync(`/proc/${pid}/status`, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
}

/** A logged-in connection held open by `sleep 30`, with its worker and helper. */
async function heldSession(): Promise<{ worker: number; helper: number; close(): void }> {
  // A session of an earlier test may still be ending: this one's worker is one not there before.
  const earlier = new Set(workersOf(user.name));
  const client = spawn('ip', ['netns', 'exec', ns.name, 'ssh', ...srv.clientOptions, `${user.name}@127.0.0.1`, 'sleep 30'], { stdio: 'ignore' });
  const helper = await waitFor('the user\'s program', () => helperOf(user.uid, 'sleep'), 10_000);
  const worker = await waitFor('the session record', () => workersOf(user.name).find((p) => !earlier.has(p)), 10_000);
  return { worker, helper, close: () => client.kill('SIGKILL') };
}

before(async () => {
  if (skip) return;
  ns = Netns.create('privsep');
  const dir = fs.mkdtempSync('/tmp/mpssh-hostkeys-');
  for (const t of ['ed25519', 'ecdsa']) execFileSync('ssh-keygen', ['-q', '-t', t, '-N', '', '-f', path.join(dir, `host_${t}`)]);
  srv = await startMpsshdSsh(ns, { port: 22, extraYaml: 'pathManager:\n  enabled: false', sshYaml: [`HostKey: [${path.join(dir, 'host_ed25519')}, ${path.join(dir, 'host_ecdsa')}]`] });
  secrets = ['ed25519', 'ecdsa'].flatMap((t) => keySecrets(fs.readFileSync(path.join(dir, `host_${t}`), 'utf8')));
  fs.rmSync(dir, { recursive: true, force: true });
  user = createTestUser();
  user.authorize(srv.clientPub);
});

after(async () => {
  if (skip) return;
  await srv?.stop();
  user?.remove();
  ns?.close();
});

test('the processes that parse network input run as mpsshd: no capabilities, no_new_privs, not dumpable', { skip }, async () => {
  const privsep = Number(execFileSync('id', ['-u', 'mpsshd'], { encoding: 'utf8' }).trim());
  // A connection that never logs in: its worker waits in the key exchange.
  const held = spawn('ip', ['netns', 'exec', ns.name, '/usr/bin/python3', '-c', 'import socket,time; s=socket.create_connection(("127.0.0.1",22)); s.sendall(b"SSH-2.0-probe\\r\\n"); time.sleep(20)'], { stdio: 'ignore' });
  try {
    // This daemon's workers, from its root-only records (every handed-off connection has one).
    const titled = (): number[] => {
      const dir = path.join(srv.stateDir, 'sessions');
      return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => (JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { pid: number; user?: string }))
        .filter((r) => r.user === undefined && fs.existsSync(`/proc/${r.pid}`))
        // Titled once it took the connection (a worker started on demand is still loading, as root, before that).
        .filter((r) => /\[session [0-9a-f]{16}\]/.test(fs.readFileSync(`/proc/${r.pid}/cmdline`, 'utf8'))).map((r) => r.pid);
    };
    const workers = await waitFor('a worker serving the unauthenticated connection', () => (titled().length > 0 ? titled() : undefined), 10_000);
    // Idle workers of the pool are locked down too, before any connection reaches them. The pool
    // starts the replacement after the handoff: on a busy machine, after the worker took its title.
    const waiting = (): number[] | undefined => {
      let out = '';
      try {
        out = execFileSync('pgrep', ['-P', String(srv.daemon.proc.pid), '-f', 'worker-main.js'], { encoding: 'utf8' });
      } catch {
        return undefined; // none yet
      }
      const pids = out.trim().split('\n').map(Number).filter((p) => !workers.includes(p));
      return pids.length > 0 ? pids : undefined;
    };
    const idle = await waitFor('an idle worker of the pool', waiting, 10_000);
    // Titled as sshd titles its unprivileged child before the login.
    for (const pid of workers) assert.match(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^mpsshd: 127\.0\.0\.1 \[net\] \[session [0-9a-f]{16}\]/);
    for (const pid of [...workers, ...idle]) {
      // A worker the pool just started is still loading its code as root; it drops before it can take a connection.
      await waitFor(`worker ${pid} to leave root`, () => (procStatus(pid).NoNewPrivs === '1' ? true : undefined), 10_000);
      const st = procStatus(pid);
      assert.deepEqual(st.Uid?.split(/\s+/).map(Number), [privsep, privsep, privsep, privsep], `Uid of ${pid}`);
      assert.equal(st.Groups, '', `supplementary groups of ${pid}`);
      assert.match(st.CapEff ?? '', /^0+$/, `CapEff of ${pid}`);
      assert.match(st.CapPrm ?? '', /^0+$/, `CapPrm of ${pid}`);
      assert.equal(st.NoNewPrivs, '1', `NoNewPrivs of ${pid}`);
      // Not dumpable: the kernel gives its /proc files to root, so no process of its uid can read its memory.
      assert.equal(fs.statSync(`/proc/${pid}/mem`).uid, 0, `/proc/${pid}/mem owner`);
    }
  } finally {
    held.kill('SIGKILL');
  }
});

test('a user cannot signal, ptrace or read the worker of their own connection, and SIGUSR1 opens no inspector anywhere', { skip }, async () => {
  const s = await heldSession();
  try {
    const probe = [
      `kill -USR1 ${s.worker} 2>/dev/null && echo signal-sent || echo signal-denied`,
      `head -c 1 /proc/${s.worker}/mem >/dev/null 2>&1 && echo mem-readable || echo mem-denied`,
      `cat /proc/${s.worker}/environ >/dev/null 2>&1 && echo environ-readable || echo environ-denied`,
      // PTRACE_ATTACH (16).
      `/usr/bin/python3 -c "import ctypes,sys; l=ctypes.CDLL(None,use_errno=True); r=l.ptrace(16,int(sys.argv[1]),0,0); print('ptrace-attached' if r==0 else 'ptrace-denied')" ${s.worker}`,
      'echo done',
    ].join('; ');
    const r = await ssh(probe);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['signal-denied', 'mem-denied', 'environ-denied', 'ptrace-denied', 'done']);
    assert.equal(listening(9229), false, 'an inspector listens on 9229');
    // Root can signal anything: the worker and the daemon disarm SIGUSR1 themselves.
    process.kill(s.worker, 'SIGUSR1');
    process.kill(srv.daemon.proc.pid as number, 'SIGUSR1');
    await new Promise((res) => setTimeout(res, 1000));
    assert.equal(listening(9229), false, 'an inspector listens on 9229 after SIGUSR1 from root');
    assert.ok(fs.existsSync(`/proc/${s.worker}`), 'the worker survived SIGUSR1');
    const again = await ssh('echo still here');
    assert.equal(again.stdout, 'still here\n', 'the daemon serves on');
  } finally {
    s.close();
  }
});

test('no host private key is in the memory of a logged-in worker or of its user-side helper; the daemon holds them', { skip }, async () => {
  const s = await heldSession();
  try {
    assert.deepEqual(findInMemory(s.worker, secrets), [], 'host key material found in the worker');
    assert.deepEqual(findInMemory(s.helper, secrets), [], 'host key material found in the user-side helper');
    // Nor can the worker write into the daemon's log stream: its output is /dev/null, its lines go through the daemon.
    assert.deepEqual([1, 2].map((fd) => fs.readlinkSync(`/proc/${s.worker}/fd/${fd}`)), ['/dev/null', '/dev/null']);
    assert.match(fs.readFileSync(`/proc/${s.worker}/cmdline`, 'utf8'), new RegExp(`^mpsshd: ${user.name}@127\\.0\\.0\\.1 \\[session [0-9a-f]{16}\\]`), 'the worker says whose session it serves');
    const st = procStatus(s.helper);
    assert.deepEqual(st.Uid?.split(/\s+/).map(Number), [user.uid, user.uid, user.uid, user.uid], 'the helper runs as the user');
    assert.match(st.CapEff ?? '', /^0+$/);
    // The scan itself works: the daemon, which signs, has every key.
    assert.deepEqual(findInMemory(srv.daemon.proc.pid as number, secrets), secrets.map((_s, i) => i));
  } finally {
    s.close();
  }
});

test('a session sees only descriptors 0-2: not another session\'s terminal, not what the daemon inherited', { skip }, async () => {
  const ctl = path.join(srv.dir, 'ctl');
  // One connection, one worker, several sessions: OpenSSH's connection sharing.
  const master = spawn('ip', ['netns', 'exec', ns.name, 'ssh', ...srv.clientOptions, '-M', '-S', ctl, '-N', `${user.name}@127.0.0.1`], { stdio: 'ignore' });
  await waitFor('the connection master', () => fs.existsSync(ctl), 10_000);
  const first = spawn('ip', ['netns', 'exec', ns.name, 'ssh', ...srv.clientOptions, '-tt', '-S', ctl, `${user.name}@127.0.0.1`, 'sleep 30'], { stdio: ['pipe', 'ignore', 'ignore'] });
  try {
    await waitFor('the first session\'s terminal', () => execFileSync('ps', ['-u', String(user.uid), '-o', 'tty=,args='], { encoding: 'utf8' }).split('\n').some((l) => /^pts\/\d+\s+sleep 30/.test(l.trim())), 10_000);
    for (const tty of ['-T', '-tt']) {
      const r = await ssh('ls /proc/$$/fd; true', ['-S', ctl, tty]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.replace(/\r/g, '').trim().split(/\s+/).map(Number).sort(), [0, 1, 2], `descriptors with ${tty}: ${r.stdout}`);
    }
  } finally {
    first.kill('SIGKILL');
    master.kill('SIGKILL');
  }
});

test('a descriptor open when the daemon starts (fd 200 on /etc/shadow) is closed at once', { skip }, async () => {
  const dir = fs.mkdtempSync('/tmp/mpssh-inherit-');
  const cfg = path.join(dir, 'mpsshd.yaml');
  fs.writeFileSync(cfg, `ssh:\n  Enabled: no\npathManager:\n  enabled: false\napi:\n  enabled: false\nstateDir: ${dir}/run\n`, { mode: 0o600 });
  const log = path.join(dir, 'log');
  const child = spawn('ip', ['netns', 'exec', ns.name, 'bash', '-c', `exec 200</etc/shadow; exec "$@" >${log} 2>&1`, 'bash', process.execPath, MPSSHD, '-f', cfg], { stdio: 'ignore' });
  try {
    let fds: number[] | undefined;
    await waitFor('the daemon to say what it closed', () => {
      for (const l of fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n') : []) {
        if (l.includes('inherited from the starting process')) fds = (JSON.parse(l) as { fds: number[] }).fds;
      }
      return fds !== undefined;
    }, 10_000);
    assert.ok(fds?.includes(200), `closed: ${String(fds)}`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((res) => setTimeout(res, 300));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('Node options that would open an inspector are refused at start', { skip }, () => {
  for (const env of [{ NODE_OPTIONS: '--inspect=127.0.0.1:9230' }, { NODE_OPTIONS: '--max-old-space-size=100 --inspect-port=0 --inspect' }]) {
    let out = '';
    let status = 0;
    try {
      execFileSync(process.execPath, [MPSSHD, '-t', '-f', srv.daemon.configFile], { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const e = err as { status: number; stderr: string };
      status = e.status;
      out = e.stderr;
    }
    assert.equal(status, 1, env.NODE_OPTIONS);
    assert.match(out, /refusing to run with Node's inspector enabled/);
  }
});

test('a client with a 1 GiB window that stops reading cannot make the worker buffer without bound', { skip }, async () => {
  const fixture = path.resolve(__dirname, '../../../test/fixtures/stalled-reader.py');
  const earlier = new Set(workersOf(user.name));
  const client = spawn('ip', ['netns', 'exec', ns.name, '/usr/bin/python3', fixture, '127.0.0.1', '22', user.name, srv.clientKey], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      client.stdout.on('data', (d: Buffer) => d.toString().includes('reading stopped') && resolve());
      client.on('exit', (code) => reject(new Error(`the client exited with ${code}`)));
    });
    await waitFor('cat to run', () => helperOf(user.uid, 'cat'), 10_000);
    const worker = await waitFor('the worker running cat', () => workersOf(user.name).find((p) => !earlier.has(p)), 10_000);
    await new Promise((res) => setTimeout(res, 3000));
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${worker}/status`, 'utf8'))?.[1]);
    assert.ok(rssKb < 150 * 1024, `the worker holds ${Math.round(rssKb / 1024)} MiB with a stalled reader`);
    const cat = execFileSync('pgrep', ['-u', String(user.uid), '-x', 'cat'], { encoding: 'utf8' }).trim();
    assert.match(fs.readFileSync(`/proc/${cat}/stat`, 'utf8').split(') ')[1] ?? '', /^S /, 'cat waits, blocked on its full pipe');
  } finally {
    client.kill('SIGKILL');
  }
});

test('a worker\'s lines reach the log through the daemon; what it says after the login is marked as the user\'s word', { skip }, async () => {
  const since = srv.daemon.logs.length;
  const r = await ssh('true');
  assert.equal(r.code, 0, r.stderr);
  const accepted = await srv.daemon.waitForLog('accepted', (l) => srv.daemon.logs.indexOf(l) >= since && l.event === 'auth-accepted' && l.user === user.name);
  assert.match(String(accepted.msg), /^Accepted publickey for /, 'before the login: sshd\'s words, unchanged');
  assert.equal(accepted.pid, srv.daemon.proc.pid, 'logged by the daemon');
  assert.equal(typeof accepted.workerPid, 'number');
  const closed = await srv.daemon.waitForLog('closed', (l) => srv.daemon.logs.indexOf(l) >= since && typeof l.msg === 'string' && l.msg.includes('Connection closed by') && l.afterLogin === true);
  assert.match(String(closed.msg), new RegExp(`^session of ${user.name}: Connection closed by`));
});

test('UpdateHostKeys learns the ECDSA host key too: the daemon signs the proof, the worker converts it', { skip }, async () => {
  const kh = path.join(srv.dir, 'known_hosts_update');
  // The ed25519 key the client already knows, as the daemon offers it first.
  const scan = await run(ns, 'ssh-keyscan', ['-t', 'ed25519', '127.0.0.1']);
  fs.writeFileSync(kh, scan.stdout);
  const opts = srv.clientOptions.flatMap((o, i, a) => (o === '-o' && /^(StrictHostKeyChecking|UserKnownHostsFile)=/.test(a[i + 1] ?? '')) || /^(StrictHostKeyChecking|UserKnownHostsFile)=/.test(o) ? [] : [o]);
  const r = await run(ns, 'ssh', ['-o', 'LogLevel=VERBOSE', ...opts, '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'UpdateHostKeys=yes', `${user.name}@127.0.0.1`, 'echo ok']);
  assert.equal(r.stdout, 'ok\n', r.stderr);
  assert.match(r.stderr, /Learned new hostkey: ECDSA SHA256:/);
});
