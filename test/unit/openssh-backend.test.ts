import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseSshdT, sshdArgv, sshdComplaint } from '../../src/ssh/openssh/sshd-command.js';
import { expandGlob, globComponent, includeArgs, snapshotSshdConfig, splitArgs } from '../../src/ssh/openssh/sshd-config-snapshot.js';
import { loggedInUser, parseSshdTitle, type SshdTitle } from '../../src/ssh/openssh/sshd-title.js';
import { parseConfig } from '../../src/config/loader.js';

const pad = (s: string): string => s + '\0'.repeat(40);

test('sshd monitor titles', () => {
  const cases: [string, SshdTitle][] = [
    [pad('sshd: [accepted]'), { kind: 'accepted' }],
    [pad('sshd: alice [priv]'), { kind: 'priv', user: 'alice' }],
    [pad('sshd: unknown [priv]'), { kind: 'accepted' }],
    [pad('sshd-session: alice [priv]'), { kind: 'priv', user: 'alice' }],
    [pad('sshd: root'), { kind: 'session', user: 'root' }],
    [pad('sshd: root@pts/3'), { kind: 'session', user: 'root' }],
    [pad('sshd: root@notty'), { kind: 'session', user: 'root' }],
    [pad('sshd: [net]'), { kind: 'other' }],
    ['/usr/sbin/sshd\0-i\0-f\0/x\0', { kind: 'other' }],
    ['', { kind: 'other' }],
    [pad('bash: alice [priv]'), { kind: 'other' }],
  ];
  for (const [title, want] of cases) assert.deepEqual(parseSshdTitle(title), want, JSON.stringify(title.replace(/\0+$/, '')));
});

test('logged in: a root session in the monitor, or a child with the named user\'s uid — never the title alone', () => {
  const uids: Record<string, number> = { alice: 1001, root: 0, sshd: 105 };
  const uidOf = (u: string): number | undefined => uids[u];
  const cases: [SshdTitle, number[], string | undefined][] = [
    [{ kind: 'priv', user: 'alice' }, [105], undefined], // only the pre-auth child (uid sshd)
    [{ kind: 'priv', user: 'alice' }, [], undefined],
    [{ kind: 'priv', user: 'alice' }, [0], undefined], // a PAM helper runs as root
    [{ kind: 'priv', user: 'alice' }, [1001], 'alice'],
    [{ kind: 'priv', user: 'nobody-known' }, [1001], undefined],
    [{ kind: 'priv', user: 'root' }, [0], undefined],
    [{ kind: 'session', user: 'root' }, [], 'root'],
    [{ kind: 'accepted' }, [1001], undefined],
  ];
  for (const [title, children, want] of cases) assert.equal(loggedInUser(title, children, uidOf), want, `${JSON.stringify(title)} ${JSON.stringify(children)}`);
  // Before a login the client's chosen name is never looked up: only sshd's own user is.
  const asked: string[] = [];
  const spy = (u: string): number | undefined => (asked.push(u), uids[u]);
  assert.equal(loggedInUser({ kind: 'priv', user: 'alice' }, [105], spy), undefined);
  assert.equal(loggedInUser({ kind: 'priv', user: 'alice' }, [], spy), undefined);
  assert.deepEqual([...new Set(asked)], ['sshd']);
});

test('the sshd command line: the checked copy, the administrator\'s options, keepalives only when sshd has none', () => {
  const s = { Path: '/usr/sbin/sshd', Config: '/etc/ssh/sshd_config', Options: ['LogLevel=VERBOSE'] };
  const alive = { interval: 60, countMax: 60 };
  assert.deepEqual(sshdArgv(s, '/run/copy', { clientAliveInterval: 0, clientAliveCountMax: 3 }, alive), ['/usr/sbin/sshd', '-i', '-f', '/run/copy', '-o', 'LogLevel=VERBOSE', '-o', 'ClientAliveInterval=60', '-o', 'ClientAliveCountMax=60']);
  assert.deepEqual(sshdArgv(s, '/run/copy', { clientAliveInterval: 15, clientAliveCountMax: 3 }, alive), ['/usr/sbin/sshd', '-i', '-f', '/run/copy', '-o', 'LogLevel=VERBOSE']);
  assert.deepEqual(sshdArgv({ ...s, Options: ['ClientAliveInterval 30'] }, '/c', undefined, alive), ['/usr/sbin/sshd', '-i', '-f', '/c', '-o', 'ClientAliveInterval 30']);
  assert.deepEqual(sshdArgv({ ...s, Options: ['clientalivecountmax=5'] }, '/c', undefined, alive), ['/usr/sbin/sshd', '-i', '-f', '/c', '-o', 'clientalivecountmax=5', '-o', 'ClientAliveInterval=60']);
  assert.deepEqual(sshdArgv({ ...s, Options: [] }, '/c', undefined, { interval: 0, countMax: 60 }), ['/usr/sbin/sshd', '-i', '-f', '/c']);
  assert.deepEqual(parseSshdT('port 22\nclientaliveinterval 45\nclientalivecountmax 7\n'), { clientAliveInterval: 45, clientAliveCountMax: 7 });
  assert.deepEqual(parseSshdT(''), { clientAliveInterval: 0, clientAliveCountMax: 0 });
  assert.equal(sshdComplaint('\n/etc/ssh/sshd_config: line 3: Bad configuration option: Nope\n/etc/ssh/sshd_config: terminating, 1 bad configuration options\n', 255), '/etc/ssh/sshd_config: line 3: Bad configuration option: Nope; /etc/ssh/sshd_config: terminating, 1 bad configuration options');
  assert.equal(sshdComplaint('', 'SIGKILL'), 'exited with SIGKILL');
});

