/**
 * Session channels against the real OpenSSH client (in-process server on
 * loopback): exec, exit codes and signals, environment, forced commands,
 * flow control, process groups, MaxSessions, sftp and scp.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { serveSessions } from '../../src/ssh/session/index.js';
import { currentAccount, startSshHarness, type SshHarness } from '../helpers/ssh-harness.js';
import { waitFor } from '../../tools/netns.js';
import { missingProgram, requirePrograms } from '../../tools/require-netns.js';

let h: SshHarness;
const PROGRAMS = ['ssh', 'ssh-keygen', 'scp', 'sftp', '/usr/lib/openssh/sftp-server'];
const missing = missingProgram(PROGRAMS) !== null;

before(async () => {
  if (missing) return;
  h = await startSshHarness({
    attach: (client, ctx) => serveSessions(client, ctx),
  });
});
after(async () => h?.close());

test('exec: output, stderr and the exit status reach the client', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const r = await h.ssh(['echo out; echo err >&2; exit 7']);
  assert.equal(r.stdout.toString(), 'out\n');
  assert.match(r.stderr, /^err$/m);
  assert.equal(r.code, 7);
});

test('exec: stdin is passed through and its EOF reaches the command', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const input = crypto.randomBytes(3 << 20);
  const r = await h.ssh(['sha256sum'], { input });
  assert.equal(r.stdout.toString().split(' ')[0], crypto.createHash('sha256').update(input).digest('hex'));
  assert.equal(r.code, 0);
});

test('exec: a command killed by a signal is reported as exit-signal (ssh exits 255)', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const r = await h.ssh(['kill -TERM $$']);
  assert.equal(r.code, 255);
  assert.equal(r.stdout.length, 0);
});

test('exec: the environment is what sshd gives, with AcceptEnv applied', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const r = await h.ssh(['-o', 'SendEnv=LANG FOO', 'env'], { env: { ...process.env, LANG: 'C.UTF-8', FOO: 'bar' } });
  const env = Object.fromEntries(r.stdout.toString().trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const ctx = h.contexts.at(-1)!;
  assert.equal(env.USER, ctx.account.name);
  assert.equal(env.LOGNAME, ctx.account.name);
  assert.equal(env.HOME, ctx.account.home);
  assert.equal(env.SHELL, ctx.account.shell);
  assert.ok(env.PATH && env.PATH.includes('/usr/bin'));
  assert.equal(env.LANG, 'C.UTF-8');
  assert.equal(env.FOO, undefined, 'FOO is not in AcceptEnv');
  assert.match(env.SSH_CONNECTION ?? '', /^127\.0\.0\.1 \d+ 127\.0\.0\.1 \d+$/);
  assert.match(env.SSH_CLIENT ?? '', /^127\.0\.0\.1 \d+ \d+$/);
  assert.equal(env.SSH_TTY, undefined);
  assert.equal(env.PWD ?? ctx.account.home, ctx.account.home);
});

test('exec: a client that stops reading ends the command (cat /dev/zero | head -c 1M returns)', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  // Async: the server runs in this process and must keep serving meanwhile.
  const ssh = ['ssh', ...h.clientOptions, '-p', String(h.port), `${currentAccount().name}@127.0.0.1`].map((w) => `'${w}'`).join(' ');
  const out = await new Promise<string>((resolve, reject) => {
    execFile('sh', ['-c', `${ssh} 'cat /dev/zero' | head -c 1048576 | wc -c`], { timeout: 20_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
  assert.equal(out.trim(), '1048576');
  await waitFor('cat gone', () => spawnSync('pgrep', ['-f', '^cat /dev/zero$'], { encoding: 'utf8' }).stdout.trim() === '', 5000);
});

test('exec: closing the channel ends the whole process group, background children too', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const marker = `mpssh-pg-${crypto.randomBytes(4).toString('hex')}`;
  const child = h.spawn('ssh', [`${currentAccount().name}@127.0.0.1`, `sh -c 'sleep 300; : ${marker}' & sleep 301; : ${marker}`], { stdio: 'ignore' });
  const count = () => Number(spawnSync('pgrep', ['-c', '-f', marker], { encoding: 'utf8' }).stdout.trim() || 0);
  await waitFor('both sleeps running', () => count() >= 2, 5000);
  child.kill('SIGKILL');
  await waitFor('process group gone', () => count() === 0, 5000);
});

test('exec: what the command started with nohup outlives the session, as after a terminal hangup', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const marker = `mpssh-nohup-${crypto.randomBytes(4).toString('hex')}`;
  const count = () => Number(spawnSync('pgrep', ['-c', '-f', marker], { encoding: 'utf8' }).stdout.trim() || 0);
  try {
    // The command ends normally: its background job is left alone.
    const r = await h.ssh([`nohup sh -c 'sleep 300; : ${marker}-a' >/dev/null 2>&1 & echo started`]);
    assert.equal(r.stdout.toString(), 'started\n');
    // The client goes away mid-command: the command is hung up, the nohup job is not.
    const child = h.spawn('ssh', [`${currentAccount().name}@127.0.0.1`, `nohup sh -c 'sleep 300; : ${marker}-b' >/dev/null 2>&1 & exec sleep 302`], { stdio: 'ignore' });
    // Wait until nohup has made the job ignore SIGHUP and become `sh` (it is `nohup` until then).
    const jobB = `^sh -c sleep 300; : ${marker}-b$`;
    await waitFor('both jobs running', () => spawnSync('pgrep', ['-f', jobB]).status === 0 && spawnSync('pgrep', ['-f', '^sleep 302$']).status === 0, 5000);
    child.kill('SIGKILL');
    await waitFor('the command hung up', () => spawnSync('pgrep', ['-f', '^sleep 302$']).status !== 0, 5000);
    assert.equal(count(), 2, 'both nohup jobs still run');
  } finally {
    spawnSync('pkill', ['-f', marker]);
  }
});

test('exec: a large output arrives whole and in order', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const r = await h.ssh(['head -c 20000000 /dev/urandom | tee /tmp/mpssh-bulk-check | sha256sum >&2; cat /tmp/mpssh-bulk-check; rm -f /tmp/mpssh-bulk-check']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.length, 20_000_000);
  assert.equal(crypto.createHash('sha256').update(r.stdout).digest('hex'), r.stderr.trim().split(' ')[0]);
});

test('sftp and scp put and get files with equal checksums', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const user = currentAccount().name;
  const local = path.join(h.dir, 'payload');
  const data = crypto.randomBytes(3 << 20);
  fs.writeFileSync(local, data);
  const remote = path.join(h.dir, 'remote-copy');
  const got = path.join(h.dir, 'got');
  const run = (program: 'scp' | 'sftp', args: string[], input?: string) =>
    new Promise<number | null>((resolve) => {
      const c = h.spawn(program, args, { stdio: [input ? 'pipe' : 'ignore', 'ignore', 'inherit'] });
      if (input) c.stdin!.end(input);
      c.on('exit', (code) => resolve(code));
    });
  assert.equal(await run('sftp', ['-b', '-', `${user}@127.0.0.1`], `put ${local} ${remote}\nget ${remote} ${got}\n`), 0);
  assert.ok(fs.readFileSync(got).equals(data), 'sftp round trip');
  fs.rmSync(remote);
  fs.rmSync(got);
  assert.equal(await run('scp', ['-q', local, `${user}@127.0.0.1:${remote}`]), 0);
  assert.equal(await run('scp', ['-q', `${user}@127.0.0.1:${remote}`, got]), 0);
  assert.ok(fs.readFileSync(got).equals(data), 'scp round trip');
  assert.equal(await run('scp', ['-q', '-O', `${user}@127.0.0.1:${remote}`, `${got}.legacy`]), 0, 'legacy scp protocol');
  assert.ok(fs.readFileSync(`${got}.legacy`).equals(data));
});
