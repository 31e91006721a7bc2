/**
 * A hostile or broken client (ssh2's client, which sends whatever it is
 * told) against the session module: absurd terminal sizes, NUL bytes in
 * names, values and commands, unknown subsystems, requests in the wrong
 * order, a flood of env requests. Each gets a refusal or a failed command;
 * the server keeps serving the next request on the same connection.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import { serveSessions } from '../../src/ssh/session/index.js';
import { MAX_CLIENT_ENV, MAX_CLIENT_ENV_BYTES } from '../../src/ssh/session/session-channel.js';
import { missingProgram, requirePrograms } from '../../tools/require-netns.js';
import { startSshHarness, type SshHarness } from '../helpers/ssh-harness.js';

const PROGRAMS = ['ssh-keygen'];
let h: SshHarness;
let conn: ssh2.Client;

before(async () => {
  if (missingProgram(PROGRAMS)) return;
  h = await startSshHarness({
    policy: { acceptEnv: ['*'] },
    attach: (client, ctx) => serveSessions(client, ctx),
  });
  conn = await h.ssh2Client();
});
after(async () => {
  conn?.end();
  await h?.close();
});

/** Runs an exec and collects its output and exit; rejects when the server refuses it. */
function run(command: string, opts: ssh2.ExecOptions = {}): Promise<{ out: string; code: unknown }> {
  return new Promise((resolve, reject) => {
    conn.exec(command, opts, (err, ch: ClientChannel) => {
      if (err) return reject(err);
      let out = '';
      let code: unknown;
      ch.on('data', (d: Buffer) => (out += d.toString()));
      ch.stderr.on('data', (d: Buffer) => (out += d.toString()));
      ch.on('exit', (c: unknown) => (code = c));
      ch.on('close', () => resolve({ out, code }));
    });
  });
}

const stillServes = async (): Promise<void> => assert.deepEqual(await run('echo alive'), { out: 'alive\n', code: 0 });

test('absurd terminal sizes are clamped, not passed to the kernel', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const r = await run('stty size', { pty: { rows: 4_000_000, cols: 0, term: 'xterm' } });
  assert.match(r.out, /^\d+ \d+\r?\n$/);
  const [rows, cols] = r.out.trim().split(' ').map(Number);
  assert.ok(rows! <= 0xffff && cols! > 0, r.out);
  await stillServes();
});

test('NUL bytes in a terminal type, an env name or value, or a command are refused', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  // A refused pty ends the request in ssh2's client (as with OpenSSH's -tt); a refused env is skipped.
  await assert.rejects(run('echo "t=$TERM"', { pty: { term: 'xt\0erm' } }), /pseudo-terminal/);
  const env = await run('echo "l=${LANG-unset}"', { env: { LANG: 'C\0evil' } });
  assert.deepEqual(env, { out: 'l=unset\n', code: 0 });
  await assert.rejects(run('echo a\0b'));
  await stillServes();
});

test('an unknown subsystem is refused, also one named after what every object has', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  for (const name of ['no-such-subsystem', '__proto__', 'constructor', 'toString']) {
    await assert.rejects(new Promise((resolve, reject) => conn.subsys(name, (err, ch) => (err ? reject(err) : resolve(ch)))), name);
  }
  await stillServes();
});

test('a flood of env requests is capped and the session still runs', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  const env: Record<string, string> = {};
  for (let i = 0; i < 3000; i++) env[`V${i}`] = 'x'.repeat(100);
  const r = await run('env | grep -c "^V[0-9]*="', { env });
  assert.equal(r.code, 0);
  assert.equal(Number(r.out.trim()), MAX_CLIENT_ENV, r.out);
  // Big values: the session keeps at most MAX_CLIENT_ENV_BYTES of them.
  const big: Record<string, string> = {};
  for (let i = 0; i < 20; i++) big[`B${i}`] = 'y'.repeat(10_000);
  const b = await run('env | grep -c "^B[0-9]*="', { env: big });
  assert.equal(Number(b.out.trim()), Math.floor(MAX_CLIENT_ENV_BYTES / 10_002), b.out);
  await stillServes();
});

test('input and window-change racing the exit of a pty program do not take the connection down', async (t) => {
  if (!requirePrograms(t, PROGRAMS)) return;
  for (let round = 0; round < 5; round++) {
    await new Promise<void>((resolve, reject) => {
      conn.exec('exit 0', { pty: { term: 'xterm', rows: 24, cols: 80 } }, (err, ch: ClientChannel) => {
        if (err) return reject(err);
        const spam = setInterval(() => {
          ch.setWindow(30 + round, 100, 0, 0);
          ch.write('x');
        }, 1);
        // ssh2's client may not report the close while it is being made to write; the exit is enough.
        ch.on('exit', () => {
          clearInterval(spam);
          resolve();
        });
      });
    });
  }
  await stillServes();
});
