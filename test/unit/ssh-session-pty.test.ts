/**
 * Terminal sessions and per-key restrictions against the real OpenSSH
 * client: a login shell on a pty driven from tmux (SSH_TTY, TERM, window
 * size and window-change, exit status), no-pty, forced commands with
 * SSH_ORIGINAL_COMMAND, signal requests, and MaxSessions.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { ChannelPolicy } from '../../src/ssh/context.js';
import { serveSessions } from '../../src/ssh/session/index.js';
import { waitFor } from '../../tools/netns.js';
import { currentAccount, startSshHarness, type SshHarness } from '../helpers/ssh-harness.js';
import { requirePrograms } from '../../tools/require-netns.js';

/** The OpenSSH tools these tests drive. */
const PROGRAMS = ['ssh', 'ssh-keygen'];

const user = currentAccount().name;

async function harness(policy: Partial<ChannelPolicy> = {}): Promise<SshHarness> {
  return startSshHarness({
    policy,
    attach: (client, ctx) => serveSessions(client, ctx),
  });
}

/** A tmux server of its own, so the test never touches anyone's sessions. */
function tmux(socket: string) {
  const run = (...args: string[]) => spawnSync('tmux', ['-S', socket, ...args], { encoding: 'utf8' });
  return {
    run,
    screen: () => run('capture-pane', '-p', '-J', '-t', 't').stdout,
    keys: (text: string) => run('send-keys', '-t', 't', '-l', text).status === 0 && run('send-keys', '-t', 't', 'Enter'),
    kill: () => run('kill-server'),
  };
}

test('pty shell from a terminal: SSH_TTY, TERM, size, window-change, exit status', async (t) => {
  if (!requirePrograms(t, [...PROGRAMS, 'tmux'])) return;
  const h = await harness();
  const socket = path.join(h.dir, 'tmux.sock');
  const tm = tmux(socket);
  const ssh = ['ssh', ...h.clientOptions, '-tt', '-p', String(h.port), `${user}@127.0.0.1`].map((w) => `'${w}'`).join(' ');
  try {
    assert.equal(tm.run('new-session', '-d', '-s', 't', '-x', '100', '-y', '30', `TERM=xterm-256color ${ssh}; echo SSH-EXIT=$?; sleep 60`).status, 0);
    tm.keys('echo "tty=$SSH_TTY term=$TERM size=$(stty size) login=$0"; tty');
    // The answer line, then tty(1)'s own line naming the same terminal: SSH_TTY is the shell's terminal.
    const m = await waitFor('shell answers', () => /tty=(\/dev\/pts\/\d+) term=xterm-256color size=30 100 login=(\S+)\s*\n\1\s*$/m.exec(tm.screen()), 10_000, 100);
    assert.ok(m[2] === '-bash' || m[2] === 'bash' || m[2]!.endsWith('sh'), m[2]);
    tm.run('resize-window', '-t', 't', '-x', '120', '-y', '40');
    // The shell waits for the new size itself: the window-change travels tmux -> ssh -> server -> pty.
    tm.keys('until [ "$(stty size)" = "40 120" ]; do sleep 0.1; done; echo "new=$(stty size)"');
    await waitFor('window-change reached the pty', () => /new=40 120/.test(tm.screen()), 10_000, 100);
    tm.keys('exit 5');
    await waitFor('ssh exit status', () => /SSH-EXIT=5/.test(tm.screen()), 10_000, 100);
  } finally {
    tm.kill();
    await h.close();
  }
});

test('exec with -tt gets a pty; no-pty (key option) refuses it, which the client takes as fatal', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const h = await harness();
  const h2 = await harness({ pty: false });
  try {
    const r = await h.ssh(['-tt', 'tty; echo "t=$SSH_TTY"']);
    assert.match(r.stdout.toString(), /^\/dev\/pts\/\d+\r?$/m);
    assert.match(r.stdout.toString(), /t=\/dev\/pts\/\d+/);
    const r2 = await h2.ssh(['-tt', 'tty; echo "t=$SSH_TTY"']);
    assert.equal(r2.code, 255);
    assert.match(r2.stderr, /PTY allocation request failed/);
    const r3 = await h2.ssh(['tty; echo "t=$SSH_TTY"']);
    assert.equal(r3.stdout.toString(), 'not a tty\nt=\n');
  } finally {
    await h.close();
    await h2.close();
  }
});

test('forced command runs instead of the request, which lands in SSH_ORIGINAL_COMMAND', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const h = await harness({ forcedCommand: 'echo "forced: $SSH_ORIGINAL_COMMAND"; exit 3' });
  try {
    const r = await h.ssh(['rm -rf /nonexistent']);
    assert.equal(r.stdout.toString(), 'forced: rm -rf /nonexistent\n');
    assert.equal(r.code, 3);
    const shell = await h.ssh([]);
    assert.equal(shell.stdout.toString(), 'forced: \n');
  } finally {
    await h.close();
  }
});

test('MaxSessions: a second session on one connection is refused at the limit', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const h = await harness({ maxSessions: 1 });
  const control = path.join(h.dir, `cm-${crypto.randomBytes(3).toString('hex')}`);
  try {
    const master = h.spawn('ssh', ['-M', '-S', control, '-N', `${user}@127.0.0.1`], { stdio: 'ignore' });
    await waitFor('control master', () => fs.existsSync(control), 10_000);
    const first = h.spawn('ssh', ['-S', control, `${user}@127.0.0.1`, 'echo started; sleep 3'], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((r) => first.stdout!.once('data', r));
    // Refused on the shared connection (the client then falls back to a connection of its own).
    const second = await h.ssh(['-S', control, 'echo second']);
    assert.match(second.stderr, /Session open refused by peer/);
    await new Promise((r) => first.on('exit', r));
    const third = await h.ssh(['-S', control, 'echo third']);
    assert.equal(third.stdout.toString(), 'third\n', 'a slot frees when a session ends');
    assert.doesNotMatch(third.stderr, /refused/);
    master.kill();
  } finally {
    await h.close();
  }
});

test('signal request: the client signals the whole process group of the command', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  // OpenSSH's client has no command for the signal request; ssh2's client sends one.
  const h = await harness();
  try {
    const conn = await h.ssh2Client();
    const result = await new Promise<{ code: unknown; signal: unknown }>((resolve, reject) => {
      conn.exec('trap "echo got-int; exit 9" INT; echo ready; while :; do sleep 0.1; done', (err, ch) => {
        if (err) return reject(err);
        ch.on('data', (d: Buffer) => {
          if (d.toString().includes('ready')) ch.signal('INT');
        });
        ch.on('exit', (code: unknown, signal: unknown) => resolve({ code, signal }));
      });
    });
    assert.deepEqual(result, { code: 9, signal: undefined });
    conn.end();
  } finally {
    await h.close();
  }
});

test('the login shell and programs start in the home directory', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const h = await harness();
  try {
    const r = await h.ssh(['pwd']);
    assert.equal(r.stdout.toString().trim(), fs.realpathSync(currentAccount().home));
  } finally {
    await h.close();
  }
});
