import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/loader.js';
import { defaultKeyOptions, parseKeyOptions, type KeyOptions } from '../../src/ssh/auth/key-options.js';
import { chooseAlgorithms, hostKeyOrder } from '../../src/ssh/server/algorithms.js';
import { acceptedPubkeyAlgorithms, applyModifiers, DEFAULT_ALGORITHMS } from '../../src/config/ssh-algorithms.js';
import { ACCEPTED_SIGNATURE_ALGORITHMS, expandKeysFile } from '../../src/ssh/server/authenticator.js';
import { signatureAlgorithm } from '../../src/ssh/server/worker-auth.js';
import { checkClientIdent } from '../../src/ssh/server/ident.js';
import { listenTargets } from '../../src/config/listen-targets.js';
import { channelPolicy, configPermits, intersectPermits, mergeKeySteps } from '../../src/ssh/server/channel-policy.js';

const ssh = (yaml = '', overrides: string[] = []) => parseConfig(yaml === '' ? null : `ssh:\n${yaml}`, yaml === '' ? null : 'test.yaml', overrides).config.ssh;
const keyOpts = (text: string): KeyOptions => {
  const r = parseKeyOptions(text);
  if (!r.ok) throw new Error(r.reason);
  return r.options;
};

test('ssh config: sshd_config spellings and defaults', () => {
  const d = ssh();
  assert.equal(d.UseMPTCP, true);
  assert.deepEqual(d.Port, [22]);
  assert.equal(d.PermitRootLogin, 'prohibit-password');
  assert.equal(d.LoginGraceTime, 120);
  assert.deepEqual(d.MaxStartups, { begin: 10, rate: 30, full: 100 });
  assert.equal(d.ClientAliveInterval, 60);
  assert.equal(d.ClientAliveCountMax, 60);
  assert.deepEqual(d.AuthorizedKeysFile, ['.ssh/authorized_keys', '.ssh/authorized_keys2']);
  const rows: [string, string[], Partial<Record<string, unknown>>][] = [
    ['  UseMPTCP: no\n', [], { UseMPTCP: false }],
    ['', ['UseMPTCP=no'], { UseMPTCP: false }],
    ['', ['usemptcp=yes'], { UseMPTCP: true }],
    ['  Port: [22, 2222]\n', [], { Port: [22, 2222] }],
    ['  LoginGraceTime: 1m30s\n', [], { LoginGraceTime: 90 }],
    ['  MaxStartups: 5\n', [], { MaxStartups: { begin: 5, rate: 30, full: 5 } }],
    ['  PermitRootLogin: without-password\n', [], { PermitRootLogin: 'prohibit-password' }],
    ['  AllowTcpForwarding: yes\n', [], { AllowTcpForwarding: 'all' }],
    ['  AllowTcpForwarding: local\n', [], { AllowTcpForwarding: 'local' }],
    ['  AcceptEnv: LANG LC_* TZ\n', [], { AcceptEnv: ['LANG', 'LC_*', 'TZ'] }],
    ['  ClientAliveInterval: 0\n', [], { ClientAliveInterval: 0 }],
  ];
  for (const [yaml, o, want] of rows) {
    const got = ssh(yaml, o) as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k], v, `${yaml}${o.join(' ')} → ${k}`);
  }
});

test('ssh config: mistakes say where and what', () => {
  const rows: [string, RegExp][] = [
    ['  UseMPTCP: maybe\n', /test\.yaml:2:13: ssh\.UseMPTCP: expected yes or no, got "maybe"/],
    ['  LoginGraceTime: soon\n', /ssh\.LoginGraceTime: invalid time "soon"/],
    // Beyond Node's 24.8-day timers: every login dropped at once, a keepalive every millisecond.
    ['  AllowUsers: alice@10.0.0.0/99\n', /ssh\.AllowUsers: invalid AllowUsers pattern: "alice@10\.0\.0\.0\/99"/],
    ['  DenyUsers: "bob@10.0.0.0/33"\n', /ssh\.DenyUsers: invalid DenyUsers pattern/],
    ['  LoginGraceTime: 30d\n', /ssh\.LoginGraceTime: time "30d" is longer than the 24 days/],
    ['  ClientAliveInterval: 30d\n', /ssh\.ClientAliveInterval: time "30d" is longer than the 24 days/],
    ['  ClientAliveInterval: 2592000\n', /ssh\.ClientAliveInterval: time "2592000" is longer/],
    ['  MaxStartups: 10:200:5\n', /ssh\.MaxStartups: expected start:rate:full/],
    ['  UsePAM: no\n  PasswordAuthentication: yes\n', /PasswordAuthentication needs UsePAM: yes/],
    ['  AuthenticationMethods: publickey,hostbased\n', /unknown authentication method "hostbased"/],
    ['  PermitRootLogin: sometimes\n', /ssh\.PermitRootLogin: expected yes, prohibit-password/],
    ['  Banner: /etc/issue\n', /unknown key "Banner"/],
  ];
  for (const [yaml, re] of rows) assert.throws(() => ssh(yaml), re, yaml);
});

