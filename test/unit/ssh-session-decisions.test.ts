/** Table tests: session environment, what a request runs, signal names, forwarding permits. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sessionProgram } from '../../src/ssh/session/command.js';
import { acceptsEnv, ROOT_PATH, sessionEnvironment, USER_PATH } from '../../src/ssh/session/environment.js';
import { exitReport, signalFromSsh } from '../../src/ssh/session/signals.js';
import { listenAddresses, localForwardDecision, permits, remoteForwardDecision } from '../../src/ssh/forward/permits.js';
import { defaultPolicy } from '../helpers/ssh-harness.js';

const alice = { name: 'alice', uid: 1000, gid: 1000, home: '/home/alice', shell: '/bin/bash' };
const root = { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh' };
const peer = { remoteAddress: '10.0.0.2', remotePort: 50000, localAddress: '10.0.0.1', localPort: 22 };

test('AcceptEnv: patterns, bad names and loader variables', () => {
  const rows: [string[], string, boolean][] = [
    [['LANG', 'LC_*'], 'LANG', true],
    [['LANG', 'LC_*'], 'LC_ALL', true],
    [['LANG', 'LC_*'], 'LANGUAGE', false],
    [['*'], 'FOO', true],
    [['*'], 'LD_PRELOAD', false],
    [['*'], 'BAD-NAME', false],
    [['*'], '1X', false],
    [[], 'LANG', false],
  ];
  for (const [patterns, name, want] of rows) assert.equal(acceptsEnv(patterns, name), want, `${patterns.join(' ')} / ${name}`);
});

test('environment: server variables win over the client, key environment= over the server, SSH_* last', () => {
  const ctx = { account: alice, peer, policy: { ...defaultPolicy(), acceptEnv: ['*'], userEnvironment: [{ name: 'EDITOR', value: 'vi' }, { name: 'PATH', value: '/opt/bin' }] }, extraEnv: {} };
  const env = sessionEnvironment(ctx, { clientEnv: [{ name: 'USER', value: 'mallory' }, { name: 'LANG', value: 'C' }, { name: 'SSH_CONNECTION', value: 'x' }], term: 'xterm', originalCommand: 'ls', extra: { SSH_AUTH_SOCK: '/tmp/ssh-x/agent.1' } });
  assert.deepEqual(env, {
    USER: 'alice',
    LOGNAME: 'alice',
    HOME: '/home/alice',
    PATH: '/opt/bin',
    MAIL: '/var/mail/alice',
    SHELL: '/bin/bash',
    LANG: 'C',
    TERM: 'xterm',
    EDITOR: 'vi',
    SSH_CLIENT: '10.0.0.2 50000 22',
    SSH_CONNECTION: '10.0.0.2 50000 10.0.0.1 22',
    SSH_ORIGINAL_COMMAND: 'ls',
    SSH_AUTH_SOCK: '/tmp/ssh-x/agent.1',
  });
  assert.equal(sessionEnvironment({ ...ctx, account: root, policy: defaultPolicy() }, { clientEnv: [] }).PATH, ROOT_PATH);
  assert.equal(sessionEnvironment({ ...ctx, policy: defaultPolicy() }, { clientEnv: [] }).PATH, USER_PATH);
});

test('what runs: shell, exec, subsystem, forced command', () => {
  const subs = { sftp: '/usr/lib/openssh/sftp-server', other: 'internal-sftp -l INFO' };
  const rows: [Parameters<typeof sessionProgram>[2], string | undefined, unknown][] = [
    [{ kind: 'shell' }, undefined, { file: '/bin/bash', args: [], argv0: '-bash', restricted: false }],
    [{ kind: 'exec', command: 'uname -a' }, undefined, { file: '/bin/bash', args: ['-c', 'uname -a'], argv0: 'bash', restricted: false }],
    [{ kind: 'subsystem', name: 'sftp' }, undefined, { file: '/bin/bash', args: ['-c', '/usr/lib/openssh/sftp-server'], argv0: 'bash', restricted: true }],
    [{ kind: 'subsystem', name: 'other' }, undefined, { file: '/bin/bash', args: ['-c', '/usr/lib/openssh/sftp-server -l INFO'], argv0: 'bash', restricted: true }],
    [{ kind: 'subsystem', name: 'nope' }, undefined, { refused: 'subsystem request for nope failed, subsystem not found' }],
    [{ kind: 'exec', command: 'rm -rf /' }, 'backup', { file: '/bin/bash', args: ['-c', 'backup'], argv0: 'bash', originalCommand: 'rm -rf /', restricted: true }],
    [{ kind: 'shell' }, 'backup', { file: '/bin/bash', args: ['-c', 'backup'], argv0: 'bash', restricted: true }],
    [{ kind: 'subsystem', name: 'sftp' }, 'backup', { file: '/bin/bash', args: ['-c', 'backup'], argv0: 'bash', originalCommand: '/usr/lib/openssh/sftp-server', restricted: true }],
  ];
  for (const [req, forced, want] of rows) {
    assert.deepEqual(sessionProgram(alice, { subsystems: subs, ...(forced ? { forcedCommand: forced } : {}) }, req), want, JSON.stringify([req, forced]));
  }
  assert.deepEqual(sessionProgram({ ...alice, shell: '' }, { subsystems: {} }, { kind: 'shell' }), { file: '/bin/sh', args: [], argv0: '-sh', restricted: false });
});

test('signals: RFC 4254 names in, exit-signal or 128+n out', () => {
  assert.equal(signalFromSsh('INT'), 'SIGINT');
  assert.equal(signalFromSsh('SIGTERM'), 'SIGTERM');
  assert.equal(signalFromSsh('WINCH'), undefined);
  assert.equal(signalFromSsh('STOP'), undefined);
  assert.deepEqual(exitReport(0, null), { status: 0 });
  assert.deepEqual(exitReport(3, null), { status: 3 });
  assert.deepEqual(exitReport(null, 'SIGTERM'), { signal: 'TERM' });
  assert.deepEqual(exitReport(null, 15), { signal: 'TERM' });
  assert.deepEqual(exitReport(null, 'SIGWINCH'), { status: 128 + 28 });
  assert.deepEqual(exitReport(null, null), { status: 255 });
});

test('forwarding permits: AllowTcpForwarding, PermitOpen, PermitListen, privileged ports, GatewayPorts', () => {
  const spec = (host: string, port: number | '*') => ({ raw: `${host}:${port}`, host, port });
  assert.equal(permits('any', 'x', 1), true);
  assert.equal(permits('none', 'x', 1), false);
  assert.equal(permits([spec('LocalHost', 80)], 'localhost', 80), true);
  assert.equal(permits([spec('localhost', 80)], '127.0.0.1', 80), false, 'names are compared as written, like sshd');
  assert.equal(permits([spec('*', 443)], 'example.org', 443), true);
  assert.equal(permits([spec('db', '*')], 'db', 5432), true);

  const p = (over: Partial<ReturnType<typeof defaultPolicy>>) => ({ ...defaultPolicy(), ...over });
  assert.deepEqual(localForwardDecision(p({}), 'localhost', 80), { ok: true });
  assert.equal(localForwardDecision(p({ tcpForwarding: 'remote' }), 'localhost', 80).ok, false);
  assert.equal(localForwardDecision(p({ tcpForwarding: 'no' }), 'localhost', 80).ok, false);
  assert.equal(localForwardDecision(p({ permitOpen: [spec('localhost', 80)] }), 'localhost', 81).ok, false);
  assert.equal(localForwardDecision(p({}), 'localhost', 0).ok, false);

  assert.deepEqual(remoteForwardDecision(p({}), 1000, 'localhost', 8080), { ok: true });
  assert.deepEqual(remoteForwardDecision(p({}), 1000, 'localhost', 0), { ok: true });
  assert.equal(remoteForwardDecision(p({}), 1000, 'localhost', 80).ok, false);
  assert.equal(remoteForwardDecision(p({}), 0, 'localhost', 80).ok, true);
  assert.equal(remoteForwardDecision(p({ tcpForwarding: 'local' }), 0, 'localhost', 8080).ok, false);
  // "" is every address under GatewayPorts clientspecified: a localhost-only permit does not cover it (sshd neither).
  assert.equal(remoteForwardDecision(p({ permitListen: [spec('localhost', 8080)] }), 1000, '', 8080).ok, false);
  assert.equal(remoteForwardDecision(p({ permitListen: [spec('*', 8080)] }), 1000, '', 8080).ok, true);
  assert.equal(remoteForwardDecision(p({ permitListen: [spec('localhost', 8080)] }), 1000, '0.0.0.0', 8080).ok, false);

  assert.deepEqual(listenAddresses('no', '0.0.0.0'), ['127.0.0.1', '::1']);
  assert.deepEqual(listenAddresses('yes', 'localhost'), ['::', '0.0.0.0']);
  assert.deepEqual(listenAddresses('clientspecified', ''), ['::', '0.0.0.0']);
  assert.deepEqual(listenAddresses('clientspecified', '*'), ['::', '0.0.0.0']);
  assert.deepEqual(listenAddresses('clientspecified', 'LOCALHOST'), ['127.0.0.1', '::1']);
  assert.deepEqual(listenAddresses('clientspecified', '10.1.2.3'), ['10.1.2.3']);
});
