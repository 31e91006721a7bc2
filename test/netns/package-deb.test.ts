/**
 * The Debian package, end to end on this machine: built from this checkout,
 * its contents and control fields checked, lintian clean of errors,
 * installed with dpkg, the installed mpsshd run in a throwaway namespace
 * (READY=1 through a notification socket, /status, the dashboard, SSH on
 * port 2222, the installed mpssh client), then removed and purged. The
 * package is purged in any case, also when an assertion fails.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Netns, waitFor } from '../../tools/netns.js';
import { notifySocket, type NotifySocket } from '../helpers/notify-socket.js';
import { requireNetns, skipOrFail } from '../../tools/require-netns.js';

const ROOT = path.resolve(__dirname, '../../..');
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout).slice(-2000)}`);
  return r.stdout;
}

/** "install ok installed", "deinstall ok config-files", or "" when dpkg knows no such package. */
function dpkgStatus(pkg: string): string {
  const r = run('dpkg-query', ['-W', '-f=${Status}', pkg]);
  return r.status === 0 ? r.stdout.trim() : '';
}

/** Why the package cannot be installed here (its dependencies), or null. */
function uninstallableReason(): string | null {
  const node = run('dpkg-query', ['-W', '-f=${Version}', 'nodejs']);
  if (node.status !== 0 || run('dpkg', ['--compare-versions', node.stdout.trim(), 'ge', '20']).status !== 0) {
    return 'Node.js >= 20 is not installed as the Debian package nodejs, which the package depends on';
  }
  if (!dpkgStatus('openssh-sftp-server').startsWith('install ok')) return 'openssh-sftp-server is not installed (the package depends on it)';
  return null;
}

/** The maintainer for the build: the checkout's own when it names one, else a test identity. */
function maintainerEnv(): NodeJS.ProcessEnv {
  if (process.env.DEBEMAIL) return {};
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { author?: unknown };
  if (pkg.author !== undefined || run('git', ['-C', ROOT, 'config', 'user.email']).status === 0) return {};
  return { DEBFULLNAME: 'mpssh test build', DEBEMAIL: 'test-build@example.org' };
}