test('listen targets from ListenAddress and Port', () => {
  const rows: [string[], number[], string[] | RegExp][] = [
    [[], [22], ['*:22']],
    [[], [22, 2222], ['*:22', '*:2222']],
    [['10.0.0.1'], [22, 2222], ['10.0.0.1:22', '10.0.0.1:2222']],
    [['10.0.0.1:2022', '::1'], [22], ['10.0.0.1:2022', '[::1]:22']],
    [['[fe80::1]:22'], [2222], ['[fe80::1]:22']],
    [['host.example'], [22], /expected a numeric address/],
    [['10.0.0.1:0'], [22], /bad port/],
  ];
  for (const [addrs, ports, want] of rows) {
    const r = listenTargets(addrs, ports);
    if (want instanceof RegExp) {
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error, want);
    } else {
      assert.ok(r.ok);
      if (r.ok) assert.deepEqual(r.targets.map((t) => t.label), want);
    }
  }
  const v6 = listenTargets(['::', '0.0.0.0'], [22]);
  assert.ok(v6.ok && v6.targets[0]?.ipv6Only === true && v6.targets[1]?.ipv6Only === false, 'IPv6 sockets are V6ONLY beside IPv4 ones');
});

test('client identification: SSH clients pass, probes are turned away early', () => {
  const rows: [string, string][] = [
    ['SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n', 'ok'],
    ['SSH-2.0-Go\n', 'ok'],
    ['SSH-1.99-old\r\n', 'ok'],
    ['SSH-2.0-Open', 'need-more'],
    ['SS', 'need-more'],
    ['GET / HTTP/1.0\r\n', 'bad'],
    ['\x16\x03\x01\x02\x00', 'bad'],
    ['SSH-1.5-ancient\r\n', 'bad'],
    [`SSH-2.0-${'x'.repeat(300)}`, 'bad'],
  ];
  for (const [text, state] of rows) assert.equal(checkClientIdent(Buffer.from(text, 'latin1')).state, state, JSON.stringify(text.slice(0, 30)));
});

test('AuthorizedKeysFile tokens and relative paths', () => {
  const u = { name: 'alice', uid: 1001, home: '/home/alice' };
  assert.equal(expandKeysFile('.ssh/authorized_keys', u), '/home/alice/.ssh/authorized_keys');
  assert.equal(expandKeysFile('/etc/ssh/keys/%u', u), '/etc/ssh/keys/alice');
  assert.equal(expandKeysFile('%h/.ssh/k_%U_%%', u), '/home/alice/.ssh/k_1001_%');
});