test('Include lines as sshd reads them', () => {
  const cases: [string, string[] | null][] = [
    ['Include /etc/ssh/sshd_config.d/*.conf', ['/etc/ssh/sshd_config.d/*.conf']],
    ['  include=a.conf b.conf', ['a.conf', 'b.conf']],
    ['INCLUDE "/path with space/x.conf" # comment', ['/path with space/x.conf']],
    ['IncludeX foo', null],
    ['# Include /etc/passwd', null],
    ['Port 22', null],
  ];
  for (const [line, want] of cases) assert.deepEqual(includeArgs(line), want, line);
  assert.deepEqual(splitArgs('a "b c" d'), ['a', 'b c', 'd']);
  const cases2: [string, string, boolean][] = [
    ['*.conf', 'x.conf', true],
    ['*.conf', '.hidden.conf', false],
    ['*.conf', 'x.conf~', false],
    ['1?-*.conf', '10-a.conf', true],
    ['[0-4]*', '3x', true],
    ['[!0-4]*', '3x', false],
    ['a.b', 'axb', false],
  ];
  for (const [pattern, name, want] of cases2) assert.equal(globComponent(pattern).test(name), want, `${pattern} ~ ${name}`);
});

test('a copy of sshd_config follows its Includes (globs in order, relative to /etc/ssh) and rewrites them to the copies', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-snap-'));
  try {
    fs.mkdirSync(path.join(root, 'etc', 'd'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc', 'd', '20-b.conf'), 'PermitRootLogin no\n');
    fs.writeFileSync(path.join(root, 'etc', 'd', '10-a.conf'), `Include ${root}/etc/nested.conf\n`);
    fs.writeFileSync(path.join(root, 'etc', 'd', 'skip.txt'), 'Port 1\n');
    fs.writeFileSync(path.join(root, 'etc', 'nested.conf'), 'X11Forwarding no\n');
    fs.writeFileSync(path.join(root, 'etc', 'sshd_config'), `Include ${root}/etc/d/*.conf\nInclude ${root}/etc/none/*.conf\nUsePAM yes\n`);
    const out = path.join(root, 'copy');
    const snap = snapshotSshdConfig(path.join(root, 'etc', 'sshd_config'), out);
    assert.deepEqual(snap.sources, [`${root}/etc/sshd_config`, `${root}/etc/d/10-a.conf`, `${root}/etc/nested.conf`, `${root}/etc/d/20-b.conf`]);
    const main = fs.readFileSync(snap.main, 'utf8').split('\n');
    assert.equal(main[0], `Include "${out}/1-10-a.conf" "${out}/3-20-b.conf"`);
    assert.match(main[1]!, /^# Include .* \(matched no file when copied\)$/);
    assert.equal(main[2], 'UsePAM yes');
    assert.equal(fs.readFileSync(`${out}/1-10-a.conf`, 'utf8'), `Include "${out}/2-nested.conf"\n`);
    assert.equal(fs.statSync(snap.main).mode & 0o777, 0o600);
    assert.deepEqual(expandGlob(`${root}/etc/d/*.conf`), [`${root}/etc/d/10-a.conf`, `${root}/etc/d/20-b.conf`]);
    // A loop of Includes ends with an error that names the file, as sshd's depth limit does.
    fs.writeFileSync(path.join(root, 'etc', 'loop.conf'), `Include ${root}/etc/loop.conf\n`);
    assert.throws(() => snapshotSshdConfig(path.join(root, 'etc', 'loop.conf'), path.join(root, 'copy2')), /loop\.conf: Include nested more than 16 levels deep/);
    assert.throws(() => snapshotSshdConfig(path.join(root, 'etc', 'missing'), path.join(root, 'copy3')), /ENOENT/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('ssh.Server and ssh.OpenSSH in the configuration', () => {
  const c = parseConfig('ssh:\n  Server: OpenSSH\n  OpenSSH: {Config: /etc/ssh/alt_config, Options: ["LogLevel=VERBOSE", "MaxAuthTries 3"]}\n', 'x.yaml').config.ssh;
  assert.equal(c.Server, 'openssh');
  assert.deepEqual(c.OpenSSH, { Path: '/usr/sbin/sshd', Config: '/etc/ssh/alt_config', Options: ['LogLevel=VERBOSE', 'MaxAuthTries 3'] });
  assert.equal(parseConfig(null, null).config.ssh.Server, 'builtin');
  assert.throws(() => parseConfig('ssh:\n  Server: dropbear\n', 'x.yaml'), /ssh\.Server.*expected builtin or openssh, got "dropbear"/s);
  assert.throws(() => parseConfig('ssh:\n  OpenSSH: {Path: sshd}\n', 'x.yaml'), /ssh\.OpenSSH\.Path.*absolute path/s);
  assert.throws(() => parseConfig('ssh:\n  OpenSSH: {Options: ["-p 2"]}\n', 'x.yaml'), /ssh\.OpenSSH\.Options.*Keyword=value/s);
  assert.throws(() => parseConfig('ssh:\n  OpenSSH: {Cofnig: /x}\n', 'x.yaml'), /Cofnig/);
});