test('the Debian package builds, passes lintian, installs, runs, and is removed and purged', { timeout: 300_000 }, async (t) => {
  if (!requireNetns(t, { programs: ['dpkg-deb', 'dpkg-shlibdeps', 'curl', 'python3', 'ssh-keyscan'] })) return;
  if (dpkgStatus('mpssh') !== '') {
    // Never replace or purge a real installation (and its configuration).
    t.skip('an mpssh package is already installed on this machine');
    return;
  }
  const why = uninstallableReason();
  if (why !== null) {
    skipOrFail(t, why);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-deb-'));
  let ns: Netns | undefined;
  let sock: NotifySocket | undefined;
  let daemon: ReturnType<Netns['spawn']> | undefined;
  try {
    // --- Build (from dist/ as the test run built it).
    let t0 = Date.now();
    const built = ok(run(path.join(ROOT, 'packaging/build-deb.sh'), ['--no-build', '--out', dir], { env: maintainerEnv(), timeoutMs: 180_000 }), 'build-deb.sh').trim();
    const arch = ok(run('dpkg', ['--print-architecture']), 'dpkg --print-architecture').trim();
    const deb = path.join(dir, `mpssh_${VERSION}-1_${arch}.deb`);
    assert.equal(built, deb);
    t.diagnostic(`built ${path.basename(deb)} (${Math.round(fs.statSync(deb).size / 1024)} KiB) in ${Date.now() - t0} ms`);

    // --- Contents.
    const listing = ok(run('dpkg-deb', ['-c', deb]), 'dpkg-deb -c').trim().split('\n');
    const entries = new Map(listing.map((l) => {
      const f = l.split(/\s+/);
      return [(f[5] ?? '').replace(/^\./, ''), { mode: f[0] ?? '', owner: f[1] ?? '' }];
    }));
    for (const p of [
      '/usr/sbin/mpsshd',
      '/usr/bin/mpssh',
      '/etc/mpssh/mpsshd.yaml',
      '/etc/pam.d/mpsshd',
      '/usr/lib/systemd/system/mpsshd.service',
      '/usr/lib/mpssh/package.json',
      '/usr/lib/mpssh/bin/mpsshd.js',
      '/usr/lib/mpssh/dist/src/main.js',
      '/usr/lib/mpssh/dist/src/ssh/server/worker-main.js',
      '/usr/lib/mpssh/native/build/Release/mpssh_native.node',
      '/usr/lib/mpssh/native/build/Release/mpsshd-user-helper',
      '/usr/lib/mpssh/src/api/dashboard/index.html',
      '/usr/lib/mpssh/node_modules/fastify/package.json',
      '/usr/lib/mpssh/node_modules/ssh2/package.json',
      '/usr/lib/mpssh/node_modules/uplot/dist/uPlot.iife.min.js',
      '/usr/share/man/man8/mpsshd.8.gz',
      '/usr/share/man/man5/mpsshd.yaml.5.gz',
      '/usr/share/man/man1/mpssh.1.gz',
      '/usr/share/doc/mpssh/copyright',
      '/usr/share/doc/mpssh/changelog.Debian.gz',
      '/usr/share/doc/mpssh/README.Debian',
    ]) {
      assert.ok(entries.has(p), `${p} in the package`);
    }
    assert.equal(entries.get('/usr/sbin/mpsshd')?.mode, '-rwxr-xr-x');
    // Executable, never setuid: root starts it and it becomes the user.
    assert.equal(entries.get('/usr/lib/mpssh/native/build/Release/mpsshd-user-helper')?.mode, '-rwxr-xr-x');
    assert.ok([...entries.values()].every((e) => e.owner === 'root/root'), 'everything owned by root');
    const unwanted = [...entries.keys()].filter((p) => /\/dist\/(test|bench)\/|\.map$|\/prebuilds\/(darwin|win32)|\/node_modules\/(typescript|@types|playwright-core|node-addon-api)\//.test(p));
    assert.deepEqual(unwanted, [], 'no tests, source maps, foreign binaries or build-only modules');
    const field = (name: string): string => ok(run('dpkg-deb', ['-f', deb, name]), `dpkg-deb -f ${name}`).trim();
    assert.equal(field('Package'), 'mpssh');
    assert.equal(field('Version'), `${VERSION}-1`);
    assert.equal(field('Architecture'), arch);
    assert.match(field('Depends'), /^nodejs \(>= 20\), openssh-sftp-server, .*libc6/);
    assert.equal(ok(run('dpkg-deb', ['-I', deb, 'conffiles']), 'conffiles').trim(), '/etc/mpssh/mpsshd.yaml\n/etc/pam.d/mpsshd');

    // --- lintian: no errors (warnings are reported, not fatal).
    if (run('sh', ['-c', 'command -v lintian']).status === 0) {
      t0 = Date.now();
      const lint = run('lintian', ['--tag-display-limit', '0', deb], { timeoutMs: 120_000 });
      const lines = `${lint.stdout}`.split('\n').filter((l) => /^[EW]: /.test(l));
      t.diagnostic(`lintian (${Date.now() - t0} ms): ${lines.length ? lines.join(' | ') : 'clean'}`);
      assert.deepEqual(lines.filter((l) => l.startsWith('E: ')), [], 'lintian errors');
    } else {
      skipOrFail(t, 'lintian is not installed (Debian: lintian); the package was not linted');
    }

    // --- Install. No systemd runs as PID 1 here: the maintainer scripts must cope.
    t0 = Date.now();
    ok(run('dpkg', ['-i', deb], { timeoutMs: 120_000 }), 'dpkg -i');
    t.diagnostic(`dpkg -i: ${Date.now() - t0} ms`);
    assert.equal(dpkgStatus('mpssh'), 'install ok installed');
    assert.equal(ok(run('/usr/sbin/mpsshd', ['-t']), 'mpsshd -t'), 'configuration OK: /etc/mpssh/mpsshd.yaml\n');
    assert.match(ok(run('/usr/bin/mpssh', ['--version']), 'mpssh --version'), new RegExp(`^mpssh ${VERSION.replace(/\./g, '\\.')}\n`));
    assert.equal((fs.statSync('/etc/mpssh/mpsshd.yaml').mode & 0o777).toString(8), '644');
    if (run('sh', ['-c', 'command -v systemd-analyze']).status === 0) {
      const v = run('systemd-analyze', ['verify', '/usr/lib/systemd/system/mpsshd.service']);
      assert.equal(v.status, 0, v.stderr);
      assert.doesNotMatch(v.stderr, /mpsshd/, 'systemd-analyze verify says nothing about the unit');
    }
    if (run('sh', ['-c', 'command -v man']).status === 0) {
      assert.match(ok(run('man', ['-w', 'mpsshd.yaml']), 'man -w'), /man5\/mpsshd\.yaml\.5\.gz/);
    }

    // --- The installed daemon in a namespace, as systemd would start it.
    ns = Netns.create('pkg');
    sock = await notifySocket(path.join(dir, 'notify'));
    const apiSock = path.join(dir, 'api.sock');
    daemon = ns.spawn('/usr/sbin/mpsshd', ['-o', 'Port=2222', '-o', `stateDir=${dir}/run`, '-o', `dataDir=${dir}/data`, '-o', `api.controlSocket=${apiSock}`], {
      env: { ...process.env, NOTIFY_SOCKET: sock.address },
    });
    let log = '';
    daemon.stdout?.setEncoding('utf8').on('data', (c: string) => (log += c));
    daemon.stderr?.setEncoding('utf8').on('data', (c: string) => (log += c));
    const exit = new Promise<number | null>((resolve) => daemon?.on('exit', (code) => resolve(code)));
    const ready = await sock.waitForMessage(`READY=1 (log: ${log.slice(-500)})`, (m) => m.startsWith('READY=1'), { timeoutMs: 15_000 });
    assert.match(ready, /SSH on .*:2222/);
    const status = JSON.parse(await ns.exec('curl', ['-sf', 'http://127.0.0.1/status'])) as { version: string; ssh: { state: string; listeners: { port: number }[] } };
    assert.equal(status.version, VERSION);
    assert.equal(status.ssh.state, 'up');
    assert.deepEqual(status.ssh.listeners.map((l) => l.port), [2222]);
    assert.match(await ns.exec('curl', ['-sf', 'http://127.0.0.1/']), /<title>mpsshd<\/title>/, 'dashboard found from the package root');
    assert.ok((await ns.exec('curl', ['-sf', 'http://127.0.0.1/dashboard/uPlot.min.js'])).length > 10_000, 'uPlot from the bundled modules');
    const keys = await waitFor('ssh-keyscan answers', async () => (await ns?.exec('ssh-keyscan', ['-p', '2222', '-T', '5', '127.0.0.1']))?.trim(), 10_000);
    assert.match(keys, /^\[127\.0\.0\.1\]:2222 (ssh-ed25519|ecdsa-sha2-nistp256|ssh-rsa) /m);
    assert.match(await ns.exec('/usr/bin/mpssh', ['status', '--socket', apiSock]), /ssh: up \(\[::\]:2222 mptcp\)/);
    const stopFrom = sock.messages.length;
    daemon.kill('SIGTERM');
    await sock.waitForMessage('STOPPING=1', (m) => m.startsWith('STOPPING=1'), { from: stopFrom });
    assert.equal(await exit, 0, log.slice(-1000));

    // --- Remove keeps the configuration; purge takes it.
    ok(run('dpkg', ['-r', 'mpssh'], { timeoutMs: 120_000 }), 'dpkg -r');
    assert.equal(dpkgStatus('mpssh'), 'deinstall ok config-files');
    assert.ok(!fs.existsSync('/usr/lib/mpssh') && !fs.existsSync('/usr/sbin/mpsshd'), 'program files removed');
    assert.ok(fs.existsSync('/etc/mpssh/mpsshd.yaml'), 'the conffile stays until purge');
    ok(run('dpkg', ['-P', 'mpssh'], { timeoutMs: 120_000 }), 'dpkg -P');
    assert.equal(dpkgStatus('mpssh'), '');
    assert.ok(!fs.existsSync('/etc/mpssh'), '/etc/mpssh purged');
    assert.ok(!fs.existsSync('/etc/systemd/system/multi-user.target.wants/mpsshd.service'), 'enablement purged');
  } finally {
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
    await sock?.close();
    ns?.close();
    if (dpkgStatus('mpssh') !== '') run('dpkg', ['-P', 'mpssh'], { timeoutMs: 120_000 });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