test('algorithm lists: modern defaults, sshd modifiers, unsupported names reported', () => {
  const all = { kex: [...DEFAULT_ALGORITHMS.kex], cipher: [...DEFAULT_ALGORITHMS.cipher], hmac: [...DEFAULT_ALGORITHMS.hmac], serverHostKey: [...DEFAULT_ALGORITHMS.serverHostKey] };
  const d = chooseAlgorithms({}, all);
  assert.equal(d.algorithms.cipher[0], 'chacha20-poly1305@openssh.com');
  assert.deepEqual(d.algorithms.hmac, ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha2-512'], "sshd's MACs: ETM first, no SHA-1");
  assert.ok(!d.algorithms.kex.some((k) => k.includes('nistp') || k.includes('sha1')), 'no NIST-curve ECDH, no SHA-1 key exchange');
  assert.deepEqual(hostKeyOrder(['ssh-rsa', 'ecdsa-sha2-nistp256', 'ssh-ed25519'], d.algorithms.serverHostKey), [2, 1, 0], 'keys served in HostKeyAlgorithms order');
  assert.deepEqual(hostKeyOrder(['ssh-rsa', 'ssh-ed25519'], ['rsa-sha2-256']), [0], 'keys whose algorithms are not offered are not served');
  assert.ok(!d.algorithms.serverHostKey.includes('ssh-rsa'), 'no SHA-1 signatures');
  assert.deepEqual(applyModifiers(['a', 'b', 'c'], ['-b']), ['a', 'c']);
  assert.deepEqual(applyModifiers(['a', 'b', 'c'], ['-aes*']), ['a', 'b', 'c']);
  assert.deepEqual(applyModifiers(['aes1', 'b'], ['-aes*']), ['b']);
  assert.deepEqual(applyModifiers(['a', 'b'], ['^b']), ['b', 'a']);
  assert.deepEqual(applyModifiers(['a'], ['+z', 'y']), ['a', 'z', 'y']);
  assert.deepEqual(applyModifiers(['a'], ['z']), ['z']);
  const bad = chooseAlgorithms({ Ciphers: ['aes128-cbc', 'aes256-gcm@openssh.com'] }, all);
  assert.deepEqual(bad.algorithms.cipher, ['aes256-gcm@openssh.com']);
  assert.match(bad.problems[0] ?? '', /Ciphers: not supported, ignored: aes128-cbc/);
  const none = chooseAlgorithms({ MACs: ['hmac-md5'] }, all);
  assert.deepEqual(none.algorithms.hmac, [...DEFAULT_ALGORITHMS.hmac]);
});

test('channel policy: sshd_config narrowed by the key line', () => {
  const cfg = ssh();
  const plain = channelPolicy(cfg, defaultKeyOptions());
  assert.equal(plain.pty, true);
  assert.equal(plain.tcpForwarding, 'all');
  assert.equal(plain.agentForwarding, true);
  assert.equal(plain.permitOpen, 'any');
  assert.equal(plain.forcedCommand, undefined);
  const restricted = channelPolicy(cfg, keyOpts('restrict,command="uptime"'));
  assert.equal(restricted.pty, false);
  assert.equal(restricted.tcpForwarding, 'no');
  assert.equal(restricted.agentForwarding, false);
  assert.equal(restricted.forcedCommand, 'uptime');
  const env = channelPolicy(ssh('  PermitUserEnvironment: "LANG"\n'), keyOpts('environment="LANG=C",environment="EVIL=1"'));
  assert.deepEqual(env.userEnvironment, [{ name: 'LANG', value: 'C' }]);
  assert.deepEqual(channelPolicy(cfg, keyOpts('environment="LANG=C"')).userEnvironment, [], 'PermitUserEnvironment no drops them');
  assert.equal(channelPolicy(ssh('  AllowAgentForwarding: no\n'), defaultKeyOptions()).agentForwarding, false);
});

test('PermitOpen and permitopen= are both checked: one list that allows what both allow', () => {
  const spec = (raw: string) => keyOpts(`permitopen="${raw}"`).permitOpen;
  assert.equal(configPermits(['any'], false), 'any');
  assert.equal(configPermits(['none'], false), 'none');
  assert.deepEqual(intersectPermits('any', []), 'any');
  assert.deepEqual((intersectPermits('any', spec('db:5432')) as { raw: string }[]).map((p) => p.raw), ['db:5432']);
  assert.equal(intersectPermits('none', spec('db:5432')), 'none');
  const cfgList = configPermits(['db:*', 'cache:6379'], false);
  assert.deepEqual((intersectPermits(cfgList, spec('db:5432')) as { raw: string }[]).map((p) => p.raw), ['db:5432']);
  assert.equal(intersectPermits(cfgList, spec('web:80')), 'none');
  assert.equal(intersectPermits(configPermits(['db:5432'], false), spec('db:*')), 'none', 'a key wildcard is wider than the config');
});

test('user signature algorithms: SHA-2 RSA, ECDSA and ed25519 accepted; SHA-1 ssh-rsa and DSA refused', () => {
  const rows: [string, string | undefined, string, boolean][] = [
    ['ssh-ed25519', undefined, 'ssh-ed25519', true],
    ['ecdsa-sha2-nistp256', undefined, 'ecdsa-sha2-nistp256', true],
    ['ssh-rsa', 'sha512', 'rsa-sha2-512', true],
    ['ssh-rsa', 'sha256', 'rsa-sha2-256', true],
    ['ssh-rsa', undefined, 'ssh-rsa', false],
    ['ssh-rsa', 'sha1', 'ssh-rsa', false],
    ['ssh-dss', undefined, 'ssh-dss', false],
    // Certificates: sshd 9.x accepts them by default, SHA-1 RSA ones excepted.
    ['ssh-ed25519-cert-v01@openssh.com', undefined, 'ssh-ed25519-cert-v01@openssh.com', true],
    ['rsa-sha2-512-cert-v01@openssh.com', undefined, 'rsa-sha2-512-cert-v01@openssh.com', true],
    ['ssh-rsa-cert-v01@openssh.com', undefined, 'ssh-rsa-cert-v01@openssh.com', false],
  ];
  for (const [algo, hashAlgo, name, ok] of rows) {
    const got = signatureAlgorithm({ key: { algo }, hashAlgo });
    assert.equal(got, name, `${algo}/${hashAlgo}`);
    assert.equal(ACCEPTED_SIGNATURE_ALGORITHMS.has(got), ok, name);
  }
});

test('PubkeyAcceptedAlgorithms: sshd default without SHA-1 or DSA, with + - ^ forms, and unknown names refused', () => {
  const d = acceptedPubkeyAlgorithms(undefined);
  assert.ok(d.has('ssh-ed25519') && d.has('rsa-sha2-512') && !d.has('ssh-rsa') && !d.has('ssh-dss'));
  assert.ok(acceptedPubkeyAlgorithms(['+ssh-rsa']).has('ssh-rsa'), 'a host that must take SHA-1 RSA can say so');
  assert.deepEqual([...acceptedPubkeyAlgorithms(['-rsa-sha2-*', 'ecdsa*', 'sk-*'])], ['ssh-ed25519-cert-v01@openssh.com', 'ssh-ed25519']);
  assert.deepEqual([...acceptedPubkeyAlgorithms(['-*-cert-v01@openssh.com', 'rsa-sha2-*', 'ecdsa*', 'sk-*'])], ['ssh-ed25519']);
  assert.throws(() => ssh('  PubkeyAcceptedAlgorithms: ssh-ed448\n'), /ssh\.PubkeyAcceptedAlgorithms: unknown name: ssh-ed448/);
});

test('mergeKeySteps: two keys of one login keep every restriction either carries, as sshd merges them', () => {
  const merge = (a: string, b: string) => mergeKeySteps(keyOpts(a), keyOpts(b));
  const ok = (a: string, b: string) => {
    const m = merge(a, b);
    assert.ok(m.ok, `${a} + ${b}`);
    return m.options;
  };
  assert.deepEqual(ok('', ''), defaultKeyOptions());
  for (const [a, b] of [['no-pty', ''], ['', 'no-pty']] as const) assert.equal(ok(a, b).permitPty, false);
  assert.deepEqual([ok('restrict,pty', 'no-agent-forwarding').permitPty, ok('restrict,pty', 'no-agent-forwarding').permitAgentForwarding], [true, false]);
  assert.equal(ok('command="a"', '').command, 'a');
  assert.equal(ok('', 'command="a"').command, 'a');
  assert.deepEqual(merge('command="a"', 'command="b"'), { ok: false, reason: 'forced command options do not match' });
  assert.equal(ok('expiry-time="20300101"', 'expiry-time="20290101"').expiresAt, keyOpts('expiry-time="20290101"').expiresAt);
  assert.deepEqual(ok('environment="A=1"', 'environment="A=2",environment="B=3"').environment, [{ name: 'A', value: '1' }, { name: 'B', value: '3' }]);
  assert.deepEqual(ok('permitopen="h:1",permitopen="h:2"', 'permitopen="h:2"').permitOpen.map((p) => p.raw), ['h:2']);
  assert.deepEqual(ok('', 'permitopen="h:2"').permitOpen.map((p) => p.raw), ['h:2']);
  // Lists with nothing in common permit nothing: no port forwarding at all.
  assert.equal(ok('permitopen="h:1"', 'permitopen="h:2"').permitPortForwarding, false);
  assert.equal(merge('tunnel="1"', 'tunnel="2"').ok, false);
});
