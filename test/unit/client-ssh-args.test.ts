import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveProxyFromConfig, offerCommandFor, parseSshArgs, planSsh, proxyCommandFor, serverAliveOptions, shellWord, splitOption, targetFromConfig } from '../../src/ssh/client/ssh-args.js';

const PC = 'mpssh-proxy %h %p --fdpass';
const MP = ['-o', `ProxyCommand=${PC}`, '-o', 'ProxyUseFdpass=yes'];

const rows: [string, string[], string[] | null, RegExp?][] = [
  // [name, user argv, ssh argv (null: plain ssh with UseMPTCP removed, see regexp for the reason)]
  ['plain destination', ['host'], [...MP, 'host']],
  ['options, destination, command', ['-p', '2222', '-l', 'bob', 'host', 'ls', '-la'], [...MP, '-p', '2222', '-l', 'bob', 'host', 'ls', '-la']],
  ['UseMPTCP=no is removed and gives plain ssh', ['-o', 'UseMPTCP=no', 'host'], null, /UseMPTCP=no/],
  ['UseMPTCP attached and case-insensitive', ['-ousemptcp=No', 'host'], null, /UseMPTCP=no/],
  ['UseMPTCP with a space', ['-o', 'UseMPTCP no', 'host'], null],
  ['UseMPTCP=yes is removed and MPTCP used', ['-o', 'UseMPTCP=yes', 'host'], [...MP, 'host']],
  ['first UseMPTCP wins, as in ssh', ['-o', 'UseMPTCP=yes', '-o', 'UseMPTCP=no', 'host'], [...MP, 'host']],
  ['UseMPTCP after the destination is an option too', ['host', '-o', 'UseMPTCP=no'], null],
  ['the remote command is never touched', ['host', 'echo', '-o', 'UseMPTCP=no'], [...MP, 'host', 'echo', '-o', 'UseMPTCP=no']],
  // ssh restarts getopt after the destination, even after "--" (ssh.c).
  ['-- ends the options before the destination only', ['--', 'host', '-o', 'UseMPTCP=no'], null],
  ['-- then a command', ['--', 'host', 'echo', '-o'], [...MP, '--', 'host', 'echo', '-o']],
  ['bundled flags with a value', ['-vvp2222', 'host'], [...MP, '-vvp2222', 'host']],
  ['user ProxyCommand: mpssh stays out', ['-o', 'ProxyCommand=nc %h %p', 'host'], null, /ProxyCommand/],
  ['user ProxyJump via -J', ['-J', 'bastion', 'host'], null, /-J/],
  ['ProxyCommand=none does not count', ['-o', 'ProxyCommand=none', 'host'], [...MP, '-o', 'ProxyCommand=none', 'host']],
  ['value of -o that looks like an option', ['-o', '-x=1', 'host'], [...MP, '-o', '-x=1', 'host']],
];

for (const [name, argv, want, reason] of rows) {
  test(`planSsh: ${name}`, () => {
    const plan = planSsh(argv, PC);
    if (want === null) {
      assert.equal(plan.useMptcp, false);
      assert.ok(!plan.argv.some((a) => /usemptcp/i.test(a) && !argv.slice(parseSshArgs(argv).command).includes(a)), plan.argv.join(' '));
      if (reason) assert.match(plan.reason ?? '', reason);
      assert.deepEqual(plan.userArgs, plan.argv);
    } else {
      assert.equal(plan.useMptcp, true);
      assert.deepEqual(plan.argv, want);
      assert.deepEqual(plan.userArgs, want.slice(4), 'the user\'s arguments are the plan without the proxy options');
    }
  });
}

test('a proxy from the ssh configuration keeps mpssh out', () => {
  const plan = planSsh(['host'], PC, 'ProxyJump bastion');
  assert.equal(plan.useMptcp, false);
  assert.deepEqual(plan.argv, ['host']);
  assert.equal(effectiveProxyFromConfig('user root\nproxyjump bastion.example\nport 22\n'), 'ProxyJump bastion.example');
  assert.equal(effectiveProxyFromConfig('proxycommand none\nport 22\n'), null);
  assert.equal(effectiveProxyFromConfig('port 22\n'), null);
});

test('parseSshArgs finds destination and command', () => {
  assert.deepEqual(parseSshArgs(['-4', '-i', 'k', 'h', 'cmd']).destination, 3);
  assert.deepEqual(parseSshArgs(['-4', '-i', 'k', 'h', 'cmd']).command, 4);
  assert.equal(parseSshArgs(['-V']).destination, -1);
  assert.deepEqual(splitOption('Key = Value'), { key: 'key', value: 'Value' });
});

test('ProxyCommand quoting survives spaces, quotes and % in paths', () => {
  assert.equal(shellWord('/usr/bin/node'), '/usr/bin/node');
  assert.equal(shellWord('/opt/my apps/node'), `'/opt/my apps/node'`);
  assert.equal(shellWord(`/o'dd/x`), `'/o'\\''dd/x'`);
  assert.equal(shellWord('/a%b/x'), '/a%%b/x');
  assert.equal(proxyCommandFor('/usr/bin/node', '/usr/lib/mpssh/bin/mpssh.js'), '/usr/bin/node /usr/lib/mpssh/bin/mpssh.js proxy %h %p --fdpass');
});

test('ssh -G output gives the target; the offer ProxyCommand quotes its socket path', () => {
  assert.deepEqual(targetFromConfig('user root\nhostname 10.1.1.2\nport 2222\n'), { host: '10.1.1.2', port: 2222 });
  assert.equal(targetFromConfig('user root\n'), null);
  assert.equal(offerCommandFor('/usr/bin/node', '/x/mpssh.js', '/tmp/mpssh-ab c/conn'), `/usr/bin/node /x/mpssh.js proxy --from '/tmp/mpssh-ab c/conn'`);
});

test('ServerAlive is added only where the user set no ServerAliveInterval; a chosen count stays', () => {
  const g = (interval: number, count: number) => `user root\nserveralivecountmax ${count}\nserveraliveinterval ${interval}\nport 22\n`;
  const table: [string, string[]][] = [
    [g(0, 3), ['-o', 'ServerAliveInterval=60', '-o', 'ServerAliveCountMax=60']],
    [g(0, 10), ['-o', 'ServerAliveInterval=60']],
    [g(30, 3), []],
    [g(15, 4), []],
    ['', []],
  ];
  for (const [sshG, want] of table) assert.deepEqual(serverAliveOptions(sshG), want, sshG);
});
